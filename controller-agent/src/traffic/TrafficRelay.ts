import { randomUUID } from 'node:crypto';
import type {
  CaptureStats,
  RelayStats,
  TrafficMessage,
  WhispererTrafficBatch,
} from '@spider/backstage-plugin-spider-common';
import { Fifo } from './Fifo';
import {
  ChunkLimits,
  chunkTraffic,
  DEFAULT_CHUNK_LIMITS,
  TrafficChunk,
} from './trafficChunks';

/** The whisperer instance traffic belongs to (what the agent's cache says it is). */
export interface TrafficInstance {
  attachmentId: string;
  namespace: string;
  pod: string;
  container: string;
}

export const instanceKey = (
  i: Pick<TrafficInstance, 'namespace' | 'pod' | 'container'>,
) => `${i.namespace}/${i.pod}/${i.container}`;

export type TrafficSendResult = 'sent' | 'notConnected' | 'tooBig';

/** The socket to the Controls service, as the relay sees it (ControlsClient in the agent). */
export interface TrafficLink {
  /** Connected, welcomed, and the backend announced the `traffic` feature. */
  canSendTraffic(): boolean;
  /** Bytes handed to the socket and not yet written out. */
  bufferedAmount(): number;
  /** Sends one message; `written` runs once it left the process, with an error if it never will. */
  sendTraffic(
    message: TrafficMessage,
    written: (error?: Error) => void,
  ): TrafficSendResult;
}

export interface TrafficRelayOptions {
  /** Bound on everything held: queued chunks and the replay window (SPIDER_TRAFFIC_BUFFER_BYTES). */
  maxBufferBytes: number;
  /** Send only while the socket holds less than this unwritten (backpressure). */
  highWaterBytes?: number;
  /** A message carrying only new stats or relay counters goes at most this often per instance. */
  statsIntervalMs?: number;
  /** Messages sent this recently are sent again after a reconnect (the backend dedupes by exchange id). */
  replayWindowMs?: number;
  /** How soon to look again while the socket is above the high-water mark. */
  retryMs?: number;
  agentRun?: string;
  chunkLimits?: ChunkLimits;
  now?: () => number;
}

export type OfferResult =
  | { ok: true; accepted: number }
  | { ok: false; reason: 'full' | 'closed' };

export interface RelayTotals {
  exchangesQueued: number;
  messagesSent: number;
  exchangesSent: number;
  droppedExchanges: number;
  droppedBytes: number;
  rateLimited: number;
  /** Batches answered "full" (503) because the backend takes traffic but slower than it comes. */
  refusedFull: number;
  /** Exchanges queued again after a reconnect. */
  replayedExchanges: number;
  /** Bytes held now (queued and replay window). */
  bufferBytes: number;
  /** Chunks waiting to be sent. */
  queuedChunks: number;
  instances: number;
}

interface Queued {
  key: string;
  chunk: TrafficChunk;
  /** A replay keeps the seq it was first sent with: the backend applies a seq's flows once. */
  seq?: number;
}

interface SentEntry extends Queued {
  seq: number;
  at: number;
}

interface InstanceState {
  instance: TrafficInstance;
  seq: number;
  stats: CaptureStats | null;
  statsDirty: boolean;
  relay: RelayStats;
  relayDirty: boolean;
  lastSentAt: number;
  lastSeenAt: number;
  /** Chunks of this instance in the queue. */
  queued: number;
}

const IDLE_INSTANCE_MS = 60 * 60_000;

/**
 * Carries whisperers' traffic to the Controls service as `traffic` messages: one FIFO for
 * all instances (so each instance's traffic stays in order), chunked under the message
 * cap, bounded in bytes. While the backend is away (or does not take traffic) it keeps
 * buffering and drops the oldest when full; while the backend takes traffic but slower
 * than it arrives it refuses new batches instead (the whisperer keeps them). Every drop
 * is counted per instance and the counts travel in that instance's next message, with the
 * whisperer's latest stats. Messages of the last replayWindowMs are sent again after a
 * reconnect with their first seq: exchanges are stored once by id, and flows and stats once
 * per (agentRun, seq), so a replay costs bandwidth, never a duplicate.
 * No sockets here; the agent wires it to its ControlsClient.
 */
