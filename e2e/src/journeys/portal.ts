import { ChildProcess, spawn, spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { REPO_ROOT } from '../paths';

export { REPO_ROOT };
/**
 * Where journeys write (logs, screenshots, bench.json): SPIDER_JOURNEY_OUTPUT, so two
 * journeys on their own SPIDER_JOURNEY_PORT do not overwrite each other's files.
 */
export const JOURNEY_OUTPUT =
  process.env.SPIDER_JOURNEY_OUTPUT ?? path.join(REPO_ROOT, 'e2e/output');
const APP_DIR = path.join(REPO_ROOT, 'packages/app');

export interface Portal {
  baseUrl: string;
  /** A Backstage user token for the guest user (for seeding through the REST API). */
  guestToken(): Promise<string>;
  stop(): Promise<void>;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const p = path.join(dir, entry.name);
    newest = Math.max(
      newest,
      entry.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs,
    );
  }
  return newest;
}

/**
 * Builds packages/app when its dist is missing or older than the app's or the Spider
 * plugin's sources (a production build takes minutes on a small machine; a dev server
 * would recompile on every run).
 */
export function ensureAppBuilt(log: (s: string) => void) {
  const index = path.join(APP_DIR, 'dist/index.html');
  const sources = Math.max(
    newestMtime(path.join(APP_DIR, 'src')),
    newestMtime(path.join(REPO_ROOT, 'plugins/spider/src')),
    newestMtime(path.join(REPO_ROOT, 'plugins/spider-common/src')),
  );
  if (
    !process.env.SPIDER_JOURNEY_REBUILD &&
    fs.existsSync(index) &&
    fs.statSync(index).mtimeMs > sources
  ) {
    log('app: using the existing build in packages/app/dist');
    return;
  }
  log('app: building packages/app (production build) …');
  const started = Date.now();
  const logFile = path.join(JOURNEY_OUTPUT, 'app-build.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const out = fs.openSync(logFile, 'w');
  const r = spawnSync('yarn', ['backstage-cli', 'package', 'build'], {
    cwd: APP_DIR,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  if (r.status !== 0)
    throw new Error(`app build failed (exit ${r.status}); see ${logFile}`);
  log(`app: built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

async function waitForHttp(
  url: string,
  timeoutMs: number,
  child?: ChildProcess,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null)
      throw new Error(
        `the backend exited with ${child.exitCode} before it was ready`,
      );
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline)
      throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await new Promise(r => setTimeout(r, 1000));
  }
}

/**
 * The dev portal for the journey. With SPIDER_PORTAL_URL it uses a running one (e.g.
 * `yarn start`); otherwise it builds the app if needed and starts the backend, which
 * serves the app, on port 7007 with a fresh in-memory database.
 */
export async function startPortal(
  log: (s: string) => void = console.log,
): Promise<Portal> {
  const external = process.env.SPIDER_PORTAL_URL;
  const port = Number(process.env.SPIDER_JOURNEY_PORT ?? 7007);
  const baseUrl = (external ?? `http://localhost:${port}`).replace(/\/$/, '');
  const guestToken = async () => {
    const r = await fetch(`${baseUrl}/api/auth/guest/refresh`, {
      headers: { 'X-Requested-With': 'XMLHttpRequest' },
    });
    if (!r.ok) throw new Error(`guest sign-in failed: ${r.status}`);
    const body: any = await r.json();
    return body.backstageIdentity.token as string;
  };
  if (external) {
    await waitForHttp(`${baseUrl}/.backstage/health/v1/readiness`, 30_000);
    return { baseUrl, guestToken, stop: async () => {} };
  }

  ensureAppBuilt(log);
  const logFile = path.join(JOURNEY_OUTPUT, 'backend.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const out = fs.openSync(logFile, 'w');
  // The built app is served by the backend (plugin-app-backend): one process, one port.
  const journeyConfig = path.join(JOURNEY_OUTPUT, 'app-config.journey.yaml');
  fs.writeFileSync(
    journeyConfig,
    [
      'app:',
      `  baseUrl: ${baseUrl}`,
      'backend:',
      `  baseUrl: ${baseUrl}`,
      '  listen:',
      `    port: ${port}`,
      '  cors:',
      `    origin: ${baseUrl}`,
      // A journey starts from an empty portal, never the dev portal's files.
      '  database:',
      "    connection: ':memory:'",
      '',
    ].join('\n'),
  );
  log(`backend: starting (log in ${path.relative(process.cwd(), logFile)}) …`);
  const started = Date.now();
  // Run the backend the way `backstage-cli package start` does, minus its file watcher:
  // other work on the repository must not restart it (and wipe its in-memory database)
  // in the middle of a journey.
  const backendDir = path.join(REPO_ROOT, 'packages/backend');
  const transform = require.resolve(
    '@backstage/cli-node/config/nodeTransform.cjs',
    { paths: [backendDir, REPO_ROOT] },
  );
  const child = spawn(
    process.execPath,
    [
      '--enable-source-maps',
      '--require',
      transform,
      'src/index',
      '--config',
      path.join(REPO_ROOT, 'app-config.yaml'),
      '--config',
      journeyConfig,
    ],
    {
      cwd: backendDir,
      stdio: ['ignore', out, out],
      detached: true,
      env: {
        ...process.env,
        NODE_ENV: process.env.NODE_ENV ?? 'development',
        ESBK_TSCONFIG_PATH: path.join(REPO_ROOT, 'tsconfig.json'),
      },
    },
  );
  const stop = async () => {
    if (child.exitCode !== null || !child.pid) return;
    const exited = new Promise(r => child.once('exit', r));
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    const t = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, 10_000);
    await exited;
    clearTimeout(t);
  };
  try {
    await waitForHttp(
      `${baseUrl}/.backstage/health/v1/readiness`,
      300_000,
      child,
    );
    await waitForHttp(`${baseUrl}/`, 30_000, child);
  } catch (e) {
    await stop();
    throw e;
  }
  log(`backend: ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return { baseUrl, guestToken, stop };
}
