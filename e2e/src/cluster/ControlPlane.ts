import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { CLUSTER_DIR } from '../paths';

export { CLUSTER_DIR };
const PLANE_SCRIPT = join(CLUSTER_DIR, 'plane');
const BUILD_SCRIPT = join(CLUSTER_DIR, 'build.sh');

/**
 * Where a plane comes from:
 * - `external`: SPIDER_TEST_KUBECONFIG names an existing cluster (kind, minikube, real)
 * - `reused`:   SPIDER_PLANE_STATE names a plane someone else started (CI, cluster/with-plane)
 * - `started`:  this process started a private plane and stops it in `stop()`
 */
export type PlaneSource = 'external' | 'reused' | 'started';

export interface ControlPlane {
  readonly source: PlaneSource;
  /** Admin KubeConfig for the plane. */
  readonly kubeConfig: KubeConfig;
  /** Path of that kubeconfig on disk (helm and other tools take it). */
  readonly kubeconfigPath: string;
  /** State directory of a local plane (undefined for `external`). */
  readonly statePath?: string;
  /** apiserver port of a local plane. */
  readonly port?: number;
  /** Directory of the cached binaries (etcd, kube-*, kwok, helm), if known. */
  readonly binDir?: string;
  /** helm binary to use: the cached one, or `helm` from PATH for external clusters. */
  readonly helmBinary: string;
  /** The plane's real node (`plane up --real-nodes 1`), if it has one. */
  readonly realNode?: RealNode;
  /** Stops the plane if this process started it; otherwise does nothing. */
  stop(): Promise<void>;
}

/**
 * A real node of a local plane (kubelet + containerd in its own network namespace):
 * pods scheduled there really run. Tests pick it with {@link REAL_NODE_SELECTOR} and
 * {@link REAL_NODE_TOLERATION}; images reach it through {@link importImages}.
 */
export interface RealNode {
  name: string;
  /** Node IP: the address of the pods' bridge. */
  ip: string;
  podCidr: string;
  /** Network namespace of the node (`ip netns`), where ClusterIPs answer. */
  netns: string;
  /** The host's end of the veth into that namespace. */
  uplink: string;
  /** Name of the node's cgroup (under each hierarchy of /sys/fs/cgroup). */
  cgroup: string;
  /** The host's address as seen from pods (the apiserver listens there too). */
  hostIp: string;
  containerdSocket: string;
  /** ClusterIP of the kube-dns Service (CoreDNS). */
  dnsIp: string;
}

/** Node selector of the real node (kwok nodes never carry it). */
export const REAL_NODE_SELECTOR = { 'spider.dev/node-kind': 'real' } as const;
/** The real node's taint keeps every other pod on the kwok nodes; this tolerates it. */
export const REAL_NODE_TOLERATION = {
  key: 'spider.dev/real-node',
  operator: 'Exists',
  effect: 'NoSchedule',
} as const;

export interface EnsurePlaneOptions {
  /** Fake nodes for a started plane (default 3). */
  nodes?: number;
  /**
   * Real nodes the plane must have (0 or 1, default 0). A shared local plane without
   * one is not reused then: a private plane with a real node is started instead.
   */
  realNodes?: number;
  /** Process the started plane watches (default this process): it goes down when that exits. */
  watchPid?: number;
  /** Time allowed for `plane up`, including a first build (default 45 min). */
  upTimeoutMs?: number;
  /** Environment to read SPIDER_* variables from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

interface ExecResult {
  stdout: string;
  stderr: string;
}

function run(
  file: string,
  args: string[],
  timeoutMs: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ExecResult> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env },
      (error, stdout, stderr) => {
        if (error) {
          const detail = `${stderr}`.trim().split('\n').slice(-40).join('\n');
          reject(
            new Error(
              `${file} ${args.join(' ')} failed (${
                error.killed ? `killed after ${timeoutMs} ms` : error.message
              }):\n${detail}`,
            ),
          );
          return;
        }
        resolvePromise({ stdout: `${stdout}`, stderr: `${stderr}` });
      },
    );
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise(res => {
    const server = createServer();
    server.once('error', () => res(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      server.close(() => res(true));
    });
  });
}

/**
 * A base port with the 5 ports a plane uses (base..base+4) free right now. Drawn
 * from 20000-32000, below Linux's ephemeral range (32768+) where outgoing
 * connections take local ports that would block a listener later.
 */
export async function findFreeBasePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 12000);
    let ok = true;
    for (let p = base; p < base + 5 && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error('found no 5 consecutive free ports for a control plane');
}

function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

function parseEnvFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** The cached helm binary, if build.sh has built it (no build is started). */
export function cachedHelm(): string | undefined {
  try {
    const bin = execFileSync(
      'bash',
      [
        '-c',
        `source "${join(CLUSTER_DIR, 'versions.sh')}" && echo "$PLANE_BIN"`,
      ],
      {
        encoding: 'utf8',
      },
    ).trim();
    return existsSync(join(bin, 'helm')) ? join(bin, 'helm') : undefined;
  } catch {
    return undefined;
  }
}

/** Builds the plane's binaries if they are not cached; returns their directory. */
export async function buildPlane(timeoutMs = 45 * 60_000): Promise<string> {
  const { stdout } = await run(BUILD_SCRIPT, ['--print-bin'], timeoutMs);
  return stdout.trim().split('\n').pop()!;
}

