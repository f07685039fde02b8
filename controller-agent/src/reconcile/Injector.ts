import { backoffDelay, sleep } from '../cluster/backoff';
import type { Logger } from '../log/logger';
import { AdaptiveLimit, AdaptiveLimitOptions } from './AdaptiveLimit';
import { ApiErrorLike, classifyInjectError } from './injectErrors';
import { InjectAction, injectKey } from './plan';
import type { InstanceReason } from '@spider/backstage-plugin-spider-common';

/** The two calls an injection needs (implemented over the Kubernetes API in kube/). */
export interface EphemeralPodApi {
  /**
   * Strategic-merge PATCH of pods/{name}/ephemeralcontainers adding `container`, refused
   * (422 on metadata.uid) unless the pod's uid is `podUid`. Throws ApiErrorLike.
   */
  patchEphemeral(
    namespace: string,
    name: string,
    podUid: string,
    container: Record<string, unknown>,
  ): Promise<void>;
}

export type InjectOutcomeKind =
  | 'injected'
  | 'exists'
  | 'podGone'
  | 'stale'
  | 'rejected'
  | 'gaveUp'
  /** Not sent: its attachment stopped (or the plan changed) while it waited its turn. */
  | 'cancelled';
export interface InjectResult {
  action: InjectAction;
  outcome: InjectOutcomeKind;
  reason?: InstanceReason;
  message?: string;
  attempts: number;
  durationMs: number;
}

export interface InjectorOptions {
  /** PATCHes in flight: a fixed number, or learnt from the answers (AdaptiveLimit). */
  concurrency: number | AdaptiveLimitOptions;
  maxAttempts: number;
  backoff: { baseMs: number; maxMs: number };
  /**
   * Asked right before each PATCH (after waiting for a slot): false drops the injection.
   * A detach must not be followed by the queued injections of the attachment it stopped
   * (they would also hold up the next attachment's PATCHes behind them).
   */
  wanted?: (action: InjectAction) => boolean;
}

/** Bounded concurrency whose bound may move (an AdaptiveLimit's), without a dependency. */
class Gate {
  private waiting: Array<() => void> = [];
  active = 0;
  constructor(private readonly limit: () => number) {}
  async acquire(): Promise<void> {
    if (this.active < this.limit() && !this.waiting.length) {
      this.active++;
      return;
    }
    await new Promise<void>(resolve => this.waiting.push(resolve));
  }
  release(): void {
    this.active--;
    this.wake();
  }
  /** Lets waiters in up to the (possibly raised) limit. */
  wake(): void {
    while (this.waiting.length && this.active < this.limit()) {
      this.active++;
      this.waiting.shift()!();
    }
  }
}

/** 429 (priority and fairness) and 5xx: the API server asks for less. */
const overloaded = (err: ApiErrorLike) =>
  err.status === 429 ||
  err.status === 503 ||
  err.status === 504 ||
  err.status === 500;

/**
 * Applies inject actions. Never a duplicate container:
 * - one serial queue per pod, so two events for a pod never patch at once;
 * - the container name is deterministic, and the API server refuses a second container of
 *   that name (422 "Duplicate value"), which counts as done;
 * - the patch carries the planned pod's uid, so a new pod of the same name is never
 *   patched on an old plan. One API call per injection, no read first.
 * Transient failures retry with backoff inside the pod's queue; rejections are returned
 * for the plan to show and to hold off retrying.
 */
