import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { AnswerEntry, AnswerTable } from './AnswerTable';
import { MemoPeer, MemoTeacher } from './MemoTeacher';

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

export class UdpWorkerPool {
  private readonly workers: Worker[] = [];
  /** Teaches the workers (MemoTeacher: the freshness protocol); set while they run. */
  private teacher: MemoTeacher | undefined;
  private readonly counters: Float64Array[] = [];
  /** The teacher's generation, where every worker reads it before answering. */
  private readonly generation = new Int32Array(
    new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT),
  );
  /** Every worker shares one generation: a refresh goes to all of them. */
  private readonly peer: MemoPeer = {
    generation: generation => Atomics.store(this.generation, 0, generation | 0),
    // Used only without a `to` (relay() teaches the worker that asked).
    entry: (generation, name, entry) => {
      const message: UdpMainMessage = {
        type: 'entry',
        generation: generation | 0,
        name,
        entry,
      };
      for (const w of this.workers) w.postMessage(message);
    },
    refresh: (generation, reset, changes) => {
      const message: UdpMainMessage = {
        type: 'refresh',
        generation: generation | 0,
        reset,
        changes,
      };
      for (const w of this.workers) w.postMessage(message);
    },
  };

  constructor(
    private readonly table: AnswerTable,
    private readonly onRelay: (query: RelayedQuery) => void,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Called in the same tick as the AnswerTable's own invalidation. */
  invalidate(): void {
    this.teacher?.invalidate();
  }

  /** Starts `count` workers bound to host:port (already bound with reusePort by the caller). */
  async start(
    count: number,
    options: Omit<UdpWorkerData, 'generation' | 'counters'>,
  ): Promise<void> {
    const mod = udpWorkerModule();
    if (!mod) throw new Error('dns udp worker module not found');
    this.teacher = new MemoTeacher(this.table, this.peer, options.maxMemo);
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
    this.teacher?.stop();
    this.teacher = undefined;
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
    if (m.learn !== null)
      this.teacher?.learn(m.learn, {
        entry: (generation, name, entry) =>
          worker.postMessage({
            type: 'entry',
            generation: generation | 0,
            name,
            entry,
          } satisfies UdpMainMessage),
      });
    this.onRelay({
      raw: Buffer.from(m.raw.buffer, m.raw.byteOffset, m.raw.byteLength),
      address: m.address,
      port: m.port,
    });
  }
}
