import http from 'node:http';
import {
  CaptureStats,
  TRAFFIC_LIMITS,
  WhispererTrafficBatch,
} from '@spider/backstage-plugin-spider-common';
import type { PodDirectory, PodIdentity } from '../cluster/PodDirectory';
import type {
  WhispererConfig,
  WhispererRegistry,
  WhispererStopReason,
} from '../reconcile/WhispererRegistry';
import {
  DEFAULT_TRAFFIC_RATE_LIMITS,
  InstanceRateLimiter,
  TrafficRateLimits,
} from '../traffic/TokenBucket';
import {
  instanceKey,
  OfferResult,
  TrafficInstance,
} from '../traffic/TrafficRelay';
import { authorize, RefusalReason } from './authorize';
import { InstanceSecrets, presentedSecret } from './instanceSecret';
import { parseRoute } from './routes';
import {
  MAX_STATE_BODY_WITH_STATS_BYTES,
  parseStateReport,
} from './stateReport';
import { parseTrafficBatch } from './trafficBatch';

/** At most one log line per refusal reason in this window; the others are counted in it. */
const REFUSAL_LOG_MS = 10_000;

/**
 * What a whisperer is told about itself (contract: configuration): what it needs to
 * capture and label what it captures, and nothing else. The target workload, the
 * Whisperer's id, name, image and env stay with the agent: the env is already in the
 * container, and a whisperer has no use for the rest.
 */
export function whispererView(config: WhispererConfig) {
  return {
    attachmentId: config.attachmentId,
    container: config.container,
    generation: config.generation,
    pod: { namespace: config.pod.namespace, name: config.pod.name },
    captureFilter: config.captureFilter,
    expiresAt: config.expiresAt,
    stop: config.stop,
    stopReason: config.stopReason,
    capture: config.capture,
  };
}

/** How long and how much of a refused body is discarded before the connection is cut. */
const LINGER = { ms: 2000, bytes: 4 * 1024 * 1024 };

/** Where accepted traffic and stats go (the agent's TrafficRelay). */
export interface TrafficSink {
  offer(instance: TrafficInstance, batch: WhispererTrafficBatch): OfferResult;
  updateStats(instance: TrafficInstance, stats: CaptureStats): void;
  countRateLimited(instance: TrafficInstance): void;
  readonly isClosed: boolean;
}

export interface WhispererEndpointLimits {
  /** Long-polls held at once (each is an open connection). */
  maxLongPolls: number;
  /** Long-polls held at once per caller IP (a pod rarely runs more than a few whisperers). */
  maxLongPollsPerIp: number;
  /** How often held long-polls re-check their stop state besides stop events (expiry, late desired set). */
  recheckMs: number;
  /** Retry-After for "not known yet" (the agent has no desired set yet) and overload. */
  retryAfterSeconds: number;
  /** Per whisperer instance: traffic bytes and batches per second (token buckets). */
  trafficRate: TrafficRateLimits;
  /** Largest traffic batch body (413 beyond, counted while reading). */
  maxTrafficBodyBytes: number;
}

export const DEFAULT_ENDPOINT_LIMITS: WhispererEndpointLimits = {
  maxLongPolls: 10_000,
  maxLongPollsPerIp: 16,
  recheckMs: 1000,
  retryAfterSeconds: 5,
  trafficRate: DEFAULT_TRAFFIC_RATE_LIMITS,
  maxTrafficBodyBytes: TRAFFIC_LIMITS.maxBatchBytes,
};

export interface EndpointStats {
  served: number;
  /** Requests refused with 403, all reasons; the two below are among them. */
  refused: number;
  /** Refused for a missing or wrong instance secret (the right pod IP, not the instance). */
  refusedSecret: number;
  /** Refused because the caller is a hostNetwork pod (its IP is the node's). */
  refusedHostNetwork: number;
  invalid: number;
  stopsSent: number;
  waiting: number;
  /** Traffic batches accepted (202) and the exchanges in them. */
  trafficBatches: number;
  trafficExchanges: number;
  /** Traffic batches refused with 429 (instance over its rate) and 503 (relay full or closing). */
  trafficRateLimited: number;
  trafficRefused: number;
}

export interface StopAnswer {
  stop: boolean;
  reason: WhispererStopReason | null;
}

interface Waiter {
  pod: PodIdentity;
  container: string;
  ip: string;
  /** Ends the long-poll with "keep going" once the wait is over. */
  timer?: NodeJS.Timeout;
  finish(answer: StopAnswer | null): void;
}

/**
 * HTTP for whisperers (docs/whisperer-contract.md): configuration, a long-poll that
 * answers when the whisperer must stop, and state reports. Every request is checked
 * against the PodDirectory first: its source IP must be a pod carrying that container.
 */
