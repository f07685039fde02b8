import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { AnswerEntry, AnswerTable } from './AnswerTable';

/**
 * UDP worker threads of the DNS server: each binds its own socket on the server's port
 * with SO_REUSEPORT (the kernel spreads clients over the sockets) and answers the names
 * it has learnt from a memo; everything else (a name seen for the first time since the
 * last directory change, forwarded names, every error path but parse errors) is relayed
 * to the main thread, which answers it from the one AnswerTable and the Forwarder
 * through its own socket on the same port, and teaches the worker the name's entry.
 *
 * Freshness: the main thread bumps a shared generation on every directory change, in
 * the same tick the AnswerTable drops its memo. A worker whose memo is of an older
 * generation answers nothing from it (it relays) until the main thread's refresh for
 * that generation arrives: the entries that changed among the names it taught (cheap
 * for a few pods changing among thousands; a worker's memo survives churn). So a worker
 * never answers from older data than the main thread would.
 */

/** Per-worker counters in shared memory (one writer each; the main thread sums). */
export const WORKER_COUNTERS = [
  'udpQueries',
  'local',
  'dropped',
  'formerr',
  'notimp',
  'errors',
] as const;
export type WorkerCounter = (typeof WORKER_COUNTERS)[number];

export interface UdpWorkerData {
  host: string;
  port: number;
  type: 'udp4' | 'udp6';
  maxQueryBytes: number;
  maxMemo: number;
  /** Int32Array[1]: the directory generation. */
  generation: SharedArrayBuffer;
  /** Float64Array[WORKER_COUNTERS.length] of this worker. */
  counters: SharedArrayBuffer;
}

/** Worker → main. */
export type UdpWorkerMessage =
  | { type: 'ready' }
  | { type: 'failed'; error: string }
  | {
      type: 'relay';
      raw: Uint8Array;
      address: string;
      port: number;
      /** The question name to learn the entry of (null: already known as not local). */
      learn: string | null;
    };

/** Main → worker. */
export type UdpMainMessage =
  | {
      type: 'entry';
      generation: number;
      name: string;
      entry: AnswerEntry | null;
    }
  | {
      /** Memo as of `generation`: these entries changed (or, with reset, the memo is empty). */
      type: 'refresh';
      generation: number;
      reset: boolean;
      changes: Array<[string, AnswerEntry | null]>;
    }
  | { type: 'stop' };

export interface RelayedQuery {
  raw: Buffer;
  address: string;
  port: number;
}

/**
 * The worker's module: the TypeScript source beside this file (dev, tests: loaded with
 * tsx) or, in the bundled image, `dns-udp-worker.cjs` beside the bundle (bundle.mjs).
 */
export function udpWorkerModule(): {
  file: string;
  execArgv?: string[];
} | null {
  // eslint-disable-next-line no-restricted-syntax -- meant: the directory of this module or of the bundle holding it
  const source = path.join(__dirname, 'udpWorker.ts');
  if (fs.existsSync(source))
    return { file: source, execArgv: ['--import', 'tsx'] };
  // eslint-disable-next-line no-restricted-syntax -- the bundle's own directory (bundle.mjs puts the worker there)
  const bundled = path.join(__dirname, 'dns-udp-worker.cjs');
  return fs.existsSync(bundled) ? { file: bundled } : null;
}

function sameBytes(a: Buffer | null, b: Buffer | null): boolean {
  return a === b || (!!a && !!b && a.equals(b));
}

function sameEntry(a: AnswerEntry | null, b: AnswerEntry | null): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return (
    sameBytes(a.ptr, b.ptr) &&
    sameBytes(a.a, b.a) &&
    sameBytes(a.aaaa, b.aaaa) &&
    a.aCount === b.aCount &&
    a.aaaaCount === b.aaaaCount
  );
}

/** At most one refresh per this many ms; in between, workers relay what changed. */
const REFRESH_INTERVAL_MS = 50;

