import WebSocket from 'ws';
import {
  AGENT_PROTOCOL_LIMITS,
  AGENT_PROTOCOL_VERSION,
  BackendMessage,
  backendMessageSchema,
  CaptureStats,
  CapturedExchange,
  RelayStats,
  TrafficFlow,
  TrafficMessage,
  DesiredAttachment,
  DesiredSetAssembler,
  parseProtocolMessage,
  WhispererInstance,
} from '@spider/backstage-plugin-spider-common';

export interface TestAgentOptions {
  url: string;
  token: string;
  scope?: { include: '*' | string[]; exclude: string[] };
  /** Workloads it reports and lists. */
  workloads?: Array<{
    namespace: string;
    kind: any;
    name: string;
    labels?: Record<string, string>;
    replicas?: number | null;
    pods?: number;
  }>;
  /** Pods per workload for the instances it reports on attach. */
  podsPerWorkload?: number;
  /** Delay before answering requests (to provoke timeouts). */
  replyDelayMs?: number;
  /**
   * Features announced in hello (e.g. ['traffic', 'chunkedWelcome']); none by default, as
   * an older agent. With `chunkedWelcome` it assembles chunked desired sets as the real
   * agent does, applying one only once complete.
   */
  features?: string[];
}

/** The instance and counters of a `traffic` message; exchanges and flows are added per call. */
export interface TestTrafficInstance {
  attachmentId: string;
  namespace: string;
  pod: string;
  container: string;
}

/**
 * A protocol-v1 agent for tests and demos: a real WebSocket client that keeps the
 * desired set it is sent and reports running instances for each attachment, without a
 * cluster behind it. Every message it receives is validated with the shared schema.
 */
export class TestAgent {
  ws: WebSocket | undefined;
  readonly received: BackendMessage[] = [];
  /** Size in bytes of every frame received, in order. */
  readonly frameBytes: number[] = [];
  /** Complete desired sets applied (one per welcome, however many frames it took). */
  welcomes = 0;
  private readonly assembler = new DesiredSetAssembler();
  readonly desired = new Map<string, DesiredAttachment>();
  revision = -1;
  /** agentRun of the traffic messages this agent sends, and the next seq per instance. */
  readonly agentRun = `test-${Math.random().toString(36).slice(2, 10)}`;
  private readonly trafficSeq = new Map<string, number>();
  closeCode: number | undefined;
  closeReason: string | undefined;
  private waiters: Array<() => void> = [];

  constructor(readonly options: TestAgentOptions) {}

