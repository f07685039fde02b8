import type { AnswerEntry, AnswerTable } from './AnswerTable';

/**
 * What a UDP fast path (the Go helper, FastPath.ts) or the UDP worker threads
 * (UdpWorkerPool) are told about the AnswerTable: the entries of the names they asked
 * about, and after each directory change the ones among them that changed.
 *
 * Freshness: `invalidate()` runs in the same tick as the AnswerTable's own drop of built
 * answers and bumps the generation at once (`onGeneration`, which the fast path reads
 * before answering anything it received after that); a fast path whose memo is of an
 * older generation answers nothing from it until the refresh for the new generation
 * (the taught entries that changed, at most every 50 ms) has been applied. So it never
 * answers from older data than the main thread would.
 */
export interface MemoPeer {
  entry(generation: number, name: string, entry: AnswerEntry | null): void;
  refresh(
    generation: number,
    reset: boolean,
    changes: Array<[string, AnswerEntry | null]>,
  ): void;
  /** The directory's generation changed: sent before anything else about it. */
  generation(generation: number): void;
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

/** At most one refresh per this many ms; in between, the peer relays what changed. */
const REFRESH_INTERVAL_MS = 50;

export class MemoTeacher {
  /** What the peer was taught, as of the last refresh (bounded by maxMemo). */
  private readonly taught = new Map<string, AnswerEntry | null>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private lastRefresh = 0;
  /** Unsigned 32-bit, as the peer reads it; starts at 0 as the peer's memo does. */
  private gen = 0;

  constructor(
    private readonly table: AnswerTable,
    private readonly peer: MemoPeer,
    private readonly maxMemo: number,
  ) {}

  /** Called in the same tick as the AnswerTable's own invalidation. */
  invalidate(): void {
    this.bump();
    if (this.refreshTimer) return;
    const wait = Math.max(
      0,
      this.lastRefresh + REFRESH_INTERVAL_MS - performance.now(),
    );
    this.refreshTimer = setTimeout(() => this.refresh(), wait);
  }

  /**
   * The peer relayed a query for `name` it has no entry for: teach it the entry (to `to`
   * when only one of several peers sharing the generation asked).
   */
  learn(name: string, to: Pick<MemoPeer, 'entry'> = this.peer): void {
    // Not while a refresh is due: an entry taught now would be the baseline the refresh
    // compares against, and a peer holding the older entry would never hear of it.
    if (this.refreshTimer) return;
    if (this.taught.size >= this.maxMemo && !this.taught.has(name)) {
      // Too many names to refresh: the peer starts over from the next generation.
      this.taught.clear();
      this.bump();
      this.peer.refresh(this.gen, true, []);
    }
    // The teacher's map holds it for the peer: not the table's memo as well.
    const entry = this.table.entryFor(name, false);
    this.taught.set(name, entry);
    to.entry(this.gen, name, entry);
  }

  stop(): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
  }

  private bump(): void {
    this.gen = (this.gen + 1) >>> 0;
    this.peer.generation(this.gen);
  }

  /** Tells the peer which taught entries the changes since the last refresh altered. */
  private refresh(): void {
    this.refreshTimer = undefined;
    this.lastRefresh = performance.now();
    const changes: Array<[string, AnswerEntry | null]> = [];
    for (const [name, before] of this.taught) {
      const now = this.table.entryFor(name, false);
      if (!sameEntry(before, now)) {
        this.taught.set(name, now);
        changes.push([name, now]);
      }
    }
    this.peer.refresh(this.gen, false, changes);
  }
}
