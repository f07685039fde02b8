import { lookup as dnsLookup } from 'node:dns/promises';
import os from 'node:os';
import {
  AGENT_PROTOCOL_VERSION,
  AgentMessage,
  BackendMessage,
  InstancesMessage,
  listWorkloadsResultSchema,
  StatusMessage,
} from '@spider/backstage-plugin-spider-common';
import { ClusterCache } from './cluster/ClusterCache';
import {
  inventoryOf,
  InventoryTracker,
  listWorkloads,
  snapshotMessages,
} from './cluster/inventory';
import { leanPod, leanService, leanWorkload } from './cluster/lean';
import { WATCHED_KINDS, WatchedKind } from './cluster/resources';
import {
  DEFAULT_WATCHER_OPTIONS,
  Watcher,
  WatcherOptions,
} from './cluster/Watcher';
import type { AgentConfig } from './config/config';
import { insecureControlsUrlWarning } from './config/config';
import { ControlsClient } from './controls/ControlsClient';
import { startHttpServer } from './http/server';
import { EphemeralPods } from './kube/EphemeralPods';
import { KubeHttp } from './kube/KubeHttp';
import { KubeTarget, loadKubeTarget } from './kube/kubeTarget';
import type { Logger } from './log/logger';
import { DEFAULT_ADAPTIVE_LIMIT } from './reconcile/AdaptiveLimit';
import { Injector } from './reconcile/Injector';
import type { AttachmentView } from './reconcile/plan';
import { Reconciler } from './reconcile/Reconciler';
import { createMetrics } from './status/metrics';
import { ProcessSampler } from './status/resources';
import { registerRelayMetrics } from './traffic/metrics';
import { TrafficRelay } from './traffic/TrafficRelay';
import { createDnsServer, registerDnsMetrics } from './dns';
import {
  createWhispererEndpoint,
  InstanceSecrets,
  registerEndpointMetrics,
} from './whisperers';

export const AGENT_VERSION = '0.1.0';

/**
 * PATCHes in flight: learnt from the API server's answers (reconcile/AdaptiveLimit.ts),
 * from 32 up to 256 while latency holds, halved on 429. A fixed 32 left a 1,000-pod
 * attach at a fifth of the plane's limit (bench:agent's minimal client was fastest at
 * 200); a fixed 200 would crowd a busy cluster's priority and fairness queues.
 */
export const INJECT_CONCURRENCY = DEFAULT_ADAPTIVE_LIMIT;

/** Status sent on a change of views at most this often (also every statusIntervalMs). */
const STATUS_ON_CHANGE_MS = 1000;

export interface AgentOptions {
  config: AgentConfig;
  log: Logger;
  /** Defaults to the config's kubeconfig, then in-cluster, then ~/.kube/config. */
  kubeTarget?: KubeTarget;
  /** false: run without the Controls service (tests drive the desired set directly). */
  connectControls?: boolean;
  /** false: do not start the DNS proxy and the whisperer endpoint. */
  serveWhisperers?: boolean;
  /** Host the HTTP listeners bind to (default all interfaces). */
  bindHost?: string;
  watcherOptions?: Partial<WatcherOptions>;
  statusIntervalMs?: number;
  debounceMs?: number;
}

/** The IP whisperers reach the agent at: its pod IP, else the first external IPv4. */
export function advertiseAddress(podIp: string | null): string {
  if (podIp) return podIp;
  for (const list of Object.values(os.networkInterfaces())) {
    for (const i of list ?? [])
      if (i.family === 'IPv4' && !i.internal) return i.address;
  }
  return '127.0.0.1';
}

/**
 * Where whisperers reach the agent. In a cluster the chart names the agent's Service:
 * its name and ClusterIP outlive agent pods, so running whisperers keep reaching a
 * replaced agent (the Service maps 53 to the DNS port and keeps the endpoint port).
 * Outside a cluster, or when the name does not resolve, the pod (or host) IP.
 */
