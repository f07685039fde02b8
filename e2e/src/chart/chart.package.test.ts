import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import YAML from 'yaml';
import { renderAgentValues } from '@spider/backstage-plugin-spider-common';
// eslint-disable-next-line @backstage/no-forbidden-package-imports, @backstage/no-mixed-plugin-imports -- the test runs the backend's own rendered command against the packaged chart
import { renderInstall } from '@spider/backstage-plugin-spider-backend/src/install/renderInstall';
import { CHART_DIR, helmBinary, runHelm, template } from './helmChart';

/**
 * The one-line install from a packaged chart (`helm package`), as users get it from a
 * chart repository or a file: the package holds every file of the chart directory, and the
 * portal's own command, pointed at the .tgz, renders exactly what the directory renders.
 */
jest.setTimeout(10 * 60_000);

const URL = 'https://portal.example.com/api/spider';

function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise(res => {
    execFile(
      cmd,
      args,
      {
        env: { ...process.env, ...env },
        maxBuffer: 64 * 1024 * 1024,
        timeout: 120_000,
      },
      (err, stdout, stderr) =>
        res({ code: err ? (err as any).code ?? 1 : 0, stdout, stderr }),
    );
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [relative(CHART_DIR, p)];
  });
}

const byKey = (objects: any[]) =>
  new Map(objects.map(o => [`${o.kind}/${o.metadata.name}`, o]));

describe('the agent chart, packaged', () => {
  let helm: string;
  let tgz: string;

  beforeAll(async () => {
    helm = await helmBinary();
    const out = mkdtempSync(join(tmpdir(), 'spider-chart-pkg-'));
    const r = await runHelm(helm, ['package', CHART_DIR, '--destination', out]);
    const files = readdirSync(out);
    if (
      r.code !== 0 ||
      r.stderr !== '' ||
      files.length !== 1 ||
      !/^spider-controller-agent-\d+\.\d+\.\d+\.tgz$/.test(files[0])
    ) {
      throw new Error(
        `helm package gave ${JSON.stringify(files)} (exit ${r.code}): ${
          r.stderr
        }`,
      );
    }
    tgz = join(out, files[0]);
  }, 60 * 60_000);

  it('holds every file of the chart directory', async () => {
    const listed = await run('tar', ['-tzf', tgz]);
    expect(listed.code).toBe(0);
    const packaged = listed.stdout
      .split('\n')
      .filter(Boolean)
      .map(p => p.replace(/^spider-controller-agent\//, ''))
      .sort();
    expect(packaged).toEqual(filesUnder(CHART_DIR).sort());
  });

  it("renders the same objects from the .tgz with the portal's one-line command as from the directory", async () => {
    const { content: command } = renderInstall(
      { controlsUrl: URL, chart: tgz },
      {
        controllerName: 'packaged',
        format: 'command',
        namespace: 'spider-system',
        include: ['shop', 'ops'],
        exclude: ['ops'],
      },
    );
    const helmLine = command.split('\n').find(l => l.startsWith('helm '))!;
    expect(
      helmLine.startsWith(`helm upgrade --install spider-agent ${tgz} `),
    ).toBe(true);
    // The helm line as the Install tab shows it, run by a shell; `upgrade --install` becomes
    // `template` (no cluster here), which takes the same chart and flags. (The kubectl
    // lines before it make the token Secret; chart.install.test.ts runs them all.)
    const shell = [
      `helm() { [ "$1 $2" = "upgrade --install" ] || exit 9; shift 2; local a args=(); for a in "$@"; do [ "$a" = --create-namespace ] || args+=("$a"); done; "$HELM" template "\${args[@]}"; }`,
      helmLine,
    ].join('\n');
    const r = await run('bash', ['-c', shell], {
      HELM: helm,
      HELM_CONFIG_HOME: mkdtempSync(join(tmpdir(), 'spider-helm-')),
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const fromPackage = byKey(
      YAML.parseAllDocuments(r.stdout)
        .map(d => d.toJS())
        .filter(Boolean),
    );

    const fromDir = byKey(
      await template(helm, {
        ...renderAgentValues({
          controlsUrl: URL,
          include: ['shop', 'ops'],
          exclude: ['ops'],
        }),
        controls: {
          url: URL,
          token: '',
          existingSecret: { name: 'spider-agent-controls-token', key: 'token' },
        },
      }),
    );
    expect([...fromPackage.keys()].sort()).toEqual([...fromDir.keys()].sort());
    for (const [key, object] of fromDir)
      expect({ key, object: fromPackage.get(key) }).toEqual({ key, object });
    // helm never sees the token: the agent reads the Secret kubectl made from stdin.
    expect(command).not.toContain('controls.token');
    expect([...fromPackage.values()].some(o => o.kind === 'Secret')).toBe(
      false,
    );
  });
});