export class UdpWorkerPool {
  private readonly workers: Worker[] = [];
  /** What the workers were taught, as of the last refresh (bounded by maxMemo). */
  private readonly taught = new Map<string, AnswerEntry | null>();
  private maxMemo = 0;
  private refreshTimer: NodeJS.Timeout | undefined;
  private lastRefresh = 0;
  private readonly counters: Float64Array[] = [];
  private readonly generation = new Int32Array(
    new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT),
  );

  constructor(
    private readonly table: AnswerTable,
    private readonly onRelay: (query: RelayedQuery) => void,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Called in the same tick as the AnswerTable's own invalidation. */
  invalidate(): void {
    Atomics.add(this.generation, 0, 1);
    if (this.refreshTimer || !this.workers.length) return;
    const wait = Math.max(
      0,
      this.lastRefresh + REFRESH_INTERVAL_MS - performance.now(),
    );
    this.refreshTimer = setTimeout(() => this.refresh(), wait);
  }

  /** Tells the workers which taught entries the changes since the last refresh altered. */
  private refresh(): void {
    this.refreshTimer = undefined;
    this.lastRefresh = performance.now();
    const generation = Atomics.load(this.generation, 0);
    const changes: Array<[string, AnswerEntry | null]> = [];
    for (const [name, before] of this.taught) {
      const now = this.table.entryFor(name);
      if (!sameEntry(before, now)) {
        this.taught.set(name, now);
        changes.push([name, now]);
      }
    }
    const message: UdpMainMessage = {
      type: 'refresh',
      generation,
      reset: false,
      changes,
    };
    for (const w of this.workers) w.postMessage(message);
  }

  /** Starts `count` workers bound to host:port (already bound with reusePort by the caller). */
  async start(
    count: number,
    options: Omit<UdpWorkerData, 'generation' | 'counters'>,
  ): Promise<void> {
    this.maxMemo = options.maxMemo;
    const mod = udpWorkerModule();
    if (!mod) throw new Error('dns udp worker module not found');
    const started: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const counters = new SharedArrayBuffer(
        Float64Array.BYTES_PER_ELEMENT * WORKER_COUNTERS.length,
      );
      const data: UdpWorkerData = {
        ...options,
        generation: this.generation.buffer as SharedArrayBuffer,
        counters,
      };
      const worker = new Worker(mod.file, {
        workerData: data,
        execArgv: mod.execArgv,
        // The worker holds a socket, a memo of at most maxMemo small entries.
        resourceLimits: { maxOldGenerationSizeMb: 64 },
      });
      this.workers.push(worker);
      this.counters.push(new Float64Array(counters));
      started.push(
        new Promise<void>((resolve, reject) => {
          worker.once('error', reject);
          worker.once('exit', code =>
            reject(new Error(`dns udp worker exited (${code}) before ready`)),
          );
          worker.on('message', (m: UdpWorkerMessage) => {
            if (m.type === 'ready') {
              worker.removeAllListeners('error');
              worker.removeAllListeners('exit');
              worker.on('error', e => this.onError(e as Error));
              resolve();
            } else if (m.type === 'failed') {
              reject(new Error(`dns udp worker: ${m.error}`));
            } else if (m.type === 'relay') {
              this.relay(worker, m);
            }
          });
        }),
      );
    }
    try {
      await Promise.all(started);
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** Sum of one counter over the workers. */
  count(name: WorkerCounter): number {
    const i = WORKER_COUNTERS.indexOf(name);
    let sum = 0;
    for (const c of this.counters) sum += c[i];
    return sum;
  }

  async stop(): Promise<void> {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    const workers = this.workers.splice(0);
    await Promise.all(
      workers.map(
        w =>
          new Promise<void>(resolve => {
            w.once('exit', () => resolve());
            w.postMessage({ type: 'stop' } satisfies UdpMainMessage);
            // A worker stuck in a send still goes.
            setTimeout(() => void w.terminate(), 2000).unref();
          }),
      ),
    );
  }

  private relay(
    worker: Worker,
    m: Extract<UdpWorkerMessage, { type: 'relay' }>,
  ): void {
    // Not while a refresh is due: an entry taught now would be the baseline the refresh
    // compares against, and a worker holding the older entry would never hear of it.
    if (m.learn !== null && !this.refreshTimer) {
      if (this.taught.size >= this.maxMemo && !this.taught.has(m.learn)) {
        // Too many names to refresh: every worker starts over from the next generation.
        this.taught.clear();
        Atomics.add(this.generation, 0, 1);
        const reset: UdpMainMessage = {
          type: 'refresh',
          generation: Atomics.load(this.generation, 0),
          reset: true,
          changes: [],
        };
        for (const w of this.workers) w.postMessage(reset);
      }
      const entry = this.table.entryFor(m.learn);
      this.taught.set(m.learn, entry);
      const message: UdpMainMessage = {
        type: 'entry',
        generation: Atomics.load(this.generation, 0),
        name: m.learn,
        entry,
      };
      worker.postMessage(message);
    }
    this.onRelay({
      raw: Buffer.from(m.raw.buffer, m.raw.byteOffset, m.raw.byteLength),
      address: m.address,
      port: m.port,
    });
  }
}