export async function whispererEndpoints(
  config: Pick<AgentConfig, 'serviceHost' | 'pod' | 'endpointPort'>,
  ports: { endpoint: number; dns: number },
  log: { warn(msg: string): void },
): Promise<{ agentUrl: string; dns: string }> {
  if (config.serviceHost) {
    try {
      const { address } = await dnsLookup(config.serviceHost, { family: 4 });
      return {
        agentUrl: `http://${config.serviceHost}:${config.endpointPort}`,
        dns: `${address}:53`,
      };
    } catch (err) {
      log.warn(
        `Service ${config.serviceHost} does not resolve (${err}); giving whisperers the pod IP`,
      );
    }
  }
  const ip = advertiseAddress(config.pod.ip);
  return {
    agentUrl: `http://${ip}:${ports.endpoint}`,
    dns: `${ip}:${ports.dns}`,
  };
}

/**
 * The controller agent: watches the cluster, keeps whisperers attached, talks to the
 * Controls service and serves its own endpoints. `start()` then `stop()`.
 */
export class Agent {
  readonly cache: ClusterCache;
  readonly reconciler: Reconciler;
  readonly injector: Injector;
  readonly metrics = createMetrics();
  readonly controls: ControlsClient | undefined;
  /** Whisperers' traffic on its way to the Controls service. */
  readonly traffic: TrafficRelay;
  private readonly watchers: Watcher<any>[] = [];
  private readonly kubeHttp: KubeHttp;
  private readonly inventory = new InventoryTracker();
  private readonly sampler = new ProcessSampler();
  private readonly startedAt = new Date().toISOString();
  private readonly stoppers: Array<() => Promise<void> | void> = [];
  private clusterVersion: string | null = null;
  private syncedResolve!: () => void;
  readonly synced = new Promise<void>(r => (this.syncedResolve = r));
  private inventoryTimer: NodeJS.Timeout | undefined;
  private instancesTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private statusSoonTimer: NodeJS.Timeout | undefined;
  private lastStatusAt = 0;
  /**
   * What the last instances message and status cost to build and send (ms): the next
   * batch waits nine times that (at least 200 ms and 1 s, at most 2 s), so reporting a
   * 1,000-pod attach as it moves takes at most a tenth of the agent's time (every 200 ms
   * it took the largest share of its CPU, and loaded the Controls service alike).
   */
  private instancesCostMs = 0;
  private statusCostMs = 0;
  private pendingViews = new Map<string, AttachmentView>();
  private httpPort = 0;
  private ports = { dns: 0, endpoint: 0 };
  /** Instance secrets from the token as read at start (see InstanceSecrets). */
  private readonly secrets: InstanceSecrets;

  constructor(private readonly options: AgentOptions) {
    const { config, log } = options;
    const target = options.kubeTarget ?? loadKubeTarget(config.kubeconfig);
    log.info('kubernetes API', { server: target.server, via: target.source });
    this.kubeHttp = new KubeHttp(target);
    this.cache = new ClusterCache(config.scope);
    this.injector = new Injector(
      new EphemeralPods(this.kubeHttp),
      {
        concurrency: INJECT_CONCURRENCY,
        maxAttempts: 5,
        backoff: { baseMs: 200, maxMs: 5000 },
        wanted: a => this.reconciler?.wanted(a) ?? true,
      },
      // The reconciler is created right below; results cannot arrive before it exists.
      r => this.reconciler?.onInjectResult(r),
      log.child({ component: 'injector' }),
    );
    const ip = advertiseAddress(config.pod.ip);
    this.secrets = InstanceSecrets.fromToken(config.token());
    this.reconciler = new Reconciler(
      this.cache,
      this.injector,
      {
        scope: config.scope,
        defaultImage: config.whispererImage,
        endpoints: {
          agentUrl: `http://${ip}:${config.endpointPort}`,
          dns: `${ip}:${config.dnsPort}`,
          secrets: this.secrets,
        },
        resyncMs: config.resyncSeconds * 1000,
        debounceMs: options.debounceMs ?? 50,
        rejectionHoldMs: 5 * 60_000,
        transientHoldMs: 30_000,
        allowProcessAccess: config.allowProcessAccess,
        allowedImages: config.allowedImages,
        agentNamespace: config.pod.namespace,
      },
      log.child({ component: 'reconciler' }),
      this.metrics.reconciler,
    );
    this.traffic = new TrafficRelay({
      maxBufferBytes: config.trafficBufferBytes,
    });
    if (options.connectControls !== false) {
      this.controls = new ControlsClient({
        url: config.controlsUrl,
        token: config.token,
        hello: () => ({
          type: 'hello',
          protocol: AGENT_PROTOCOL_VERSION,
          agentVersion: AGENT_VERSION,
          clusterVersion: this.clusterVersion,
          scope: config.scope,
          allowedImages: config.allowedImages.map(p => p.text),
        }),
        onConnected: () => this.onConnected(),
        onDisconnected: () => {
          this.metrics.connected.set(0);
          this.traffic.linkDown();
        },
        onMessage: m => this.onMessage(m),
        log: log.child({ component: 'controls' }),
      });
      const controls = this.controls;
      this.traffic.attach({
        canSendTraffic: () => controls.supports('traffic'),
        bufferedAmount: () => controls.bufferedAmount,
        sendTraffic: (message, written) =>
          controls.sendTraffic(message, written),
      });
    }
    registerRelayMetrics(this.metrics.registry, () => this.traffic.stats());
  }