export class TrafficRelay {
  readonly agentRun: string;
  private readonly queue = new Fifo<Queued>();
  private readonly sent = new Fifo<SentEntry>();
  private readonly states = new Map<string, InstanceState>();
  /** Instances with stats or relay counters the backend has not seen yet. */
  private readonly dirty = new Set<string>();
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private kickPending = false;
  /** No new traffic is taken. */
  private closed = false;
  /** Nothing more is sent either. */
  private stopped = false;
  private link: TrafficLink | undefined;
  private readonly totals = {
    exchangesQueued: 0,
    messagesSent: 0,
    exchangesSent: 0,
    droppedExchanges: 0,
    droppedBytes: 0,
    rateLimited: 0,
    refusedFull: 0,
    replayedExchanges: 0,
  };
  private readonly highWater: number;
  private readonly statsIntervalMs: number;
  private readonly replayWindowMs: number;
  private readonly retryMs: number;
  private readonly chunkLimits: ChunkLimits;
  private readonly now: () => number;

  constructor(private readonly options: TrafficRelayOptions) {
    this.agentRun = options.agentRun ?? randomUUID();
    this.highWater = options.highWaterBytes ?? 512 * 1024;
    this.statsIntervalMs = options.statsIntervalMs ?? 5000;
    this.replayWindowMs = options.replayWindowMs ?? 30_000;
    this.retryMs = options.retryMs ?? 100;
    this.chunkLimits = options.chunkLimits ?? DEFAULT_CHUNK_LIMITS;
    this.now = options.now ?? Date.now;
  }

  /** Connects the relay to its socket; sends once the link says it can. */
  attach(link: TrafficLink): void {
    this.link = link;
    this.pump();
  }

  /** The link is up (welcomed): send what waits. */
  linkUp(): void {
    this.pump();
  }

  /**
   * The link went down: what was sent within the replay window may not have arrived, or
   * may have arrived and not been stored (the backend closes with trafficNotStored and
   * handles nothing after the failed message), so it goes back in front of the queue,
   * flows included, each with the seq it was first sent with. Flows are summaries without
   * ids: the backend adds those of a message only when its seq is newer than the last it
   * applied for the instance, so what was stored already is not counted twice.
   */
  linkDown(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = this.now();
    this.expireSent(now);
    const back: Queued[] = [];
    for (const entry of this.sent.drain()) {
      const st = this.states.get(entry.key);
      back.push({ key: entry.key, chunk: entry.chunk, seq: entry.seq });
      this.totals.replayedExchanges += entry.chunk.exchanges.length;
      if (st) st.queued++;
    }
    this.queue.unshiftAll(back);
    // The last stats and counters may have been in a lost message: send them again.
    for (const [key, st] of this.states) {
      if (now - st.lastSentAt > this.replayWindowMs) continue;
      st.statsDirty = st.stats !== null;
      st.relayDirty = true;
      this.dirty.add(key);
    }
  }

  /** Queues a whisperer's batch (already validated and checked against the instance). */
  offer(instance: TrafficInstance, batch: WhispererTrafficBatch): OfferResult {
    if (this.closed) return { ok: false, reason: 'closed' };
    const now = this.now();
    const key = instanceKey(instance);
    const st = this.state(instance, now);
    if (batch.stats) this.setStats(key, st, batch.stats);
    const chunks = chunkTraffic(batch.exchanges, batch.flows, this.chunkLimits);
    const incoming = chunks.reduce((n, c) => n + c.bytes, 0);
    if (!this.makeRoom(incoming, now)) {
      this.totals.refusedFull++;
      this.pump(false);
      return { ok: false, reason: 'full' };
    }
    for (const chunk of chunks) {
      this.queue.push({ key, chunk });
      st.queued++;
    }
    this.bytes += incoming;
    this.totals.exchangesQueued += batch.exchanges.length;
    this.pump(false);
    return { ok: true, accepted: batch.exchanges.length };
  }

