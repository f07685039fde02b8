import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApiException,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  RbacAuthorizationV1Api,
  V1Container,
  V1CronJob,
  V1DaemonSet,
  V1Deployment,
  V1EphemeralContainer,
  V1Job,
  V1Namespace,
  V1Pod,
  V1PodSpec,
  V1PolicyRule,
  V1StatefulSet,
  setHeaderOptions,
} from '@kubernetes/client-node';

/** PodSecurity admission levels, applied as namespace labels. */
export type PodSecurityLevel = 'privileged' | 'baseline' | 'restricted';

export interface WaitOptions {
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
  /** Poll interval (default 250 ms). */
  intervalMs?: number;
}

/** One poll of a wait: `done` ends it; `seen` is reported if the wait times out. */
export interface Probe<T> {
  done: boolean;
  value?: T;
  seen?: unknown;
}

/** Thrown by waitFor: names what was awaited, for how long, and what was last seen. */
export class WaitTimeoutError extends Error {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly lastSeen: unknown,
  ) {
    super(
      `Timed out after ${(timeoutMs / 1000).toFixed(
        1,
      )} s waiting for ${what}; last seen: ${describe(lastSeen)}`,
    );
    this.name = 'WaitTimeoutError';
  }
}

function describe(value: unknown): string {
  if (value instanceof Error) return `error: ${value.message}`;
  try {
    const text = JSON.stringify(value);
    return text && text.length > 2000 ? `${text.slice(0, 2000)}…` : `${text}`;
  } catch {
    return String(value);
  }
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/**
 * Polls `probe` until it reports done; throws WaitTimeoutError otherwise. Errors
 * thrown by the probe count as "not yet" and are reported as last seen.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<Probe<T>>,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const intervalMs = options.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let lastSeen: unknown = 'nothing yet';
  for (;;) {
    try {
      const result = await probe();
      if (result.done) return result.value as T;
      lastSeen = result.seen ?? result.value;
    } catch (e) {
      lastSeen = e;
    }
    if (Date.now() >= deadline)
      throw new WaitTimeoutError(what, timeoutMs, lastSeen);
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/** Status code and message of a failed Kubernetes API call (or undefined if it was not one). */
export function apiError(
  e: unknown,
): { code: number; message: string; reason?: string } | undefined {
  if (!(e instanceof ApiException)) return undefined;
  let body: any = e.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      // keep the text
    }
  }
  const message =
    typeof body === 'object' && body?.message
      ? body.message
      : `${e.body ?? e.message}`;
  return {
    code: e.code,
    message,
    reason: typeof body === 'object' ? body?.reason : undefined,
  };
}

/** Awaits a call that must fail with `code`; returns the API's message. */
export async function expectApiFailure(
  call: Promise<unknown>,
  code: number,
): Promise<string> {
  try {
    await call;
  } catch (e) {
    const err = apiError(e);
    if (!err) throw e;
    if (err.code !== code) {
      throw new Error(`expected HTTP ${code}, got ${err.code}: ${err.message}`);
    }
    return err.message;
  }
  throw new Error(`expected HTTP ${code}, but the call succeeded`);
}

/** A pod summary for assertions and diagnostics. */
export function podSummary(pod: V1Pod) {
  return {
    name: pod.metadata?.name,
    phase: pod.status?.phase,
    node: pod.spec?.nodeName,
    ip: pod.status?.podIP,
    deleting: Boolean(pod.metadata?.deletionTimestamp),
  };
}

export const isRunning = (pod: V1Pod) =>
  pod.status?.phase === 'Running' &&
  !pod.metadata?.deletionTimestamp &&
  Boolean(pod.status?.podIP);

const DEFAULT_IMAGE = 'registry.invalid/spider/e2e-app:1';

export interface WorkloadOptions {
  replicas?: number;
  image?: string;
  labels?: Record<string, string>;
  /** Merged over the default pod spec (one container named `app`). */
  podSpec?: Partial<V1PodSpec>;
}

export interface FixturesOptions {
  /** kubeconfig file for tools such as helm; written from the KubeConfig if absent. */
  kubeconfigPath?: string;
  /** helm binary (ControlPlane.helmBinary). */
  helmBinary?: string;
  /** Prefix of generated namespace names (default `spider-e2e`). */
  namespacePrefix?: string;
}