  get ready(): boolean {
    return this.watchers.length > 0 && this.watchers.every(w => w.synced);
  }

  /** Ports actually bound (0 in the config picks free ones). */
  get boundPorts() {
    return { http: this.httpPort, ...this.ports };
  }

  async start(): Promise<void> {
    const { config, log } = this.options;
    const bindHost = this.options.bindHost ?? config.bindAddress ?? undefined;
    const http = await startHttpServer({
      port: config.httpPort,
      host: bindHost,
      registry: this.metrics.registry,
      ready: () => ({
        ready: this.ready,
        detail: {
          synced: Object.fromEntries(
            this.watchers.map(w => [
              `${w.kind}${w.namespace ? `/${w.namespace}` : ''}`,
              w.synced,
            ]),
          ),
          controlsConnected: this.controls?.connected ?? null,
        },
      }),
    });
    this.httpPort = http.port;
    this.stoppers.push(() => http.close());

    this.kubeHttp
      .json('GET', '/version', { timeoutMs: 10_000 })
      .then(v => {
        this.clusterVersion =
          typeof v?.gitVersion === 'string' ? v.gitVersion.slice(0, 64) : null;
      })
      .catch(e =>
        log.warn('cannot read the cluster version', {
          error: (e as Error).message,
        }),
      );

    // One watcher per kind, cluster-wide or per included namespace.
    const namespaces =
      config.scope.include === '*'
        ? [null]
        : config.scope.include.filter(n => !config.scope.exclude.includes(n));
    const lean = (kind: WatchedKind) => {
      if (kind === 'Pod') return leanPod;
      if (kind === 'Service') return leanService;
      return (o: any) => leanWorkload(kind as any, o);
    };
    for (const kind of WATCHED_KINDS) {
      for (const ns of namespaces) {
        this.watchers.push(
          new Watcher(
            this.kubeHttp,
            kind,
            ns,
            lean(kind),
            this.cache,
            log.child({ component: 'watch' }),
            this.metrics.watcher,
            {
              ...DEFAULT_WATCHER_OPTIONS,
              ...this.options.watcherOptions,
            },
          ),
        );
      }
    }
    for (const w of this.watchers) w.start();
    const syncPoll = setInterval(() => {
      if (this.ready) {
        clearInterval(syncPoll);
        log.info('caches synced', { counts: this.cache.counts() });
        this.syncedResolve();
      }
    }, 50);
    this.stoppers.push(() => clearInterval(syncPoll));

    if (this.options.serveWhisperers !== false) {
      const dns = createDnsServer({
        directory: this.cache,
        port: config.dnsPort,
        host: bindHost,
        hostAliases: config.hostAliases,
        upstreams: config.dnsUpstreams.length ? config.dnsUpstreams : undefined,
        udpWorkers: config.dnsUdpWorkers,
        logger: log.child({ component: 'dns' }),
      });
      this.ports.dns = (await dns.start()).port;
      registerDnsMetrics(this.metrics.registry, () => dns.stats());
      this.stoppers.push(() => dns.stop());
      const endpoint = createWhispererEndpoint({
        directory: this.cache,
        registry: this.reconciler,
        secrets: this.secrets,
        port: config.endpointPort,
        host: bindHost,
        logger: log.child({ component: 'whisperer-endpoint' }),
        traffic: this.traffic,
      });
      this.ports.endpoint = (await endpoint.start()).port;
      registerEndpointMetrics(this.metrics.registry, () => endpoint.stats());
      this.stoppers.push(() => endpoint.stop());
      // With port 0 in the config the real ports are known only now.
      this.reconciler.setEndpoints({
        ...(await whispererEndpoints(config, this.ports, log)),
        secrets: this.secrets,
      });
    }

    // The reconciler plans only once the caches are complete: a partial cache would
    // report pods as missing (nothing would be injected twice, but views would lie).
    this.synced.then(() => this.reconciler.start());
    this.reconciler.onViews(changed => this.queueViews(changed));
    this.cache.onInventory(() => this.queueInventory());
    this.controls?.start();

    const statusEvery = this.options.statusIntervalMs ?? 30_000;
    this.statusTimer = setInterval(() => this.sendStatus(), statusEvery);
    this.statusTimer.unref?.();
    const insecure = insecureControlsUrlWarning(config.controlsUrl);
    if (insecure) log.warn(insecure);
    log.info('agent started', {
      version: AGENT_VERSION,
      scope: config.scope,
      allowedImages: config.allowedImages.map(p => p.text),
      ports: this.boundPorts,
      watchers: this.watchers.length,
    });
  }