function localPlane(
  source: PlaneSource,
  statePath: string,
  stop: () => Promise<void>,
): ControlPlane {
  const envFile = parseEnvFile(join(statePath, 'plane.env'));
  const kubeconfigPath = join(statePath, 'kubeconfig');
  const binDir = envFile.SPIDER_PLANE_BIN;
  const realNode: RealNode | undefined =
    Number(envFile.SPIDER_PLANE_REAL_NODES ?? 0) > 0
      ? {
          name: envFile.SPIDER_PLANE_NODE_NAME,
          ip: envFile.SPIDER_PLANE_NODE_IP,
          podCidr: envFile.SPIDER_PLANE_POD_CIDR,
          netns: envFile.SPIDER_PLANE_NODE_NETNS,
          uplink: envFile.SPIDER_PLANE_NODE_UPLINK,
          cgroup: envFile.SPIDER_PLANE_NODE_CGROUP,
          hostIp: envFile.SPIDER_PLANE_HOST_IP,
          containerdSocket: envFile.SPIDER_PLANE_CONTAINERD_SOCK,
          dnsIp: envFile.SPIDER_PLANE_DNS_IP,
        }
      : undefined;
  return {
    realNode,
    source,
    kubeConfig: loadKubeConfig(kubeconfigPath),
    kubeconfigPath,
    statePath,
    port: Number(envFile.SPIDER_PLANE_PORT),
    binDir,
    helmBinary: binDir ? join(binDir, 'helm') : 'helm',
    stop,
  };
}

/**
 * Starts a private plane on free ports. The plane watches this process: if it
 * dies without calling stop(), the plane takes itself down.
 */
export async function startPlane(
  options: EnsurePlaneOptions = {},
): Promise<ControlPlane> {
  const upTimeout = options.upTimeoutMs ?? 45 * 60_000;
  // Build first (outside the port race), so a slow first build does not hold ports.
  await buildPlane(upTimeout);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await findFreeBasePort();
    const statePath = join(tmpdir(), `spider-plane-${port}-${process.pid}`);
    const args = ['--state', statePath, '--port', String(port)];
    try {
      await run(
        PLANE_SCRIPT,
        [
          ...args,
          '--nodes',
          String(options.nodes ?? 3),
          '--real-nodes',
          String(options.realNodes ?? 0),
          '--watch-pid',
          String(options.watchPid ?? process.pid),
          'up',
        ],
        upTimeout,
      );
    } catch (e) {
      lastError = e;
      if (/port \d+ is in use/.test(String(e))) continue; // lost a port race
      throw e;
    }
    let stopped = false;
    return localPlane('started', statePath, async () => {
      if (stopped) return;
      stopped = true;
      await run(PLANE_SCRIPT, [...args, 'down'], 60_000);
    });
  }
  throw lastError;
}

/**
 * The cluster named by the environment, if any (see ensurePlane); never starts one.
 */
export function findSharedPlane(
  env: NodeJS.ProcessEnv = process.env,
): ControlPlane | undefined {
  const external = env.SPIDER_TEST_KUBECONFIG;
  if (external) {
    if (!existsSync(external)) {
      throw new Error(`SPIDER_TEST_KUBECONFIG=${external} does not exist`);
    }
    // The kubeconfig of a plane started by `plane up` (as CI does): reuse it fully.
    const dir = dirname(resolve(external));
    if (
      existsSync(join(dir, 'plane.env')) &&
      existsSync(join(dir, '.spider-plane'))
    ) {
      return localPlane('reused', dir, async () => {});
    }
    return {
      source: 'external',
      kubeConfig: loadKubeConfig(external),
      kubeconfigPath: external,
      helmBinary: env.SPIDER_HELM ?? cachedHelm() ?? 'helm',
      stop: async () => {},
    };
  }
  const shared = env.SPIDER_PLANE_STATE;
  if (shared) {
    if (!existsSync(join(shared, 'plane.env'))) {
      throw new Error(
        `SPIDER_PLANE_STATE=${shared} holds no running plane (run: e2e/cluster/plane --state ${shared} up)`,
      );
    }
    return localPlane('reused', shared, async () => {});
  }
  return undefined;
}

/**
 * The plane for a test file:
 * 1. SPIDER_TEST_KUBECONFIG set: use that existing cluster; nothing is built.
 *    (A plain KUBECONFIG is ignored on purpose, so a developer's cluster never
 *    gets test objects by accident.)
 * 2. SPIDER_PLANE_STATE set (CI, or `cluster/with-plane`): reuse that running plane.
 * 3. Otherwise start a private plane on free ports; call stop() in afterAll.
 */
export async function ensurePlane(
  options: EnsurePlaneOptions = {},
): Promise<ControlPlane> {
  const shared = findSharedPlane(options.env ?? process.env);
  // An external cluster is taken as is (its nodes are its own); a local one must
  // have the real node asked for.
  if (
    shared &&
    (shared.source === 'external' ||
      (options.realNodes ?? 0) === 0 ||
      shared.realNode)
  ) {
    return shared;
  }
  return startPlane(options);
}

/**
 * Imports image archives (OCI or docker) into the real node's containerd, with
 * `plane import-image`. Pods then use them with `imagePullPolicy: Never` or
 * `IfNotPresent` (nothing is ever pulled).
 */
export async function importImages(
  plane: ControlPlane,
  archives: string[],
): Promise<void> {
  if (!plane.statePath || !plane.realNode) {
    throw new Error(
      'importImages needs a local plane with a real node (plane up --real-nodes 1)',
    );
  }
  await run(
    PLANE_SCRIPT,
    ['--state', plane.statePath, 'import-image', ...archives],
    5 * 60_000,
  );
}

/** Output of `plane status` for a local plane (for diagnostics in failing tests). */
export async function planeStatus(plane: ControlPlane): Promise<string> {
  if (!plane.statePath) return `external cluster (${plane.kubeconfigPath})`;
  try {
    const { stdout } = await run(
      PLANE_SCRIPT,
      ['--state', plane.statePath, '--port', String(plane.port), 'status'],
      30_000,
    );
    return stdout;
  } catch (e) {
    return String(e);
  }
}
