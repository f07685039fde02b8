import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT } from '../paths';

/**
 * The dev portal keeps its data across restarts (issue 14 item 5): the dev backend, as
 * `scripts/start.sh` runs it from app-config.yaml, stopped and started again on the same
 * data directory still knows a registered Controller and accepts its agent token (only
 * the token's hash is stored). The test points the directory at a temporary one so it
 * never touches a developer's portal data.
 */
jest.setTimeout(15 * 60_000);

const BACKEND_DIR = join(REPO_ROOT, 'packages/backend');

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>(r => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as any;
  await new Promise(r => s.close(r));
  return port;
}

interface Backend {
  child: ChildProcess;
  log: () => string;
  stop(): Promise<void>;
}

function startBackend(configFile: string, logFile: string): Backend {
  const transform = require.resolve(
    '@backstage/cli-node/config/nodeTransform.cjs',
    { paths: [BACKEND_DIR, REPO_ROOT] },
  );
  writeFileSync(logFile, '');
  const child = spawn(
    process.execPath,
    [
      '--enable-source-maps',
      '--require',
      transform,
      'src/index',
      '--config',
      join(REPO_ROOT, 'app-config.yaml'),
      '--config',
      configFile,
    ],
    {
      cwd: BACKEND_DIR,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NODE_ENV: 'development',
        ESBK_TSCONFIG_PATH: join(REPO_ROOT, 'tsconfig.json'),
      },
    },
  );
  let text = '';
  child.stdout!.on('data', b => (text += b));
  child.stderr!.on('data', b => (text += b));
  const exited = new Promise<void>(r => child.once('exit', () => r()));
  return {
    child,
    log: () => text,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(t);
      writeFileSync(logFile, text);
    },
  };
}

async function waitReady(baseUrl: string, backend: Backend): Promise<void> {
  const end = Date.now() + 8 * 60_000;
  for (;;) {
    if (backend.child.exitCode !== null)
      throw new Error(`backend exited: ${backend.log().slice(-2000)}`);
    try {
      const r = await fetch(`${baseUrl}/.backstage/health/v1/readiness`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > end)
      throw new Error(`backend not ready: ${backend.log().slice(-2000)}`);
    await new Promise(r => setTimeout(r, 500));
  }
}

/** Whether the agent socket accepts this token (the upgrade succeeds). */
function agentSocketOpens(baseUrl: string, token: string): Promise<boolean> {
  return new Promise(resolve => {
    const ws = new WebSocket(
      `${baseUrl.replace(/^http/, 'ws')}/api/spider/agent/v1`,
      { headers: { Authorization: `Bearer ${token}` } },
    );
    ws.once('open', () => {
      ws.terminate();
      resolve(true);
    });
    ws.once('unexpected-response', () => resolve(false));
    ws.once('error', () => resolve(false));
  });
}

describe('dev portal data survives a restart', () => {
  let backend: Backend | undefined;
  afterAll(async () => backend?.stop());

  it('app-config.yaml keeps SQLite in files by default', () => {
    const config = parseYaml(
      readFileSync(join(REPO_ROOT, 'app-config.yaml'), 'utf8'),
    );
    expect(config.backend.database.client).toBe('better-sqlite3');
    expect(config.backend.database.connection.directory).toEqual(
      expect.any(String),
    );
  });

  it('a registered Controller and its agent token survive the backend being stopped and started', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spider-portal-data-'));
    const dataDir = join(dir, 'sqlite');
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const configFile = join(dir, 'app-config.test.yaml');
    // Only the port and where the files go differ from the dev portal.
    writeFileSync(
      configFile,
      [
        'app:',
        `  baseUrl: ${baseUrl}`,
        'backend:',
        `  baseUrl: ${baseUrl}`,
        '  listen:',
        `    port: ${port}`,
        '  database:',
        '    connection:',
        `      directory: ${dataDir}`,
        '',
      ].join('\n'),
    );
    const signIn = async () => {
      const r = await fetch(`${baseUrl}/api/auth/guest/refresh`, {
        headers: { 'X-Requested-With': 'XMLHttpRequest' },
      });
      expect(r.status).toBe(200);
      return ((await r.json()) as any).backstageIdentity.token as string;
    };
    const api = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${baseUrl}/api/spider${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${await signIn()}`,
          'Content-Type': 'application/json',
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, body: (await r.json()) as any };
    };

    backend = startBackend(configFile, join(dir, 'first.log'));
    await waitReady(baseUrl, backend);
    const created = await api('POST', '/controllers', { name: 'kept' });
    expect(created.status).toBe(201);
    const { id, token } = created.body;
    expect(await agentSocketOpens(baseUrl, token)).toBe(true);
    await backend.stop();
    expect(existsSync(join(dataDir, 'spider.sqlite'))).toBe(true);

    backend = startBackend(configFile, join(dir, 'second.log'));
    await waitReady(baseUrl, backend);
    const listed = await api('GET', '/controllers');
    expect(listed.status).toBe(200);
    expect(
      listed.body.items.filter((c: any) => c.id === id).map((c: any) => c.name),
    ).toEqual(['kept']);
    // The stored hash still authenticates the agent; another token does not.
    expect(await agentSocketOpens(baseUrl, token)).toBe(true);
    expect(await agentSocketOpens(baseUrl, `${token}x`)).toBe(false);
  });
});