  async stop(): Promise<void> {
    const { log } = this.options;
    log.info('agent stopping');
    // Whisperers keep what they hold (503) instead of handing it to a closing agent;
    // what the agent holds goes out while the socket is still up, briefly.
    const unsent = await this.traffic.closeAndFlush(2000);
    if (unsent)
      log.warn('traffic not relayed at shutdown', { exchanges: unsent });
    clearInterval(this.statusTimer);
    clearTimeout(this.inventoryTimer);
    clearTimeout(this.instancesTimer);
    clearTimeout(this.statusSoonTimer);
    this.reconciler.stop();
    await this.controls?.stop();
    await Promise.all(this.watchers.map(w => w.stop()));
    await this.injector.stop();
    this.kubeHttp.close();
    for (const s of this.stoppers.reverse()) await s();
    const relay = this.traffic.stats();
    log.info('agent stopped', {
      trafficSent: relay.exchangesSent,
      trafficDropped: relay.droppedExchanges,
    });
  }

  // ---- Controls service ---------------------------------------------------

  private send(m: AgentMessage): boolean {
    return this.controls?.send(m) ?? false;
  }

  private onConnected(): void {
    this.metrics.connected.set(1);
    this.traffic.linkUp();
    // Snapshot once the caches are complete; the backend replaces its inventory with it.
    this.synced.then(() => {
      if (!this.controls?.connected) return;
      const items = inventoryOf(
        this.cache.allWorkloads(),
        this.cache.allPods(),
        this.cache,
      );
      for (const m of snapshotMessages(items)) this.send(m);
      this.inventory.reset(items);
      this.sendInstances(this.reconciler.allViews());
      this.sendStatus();
    });
  }

  private onMessage(m: BackendMessage): void {
    const { log } = this.options;
    switch (m.type) {
      case 'welcome':
        log.info('welcome from the Controls service', {
          controllerId: m.controllerId,
          revision: m.revision,
          attachments: m.attachments.length,
        });
        this.reconciler.setDesired(m.revision, m.attachments);
        break;
      case 'attach':
        log.info('attach', {
          attachmentId: m.attachment.id,
          target: m.attachment.target,
          revision: m.revision,
        });
        this.reconciler.attach(m.revision, m.attachment);
        break;
      case 'detach':
        log.info('detach', {
          attachmentId: m.attachmentId,
          reason: m.reason,
          revision: m.revision,
        });
        this.reconciler.detach(m.revision, m.attachmentId, m.reason);
        break;
      case 'request': {
        const answer = () => {
          const items = inventoryOf(
            this.cache.allWorkloads(),
            this.cache.allPods(),
            this.cache,
          );
          const result = listWorkloadsResultSchema.parse(
            listWorkloads(items, m.params),
          );
          this.send({ type: 'reply', id: m.id, ok: true, result });
        };
        try {
          if (this.ready) answer();
          else {
            const timer = setTimeout(
              () =>
                this.send({
                  type: 'reply',
                  id: m.id,
                  ok: false,
                  error: {
                    code: 'NotReady',
                    message: 'The agent is still loading the cluster state.',
                  },
                }),
              Math.max(0, m.timeoutMs - 500),
            );
            this.synced.then(() => {
              clearTimeout(timer);
              answer();
            });
          }
        } catch (e) {
          this.send({
            type: 'reply',
            id: m.id,
            ok: false,
            error: {
              code: 'Internal',
              message: (e as Error).message.slice(0, 2000),
            },
          });
        }
        break;
      }
      default:
        break;
    }
  }