  /** Connects and says hello; resolves on the welcome, rejects on refusal. */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.options.url, {
        headers: { authorization: `Bearer ${this.options.token}` },
      });
      this.ws = ws;
      let welcomed = false;
      ws.on('unexpected-response', (_req, res) => {
        reject(new Error(`refused with HTTP ${res.statusCode}`));
      });
      ws.on('error', err => {
        if (!welcomed) reject(err);
      });
      ws.on('open', () => {
        this.send({
          type: 'hello',
          protocol: AGENT_PROTOCOL_VERSION,
          agentVersion: 'test-agent/1.0.0',
          clusterVersion: 'v1.34.0',
          scope: this.options.scope ?? { include: '*', exclude: [] },
          ...(this.options.features ? { features: this.options.features } : {}),
        });
      });
      ws.on('close', (code, reason) => {
        // A set cut off by the close is dropped, never applied.
        this.assembler.reset();
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.notify();
        if (!welcomed) reject(new Error(`closed with ${code} ${reason}`));
      });
      ws.on('message', (data: Buffer) => {
        this.frameBytes.push(data.length);
        const parsed = parseProtocolMessage(
          backendMessageSchema,
          data.toString(),
        );
        if (!parsed.ok)
          throw new Error(`backend sent an invalid message: ${parsed.error}`);
        let m = parsed.message;
        this.received.push(m);
        if (m.type === 'welcome' || m.type === 'desiredChunk') {
          const r = this.assembler.accept(m);
          if (r.state === 'error')
            throw new Error(`backend broke a chunked desired set: ${r.error}`);
          if (r.state === 'pending') return;
          m = r.welcome;
        } else if (this.assembler.inProgress) {
          throw new Error(
            `backend sent ${m.type} inside a chunked desired set`,
          );
        }
        this.handle(m);
        if (m.type === 'welcome' && !welcomed) {
          welcomed = true;
          this.sendInventory();
          resolve();
        }
        this.notify();
      });
    });
  }

  send(message: unknown) {
    this.ws?.send(JSON.stringify(message));
  }

  private handle(m: BackendMessage) {
    switch (m.type) {
      case 'welcome':
        this.welcomes += 1;
        this.desired.clear();
        for (const a of m.attachments) this.desired.set(a.id, a);
        this.revision = m.revision;
        this.reportInstances(
          [...this.desired.values()].map(a => a.id),
          'active',
        );
        break;
      case 'attach':
        this.desired.set(m.attachment.id, m.attachment);
        this.revision = m.revision;
        this.reportInstances([m.attachment.id], 'active');
        break;
      case 'detach':
        this.desired.delete(m.attachmentId);
        this.revision = m.revision;
        this.reportInstances(
          [m.attachmentId],
          m.reason === 'expired' ? 'expired' : 'stopped',
        );
        break;
      case 'request': {
        const p = m.params;
        const items = (this.options.workloads ?? [])
          .filter(
            w => p.namespaces === '*' || p.namespaces.includes(w.namespace),
          )
          .filter(w => !p.namespace || w.namespace === p.namespace)
          .filter(w => !p.kind || w.kind === p.kind)
          .filter(w => !p.q || w.name.includes(p.q))
          .map(w => ({ labels: {}, replicas: null, pods: 1, ...w }));
        const reply = () =>
          this.send({
            type: 'reply',
            id: m.id,
            ok: true,
            result: { items, truncated: false },
          });
        if (this.options.replyDelayMs)
          setTimeout(reply, this.options.replyDelayMs);
        else reply();
        break;
      }
      default:
        break;
    }
  }

  /** Sends the workloads as a snapshot, in protocol-sized chunks. */
  sendInventory() {
    const all = (this.options.workloads ?? []).map(w => ({
      labels: {},
      replicas: null,
      pods: 1,
      ...w,
    }));
    const size = AGENT_PROTOCOL_LIMITS.inventoryChunk;
    const chunks = Math.max(1, Math.ceil(all.length / size));
    for (let i = 0; i < chunks; i++) {
      this.send({
        type: 'inventory',
        mode: 'snapshot',
        first: i === 0,
        last: i === chunks - 1,
        upserts: all.slice(i * size, (i + 1) * size),
        removed: [],
      });
    }
  }

  private reportInstances(
    ids: string[],
    phase: 'active' | 'stopped' | 'expired',
  ) {
    if (ids.length === 0) return;
    const now = new Date().toISOString();
    const pods = this.options.podsPerWorkload ?? 2;
    this.send({
      type: 'instances',
      attachments: ids.map(id => ({
        attachmentId: id,
        phase,
        message: null,
        instances: Array.from(
          { length: pods },
          (_, i): WhispererInstance => ({
            pod: `pod-${i}`,
            container: `spider-${id.replace(/-/g, '').slice(0, 32)}`,
            node: 'node-1',
            podIp: `10.0.0.${i + 1}`,
            state: phase === 'active' ? 'running' : 'terminated',
            reason: (
              {
                active: 'Running',
                expired: 'Expired',
                stopped: 'Detached',
              } as const
            )[phase],
            message: null,
            startedAt: now,
            finishedAt: phase === 'active' ? null : now,
            exitCode: phase === 'active' ? null : 0,
            generation: 0,
          }),
        ),
      })),
    });
  }

  /**
   * Sends one `traffic` message for an instance, as the agent's relay does (next seq of
   * the instance; `seq` given to replay an earlier one). Returns the message sent.
   */
  sendTraffic(
    instance: TestTrafficInstance,
    content: {
      exchanges?: CapturedExchange[];
      flows?: TrafficFlow[];
      stats?: CaptureStats | null;
      relay?: RelayStats;
      seq?: number;
    } = {},
  ): TrafficMessage {
    const key = `${instance.attachmentId}/${instance.pod}/${instance.container}`;
    const seq = content.seq ?? this.trafficSeq.get(key) ?? 0;
    if (content.seq === undefined) this.trafficSeq.set(key, seq + 1);
    const message: TrafficMessage = {
      type: 'traffic',
      agentRun: this.agentRun,
      seq,
      ...instance,
      exchanges: content.exchanges ?? [],
      flows: content.flows ?? [],
      stats: content.stats ?? null,
      relay: content.relay ?? {
        droppedExchanges: 0,
        droppedBytes: 0,
        rateLimited: 0,
      },
    };
    this.send(message);
    return message;
  }

  sendStatus(extra: Partial<Record<string, unknown>> = {}) {
    const now = new Date().toISOString();
    this.send({
      type: 'status',
      status: {
        agentVersion: 'test-agent/1.0.0',
        protocolVersion: AGENT_PROTOCOL_VERSION,
        clusterVersion: 'v1.34.0',
        scope: this.options.scope ?? { include: '*', exclude: [] },
        cpuCores: 0.01,
        rssBytes: 50_000_000,
        heapUsedBytes: 20_000_000,
        watched: { Pod: 3, Deployment: 1 },
        attachments: [...this.desired.keys()].map(id => ({
          id,
          instances: [],
        })),
        reportedAt: now,
        startedAt: now,
        ...extra,
      },
    });
  }

  private notify() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach(f => f());
  }

  /** Waits until `predicate` holds, re-checking on every message. */
  async waitFor(
    predicate: () => boolean,
    what: string,
    timeoutMs = 10_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>(r => {
        const t = setTimeout(r, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  close() {
    this.ws?.close();
  }
}
