import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readExecConfig } from './execCredential';
import { ExecPlugin } from './ExecPlugin';

const dir = mkdtempSync(join(tmpdir(), 'exec-plugin-'));
const V1 = 'client.authentication.k8s.io/v1';

function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\necho run >> "${path}.runs"\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}
const runs = (path: string) =>
  readFileSync(`${path}.runs`, 'utf8').split('\n').length - 1;
const plugin = (command: string, extra: object = {}, now?: () => number) =>
  new ExecPlugin(
    readExecConfig(
      { apiVersion: V1, command, interactiveMode: 'Never', ...extra },
      'kc',
      dir,
    ),
    { server: 'https://k' },
    { env: { PATH: process.env.PATH }, now, onStderr: () => {} },
  );

describe('ExecPlugin (a real program)', () => {
  it('passes env and KUBERNETES_EXEC_INFO, shares one run between callers, caches until expiry', async () => {
    const path = script(
      'ok',
      `printf '{"apiVersion":"${V1}","kind":"ExecCredential","status":{"token":"%s-%s","expirationTimestamp":"%s"}}' "$GREETING" "$(echo "$KUBERNETES_EXEC_INFO" | tr -d ' ' | grep -c '"interactive":false')" "$(cat "$0.exp")"`,
    );
    writeFileSync(`${path}.exp`, '2030-01-01T00:00:00Z');
    let now = Date.parse('2029-12-31T23:59:00Z');
    const p = plugin(
      path,
      { env: [{ name: 'GREETING', value: 'hi' }] },
      () => now,
    );
    const [a, b] = await Promise.all([p.credential(), p.credential()]);
    expect(a.token).toBe('hi-1');
    expect(b).toBe(a);
    expect(await p.credential()).toBe(a);
    expect(runs(path)).toBe(1);
    // Past the expiry: the next call runs the plugin, whose new answer is cached again.
    now = Date.parse('2030-01-01T00:00:01Z');
    writeFileSync(`${path}.exp`, '2031-01-01T00:00:00Z');
    await p.credential();
    await p.credential();
    expect(runs(path)).toBe(2);
    p.invalidate(a); // not the cached one any more: no effect
    const c = await p.credential();
    p.invalidate(c);
    await p.credential();
    expect(runs(path)).toBe(3);
  });

  it('says what failed: exit code with stderr, a missing program with its install hint', async () => {
    const bad = script('bad', 'echo "token expired, log in again" >&2; exit 3');
    await expect(plugin(bad).credential()).rejects.toThrow(
      /failed \(exit 3\): token expired, log in again/,
    );
    await expect(
      plugin('/nonexistent/get-token', {
        installHint: 'install get-token from the platform docs',
      }).credential(),
    ).rejects.toThrow(/not found: install get-token from the platform docs/);
    const wrong = script('wrong', `echo '{"kind":"ExecCredential"}'`);
    await expect(plugin(wrong).credential()).rejects.toThrow(
      /configured for client.authentication.k8s.io\/v1 but printed no apiVersion/,
    );
  });
});