  private queueInventory(): void {
    if (this.inventoryTimer || !this.controls) return;
    this.inventoryTimer = setTimeout(() => {
      this.inventoryTimer = undefined;
      if (!this.controls?.connected || !this.ready) return;
      const items = inventoryOf(
        this.cache.allWorkloads(),
        this.cache.allPods(),
        this.cache,
      );
      for (const m of this.inventory.delta(items)) this.send(m);
    }, 1000);
  }

  private queueViews(changed: AttachmentView[]): void {
    for (const v of changed) this.pendingViews.set(v.attachmentId, v);
    this.updateAttachmentMetrics();
    if (this.instancesTimer) return;
    this.instancesTimer = setTimeout(() => {
      this.instancesTimer = undefined;
      const views = [...this.pendingViews.values()];
      this.pendingViews.clear();
      const started = performance.now();
      const sent = this.sendInstances(views);
      this.instancesCostMs = performance.now() - started;
      if (sent) this.statusSoon();
    }, Math.min(2000, Math.max(200, 9 * this.instancesCostMs)));
  }

  /**
   * The status (every attachment's instances again) after a change, at most once per
   * STATUS_ON_CHANGE_MS (or nine times its cost): sent after every 200 ms batch of
   * instances, it doubled the bytes the agent serialised while a 1,000-pod attach moved
   * (its CPU profile).
   */
  private statusSoon(): void {
    if (this.statusSoonTimer) return;
    const wait =
      this.lastStatusAt +
      Math.min(2000, Math.max(STATUS_ON_CHANGE_MS, 9 * this.statusCostMs)) -
      Date.now();
    if (wait <= 0) {
      this.sendStatus();
      return;
    }
    this.statusSoonTimer = setTimeout(() => {
      this.statusSoonTimer = undefined;
      this.sendStatus();
    }, wait);
  }

  private updateAttachmentMetrics() {
    const phases: Record<string, number> = {
      active: 0,
      failed: 0,
      stopped: 0,
      expired: 0,
    };
    const states: Record<string, number> = {
      pending: 0,
      running: 0,
      stopping: 0,
      terminated: 0,
      failed: 0,
    };
    for (const v of this.reconciler.allViews()) {
      phases[v.phase]++;
      for (const i of v.instances) states[i.state]++;
    }
    for (const [phase, n] of Object.entries(phases))
      this.metrics.attachments.set({ phase }, n);
    for (const [state, n] of Object.entries(states))
      this.metrics.instances.set({ state }, n);
  }

  private sendInstances(views: AttachmentView[]): boolean {
    if (!views.length) return true;
    const message: InstancesMessage = {
      type: 'instances',
      attachments: views.slice(0, 5000).map(v => ({
        attachmentId: v.attachmentId,
        phase: v.phase,
        message: v.message ? v.message.slice(0, 2048) : null,
        instances: v.instances.slice(0, 5000),
      })),
    };
    return this.send(message);
  }

  statusReport(): StatusMessage['status'] {
    const counts = this.cache.counts();
    for (const [kind, n] of Object.entries(counts))
      this.metrics.watched.set({ kind }, n);
    const sample = this.sampler.sample();
    return {
      agentVersion: AGENT_VERSION,
      protocolVersion: AGENT_PROTOCOL_VERSION,
      clusterVersion: this.clusterVersion,
      scope: this.options.config.scope,
      allowedImages: this.options.config.allowedImages.map(p => p.text),
      cpuCores: sample.cpuCores,
      rssBytes: sample.rssBytes,
      heapUsedBytes: sample.heapUsedBytes,
      watched: counts,
      attachments: this.reconciler
        .allViews()
        .slice(0, 5000)
        .map(v => ({
          id: v.attachmentId,
          instances: v.instances.slice(0, 5000),
        })),
      reportedAt: new Date().toISOString(),
      startedAt: this.startedAt,
    };
  }

  private sendStatus(): void {
    this.lastStatusAt = Date.now();
    const started = performance.now();
    const status = this.statusReport();
    this.send({ type: 'status', status });
    this.statusCostMs = performance.now() - started;
  }
}
