import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  AppsV1Api,
  AuthenticationV1Api,
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import {
  AGENT_ENV,
  AGENT_RBAC_RULES,
} from '@spider/backstage-plugin-spider-common';
import { REPO_ROOT } from '../paths';

export { REPO_ROOT };
export const AGENT_MAIN = join(REPO_ROOT, 'controller-agent', 'src', 'main.ts');
/** The bundle the image runs (controller-agent/bundle.mjs builds it). */
export const AGENT_BUNDLE = join(
  REPO_ROOT,
  'controller-agent',
  'dist',
  'agent.cjs',
);

export function apis(kc: KubeConfig) {
  return {
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    batch: kc.makeApiClient(BatchV1Api),
    rbac: kc.makeApiClient(RbacAuthorizationV1Api),
    authn: kc.makeApiClient(AuthenticationV1Api),
  };
}

async function ignoreConflict<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e: any) {
    if (e?.code === 409) return undefined;
    throw e;
  }
}

export async function ensureNamespace(
  kc: KubeConfig,
  name: string,
  labels: Record<string, string> = {},
) {
  await ignoreConflict(
    apis(kc).core.createNamespace({ body: { metadata: { name, labels } } }),
  );
}

/**
 * The agent's own identity, least privilege: a ServiceAccount bound to a ClusterRole
 * holding exactly AGENT_RBAC_RULES, and a kubeconfig with a TokenRequest token for it.
 */
export async function agentServiceAccountKubeconfig(
  admin: KubeConfig,
  namespace = 'spider-system',
  name = 'spider-agent',
): Promise<string> {
  const a = apis(admin);
  await ensureNamespace(admin, namespace);
  await ignoreConflict(
    a.core.createNamespacedServiceAccount({
      namespace,
      body: { metadata: { name } },
    }),
  );
  await ignoreConflict(
    a.rbac.createClusterRole({
      body: {
        metadata: { name },
        rules: AGENT_RBAC_RULES.map(r => ({
          ...r,
          apiGroups: [...r.apiGroups],
          resources: [...r.resources],
          verbs: [...r.verbs],
        })),
      },
    }),
  );
  await ignoreConflict(
    a.rbac.createClusterRoleBinding({
      body: {
        metadata: { name },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name,
        },
        subjects: [{ kind: 'ServiceAccount', name, namespace }],
      },
    }),
  );
  const tr = await a.core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 * 6 } } as any,
  });
  const token = tr.status!.token;
  const cluster = admin.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...cluster, name: 'plane' }],
    users: [{ name: 'agent', token }],
    contexts: [{ name: 'agent', cluster: 'plane', user: 'agent' }],
    currentContext: 'agent',
  });
  const dir = mkdtempSync(join(tmpdir(), 'spider-agent-kc-'));
  const path = join(dir, 'kubeconfig');
  writeFileSync(path, kc.exportConfig(), { mode: 0o600 });
  return path;
}

export interface AgentProcess {
  child: ChildProcess;
  logs: any[];
  /** Resolves with the first log line matching. */
  waitForLog(pred: (l: any) => boolean, timeoutMs?: number): Promise<any>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs the agent as a host process, exactly the code the image runs: the sources through
 * tsx, the bundle (`bundle: true`), or a bundle at a given path.
 */
export function startAgentProcess(
  env: Record<string, string>,
  opts: { bundle?: boolean | string; nodeArgs?: string[] } = {},
): AgentProcess {
  const bundle = opts.bundle === true ? AGENT_BUNDLE : opts.bundle;
  const args = [
    ...(opts.nodeArgs ?? []),
    ...(bundle ? [bundle] : ['--import', 'tsx', AGENT_MAIN]),
  ];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, [AGENT_ENV.logLevel]: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: any[] = [];
  const waiters: Array<{
    pred: (l: any) => boolean;
    resolve: (l: any) => void;
  }> = [];
  createInterface({ input: child.stdout! }).on('line', line => {
    let entry: any;
    try {
      entry = JSON.parse(line);
    } catch {
      entry = { msg: line, unparsed: true };
    }
    logs.push(entry);
    if (process.env.SPIDER_AGENT_LOGS) process.stderr.write(`agent: ${line}\n`);
    for (const w of [...waiters]) {
      if (w.pred(entry)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(entry);
      }
    }
  });
  createInterface({ input: child.stderr! }).on('line', line => {
    logs.push({ stderr: line });
    if (process.env.SPIDER_AGENT_LOGS)
      process.stderr.write(`agent!: ${line}\n`);
  });
  const exited = new Promise<number | null>(r =>
    child.once('exit', code => r(code)),
  );
  return {
    child,
    logs,
    waitForLog(pred, timeoutMs = 60_000) {
      const hit = logs.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((res, rej) => {
        const t = setTimeout(
          () =>
            rej(
              new Error(
                `agent log not seen in ${timeoutMs} ms; last: ${JSON.stringify(
                  logs.slice(-5),
                )}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: l => {
            clearTimeout(t);
            res(l);
          },
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  everyMs = 250,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(
        `timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    await new Promise(r => setTimeout(r, everyMs));
  }
}

/** Ephemeral container names per pod of a label selector. */
export async function whisperersByPod(
  kc: KubeConfig,
  namespace: string,
  labelSelector: string,
  prefix = 'spider-',
): Promise<Map<string, string[]>> {
  const pods = await apis(kc).core.listNamespacedPod({
    namespace,
    labelSelector,
  });
  const out = new Map<string, string[]>();
  for (const p of pods.items) {
    if (p.metadata?.deletionTimestamp) continue;
    if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed')
      continue;
    out.set(
      p.metadata!.name!,
      (p.spec?.ephemeralContainers ?? [])
        .map(c => c.name)
        .filter(n => n.startsWith(prefix)),
    );
  }
  return out;
}

const template = (app: string) => ({
  metadata: { labels: { app } },
  spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
});

export async function createDeployment(
  kc: KubeConfig,
  namespace: string,
  name: string,
  replicas: number,
) {
  await apis(kc).apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name, labels: { app: name } },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: template(name),
      },
    },
  });
}
export async function createStatefulSet(
  kc: KubeConfig,
  namespace: string,
  name: string,
  replicas: number,
) {
  await apis(kc).apps.createNamespacedStatefulSet({
    namespace,
    body: {
      metadata: { name },
      spec: {
        replicas,
        serviceName: name,
        selector: { matchLabels: { app: name } },
        template: template(name),
      },
    },
  });
}
export async function createDaemonSet(
  kc: KubeConfig,
  namespace: string,
  name: string,
) {
  await apis(kc).apps.createNamespacedDaemonSet({
    namespace,
    body: {
      metadata: { name },
      spec: {
        selector: { matchLabels: { app: name } },
        template: template(name),
      },
    },
  });
}
export async function createCronJob(
  kc: KubeConfig,
  namespace: string,
  name: string,
) {
  await apis(kc).batch.createNamespacedCronJob({
    namespace,
    body: {
      metadata: { name },
      spec: {
        schedule: '* * * * *',
        jobTemplate: {
          spec: {
            template: {
              ...template(name),
              spec: { ...template(name).spec, restartPolicy: 'Never' },
            },
          },
        },
      },
    },
  });
}
export async function createPod(
  kc: KubeConfig,
  namespace: string,
  name: string,
) {
  await apis(kc).core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name, labels: { app: name } },
      spec: template(name).spec,
    },
  });
}