export class Injector {
  private readonly gate: Gate;
  private readonly adaptive: AdaptiveLimit | undefined;
  private readonly podQueues = new Map<string, Promise<void>>();
  private readonly running = new Set<string>();
  private stopping = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly api: EphemeralPodApi,
    private readonly options: InjectorOptions,
    private readonly onResult: (r: InjectResult) => void,
    private readonly log: Logger,
  ) {
    const fixed = options.concurrency;
    if (typeof fixed === 'number') this.gate = new Gate(() => fixed);
    else {
      const adaptive = new AdaptiveLimit(fixed);
      this.adaptive = adaptive;
      this.gate = new Gate(() => adaptive.limit);
    }
  }

  /** PATCHes allowed in flight now. */
  get concurrency(): number {
    const c = this.options.concurrency;
    return this.adaptive?.limit ?? (typeof c === 'number' ? c : c.initial);
  }

  /** Keys (`injectKey`) of injections queued or running. */
  get inFlight(): ReadonlySet<string> {
    return this.running;
  }

  /** Queues an injection; false when the same one is already queued or running. */
  submit(action: InjectAction, container: Record<string, unknown>): boolean {
    const key = injectKey(action.podUid, action.container);
    if (this.stopping || this.running.has(key)) return false;
    this.running.add(key);
    const podKey = `${action.namespace}/${action.pod}`;
    const prev = this.podQueues.get(podKey) ?? Promise.resolve();
    const next = prev
      .then(() => this.run(action, container))
      .then(
        result => {
          this.running.delete(key);
          this.onResult(result);
        },
        err => {
          this.running.delete(key);
          this.log.error('injection crashed', { pod: podKey, error: err });
        },
      )
      .finally(() => {
        if (this.podQueues.get(podKey) === next) this.podQueues.delete(podKey);
      });
    this.podQueues.set(podKey, next);
    return true;
  }

  /** Resolves when nothing is queued (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.podQueues.size) await Promise.all([...this.podQueues.values()]);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    await this.idle();
  }

  /** Feeds an answer's latency to the adaptive limit, which may let more in at once. */
  private answered(sentAt: number): void {
    if (!this.adaptive) return;
    this.adaptive.onAnswer(performance.now() - sentAt, this.gate.active);
    this.gate.wake();
  }

  private async run(
    action: InjectAction,
    container: Record<string, unknown>,
  ): Promise<InjectResult> {
    const started = Date.now();
    const pod = { namespace: action.namespace, name: action.pod };
    let lastMessage = '';
    let attempt = 0;
    while (attempt < this.options.maxAttempts && !this.abort.signal.aborted) {
      attempt++;
      const attempts = attempt;
      const done = (
        outcome: InjectOutcomeKind,
        extra: Partial<InjectResult> = {},
      ): InjectResult => ({
        action,
        outcome,
        attempts,
        durationMs: Date.now() - started,
        ...extra,
      });
      await this.gate.acquire();
      let sentAt = 0;
      let retryAfterMs = 0;
      try {
        if (this.options.wanted && !this.options.wanted(action))
          return done('cancelled');
        sentAt = performance.now();
        await this.api.patchEphemeral(
          action.namespace,
          action.pod,
          action.podUid,
          container,
        );
        this.answered(sentAt);
        return done('injected');
      } catch (err) {
        const apiErr = err as ApiErrorLike;
        if (overloaded(apiErr)) this.adaptive?.onOverload();
        else this.answered(sentAt);
        retryAfterMs = (apiErr.retryAfterSeconds ?? 0) * 1000;
        const outcome = classifyInjectError(apiErr, pod);
        if (outcome.kind === 'exists') return done('exists');
        if (outcome.kind === 'podGone') return done('podGone');
        // Same name, new pod (a StatefulSet replica recreated): its own event plans it.
        if (outcome.kind === 'stale') return done('stale');
        if (outcome.kind === 'rejected') {
          return done('rejected', {
            reason: outcome.reason,
            message: outcome.message,
          });
        }
        lastMessage = outcome.message;
      } finally {
        this.gate.release();
      }
      // The server's Retry-After (priority and fairness sends one with its 429) is the
      // least wait; capped so one answer cannot park a pod for long.
      const delay = Math.max(
        backoffDelay(
          attempt,
          this.options.backoff.baseMs,
          this.options.backoff.maxMs,
        ),
        Math.min(retryAfterMs, 10_000),
      );
      this.log.warn('injection failed; retrying', {
        pod: `${pod.namespace}/${pod.name}`,
        container: action.container,
        attempt,
        retryInMs: delay,
        error: lastMessage,
      });
      await sleep(delay, this.abort.signal);
    }
    return {
      action,
      outcome: 'gaveUp',
      reason: 'InjectionFailed',
      message: lastMessage || 'stopped',
      attempts: attempt,
      durationMs: Date.now() - started,
    };
  }
}
