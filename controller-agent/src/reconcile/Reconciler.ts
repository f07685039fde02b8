import {
  CaptureSettings,
  DesiredAttachment,
  ImagePattern,
  NamespaceScope,
  parseWhispererContainerName,
  WorkloadRef,
} from '@spider/backstage-plugin-spider-common';
import type { ClusterCache } from '../cluster/ClusterCache';
import type { LeanPod } from '../cluster/lean';
import type { Logger } from '../log/logger';
import { captureSettingsFromEnv } from './captureSettings';
import { DesiredSet } from './DesiredSet';
import { nextExpiry } from './expiry';
import type { InjectResult, Injector } from './Injector';
import {
  AttachmentView,
  attachmentKey,
  DesiredEntry,
  InjectAction,
  InjectFailure,
  injectKey,
  planReconcile,
  reportKey,
} from './plan';
import { AgentEndpoints, buildWhispererContainer } from './whispererContainer';
import type {
  WhispererConfig,
  WhispererRegistry,
  WhispererStateReport,
  WhispererStopReason,
} from './WhispererRegistry';

export interface ReconcilerOptions {
  scope: NamespaceScope;
  defaultImage: string;
  endpoints: AgentEndpoints;
  resyncMs: number;
  /** Delay from the first event of a workload to its re-plan (events in between coalesce). */
  debounceMs: number;
  /** How long a rejected injection is not retried in that pod. */
  rejectionHoldMs: number;
  /** How long after giving up on transient errors before trying again. */
  transientHoldMs: number;
  /** The admin allows Whisperers that ask for it the target's process namespace. */
  allowProcessAccess?: boolean;
  /** Images that may be injected (the default image among them); absent: no check. */
  allowedImages?: readonly ImagePattern[];
  /** The agent's own namespace: never injected into. */
  agentNamespace?: string | null;
}

export interface ReconcilerMetrics {
  injection(result: InjectResult): void;
  plan(durationMs: number, attachments: number): void;
}

const targetKey = (t: WorkloadRef) => `${t.namespace}/${t.kind}/${t.name}`;

/** The longest an event-driven re-plan waits for the planning budget (views stay this fresh). */
export const MAX_EVENT_REPLAN_MS = 1000;
const PLAN_BUDGET_FREE_MS = 2;

/** Same view, field by field (what was a JSON.stringify of each view per plan). */
export function sameView(a: AttachmentView, b: AttachmentView): boolean {
  if (
    a.phase !== b.phase ||
    a.message !== b.message ||
    a.instances.length !== b.instances.length
  )
    return false;
  for (let i = 0; i < a.instances.length; i++) {
    const x = a.instances[i] as unknown as Record<string, unknown>;
    const y = b.instances[i] as unknown as Record<string, unknown>;
    if (x === y) continue;
    const keys = Object.keys(x);
    if (keys.length !== Object.keys(y).length) return false;
    for (const k of keys) if (x[k] !== y[k]) return false;
  }
  return true;
}

/**
 * Keeps observed in line with desired: re-plans a workload's attachments shortly after
 * its pods change, everything on a resync interval and at each expiry, applies the plan
 * (injections through the Injector, expiries locally) and publishes each attachment's
 * view. Also the agent's side of the whisperer endpoint (WhispererRegistry).
 */
