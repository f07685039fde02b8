import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ExecClusterInfo, readExecConfig } from './execCredential';
import { ExecPlugin } from './ExecPlugin';
import {
  kubeconfigPaths,
  mergeKubeconfigs,
  resolveContext,
} from './kubeconfigMerge';
import { proxyFor } from './proxyRoute';

/** What authenticates one request: a bearer token, basic auth or a client certificate. */
export interface Credentials {
  token?: string;
  basicAuth?: string;
  cert?: Buffer;
  key?: Buffer;
}

/**
 * Where and how the agent reaches the Kubernetes API: a server, TLS material and
 * credentials, each asked for per request so rotated tokens, certificate files and exec
 * plugin answers are picked up without a restart.
 *
 * The agent reads kubeconfigs itself rather than through @kubernetes/client-node: loading
 * that library's KubeConfig pulls in its whole generated API (~90 MB of RSS), more than
 * half of the agent's memory budget for 10,000 pods (see README).
 */
export interface KubeTarget {
  server: string;
  /** TLS server name to send (SNI) and verify the certificate against. */
  tlsServerName?: string;
  /** The HTTP CONNECT proxy to the server, if any. */
  proxy?: URL;
  insecureSkipTlsVerify: boolean;
  /** The CA bundle now (re-read when its file changes). */
  ca(): Buffer | undefined;
  /** The credentials to send now. */
  credentials(): Promise<Credentials>;
  /**
   * The apiserver answered 401 to `used`: drops them if they came from a source that can
   * produce new ones (an exec plugin) and answers whether a retry may help.
   */
  unauthorized?(used: Credentials): boolean;
  /** For logs: where this came from (never the secret). */
  source: string;
}

export const IN_CLUSTER_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * A file's content, re-read when the file changes (checked at most every `checkMs`):
 * the same Buffer comes back until then, so callers can compare by identity.
 */
export function fileMaterial(
  path: string,
  checkMs = 1_000,
): () => Buffer | undefined {
  let value: Buffer | undefined;
  let stamp = '';
  let checkedAt = 0;
  return () => {
    const now = Date.now();
    if (value !== undefined && now - checkedAt < checkMs) return value;
    checkedAt = now;
    try {
      const s = statSync(path);
      const next = `${s.ino}:${s.size}:${s.mtimeMs}`;
      if (next !== stamp || value === undefined) {
        value = readFileSync(path);
        stamp = next;
      }
    } catch {
      // keep the last good content; a TLS or 401 error shows the problem
    }
    return value;
  };
}

/** A token file re-read when it changes (kubelet rotates projected tokens). */
function tokenFromFile(path: string): () => string | undefined {
  const file = fileMaterial(path, 5_000);
  return () => file()?.toString('utf8').trim();
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
  const token = tokenFromFile(tokenPath);
  const ca = existsSync(caPath)
    ? fileMaterial(caPath, 10_000)
    : () => undefined;
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca,
    insecureSkipTlsVerify: false,
    credentials: async () => ({ token: token() }),
    source: 'in-cluster ServiceAccount',
  };
}

/**
 * The target of a kubeconfig: one file, or a KUBECONFIG list merged as kubectl merges
 * it (missing files skipped). `context` overrides current-context.
 */