  /** The whisperer's latest counters (from a state report); they go with its next message. */
  updateStats(instance: TrafficInstance, stats: CaptureStats): void {
    if (this.closed) return;
    const key = instanceKey(instance);
    this.setStats(key, this.state(instance, this.now()), stats);
    this.pump();
  }

  /** A batch of this instance was refused with 429. */
  countRateLimited(instance: TrafficInstance): void {
    const key = instanceKey(instance);
    const st = this.state(instance, this.now());
    st.relay.rateLimited++;
    st.relayDirty = true;
    this.dirty.add(key);
    this.totals.rateLimited++;
    this.arm();
  }

  /** Refuses new traffic and stops sending; what is queued stays counted in stats(). */
  close(): void {
    this.closed = true;
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Shutdown: refuses new traffic at once (whisperers keep theirs and retry against the
   * next agent), sends what is queued while the link takes it, for at most `timeoutMs`,
   * then closes. Resolves with the exchanges still unsent.
   */
  async closeAndFlush(timeoutMs: number): Promise<number> {
    this.closed = true;
    // Wall-clock time: this bounds a real wait, whatever clock the relay's logic runs on.
    const deadline = Date.now() + timeoutMs;
    while (
      this.queue.length &&
      this.link?.canSendTraffic() &&
      Date.now() < deadline
    ) {
      this.pump();
      await new Promise(r => setTimeout(r, 20));
    }
    let unsent = 0;
    for (const q of this.queue.drain()) {
      unsent += q.chunk.exchanges.length;
      this.queue.push(q);
    }
    this.close();
    return unsent;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  stats(): RelayTotals {
    return {
      ...this.totals,
      bufferBytes: this.bytes,
      queuedChunks: this.queue.length,
      instances: this.states.size,
    };
  }

  /** What the relay has counted against one instance so far. */
  relayStatsOf(
    instance: Pick<TrafficInstance, 'namespace' | 'pod' | 'container'>,
  ): RelayStats | undefined {
    const st = this.states.get(instanceKey(instance));
    return st ? { ...st.relay } : undefined;
  }

  // ---- internals ------------------------------------------------------------

  private state(instance: TrafficInstance, now: number): InstanceState {
    const key = instanceKey(instance);
    let st = this.states.get(key);
    if (!st) {
      if (this.states.size >= 10_000) this.forgetIdle(now);
      st = {
        instance: { ...instance },
        seq: 0,
        stats: null,
        statsDirty: false,
        relay: { droppedExchanges: 0, droppedBytes: 0, rateLimited: 0 },
        relayDirty: false,
        lastSentAt: -Infinity,
        lastSeenAt: now,
        queued: 0,
      };
      this.states.set(key, st);
    }
    st.lastSeenAt = now;
    return st;
  }

  private forgetIdle(now: number): void {
    for (const [key, st] of this.states) {
      if (
        st.queued === 0 &&
        !this.dirty.has(key) &&
        now - st.lastSeenAt > IDLE_INSTANCE_MS
      )
        this.states.delete(key);
    }
  }

  private setStats(key: string, st: InstanceState, stats: CaptureStats): void {
    st.stats = stats;
    st.statsDirty = true;
    this.dirty.add(key);
  }

  /** Frees room for `incoming` bytes, or says the batch must wait. */
  private makeRoom(incoming: number, now: number): boolean {
    this.expireSent(now);
    const max = this.options.maxBufferBytes;
    // Sent messages are kept only in case of a reconnect: they go first.
    while (this.bytes + incoming > max && this.sent.length)
      this.bytes -= this.sent.shift()!.chunk.bytes;
    if (this.bytes + incoming <= max) return true;
    // The backend is there and draining: push back rather than drop.
    if (this.link?.canSendTraffic()) return false;
    while (this.bytes + incoming > max) {
      const oldest = this.queue.shift();
      if (!oldest) break;
      this.drop(oldest);
    }
    return this.bytes + incoming <= max;
  }

  private drop(q: Queued): void {
    this.bytes -= q.chunk.bytes;
    this.totals.droppedExchanges += q.chunk.exchanges.length;
    this.totals.droppedBytes += q.chunk.bytes;
    const st = this.states.get(q.key);
    if (!st) return;
    st.queued--;
    st.relay.droppedExchanges += q.chunk.exchanges.length;
    st.relay.droppedBytes += q.chunk.bytes;
    st.relayDirty = true;
    this.dirty.add(q.key);
  }

  private expireSent(now: number): void {
    for (
      let e = this.sent.peek();
      e && now - e.at > this.replayWindowMs;
      e = this.sent.peek()
    ) {
      this.sent.shift();
      this.bytes -= e.chunk.bytes;
    }
  }

  /**
   * Sends what the socket can take. `withStats`: also the stats-only messages that are
   * due (a walk over every instance with news, so not on every batch).
   */
  private pump(withStats = true): void {
    const link = this.link;
    if (this.stopped || !link || !link.canSendTraffic()) return;
    const now = this.now();
    this.expireSent(now);
    while (this.queue.length && link.bufferedAmount() < this.highWater) {
      const next = this.queue.peek()!;
      const result = this.transmit(link, next.key, next.chunk, now, next.seq);
      if (result === 'notConnected') break;
      this.queue.shift();
      if (result === 'tooBig') this.drop(next);
    }
    for (const key of withStats ? this.dirty : []) {
      if (link.bufferedAmount() >= this.highWater) break;
      const st = this.states.get(key);
      if (!st) {
        this.dirty.delete(key);
        continue;
      }
      // A queued chunk of this instance will carry them; else at most one message per interval.
      if (st.queued > 0 || now - st.lastSentAt < this.statsIntervalMs) continue;
      if (this.transmit(link, key, null, now) === 'notConnected') break;
    }
    this.arm();
  }

  private transmit(
    link: TrafficLink,
    key: string,
    chunk: TrafficChunk | null,
    now: number,
    replaySeq?: number,
  ): 'sent' | 'notConnected' | 'tooBig' {
    const st = this.states.get(key)!;
    const replay = replaySeq !== undefined;
    const seq = replaySeq ?? st.seq;
    const message: TrafficMessage = {
      type: 'traffic',
      agentRun: this.agentRun,
      seq,
      ...st.instance,
      exchanges: chunk?.exchanges ?? [],
      flows: chunk?.flows ?? [],
      // The backend ignores the stats of a seq it applied already: a replay carries none,
      // and the newest go with the next new message.
      stats: !replay && st.statsDirty ? st.stats : null,
      relay: { ...st.relay },
    };
    const entry: SentEntry | undefined = chunk
      ? { key, chunk, seq, at: now }
      : undefined;
    const result = link.sendTraffic(message, error => {
      if (!error) this.kick();
    });
    if (result !== 'sent') return result;
    if (!replay) {
      st.seq++;
      st.statsDirty = false;
      st.relayDirty = false;
      this.dirty.delete(key);
    }
    st.lastSentAt = now;
    this.totals.messagesSent++;
    if (chunk && entry) {
      st.queued--;
      this.totals.exchangesSent += chunk.exchanges.length;
      this.sent.push(entry);
    }
    return 'sent';
  }

  /** The socket wrote something: there may be room again. */
  private kick(): void {
    if (this.kickPending || this.stopped) return;
    this.kickPending = true;
    setImmediate(() => {
      this.kickPending = false;
      this.pump(false);
    });
  }

  /** One timer for what waits: backpressure, or stats due later. */
  private arm(): void {
    if (this.stopped || this.timer || !this.link?.canSendTraffic()) return;
    let delay: number | undefined;
    if (this.queue.length) delay = this.retryMs;
    else {
      const now = this.now();
      for (const key of this.dirty) {
        const st = this.states.get(key);
        if (!st) continue;
        const due = Math.max(
          this.retryMs,
          st.lastSentAt + this.statsIntervalMs - now,
        );
        delay = delay === undefined ? due : Math.min(delay, due);
      }
    }
    if (delay === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, delay);
    this.timer.unref?.();
  }
}