export class Reconciler implements WhispererRegistry {
  readonly desired = new DesiredSet();
  private readonly failures = new Map<string, InjectFailure>();
  /** Injected but not yet seen in the cache: counts as in flight for planning. */
  private readonly recentlyInjected = new Map<string, number>();
  private readonly reports = new Map<string, WhispererStateReport>();
  private readonly views = new Map<string, AttachmentView>();
  /**
   * When each attachment may next be re-planned for an event or a result
   * (performance.now()): planning a 1,000-pod workload on every watch event and every
   * finished PATCH took most of the agent's CPU while it attached (bench:agent's CPU
   * profile), competing with the PATCHes themselves. So event-driven re-plans of an
   * attachment are spaced by nine times the last plan's cost (planning at most a tenth
   * of the time), capped at MAX_EVENT_REPLAN_MS; resyncs, attaches and detaches are not.
   */
  private readonly nextPlanAt = new Map<string, number>();
  private readonly byTarget = new Map<string, Set<string>>();
  private readonly targetTimers = new Map<string, NodeJS.Timeout>();
  private readonly stopListeners = new Set<
    (id: string, reason: WhispererStopReason) => void
  >();
  private readonly viewListeners = new Set<
    (changed: AttachmentView[]) => void
  >();
  /** Capture settings by attachment id, with the env they came from (parsed and warned about once). */
  private readonly captureByAttachment = new Map<
    string,
    { env: string; settings: CaptureSettings }
  >();
  private resyncTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Attachments to re-plan once the current burst of results and reports is handled. */
  private readonly replanSoon = new Set<string>();
  private replanScheduled = false;
  /** Wakes planning when the earliest held injection failure may be retried. */
  private retryTimer: NodeJS.Timeout | undefined;
  private retryAt = Infinity;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly cache: ClusterCache,
    private readonly injector: Pick<Injector, 'submit' | 'inFlight'>,
    private readonly options: ReconcilerOptions,
    private readonly log: Logger,
    private readonly metrics?: ReconcilerMetrics,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.unsubscribe = this.cache.onTargets(targets => {
      for (const t of targets) this.scheduleTarget(t);
    });
    const resync = () => {
      this.resyncTimer = setTimeout(() => {
        this.resync();
        resync();
      }, this.options.resyncMs);
      this.resyncTimer.unref?.();
    };
    resync();
    this.resync();
  }

  /** Where new whisperers reach the agent (known only once the listeners are bound). */
  setEndpoints(endpoints: AgentEndpoints): void {
    this.options.endpoints = endpoints;
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.resyncTimer);
    clearTimeout(this.expiryTimer);
    clearTimeout(this.retryTimer);
    this.replanSoon.clear();
    for (const t of this.targetTimers.values()) clearTimeout(t);
    this.targetTimers.clear();
  }

  // ---- desired set (from the Controls service, or programmatic) -----------------

  setDesired(revision: number, attachments: DesiredAttachment[]): void {
    const { stopped } = this.desired.replace(revision, attachments, this.now());
    this.reindex();
    for (const id of stopped) this.fireStop(id, 'deleted');
    this.log.info('desired set replaced', {
      revision,
      attachments: attachments.length,
      stopped: stopped.length,
    });
    this.resync();
  }

  attach(revision: number, attachment: DesiredAttachment): boolean {
    if (!this.desired.attach(revision, attachment)) {
      this.log.info(
        'attach ignored (stale revision or attachment already stopped)',
        { attachmentId: attachment.id, revision },
      );
      return false;
    }
    this.reindex();
    this.reconcile([attachment.id]);
    return true;
  }

  detach(
    revision: number | undefined,
    attachmentId: string,
    reason: WhispererStopReason,
  ): boolean {
    if (!this.desired.stop(attachmentId, reason, this.now(), revision))
      return false;
    this.fireStop(attachmentId, reason);
    this.reconcile([attachmentId]);
    return true;
  }

  /**
   * Whether a queued injection is still to be sent (the Injector asks right before its
   * PATCH): its attachment is known and not stopped, and the pod it was planned for is
   * the one the cache holds under that name (or the cache has not seen it go).
   */
  wanted = (action: InjectAction): boolean => {
    if (this.stopped) return false;
    const e = this.desired.get(action.attachmentId);
    if (!e || e.stopped) return false;
    const pod = this.cache.pod(action.namespace, action.pod);
    return !pod || (pod.uid === action.podUid && !pod.deleting);
  };

  /** Current view of every known attachment. */
  allViews(): AttachmentView[] {
    return [...this.views.values()];
  }
  onViews(listener: (changed: AttachmentView[]) => void): () => void {
    this.viewListeners.add(listener);
    return () => this.viewListeners.delete(listener);
  }

  // ---- planning -------------------------------------------------------------

  private reindex(): void {
    this.byTarget.clear();
    for (const e of this.desired.all()) {
      const k = targetKey(e.attachment.target);
      let set = this.byTarget.get(k);
      if (!set) this.byTarget.set(k, (set = new Set()));
      set.add(e.attachment.id);
    }
    this.armExpiry();
  }

  private scheduleTarget(t: WorkloadRef): void {
    const k = targetKey(t);
    const ids = this.byTarget.get(k);
    if (this.stopped || !ids || this.targetTimers.has(k)) return;
    // Leading delay, not a sliding one: a busy workload is still re-planned every
    // debounceMs, or as its planning budget allows.
    const timer = setTimeout(() => {
      this.targetTimers.delete(k);
      const now = this.byTarget.get(k);
      if (now) this.reconcile([...now]);
    }, Math.max(this.options.debounceMs, this.budgetWait([...ids])));
    this.targetTimers.set(k, timer);
  }

  /** How long until every one of `ids` may be re-planned for an event (ms, 0 = now). */
  private budgetWait(ids: Iterable<string>): number {
    const now = performance.now();
    let wait = 0;
    for (const id of ids)
      wait = Math.max(wait, (this.nextPlanAt.get(id) ?? 0) - now);
    return Math.min(wait, MAX_EVENT_REPLAN_MS);
  }

  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    if (this.stopped) return;
    const next = nextExpiry(
      this.desired.live().map(e => e.attachment),
      this.now(),
    );
    if (next === null) return;
    // Capped so a far expiry still re-arms against clock changes.
    const delay = Math.min(Math.max(next - this.now(), 0) + 5, 60_000);
    this.expiryTimer = setTimeout(() => this.resync(), delay);
    this.expiryTimer.unref?.();
  }

  /** Re-plans every known attachment (periodic drift repair, reconnect, expiry). */
  resync(): void {
    const gone = this.desired.prune(this.now());
    for (const id of gone) {
      this.views.delete(id);
      this.nextPlanAt.delete(id);
    }
    if (gone.length) this.reindex();
    this.reconcile(this.desired.all().map(e => e.attachment.id));
  }

  /** Plans the given attachments against the cache and applies the plan. */
  reconcile(ids: string[]): void {
    if (this.stopped) return;
    const started = performance.now();
    const now = this.now();
    const entries: DesiredEntry[] = [];
    const podsByAttachment = new Map<string, LeanPod[]>();
    for (const id of ids) {
      const e = this.desired.get(id);
      if (!e) continue;
      entries.push(e);
      podsByAttachment.set(id, this.cache.podsOf(e.attachment.target));
    }
    const inFlight = new Set(this.injector.inFlight);
    for (const [k, at] of this.recentlyInjected) {
      if (now - at > 30_000) this.recentlyInjected.delete(k);
      else inFlight.add(k);
    }
    const plan = planReconcile(
      entries,
      {
        scope: this.options.scope,
        podsByAttachment,
        failures: this.failures,
        inFlight,
        reports: this.reports,
        allowProcessAccess: this.options.allowProcessAccess ?? false,
        images: this.options.allowedImages && {
          allowed: this.options.allowedImages,
          defaultImage: this.options.defaultImage,
        },
        agentNamespace: this.options.agentNamespace ?? null,
      },
      now,
    );

    let expired = false;
    for (const action of plan.actions) {
      if (action.type === 'expire') {
        if (this.desired.stop(action.attachmentId, 'expired', now)) {
          this.log.info('attachment expired; telling its whisperers to stop', {
            attachmentId: action.attachmentId,
          });
          this.fireStop(action.attachmentId, 'expired');
          expired = true;
        }
        continue;
      }
      const entry = this.desired.get(action.attachmentId)!;
      const container = buildWhispererContainer({
        attachment: entry.attachment,
        container: action.container,
        podUid: action.podUid,
        generation: action.generation,
        targetContainer: action.targetContainer,
        processAccess: action.processAccess,
        defaultImage: this.options.defaultImage,
        endpoints: this.options.endpoints,
      });
      this.injector.submit(action, container);
    }
    if (expired) this.armExpiry();
    this.publish(plan.attachments);
    this.forgetSeenInjections(podsByAttachment);
    const ended = performance.now();
    // A plan cheaper than PLAN_BUDGET_FREE_MS costs nothing worth spacing.
    const cost = ended - started;
    const next = cost < PLAN_BUDGET_FREE_MS ? 0 : ended + 9 * cost;
    for (const e of entries) this.nextPlanAt.set(e.attachment.id, next);
    this.metrics?.plan(ended - started, entries.length);
  }

  private forgetSeenInjections(podsByAttachment: Map<string, LeanPod[]>) {
    if (!this.recentlyInjected.size) return;
    for (const pods of podsByAttachment.values()) {
      for (const p of pods) {
        for (const name of p.ephemeral)
          this.recentlyInjected.delete(injectKey(p.uid, name));
      }
    }
  }

  private publish(views: AttachmentView[]): void {
    const changed: AttachmentView[] = [];
    for (const v of views) {
      const before = this.views.get(v.attachmentId);
      if (before && sameView(before, v)) continue;
      this.views.set(v.attachmentId, v);
      changed.push(v);
    }
    if (changed.length) for (const l of this.viewListeners) l(changed);
  }

  /** Called by the Injector when an injection finished. */
  onInjectResult = (r: InjectResult): void => {
    const key = injectKey(r.action.podUid, r.action.container);
    const now = this.now();
    this.metrics?.injection(r);
    switch (r.outcome) {
      case 'injected':
      case 'exists':
        this.failures.delete(key);
        this.recentlyInjected.set(key, now);
        this.log.debug('whisperer in pod', {
          pod: `${r.action.namespace}/${r.action.pod}`,
          container: r.action.container,
          outcome: r.outcome,
          ms: r.durationMs,
        });
        break;
      case 'rejected':
      case 'gaveUp':
        this.failures.set(key, {
          reason: r.reason ?? 'InjectionFailed',
          message: r.message ?? 'The injection failed.',
          at: now,
          retryAt:
            now +
            (r.outcome === 'rejected'
              ? this.options.rejectionHoldMs
              : this.options.transientHoldMs),
        });
        this.log.warn('whisperer not injected', {
          pod: `${r.action.namespace}/${r.action.pod}`,
          container: r.action.container,
          reason: r.reason,
          message: r.message,
        });
        break;
      default:
        break;
    }
    // Drop failure records of pods that no longer exist, so the map cannot grow forever.
    if (this.failures.size > 10_000) {
      const live = new Set<string>();
      for (const p of this.cache.allPods()) live.add(p.uid);
      for (const k of this.failures.keys())
        if (!live.has(k.split('/')[0])) this.failures.delete(k);
    }
    const failure = this.failures.get(key);
    if (failure && failure.retryAt !== null) this.armRetry(failure.retryAt);
    this.replan(r.action.attachmentId);
  };

  /**
   * Re-plans an attachment after the results and reports that arrive together: one plan
   * of a 1,000-pod workload per burst, not one per finished PATCH (which made attaching
   * quadratic in the pods, each plan also serialising the whole view), and no sooner
   * than its planning budget allows.
   */
  private replan(attachmentId: string): void {
    this.replanSoon.add(attachmentId);
    if (this.replanScheduled) return;
    this.replanScheduled = true;
    const run = () => {
      this.replanScheduled = false;
      const ids = [...this.replanSoon];
      this.replanSoon.clear();
      if (ids.length) this.reconcile(ids);
    };
    const wait = this.budgetWait([attachmentId]);
    if (wait > 0) setTimeout(run, wait);
    else setImmediate(run);
  }

  /**
   * A held failure is retried when its hold ends, not at the next resync after that
   * (up to a whole period later).
   */
  private armRetry(at: number): void {
    if (this.stopped || at >= this.retryAt) return;
    clearTimeout(this.retryTimer);
    this.retryAt = at;
    // Capped so a far hold still re-arms against clock changes.
    const delay = Math.min(Math.max(at - this.now(), 0) + 5, 60_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.retryAt = Infinity;
      this.resync();
      let next = Infinity;
      const now = this.now();
      for (const f of this.failures.values())
        if (f.retryAt !== null && f.retryAt > now && f.retryAt < next)
          next = f.retryAt;
      if (next !== Infinity) this.armRetry(next);
    }, delay);
    this.retryTimer.unref?.();
  }

  // ---- WhispererRegistry ---------------------------------------------------

  private entryForContainer(container: string): DesiredEntry | undefined {
    const parsed = parseWhispererContainerName(container);
    if (!parsed) return undefined;
    for (const e of this.desired.all()) {
      if (attachmentKey(e.attachment.id) === parsed.attachmentKey) return e;
    }
    return undefined;
  }

  configFor(
    podNamespace: string,
    podName: string,
    container: string,
  ): WhispererConfig | undefined {
    const entry = this.entryForContainer(container);
    const pod = this.cache.pod(podNamespace, podName);
    if (!entry || !pod || !pod.ephemeral.includes(container)) return undefined;
    const a = entry.attachment;
    return {
      attachmentId: a.id,
      container,
      generation: parseWhispererContainerName(container)!.generation,
      target: a.target,
      pod: { namespace: podNamespace, name: podName },
      whisperer: a.whisperer,
      captureFilter: a.whisperer.captureFilter,
      expiresAt: a.expiresAt,
      stop: entry.stopped !== null,
      stopReason: entry.stopped?.reason ?? null,
      capture: this.captureSettings(a),
    };
  }

  private captureSettings(a: DesiredAttachment): CaptureSettings {
    const env = JSON.stringify(a.whisperer.env);
    const known = this.captureByAttachment.get(a.id);
    if (known?.env === env) return known.settings;
    const { settings, problems } = captureSettingsFromEnv(a.whisperer.env);
    for (const problem of problems) {
      this.log.warn(
        'invalid capture setting in the Whisperer; using the default',
        { attachmentId: a.id, whisperer: a.whisperer.name, problem },
      );
    }
    if (this.captureByAttachment.size > 10_000)
      this.captureByAttachment.clear();
    this.captureByAttachment.set(a.id, { env, settings });
    return settings;
  }

  hasDesiredSet(): boolean {
    return this.desired.known;
  }

  isStopped(attachmentId: string): boolean {
    const e = this.desired.get(attachmentId);
    if (!e) return this.desired.known;
    return e.stopped !== null;
  }

  reportState(report: WhispererStateReport): void {
    this.reports.set(
      reportKey(report.podNamespace, report.podName, report.container),
      report,
    );
    if (this.reports.size > 20_000) {
      // Reports of pods that are gone are no longer needed.
      for (const k of this.reports.keys()) {
        const [ns, name] = k.split('/');
        if (!this.cache.pod(ns, name)) this.reports.delete(k);
      }
    }
    const entry = this.entryForContainer(report.container);
    if (entry) this.replan(entry.attachment.id);
  }

  onStop(
    listener: (attachmentId: string, reason: WhispererStopReason) => void,
  ): () => void {
    this.stopListeners.add(listener);
    return () => this.stopListeners.delete(listener);
  }

  private fireStop(id: string, reason: WhispererStopReason) {
    for (const l of this.stopListeners) {
      try {
        l(id, reason);
      } catch (e) {
        this.log.error('stop listener failed', { attachmentId: id, error: e });
      }
    }
  }
}