export function kubeconfigTarget(
  files: string | string[],
  context?: string,
  env: NodeJS.ProcessEnv = process.env,
): KubeTarget {
  const paths = (Array.isArray(files) ? files : [files]).filter(
    (f, _i, all) => all.length === 1 || existsSync(f),
  );
  const merged = mergeKubeconfigs(
    paths.map(path => ({
      path,
      doc: parseYaml(readFileSync(path, 'utf8')) ?? {},
    })),
  );
  const ctx = resolveContext(merged, context);
  const cluster = ctx.cluster.value;
  const user = ctx.user?.value ?? {};
  const at = (dir: string) => (p: string) => isAbsolute(p) ? p : join(dir, p);
  const clusterPath = at(ctx.cluster.dir);
  const userPath = at(ctx.user?.dir ?? ctx.cluster.dir);
  const material = (
    data: string | undefined,
    p: string | undefined,
    resolve: (p: string) => string,
  ): (() => Buffer | undefined) => {
    if (data) {
      const b = Buffer.from(data, 'base64');
      return () => b;
    }
    if (!p) return () => undefined;
    const path = resolve(p);
    // Fail at start on a missing file, then follow it as it changes.
    readFileSync(path);
    return fileMaterial(path);
  };
  const userWhere = `${ctx.user?.file ?? ''}: user "${ctx.userName ?? ''}"`;
  if (user['auth-provider']) {
    throw new Error(
      `${userWhere} authenticates through an auth-provider plugin (removed from kubectl in 1.26); use its exec plugin instead (for example kubelogin or gke-gcloud-auth-plugin), a token, token file or client certificate`,
    );
  }
  if (!cluster.server)
    throw new Error(
      `${ctx.cluster.file}: cluster "${ctx.clusterName}" has no server`,
    );
  const server = String(cluster.server).replace(/\/+$/, '');
  const serverUrl = new URL(server);
  const tlsServerName: string | undefined =
    cluster['tls-server-name'] || undefined;
  const proxy = proxyFor(serverUrl, cluster['proxy-url'], env);
  if (proxy && serverUrl.protocol !== 'https:')
    throw new Error(
      `${ctx.cluster.file}: cluster "${ctx.clusterName}": a proxy (proxy-url or HTTP_PROXY) needs an https server, got ${server}`,
    );
  const ca = material(
    cluster['certificate-authority-data'],
    cluster['certificate-authority'],
    clusterPath,
  );
  const cert = material(
    user['client-certificate-data'],
    user['client-certificate'],
    userPath,
  );
  const key = material(user['client-key-data'], user['client-key'], userPath);
  const basicAuth = user.username
    ? `${user.username}:${user.password ?? ''}`
    : undefined;
  let token: () => string | undefined = () => undefined;
  if (user.token) token = () => user.token;
  else if (user.tokenFile) token = tokenFromFile(userPath(user.tokenFile));
  const base: Omit<KubeTarget, 'credentials'> = {
    server,
    tlsServerName,
    proxy,
    ca,
    insecureSkipTlsVerify: Boolean(cluster['insecure-skip-tls-verify']),
    source: `kubeconfig ${merged.files.join(':')} (context ${ctx.name})`,
  };
  if (user.exec) {
    const config = readExecConfig(user.exec, userWhere, userPath('.'));
    const caNow = ca();
    const info: ExecClusterInfo = {
      server,
      ...(tlsServerName ? { 'tls-server-name': tlsServerName } : {}),
      ...(cluster['insecure-skip-tls-verify']
        ? { 'insecure-skip-tls-verify': true }
        : {}),
      ...(caNow
        ? { 'certificate-authority-data': caNow.toString('base64') }
        : {}),
      ...(cluster['proxy-url'] ? { 'proxy-url': cluster['proxy-url'] } : {}),
      ...(cluster.extensions
        ? {
            config: (cluster.extensions as any[]).find(
              e => e?.name === 'client.authentication.k8s.io/exec',
            )?.extension,
          }
        : {}),
    };
    const plugin = new ExecPlugin(config, info, {
      env,
      onStderr: text => process.stderr.write(`exec plugin: ${text}\n`),
    });
    // The credential object each answer came from, so a 401 drops exactly that one.
    const issued = new WeakMap<Credentials, object>();
    return {
      ...base,
      source: `${base.source}, exec plugin ${config.command}`,
      async credentials() {
        const c = await plugin.credential();
        // Certificates of the kubeconfig itself are used when the plugin gives none.
        const out: Credentials = {
          token: c.token,
          cert: c.cert ?? cert(),
          key: c.key ?? key(),
        };
        issued.set(out, c);
        return out;
      },
      unauthorized(used) {
        const c = issued.get(used);
        if (!c) return false;
        plugin.invalidate(c as any);
        return true;
      },
    };
  }
  return {
    ...base,
    credentials: async () => ({
      token: token(),
      basicAuth,
      cert: cert(),
      key: key(),
    }),
  };
}

/**
 * The agent's API target: an explicit kubeconfig (flag or $KUBECONFIG; a `:` list is
 * merged as kubectl merges it), else the pod's ServiceAccount, else ~/.kube/config.
 */
export function loadKubeTarget(
  kubeconfig: string | null,
  env: NodeJS.ProcessEnv = process.env,
): KubeTarget {
  const candidates = kubeconfigPaths(kubeconfig ?? '');
  if (candidates.length) {
    const existing = candidates.filter(f => existsSync(f));
    if (!existing.length)
      throw new Error(`kubeconfig not found: ${candidates.join(', ')}`);
    return kubeconfigTarget(existing, undefined, env);
  }
  if (env.KUBERNETES_SERVICE_HOST) return inClusterTarget(env);
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return kubeconfigTarget(home, undefined, env);
  throw new Error(
    'no Kubernetes access: not in a pod, no --kubeconfig / KUBECONFIG and no ~/.kube/config',
  );
}