export class WhispererEndpoint {
  private server: http.Server | undefined;
  private readonly waiters = new Set<Waiter>();
  private readonly perIp = new Map<string, number>();
  private recheckTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly counters = {
    served: 0,
    refused: 0,
    refusedSecret: 0,
    refusedHostNetwork: 0,
    invalid: 0,
    stopsSent: 0,
    trafficBatches: 0,
    trafficExchanges: 0,
    trafficRateLimited: 0,
    trafficRefused: 0,
  };
  private readonly rate: InstanceRateLimiter;
  private readonly refusalLog = new Map<
    RefusalReason,
    { at: number; suppressed: number }
  >();

  constructor(
    private readonly directory: PodDirectory,
    private readonly registry: WhispererRegistry,
    private readonly secrets: InstanceSecrets,
    private readonly limits: WhispererEndpointLimits = DEFAULT_ENDPOINT_LIMITS,
    private readonly log?: {
      warn(msg: string, fields?: Record<string, unknown>): void;
    },
    private readonly traffic?: TrafficSink,
    private readonly now: () => number = Date.now,
  ) {
    this.rate = new InstanceRateLimiter(limits.trafficRate);
  }

  stats(): EndpointStats {
    return { ...this.counters, waiting: this.waiters.size };
  }

  async start(port: number, host = '0.0.0.0'): Promise<number> {
    const server = http.createServer(
      { requestTimeout: 10_000, headersTimeout: 5_000, maxHeaderSize: 8192 },
      (req, res) => this.handle(req, res),
    );
    server.maxConnections = this.limits.maxLongPolls + 1000;
    server.on('clientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    server.on('error', err =>
      this.log?.warn('whisperer endpoint error', { error: err.message }),
    );
    this.server = server;
    this.unsubscribe = this.registry.onStop(() => this.recheck());
    this.recheckTimer = setInterval(
      () => this.recheck(),
      this.limits.recheckMs,
    );
    this.recheckTimer.unref();
    return (server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.recheckTimer) clearInterval(this.recheckTimer);
    for (const w of [...this.waiters]) w.finish(null);
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>(resolve => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Whether the whisperer `container` in `pod` must stop now. */
  stopState(
    pod: Pick<PodIdentity, 'namespace' | 'name'>,
    container: string,
  ): StopAnswer {
    const config = this.registry.configFor(pod.namespace, pod.name, container);
    if (config)
      return {
        stop: config.stop,
        reason: config.stop ? config.stopReason ?? 'detached' : null,
      };
    // Unknown to a registry that has its desired set: its attachment is gone.
    if (this.registry.hasDesiredSet()) return { stop: true, reason: 'deleted' };
    return { stop: false, reason: null };
  }

  private recheck(): void {
    for (const w of [...this.waiters]) {
      const answer = this.stopState(w.pod, w.container);
      if (answer.stop) w.finish(answer);
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const route = parseRoute(req.method, req.url);
    if (!route.ok) {
      this.counters.invalid++;
      this.send(res, route.status, { error: route.message });
      req.resume();
      return;
    }
    const { container } = route.route;
    const auth = authorize(this.directory, this.secrets, {
      remoteAddress: req.socket.remoteAddress,
      container,
      secret: presentedSecret(req.headers),
    });
    if (!auth.ok) {
      this.refuse(auth.reason, req.socket.remoteAddress, container);
      this.send(res, 403, { error: `forbidden: ${auth.reason}` });
      req.resume();
      return;
    }
    const pod = auth.pod;
    try {
      switch (route.route.kind) {
        case 'config':
          req.resume();
          this.config(res, pod, container);
          return;
        case 'stop':
          req.resume();
          this.waitForStop(req, res, pod, container, route.route.waitSeconds);
          return;
        case 'state':
          this.state(req, res, pod, container);
          return;
        case 'traffic':
          this.trafficBatch(req, res, pod, container);
          return;
        default:
          this.send(res, 404, { error: 'not found' });
      }
    } catch (e) {
      this.log?.warn('whisperer endpoint request failed', {
        error: (e as Error).message,
      });
      if (!res.headersSent) this.send(res, 500, { error: 'internal error' });
    }
  }

  /** Counts a refusal and logs it (never the presented secret), throttled per reason. */
  private refuse(
    reason: RefusalReason,
    remoteAddress: string | undefined,
    container: string,
  ): void {
    this.counters.refused++;
    if (
      reason === 'missing instance secret' ||
      reason === 'wrong instance secret'
    )
      this.counters.refusedSecret++;
    if (reason === 'host network pod') this.counters.refusedHostNetwork++;
    const now = this.now();
    const last = this.refusalLog.get(reason);
    if (last && now - last.at < REFUSAL_LOG_MS) {
      last.suppressed++;
      return;
    }
    this.refusalLog.set(reason, { at: now, suppressed: 0 });
    this.log?.warn('whisperer endpoint refused a request', {
      reason,
      remoteAddress,
      container,
      ...(last?.suppressed ? { suppressedSinceLast: last.suppressed } : {}),
    });
  }

  private config(
    res: http.ServerResponse,
    pod: PodIdentity,
    container: string,
  ): void {
    const config = this.registry.configFor(pod.namespace, pod.name, container);
    if (config) {
      this.counters.served++;
      this.send(res, 200, whispererView(config));
    } else if (this.registry.hasDesiredSet()) {
      this.counters.stopsSent++;
      this.send(res, 410, {
        error: 'this whisperer has no attachment any more',
        stop: true,
        reason: 'deleted',
      });
    } else {
      this.send(
        res,
        503,
        { error: 'the agent has not received its desired state yet' },
        {
          'Retry-After': String(this.limits.retryAfterSeconds),
        },
      );
    }
  }

  private waitForStop(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    pod: PodIdentity,
    container: string,
    waitSeconds: number,
  ): void {
    const now = this.stopState(pod, container);
    if (now.stop || waitSeconds === 0) {
      this.answerStop(res, now);
      return;
    }
    const ip = pod.ip;
    if (this.waiters.size >= this.limits.maxLongPolls) {
      this.send(
        res,
        503,
        { error: 'too many waiting whisperers' },
        { 'Retry-After': String(this.limits.retryAfterSeconds) },
      );
      return;
    }
    if ((this.perIp.get(ip) ?? 0) >= this.limits.maxLongPollsPerIp) {
      this.send(
        res,
        429,
        { error: 'too many waiting requests from this pod' },
        {
          'Retry-After': String(this.limits.retryAfterSeconds),
        },
      );
      return;
    }
    const waiter: Waiter = {
      pod,
      container,
      ip,
      finish: answer => {
        if (!this.waiters.delete(waiter)) return;
        clearTimeout(waiter.timer);
        const left = (this.perIp.get(ip) ?? 1) - 1;
        if (left > 0) this.perIp.set(ip, left);
        else this.perIp.delete(ip);
        if (res.writableEnded || res.destroyed) return;
        if (answer) this.answerStop(res, answer);
        else
          this.send(
            res,
            503,
            { error: 'the agent is shutting down' },
            { 'Retry-After': String(this.limits.retryAfterSeconds) },
          );
      },
    };
    this.waiters.add(waiter);
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    waiter.timer = setTimeout(
      () => waiter.finish({ stop: false, reason: null }),
      waitSeconds * 1000,
    );
    // A caller that hangs up frees its slot at once.
    res.on('close', () => waiter.finish(null));
    req.on('error', () => waiter.finish(null));
  }

  private answerStop(res: http.ServerResponse, answer: StopAnswer): void {
    this.counters.served++;
    if (answer.stop) this.counters.stopsSent++;
    this.send(res, 200, answer);
  }

  private isJson(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const type = (req.headers['content-type'] ?? '')
      .split(';')[0]
      .trim()
      .toLowerCase();
    if (type === 'application/json') return true;
    this.counters.invalid++;
    this.send(res, 415, { error: 'send application/json' });
    req.resume();
    return false;
  }

  /**
   * Answers 413 and stops taking the body. A caller may still be sending: closing with its
   * bytes unread would reset the connection and lose the answer, so (as web servers do)
   * the rest is discarded for a moment, bounded in time and bytes, then the socket is cut.
   */
  private tooLarge(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    max: number,
  ): void {
    this.counters.invalid++;
    const socket = req.socket;
    let discarded = 0;
    const timer = setTimeout(() => socket.destroy(), LINGER.ms);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    req.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > LINGER.bytes) socket.destroy();
    });
    this.send(res, 413, { error: `body larger than ${max} bytes` });
  }