/**
 * Creates and waits on Kubernetes objects for tests, and removes the namespaces it
 * created in cleanup(). Works against any cluster the KubeConfig points at.
 */
export class KubeFixtures {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly batch: BatchV1Api;
  readonly rbac: RbacAuthorizationV1Api;
  private readonly namespaces: string[] = [];
  private tempDir?: string;

  constructor(
    readonly kubeConfig: KubeConfig,
    private readonly options: FixturesOptions = {},
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.batch = kubeConfig.makeApiClient(BatchV1Api);
    this.rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);
  }

  /** A name unique to this run: `<base>-<6 hex>`. */
  uniqueName(base: string): string {
    return `${base}-${randomBytes(3).toString('hex')}`.slice(0, 63);
  }

  // ------------------------------------------------------------ namespaces

  /**
   * Creates a namespace (unique name from `base`), labelled for PodSecurity
   * admission when `podSecurity` is given (enforce + warn + audit at that level).
   * Waits for its `default` ServiceAccount.
   */
  async createNamespace(
    base = 'ns',
    options: {
      podSecurity?: PodSecurityLevel;
      labels?: Record<string, string>;
      waitForDefaultServiceAccount?: boolean;
    } = {},
  ): Promise<string> {
    const name = this.uniqueName(
      `${this.options.namespacePrefix ?? 'spider-e2e'}-${base}`,
    );
    const labels: Record<string, string> = {
      'spider.dev/e2e': 'true',
      ...options.labels,
    };
    if (options.podSecurity) {
      for (const mode of ['enforce', 'warn', 'audit']) {
        labels[`pod-security.kubernetes.io/${mode}`] = options.podSecurity;
        labels[`pod-security.kubernetes.io/${mode}-version`] = 'latest';
      }
    }
    const body: V1Namespace = { metadata: { name, labels } };
    await this.core.createNamespace({ body });
    this.namespaces.push(name);
    if (options.waitForDefaultServiceAccount ?? true) {
      await waitFor(`ServiceAccount ${name}/default`, async () => ({
        done: Boolean(
          await this.core.readNamespacedServiceAccount({
            name: 'default',
            namespace: name,
          }),
        ),
      }));
    }
    return name;
  }

  /** Deletes every namespace this instance created and any temp files (does not wait). */
  async cleanup(): Promise<void> {
    const names = this.namespaces.splice(0);
    await Promise.all(
      names.map(name =>
        this.core.deleteNamespace({ name }).catch(e => {
          if (apiError(e)?.code !== 404) throw e;
        }),
      ),
    );
    if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
    this.tempDir = undefined;
  }

  // ------------------------------------------------------------ workloads

  private podTemplate(name: string, options: WorkloadOptions) {
    const labels = { app: name, ...options.labels };
    const container: V1Container = {
      name: 'app',
      image: options.image ?? DEFAULT_IMAGE,
    };
    const spec: V1PodSpec = {
      containers: [container],
      terminationGracePeriodSeconds: 0,
      ...options.podSpec,
    };
    return { labels, template: { metadata: { labels }, spec } };
  }

  async createDeployment(
    namespace: string,
    name: string,
    options: WorkloadOptions = {},
  ): Promise<V1Deployment> {
    const { labels, template } = this.podTemplate(name, options);
    return this.apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name, labels },
        spec: {
          replicas: options.replicas ?? 1,
          selector: { matchLabels: labels },
          template,
        },
      },
    });
  }

  async createStatefulSet(
    namespace: string,
    name: string,
    options: WorkloadOptions = {},
  ): Promise<V1StatefulSet> {
    const { labels, template } = this.podTemplate(name, options);
    return this.apps.createNamespacedStatefulSet({
      namespace,
      body: {
        metadata: { name, labels },
        spec: {
          replicas: options.replicas ?? 1,
          serviceName: name,
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: labels },
          template,
        },
      },
    });
  }

  async createDaemonSet(
    namespace: string,
    name: string,
    options: Omit<WorkloadOptions, 'replicas'> = {},
  ): Promise<V1DaemonSet> {
    const { labels, template } = this.podTemplate(name, options);
    return this.apps.createNamespacedDaemonSet({
      namespace,
      body: {
        metadata: { name, labels },
        spec: { selector: { matchLabels: labels }, template },
      },
    });
  }

  /** A CronJob (default: every minute). Use triggerCronJob() for a run right now. */
  async createCronJob(
    namespace: string,
    name: string,
    options: Omit<WorkloadOptions, 'replicas'> & { schedule?: string } = {},
  ): Promise<V1CronJob> {
    const { labels, template } = this.podTemplate(name, options);
    template.spec.restartPolicy = 'Never';
    return this.batch.createNamespacedCronJob({
      namespace,
      body: {
        metadata: { name, labels },
        spec: {
          schedule: options.schedule ?? '* * * * *',
          concurrencyPolicy: 'Forbid',
          successfulJobsHistoryLimit: 3,
          jobTemplate: { spec: { backoffLimit: 0, template } },
        },
      },
    });
  }

  /** Creates a Job from a CronJob's template now, as `kubectl create job --from=cronjob/…` does. */
  async triggerCronJob(namespace: string, cronJobName: string): Promise<V1Job> {
    const cron = await this.batch.readNamespacedCronJob({
      name: cronJobName,
      namespace,
    });
    return this.batch.createNamespacedJob({
      namespace,
      body: {
        metadata: {
          name: this.uniqueName(`${cronJobName}-manual`),
          labels: cron.spec?.jobTemplate.metadata?.labels,
          annotations: { 'cronjob.kubernetes.io/instantiate': 'manual' },
          ownerReferences: [
            {
              apiVersion: 'batch/v1',
              kind: 'CronJob',
              name: cronJobName,
              uid: cron.metadata!.uid!,
              controller: true,
            },
          ],
        },
        spec: cron.spec!.jobTemplate.spec,
      },
    });
  }

  /** A bare Pod (no controller). */
  async createPod(
    namespace: string,
    name: string,
    options: Omit<WorkloadOptions, 'replicas'> = {},
  ): Promise<V1Pod> {
    const { labels, template } = this.podTemplate(name, options);
    return this.core.createNamespacedPod({
      namespace,
      body: { metadata: { name, labels }, spec: template.spec },
    });
  }

  async scaleDeployment(
    namespace: string,
    name: string,
    replicas: number,
  ): Promise<void> {
    await this.apps.patchNamespacedDeploymentScale(
      { name, namespace, body: { spec: { replicas } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  async deletePod(namespace: string, name: string): Promise<void> {
    await this.core.deleteNamespacedPod({ name, namespace });
  }

  async listPods(namespace: string, labelSelector?: string): Promise<V1Pod[]> {
    return (await this.core.listNamespacedPod({ namespace, labelSelector }))
      .items;
  }

  // ------------------------------------------------------------ waits

  /** Waits until exactly `count` pods matching the selector are Running with an IP. */
  async waitForRunningPods(
    namespace: string,
    labelSelector: string,
    count: number,
    options?: WaitOptions,
  ): Promise<V1Pod[]> {
    return waitFor(
      `${count} Running pods with IPs in ${namespace} matching "${labelSelector}"`,
      async () => {
        const pods = (await this.listPods(namespace, labelSelector)).filter(
          p => !p.metadata?.deletionTimestamp,
        );
        const running = pods.filter(isRunning);
        return {
          done: running.length === count && pods.length === count,
          value: running,
          seen: pods.map(podSummary),
        };
      },
      options,
    );
  }

  async waitForPodRunning(
    namespace: string,
    name: string,
    options?: WaitOptions,
  ): Promise<V1Pod> {
    return waitFor(
      `pod ${namespace}/${name} Running with an IP`,
      async () => {
        const pod = await this.core.readNamespacedPod({ name, namespace });
        return {
          done: isRunning(pod),
          value: pod,
          seen: { ...podSummary(pod), conditions: pod.status?.conditions },
        };
      },
      options,
    );
  }

  async waitForDeploymentAvailable(
    namespace: string,
    name: string,
    options?: WaitOptions,
  ): Promise<V1Deployment> {
    return waitFor(
      `deployment ${namespace}/${name} to have all replicas available`,
      async () => {
        const d = await this.apps.readNamespacedDeployment({ name, namespace });
        const want = d.spec?.replicas ?? 1;
        const s = d.status ?? {};
        return {
          done:
            s.observedGeneration === d.metadata?.generation &&
            s.availableReplicas === want &&
            s.updatedReplicas === want,
          value: d,
          seen: s,
        };
      },
      options,
    );
  }

  async waitForStatefulSetReady(
    namespace: string,
    name: string,
    options?: WaitOptions,
  ): Promise<V1StatefulSet> {
    return waitFor(
      `statefulset ${namespace}/${name} to have all replicas ready`,
      async () => {
        const s = await this.apps.readNamespacedStatefulSet({
          name,
          namespace,
        });
        return {
          done: (s.status?.readyReplicas ?? 0) === (s.spec?.replicas ?? 1),
          value: s,
          seen: s.status,
        };
      },
      options,
    );
  }

  async waitForDaemonSetReady(
    namespace: string,
    name: string,
    options?: WaitOptions,
  ): Promise<V1DaemonSet> {
    return waitFor(
      `daemonset ${namespace}/${name} ready on every node`,
      async () => {
        const d = await this.apps.readNamespacedDaemonSet({ name, namespace });
        const s = d.status;
        return {
          done: Boolean(
            s &&
              s.desiredNumberScheduled > 0 &&
              s.numberReady === s.desiredNumberScheduled,
          ),
          value: d,
          seen: s,
        };
      },
      options,
    );
  }

  /** Waits for a Job owned by the CronJob to succeed; returns it. */
  async waitForCronJobRun(
    namespace: string,
    cronJobName: string,
    options?: WaitOptions,
  ): Promise<V1Job> {
    return waitFor(
      `a Job of cronjob ${namespace}/${cronJobName} to succeed`,
      async () => {
        const jobs = (
          await this.batch.listNamespacedJob({ namespace })
        ).items.filter(j =>
          j.metadata?.ownerReferences?.some(
            o => o.kind === 'CronJob' && o.name === cronJobName,
          ),
        );
        const done = jobs.find(j => (j.status?.succeeded ?? 0) > 0);
        return {
          done: Boolean(done),
          value: done,
          seen: jobs.map(j => ({ name: j.metadata?.name, status: j.status })),
        };
      },
      options,
    );
  }

  // ------------------------------------------------------------ ephemeral containers

  /**
   * Adds an ephemeral container with a strategic-merge PATCH of
   * pods/ephemeralcontainers, as `kubectl debug` does. `as` lets the call run with
   * another identity (e.g. a ServiceAccount token's KubeConfig).
   */
  async addEphemeralContainer(
    namespace: string,
    pod: string,
    container: V1EphemeralContainer,
    as?: KubeConfig,
  ): Promise<V1Pod> {
    const core = as ? as.makeApiClient(CoreV1Api) : this.core;
    return core.patchNamespacedPodEphemeralcontainers(
      {
        name: pod,
        namespace,
        body: { spec: { ephemeralContainers: [container] } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
  }

  /** Waits until status.ephemeralContainerStatuses reports `container` running. */
  async waitForEphemeralContainerRunning(
    namespace: string,
    pod: string,
    container: string,
    options?: WaitOptions,
  ) {
    return waitFor(
      `ephemeral container ${container} running in pod ${namespace}/${pod}`,
      async () => {
        const p = await this.core.readNamespacedPod({ name: pod, namespace });
        const status = p.status?.ephemeralContainerStatuses?.find(
          s => s.name === container,
        );
        return {
          done: Boolean(status?.state?.running),
          value: status,
          seen: p.status?.ephemeralContainerStatuses ?? [],
        };
      },
      options,
    );
  }

  // ------------------------------------------------------------ identities

  async createServiceAccount(namespace: string, name: string): Promise<void> {
    await this.core.createNamespacedServiceAccount({
      namespace,
      body: { metadata: { name } },
    });
  }

  /** A Role with `rules`, bound to the ServiceAccount `serviceAccount` of the namespace. */
  async grantRole(
    namespace: string,
    serviceAccount: string,
    roleName: string,
    rules: V1PolicyRule[],
  ): Promise<void> {
    await this.rbac.createNamespacedRole({
      namespace,
      body: { metadata: { name: roleName }, rules },
    });
    await this.rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: roleName },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'Role',
          name: roleName,
        },
        subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace }],
      },
    });
  }

  /** A ClusterRole with `rules`, bound cluster-wide to the ServiceAccount. */
  async grantClusterRole(
    namespace: string,
    serviceAccount: string,
    roleName: string,
    rules: V1PolicyRule[],
  ): Promise<void> {
    await this.rbac.createClusterRole({
      body: { metadata: { name: roleName }, rules },
    });
    await this.rbac.createClusterRoleBinding({
      body: {
        metadata: { name: roleName },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: roleName,
        },
        subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace }],
      },
    });
  }

  /** Mints a token for a ServiceAccount with the TokenRequest API. */
  async mintServiceAccountToken(
    namespace: string,
    serviceAccount: string,
    options: { expirationSeconds?: number; audiences?: string[] } = {},
  ): Promise<string> {
    const tr = await this.core.createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace,
      body: {
        spec: {
          expirationSeconds: options.expirationSeconds ?? 3600,
          audiences: options.audiences ?? [],
        },
      },
    });
    const token = tr.status?.token;
    if (!token)
      throw new Error(
        `TokenRequest for ${namespace}/${serviceAccount} returned no token`,
      );
    return token;
  }

  /** A KubeConfig for the same cluster that authenticates with `token` only. */
  kubeConfigForToken(token: string, user = 'token-user'): KubeConfig {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the KubeConfig has no current cluster');
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [cluster],
      users: [{ name: user, token }],
      contexts: [{ name: 'token', cluster: cluster.name, user }],
      currentContext: 'token',
    });
    return kc;
  }

  /** KubeConfig acting as the ServiceAccount (token minted via TokenRequest). */
  async kubeConfigAsServiceAccount(
    namespace: string,
    serviceAccount: string,
  ): Promise<KubeConfig> {
    const token = await this.mintServiceAccountToken(namespace, serviceAccount);
    return this.kubeConfigForToken(
      token,
      `system:serviceaccount:${namespace}:${serviceAccount}`,
    );
  }

  // ------------------------------------------------------------ helm

  private kubeconfigFile(): string {
    if (this.options.kubeconfigPath) return this.options.kubeconfigPath;
    this.tempDir ??= mkdtempSync(join(tmpdir(), 'spider-fixtures-'));
    const file = join(this.tempDir, 'kubeconfig');
    writeFileSync(file, this.kubeConfig.exportConfig(), { mode: 0o600 });
    return file;
  }

  /** Runs helm against this cluster; returns stdout. */
  async helm(args: string[], timeoutMs = 120_000): Promise<string> {
    const helm = this.options.helmBinary ?? 'helm';
    const home = (this.tempDir ??= mkdtempSync(
      join(tmpdir(), 'spider-fixtures-'),
    ));
    const env = {
      ...process.env,
      HELM_CACHE_HOME: join(home, 'helm-cache'),
      HELM_CONFIG_HOME: join(home, 'helm-config'),
      HELM_DATA_HOME: join(home, 'helm-data'),
    };
    return new Promise((res, rej) => {
      execFile(
        helm,
        ['--kubeconfig', this.kubeconfigFile(), ...args],
        { timeout: timeoutMs, env, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (error)
            rej(
              new Error(
                `helm ${args.join(' ')} failed: ${error.message}\n${stderr}`,
              ),
            );
          else res(`${stdout}`);
        },
      );
    });
  }

  /** `helm install` of a chart directory (or packaged chart) into `namespace`. */
  async helmInstall(
    release: string,
    chart: string,
    namespace: string,
    options: {
      values?: Record<string, string | number | boolean>;
      wait?: boolean;
      timeoutSeconds?: number;
    } = {},
  ): Promise<string> {
    const args = ['install', release, chart, '--namespace', namespace];
    for (const [k, v] of Object.entries(options.values ?? {}))
      args.push('--set', `${k}=${v}`);
    if (options.wait ?? true)
      args.push('--wait', '--timeout', `${options.timeoutSeconds ?? 90}s`);
    return this.helm(args, ((options.timeoutSeconds ?? 90) + 30) * 1000);
  }
}
