import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';

/**
 * Where and how the agent reaches the Kubernetes API: a server, TLS material and a
 * bearer token (re-read from its file, so rotated ServiceAccount tokens keep working).
 *
 * The agent reads kubeconfigs itself rather than through @kubernetes/client-node: loading
 * that library's KubeConfig pulls in its whole generated API (~90 MB of RSS), more than
 * half of the agent's memory budget for 10,000 pods.
 */
export interface KubeTarget {
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecureSkipTlsVerify: boolean;
  /** The bearer token to send now, if any. */
  token(): string | undefined;
  /** Basic auth `user:password`, if configured. */
  basicAuth?: string;
  /** For logs: where this came from (never the secret). */
  source: string;
}

export const IN_CLUSTER_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** A token file re-read at most every `ttlMs` (kubelet rotates projected tokens). */
function tokenFromFile(path: string, ttlMs = 30_000): () => string | undefined {
  let value: string | undefined;
  let readAt = 0;
  return () => {
    const now = Date.now();
    if (value === undefined || now - readAt > ttlMs) {
      try {
        value = readFileSync(path, 'utf8').trim();
        readAt = now;
      } catch {
        // keep the last good token; a 401 shows the problem
      }
    }
    return value;
  };
}

export function inClusterTarget(
  env: NodeJS.ProcessEnv,
  dir = IN_CLUSTER_DIR,
): KubeTarget {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host)
    throw new Error('not running in a pod: KUBERNETES_SERVICE_HOST is not set');
  const tokenPath = join(dir, 'token');
  if (!existsSync(tokenPath))
    throw new Error(`no ServiceAccount token at ${tokenPath}`);
  const caPath = join(dir, 'ca.crt');
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: existsSync(caPath) ? readFileSync(caPath) : undefined,
    insecureSkipTlsVerify: false,
    token: tokenFromFile(tokenPath),
    source: 'in-cluster ServiceAccount',
  };
}

function named<T>(
  list: any[] | undefined,
  name: string,
  what: string,
  file: string,
): T {
  const hit = (list ?? []).find(x => x?.name === name);
  if (!hit) throw new Error(`${file}: no ${what} named "${name}"`);
  return hit;
}

/** Reads the current context of a kubeconfig file (YAML or JSON). */
export function kubeconfigTarget(file: string, context?: string): KubeTarget {
  const doc = parseYaml(readFileSync(file, 'utf8')) ?? {};
  const ctxName = context ?? doc['current-context'];
  if (!ctxName) throw new Error(`${file}: no current-context`);
  const ctx = named<any>(doc.contexts, ctxName, 'context', file).context ?? {};
  const cluster =
    named<any>(doc.clusters, ctx.cluster, 'cluster', file).cluster ?? {};
  const user = ctx.user
    ? named<any>(doc.users, ctx.user, 'user', file).user ?? {}
    : {};
  const base = dirname(file);
  const path = (p: string) => (isAbsolute(p) ? p : join(base, p));
  const material = (data: string | undefined, p: string | undefined) => {
    if (data) return Buffer.from(data, 'base64');
    return p ? readFileSync(path(p)) : undefined;
  };
  if (user.exec || user['auth-provider']) {
    throw new Error(
      `${file}: user "${ctx.user}" authenticates through an exec or auth-provider plugin, which the agent does not run; give it a kubeconfig with a token, token file or client certificate (in a cluster, it uses its ServiceAccount)`,
    );
  }
  if (!cluster.server)
    throw new Error(`${file}: cluster "${ctx.cluster}" has no server`);
  let token: () => string | undefined = () => undefined;
  if (user.token) token = () => user.token;
  else if (user.tokenFile) token = tokenFromFile(path(user.tokenFile));
  return {
    server: String(cluster.server).replace(/\/+$/, ''),
    ca: material(
      cluster['certificate-authority-data'],
      cluster['certificate-authority'],
    ),
    cert: material(user['client-certificate-data'], user['client-certificate']),
    key: material(user['client-key-data'], user['client-key']),
    insecureSkipTlsVerify: Boolean(cluster['insecure-skip-tls-verify']),
    token,
    basicAuth: user.username
      ? `${user.username}:${user.password ?? ''}`
      : undefined,
    source: `kubeconfig ${file} (context ${ctxName})`,
  };
}

/**
 * The agent's API target: an explicit kubeconfig (flag or $KUBECONFIG, first existing
 * file of a list), else the pod's ServiceAccount, else ~/.kube/config.
 */
export function loadKubeTarget(
  kubeconfig: string | null,
  env: NodeJS.ProcessEnv = process.env,
): KubeTarget {
  const candidates = (kubeconfig ?? '').split(':').filter(Boolean);
  if (candidates.length) {
    const file = candidates.find(f => existsSync(f));
    if (!file)
      throw new Error(`kubeconfig not found: ${candidates.join(', ')}`);
    return kubeconfigTarget(file);
  }
  if (env.KUBERNETES_SERVICE_HOST) return inClusterTarget(env);
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return kubeconfigTarget(home);
  throw new Error(
    'no Kubernetes access: not in a pod, no --kubeconfig / KUBECONFIG and no ~/.kube/config',
  );
}
