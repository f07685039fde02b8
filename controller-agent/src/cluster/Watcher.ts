import type { Logger } from '../log/logger';
import { KubeApiError, KubeHttp, WatchEvent } from '../kube/KubeHttp';
import { backoffDelay, sleep } from './backoff';
import { collectionPath, WatchedKind } from './resources';

export interface WatchSink<T> {
  /** A fresh full list: replaces everything this watcher delivered before. */
  replace(kind: WatchedKind, namespace: string | null, items: T[]): void;
  apply(
    kind: WatchedKind,
    type: 'ADDED' | 'MODIFIED' | 'DELETED',
    item: T,
  ): void;
}

export interface WatcherMetrics {
  relist(kind: WatchedKind, reason: string): void;
  restart(kind: WatchedKind, reason: string): void;
}

export interface WatcherOptions {
  pageSize: number;
  /** Server-side watch timeout range; a random value in it spreads the re-watches. */
  watchTimeoutSeconds: [number, number];
  /** Extra time past the server timeout after which a silent watch counts as dead. */
  idleGraceMs: number;
  backoff: { baseMs: number; maxMs: number };
}

/** Thrown from the event handler to end a watch whose resourceVersion expired (410 Gone). */
class GoneSignal extends Error {}

export const DEFAULT_WATCHER_OPTIONS: WatcherOptions = {
  // 100 objects (about 0.5 MB of pod JSON) a page: the page's text and parsed objects
  // are what the agent's memory peaks on while it lists. At 10,000 pods (load 24-30, side
  // by side) 500 a page left 186 MB RSS after sync, 100 a page 107 MB; no slower sync.
  pageSize: 100,
  watchTimeoutSeconds: [240, 360],
  idleGraceMs: 30_000,
  backoff: { baseMs: 500, maxMs: 30_000 },
};

/**
 * List-then-watch of one kind (cluster-wide or in one namespace), forever:
 * - lists in pages (`limit`/`continue`), converting each object to its lean form at once;
 * - watches from the list's resourceVersion with bookmarks;
 * - on 410 Gone (too old a resourceVersion) lists again;
 * - on any other error backs off (jittered, exponential) and resumes;
 * - a watch silent past its server timeout plus a grace is dead: aborted and restarted.
 */
export class Watcher<T> {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private syncedOnce = false;
  private readonly path: string;

  constructor(
    private readonly http: KubeHttp,
    readonly kind: WatchedKind,
    readonly namespace: string | null,
    private readonly toLean: (obj: any) => T,
    private readonly sink: WatchSink<T>,
    private readonly log: Logger,
    private readonly metrics: WatcherMetrics,
    private readonly options: WatcherOptions = DEFAULT_WATCHER_OPTIONS,
  ) {
    this.path = collectionPath(kind, namespace);
  }

  get synced(): boolean {
    return this.syncedOnce;
  }

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private async list(): Promise<string> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.http.json('GET', this.path, {
        query: { limit: this.options.pageSize, continue: cont },
        timeoutMs: 60_000,
      });
      for (const obj of page.items ?? []) items.push(this.toLean(obj));
      cont = page.metadata?.continue || undefined;
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
    } while (cont && !this.abort.signal.aborted);
    this.sink.replace(this.kind, this.namespace, items);
    this.syncedOnce = true;
    return resourceVersion;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    // An object (not a `let`) so the watch event handler below, created on each turn of
    // the loop, updates the one cursor that the next turn and the error path read.
    const cursor: { resourceVersion: string | null } = {
      resourceVersion: null,
    };
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (cursor.resourceVersion === null) {
          cursor.resourceVersion = await this.list();
          this.log.debug('listed', {
            kind: this.kind,
            namespace: this.namespace,
            resourceVersion: cursor.resourceVersion,
          });
        }
        const [lo, hi] = this.options.watchTimeoutSeconds;
        const timeoutSeconds = lo + Math.floor(Math.random() * (hi - lo + 1));
        let gone = false;
        let events = 0;
        await this.http
          .watch(
            this.path,
            {
              resourceVersion: cursor.resourceVersion!,
              allowWatchBookmarks: true,
              timeoutSeconds,
            },
            (e: WatchEvent) => {
              if (e.type === 'ERROR') {
                if (e.object?.code === 410) {
                  gone = true;
                  throw new GoneSignal();
                }
                throw new KubeApiError(
                  e.object?.code,
                  e.object,
                  `watch ${this.path}: ${e.object?.message ?? 'error event'}`,
                );
              }
              const rv = e.object?.metadata?.resourceVersion;
              if (rv) cursor.resourceVersion = rv;
              if (e.type === 'BOOKMARK') return;
              events++;
              this.sink.apply(this.kind, e.type, this.toLean(e.object));
            },
            {
              signal,
              idleTimeoutMs: timeoutSeconds * 1000 + this.options.idleGraceMs,
            },
          )
          .catch(err => {
            if (!(err instanceof GoneSignal)) throw err;
          });
        if (gone) {
          this.metrics.relist(this.kind, 'gone');
          this.log.info('watch expired (410 Gone); listing again', {
            kind: this.kind,
            namespace: this.namespace,
          });
          cursor.resourceVersion = null;
        }
        // A watch that ended normally (server timeout) simply resumes from its resourceVersion.
        if (events > 0 || !gone) failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        const status = err instanceof KubeApiError ? err.status : undefined;
        if (status === 410) {
          // A list `continue` token expired mid-paging: start the list again.
          this.metrics.relist(this.kind, 'gone');
          cursor.resourceVersion = null;
          continue;
        }
        failures++;
        const delay = backoffDelay(
          failures,
          this.options.backoff.baseMs,
          this.options.backoff.maxMs,
        );
        this.metrics.restart(this.kind, status ? String(status) : 'network');
        this.log.warn('watch failed; retrying', {
          kind: this.kind,
          namespace: this.namespace,
          status,
          error: (err as Error).message,
          retryInMs: delay,
          attempt: failures,
        });
        await sleep(delay, signal);
      }
    }
  }
}