  /**
   * Reads a JSON body of at most `max` bytes, counted as it arrives (a missing or false
   * Content-Length does not help a caller past the cap), then hands it over parsed.
   */
  private readJson(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    max: number,
    onBody: (json: unknown, bytes: number) => void,
  ): void {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      this.tooLarge(req, res, max);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let aborted = false;
    req.on('data', (chunk: Buffer) => {
      if (aborted) return;
      size += chunk.length;
      if (size > max) {
        aborted = true;
        chunks.length = 0;
        this.tooLarge(req, res, max);
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => {
      aborted = true;
    });
    req.on('end', () => {
      if (aborted) return;
      let json: unknown;
      try {
        json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        this.counters.invalid++;
        this.send(res, 400, { error: 'body is not JSON' });
        return;
      }
      onBody(json, size);
    });
  }

  private instanceOf(
    config: WhispererConfig,
    pod: PodIdentity,
    container: string,
  ): TrafficInstance {
    return {
      attachmentId: config.attachmentId,
      namespace: pod.namespace,
      pod: pod.name,
      container,
    };
  }

  private state(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    pod: PodIdentity,
    container: string,
  ): void {
    if (!this.isJson(req, res)) return;
    this.readJson(req, res, MAX_STATE_BODY_WITH_STATS_BYTES, (json, bytes) => {
      const parsed = parseStateReport(json, bytes);
      if (!parsed.ok) {
        this.counters.invalid++;
        this.send(res, parsed.tooLarge ? 413 : 400, { error: parsed.message });
        return;
      }
      const { stats, ...report } = parsed.report;
      this.registry.reportState({
        podNamespace: pod.namespace,
        podName: pod.name,
        container,
        ...report,
      });
      if (stats && this.traffic) {
        const config = this.registry.configFor(
          pod.namespace,
          pod.name,
          container,
        );
        if (config)
          this.traffic.updateStats(
            this.instanceOf(config, pod, container),
            stats,
          );
      }
      this.counters.served++;
      res.writeHead(204, { 'Cache-Control': 'no-store' });
      res.end();
    });
  }

  private retryLater(
    res: http.ServerResponse,
    status: 429 | 503,
    error: string,
    seconds: number,
  ): void {
    this.send(res, status, { error }, { 'Retry-After': String(seconds) });
  }

  /** `POST …/traffic`: checks everything it can before reading the body, the rest after. */
  private trafficBatch(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    pod: PodIdentity,
    container: string,
  ): void {
    const sink = this.traffic;
    if (!sink) {
      this.counters.invalid++;
      this.send(res, 404, { error: 'this agent does not relay traffic' });
      req.resume();
      return;
    }
    if (!this.isJson(req, res)) return;
    const max = this.limits.maxTrafficBodyBytes;
    if (Number(req.headers['content-length'] ?? 0) > max) {
      this.tooLarge(req, res, max);
      return;
    }
    const config = this.registry.configFor(pod.namespace, pod.name, container);
    if (!config) {
      req.resume();
      if (this.registry.hasDesiredSet()) {
        this.counters.stopsSent++;
        this.send(res, 410, {
          error: 'this whisperer has no attachment any more',
          stop: true,
          reason: 'deleted',
        });
      } else {
        this.retryLater(
          res,
          503,
          'the agent has not received its desired state yet',
          this.limits.retryAfterSeconds,
        );
      }
      return;
    }
    const instance = this.instanceOf(config, pod, container);
    if (sink.isClosed) {
      req.resume();
      this.counters.trafficRefused++;
      this.retryLater(
        res,
        503,
        'the agent is shutting down',
        this.limits.retryAfterSeconds,
      );
      return;
    }
    const key = instanceKey(instance);
    const waitBatch = this.rate.takeBatch(key, this.now());
    if (waitBatch) {
      req.resume();
      this.rateLimited(res, sink, instance, waitBatch);
      return;
    }
    this.readJson(req, res, max, (json, bytes) => {
      const parsed = parseTrafficBatch(json, instance);
      if (!parsed.ok) {
        this.counters.invalid++;
        this.send(res, 400, { error: parsed.message });
        return;
      }
      const waitBytes = this.rate.takeBytes(key, bytes, this.now());
      if (waitBytes) {
        this.rateLimited(res, sink, instance, waitBytes);
        return;
      }
      const offered = sink.offer(instance, parsed.batch);
      if (!offered.ok) {
        this.counters.trafficRefused++;
        this.retryLater(
          res,
          503,
          offered.reason === 'closed'
            ? 'the agent is shutting down'
            : "the agent's relay buffer is full",
          this.limits.retryAfterSeconds,
        );
        return;
      }
      this.counters.trafficBatches++;
      this.counters.trafficExchanges += offered.accepted;
      this.send(res, 202, { accepted: offered.accepted });
    });
  }

  private rateLimited(
    res: http.ServerResponse,
    sink: TrafficSink,
    instance: TrafficInstance,
    seconds: number,
  ): void {
    this.counters.trafficRateLimited++;
    sink.countRateLimited(instance);
    this.retryLater(
      res,
      429,
      'this whisperer instance sends faster than its rate',
      seconds,
    );
  }

  private send(
    res: http.ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
      ...headers,
    });
    res.end(text);
  }
}
