import { ChildProcess, spawn, spawnSync } from 'child_process';
import { createHash } from 'crypto';
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

/** The app's sources: a change outside them (a test, a backend file) needs no build. */
const BUILD_INPUTS = [
  'packages/app/src',
  'packages/app/public',
  'packages/app/package.json',
  'plugins/spider/src',
  'plugins/spider/package.json',
  'plugins/spider-common/src',
  'plugins/spider-common/package.json',
  'app-config.yaml',
  'yarn.lock',
];
const NOT_BUILT =
  /(\.test\.tsx?|\.stories\.tsx?|setupTests\.ts)$|(^|\/)(__testUtils__|__fixtures__)(\/|$)/;

function listInputs(rel: string, out: string[]) {
  const p = path.join(REPO_ROOT, rel);
  if (!fs.existsSync(p)) return;
  if (!fs.statSync(p).isDirectory()) {
    if (!NOT_BUILT.test(rel)) out.push(rel);
    return;
  }
  for (const entry of fs.readdirSync(p)) {
    if (entry === 'node_modules' || entry === 'dist') continue;
    listInputs(`${rel}/${entry}`, out);
  }
}

/**
 * A digest of what the production build reads (paths and contents, tests left out). An
 * mtime comparison rebuilt the app whenever any file under plugins/spider/src was
 * touched, tests included; in a checkout shared with other work that meant a 12-minute
 * build on most runs.
 */
export function appSourcesDigest(): string {
  const files: string[] = [];
  for (const rel of BUILD_INPUTS) listInputs(rel, files);
  const hash = createHash('sha256');
  for (const rel of files.sort()) {
    hash.update(`${rel}\0`);
    hash.update(fs.readFileSync(path.join(REPO_ROOT, rel)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** Yarn by its release file: `yarn` itself is only a shell function (scripts/toolchain.sh). */
function yarnCommand(): string[] {
  const releases = path.join(REPO_ROOT, '.yarn/releases');
  const release = fs
    .readdirSync(releases)
    .filter(f => /^yarn-.*\.cjs$/.test(f))
    .sort()
    .pop();
  if (!release) throw new Error(`no yarn release in ${releases}`);
  return [process.execPath, path.join(releases, release)];
}

/**
 * Builds packages/app when its dist was not built from the current sources (a digest
 * written beside the build), or always with SPIDER_JOURNEY_REBUILD; never with
 * SPIDER_JOURNEY_NO_BUILD (when a build exists). A production build
 * takes minutes on a small machine; a dev server would recompile on every run.
 */
export function ensureAppBuilt(log: (s: string) => void) {
  const index = path.join(APP_DIR, 'dist/index.html');
  const stamp = path.join(APP_DIR, 'dist/.spider-sources.sha256');
  if (process.env.SPIDER_JOURNEY_NO_BUILD && fs.existsSync(index)) {
    // A measurement of the build as it is, while the sources move on.
    log('app: SPIDER_JOURNEY_NO_BUILD: using packages/app/dist as it is');
    return;
  }
  const digest = appSourcesDigest();
  const built = fs.existsSync(stamp)
    ? fs.readFileSync(stamp, 'utf8').trim()
    : undefined;
  if (
    !process.env.SPIDER_JOURNEY_REBUILD &&
    fs.existsSync(index) &&
    built === digest
  ) {
    log(
      'app: using the existing build in packages/app/dist (sources unchanged)',
    );
    return;
  }
  log(
    `app: building packages/app (production build; ${
      built ? 'sources changed' : 'no digest of a previous build'
    }) …`,
  );
  const started = Date.now();
  const logFile = path.join(JOURNEY_OUTPUT, 'app-build.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const out = fs.openSync(logFile, 'w');
  const [node, yarn] = yarnCommand();
  const r = spawnSync(node, [yarn, 'backstage-cli', 'package', 'build'], {
    cwd: APP_DIR,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  if (r.status !== 0)
    throw new Error(
      `app build failed (${r.error ?? `exit ${r.status}`}); see ${logFile}`,
    );
  // The digest of the sources as they were when the build started: a file changed
  // during the build makes the next run build again.
  fs.writeFileSync(stamp, `${digest}\n`);
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
