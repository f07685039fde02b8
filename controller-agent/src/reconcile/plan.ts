import {
  DesiredAttachment,
  imageAllowed,
  ImagePattern,
  InstanceReason,
  InstanceState,
  NamespaceScope,
  parseWhispererContainerName,
  whispererContainerName,
  WhispererInstance,
} from '@spider/backstage-plugin-spider-common';
import type { LeanPod, LeanWhisperer } from '../cluster/lean';
import { podFinished } from '../cluster/lean';
import { namespaceInScope } from '../config/config';
import { crashLoopGuard, CRASH_LOOP_WINDOW_MS, hasFailed } from './crashLoop';
import { isExpired } from './expiry';
import { processAccessOf } from './processAccess';
import type {
  WhispererStateReport,
  WhispererStopReason,
} from './WhispererRegistry';

/**
 * planReconcile: desired attachments + observed pods → what to do, and how each
 * attachment looks to its user. Pure: no I/O, no clock (the caller passes `now`), so it
 * is tested as a table and can run on every event.
 */

export interface DesiredEntry {
  attachment: DesiredAttachment;
  /** null while the attachment wants whisperers; set once detached, expired or removed. */
  stopped: { reason: WhispererStopReason; at: number } | null;
}

/** The last failed injection of one container into one pod (by pod uid). */
export interface InjectFailure {
  reason: InstanceReason;
  message: string;
  at: number;
  /** When planning may try again; null = not for this pod's lifetime. */
  retryAt: number | null;
}

export interface Observed {
  scope: NamespaceScope;
  /** The pods of each attachment's target, by attachment id (absent = none). */
  podsByAttachment: ReadonlyMap<string, readonly LeanPod[]>;
  /** By `injectKey(podUid, container)`. */
  failures: ReadonlyMap<string, InjectFailure>;
  /** Injections submitted and not finished, by `injectKey`. */
  inFlight: ReadonlySet<string>;
  /** What whisperers said about themselves, by `reportKey(namespace, pod, container)`. */
  reports: ReadonlyMap<string, WhispererStateReport>;
  /** The admin allows process access (chart value whisperers.allowProcessAccess); default no. */
  allowProcessAccess?: boolean;
  /**
   * Images the agent may inject (chart value whisperers.allowedImages) and the image a
   * Whisperer without one gets. Absent: no check (tests of other concerns).
   */
  images?: { allowed: readonly ImagePattern[]; defaultImage: string };
  /** The agent's own namespace, where it never injects (null: run outside a pod). */
  agentNamespace?: string | null;
}

export interface InjectAction {
  type: 'inject';
  attachmentId: string;
  namespace: string;
  pod: string;
  podUid: string;
  container: string;
  generation: number;
  targetContainer: string;
  /** Share the target container's process namespace (`targetContainerName`): asked and allowed. */
  processAccess: boolean;
}
export interface ExpireAction {
  type: 'expire';
  attachmentId: string;
}
export type Action = InjectAction | ExpireAction;

export type AttachmentPhase = 'active' | 'failed' | 'stopped' | 'expired';
export interface AttachmentView {
  attachmentId: string;
  phase: AttachmentPhase;
  message: string | null;
  instances: WhispererInstance[];
}

export interface Plan {
  actions: Action[];
  attachments: AttachmentView[];
}

export const injectKey = (podUid: string, container: string) =>
  `${podUid}/${container}`;
export const reportKey = (namespace: string, pod: string, container: string) =>
  `${namespace}/${pod}/${container}`;

/** The key whisperer container names carry for an attachment (see whispererContainerName). */
export function attachmentKey(attachmentId: string): string {
  return parseWhispererContainerName(whispererContainerName(attachmentId))!
    .attachmentKey;
}

/** This attachment's whisperer containers in a pod, oldest generation first. */
export function whisperersOf(
  pod: LeanPod,
  attachmentId: string,
  /** `attachmentKey(attachmentId)`, when the caller plans many pods of one attachment. */
  key = attachmentKey(attachmentId),
): Array<LeanWhisperer & { generation: number }> {
  const out: Array<LeanWhisperer & { generation: number }> = [];
  // Most pods carry none of this attachment's containers: a prefix test first, the
  // name parsed only on a match (planning 1,000 pods per event made this show up).
  const prefix = `spider-${key}`;
  for (const w of pod.whisperers) {
    if (!w.name.startsWith(prefix)) continue;
    const parsed = parseWhispererContainerName(w.name);
    if (parsed && parsed.attachmentKey === key)
      out.push({ ...w, generation: parsed.generation });
  }
  // A container in the spec with no status yet is listed in `ephemeral` and `whisperers`
  // alike (state unknown), so the spec alone decides whether it exists.
  return out.length > 1 ? out.sort((a, b) => a.generation - b.generation) : out;
}

/** The container a whisperer shares its network namespace and process view with. */
export function targetContainerOf(
  pod: LeanPod,
): { name: string } | { error: string } {
  if (pod.targetContainer) {
    return pod.containers.includes(pod.targetContainer)
      ? { name: pod.targetContainer }
      : {
          error: `The pod annotation spider.io/target-container names "${
            pod.targetContainer
          }", but the pod has no such container (it has ${
            pod.containers.join(', ') || 'none'
          }).`,
        };
  }
  return pod.containers.length
    ? { name: pod.containers[0] }
    : { error: 'The pod has no containers to attach to.' };
}

function instance(
  pod: LeanPod,
  container: string,
  generation: number,
  state: InstanceState,
  reason: InstanceReason | null,
  message: string | null,
  w?: LeanWhisperer,
): WhispererInstance {
  return {
    pod: pod.name,
    container,
    node: pod.node,
    podIp: pod.ip,
    state,
    reason,
    message,
    startedAt: w?.startedAt ?? null,
    finishedAt: w?.finishedAt ?? null,
    exitCode: w?.exitCode ?? null,
    generation,
  };
}

const IMAGE_PULL = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
]);

/** The instance of a whisperer container that exists in a live attachment's pod. */
function existingInstance(
  pod: LeanPod,
  w: LeanWhisperer & { generation: number },
  report: WhispererStateReport | undefined,
): WhispererInstance {
  // A whisperer that said it failed (an invalid capture filter, say) stays failed, whatever
  // its container does next: it is not re-injected (docs/whisperer-contract.md).
  if (
    report?.state === 'failed' &&
    w.state !== 'unknown' &&
    w.state !== 'waiting'
  ) {
    return instance(
      pod,
      w.name,
      w.generation,
      'failed',
      'WhispererFailed',
      report.message ?? 'The whisperer reported a failure.',
      w,
    );
  }
  switch (w.state) {
    case 'running':
      return instance(
        pod,
        w.name,
        w.generation,
        'running',
        'Running',
        report?.message ?? null,
        w,
      );
    case 'terminated':
      return w.exitCode === 0
        ? instance(
            pod,
            w.name,
            w.generation,
            'terminated',
            'Completed',
            'The whisperer finished.',
            w,
          )
        : instance(
            pod,
            w.name,
            w.generation,
            'failed',
            'Crashed',
            `The whisperer exited with code ${w.exitCode ?? 'unknown'}${
              w.reason ? ` (${w.reason})` : ''
            }.`,
            w,
          );
    default:
      if (w.reason && IMAGE_PULL.has(w.reason)) {
        return instance(
          pod,
          w.name,
          w.generation,
          'failed',
          'InjectionFailed',
          `The whisperer image cannot be pulled (${w.reason}).`,
          w,
        );
      }
      return instance(
        pod,
        w.name,
        w.generation,
        'pending',
        'Injecting',
        w.reason ? `Waiting: ${w.reason}.` : 'Starting.',
        w,
      );
  }
}

/** Orders instances by pod name. */
function byPod(x: WhispererInstance, y: WhispererInstance): number {
  if (x.pod < y.pod) return -1;
  return x.pod > y.pod ? 1 : 0;
}

/** What the cluster admin forbids outright, whatever the pods: checked before any PATCH. */
function refuse(
  a: DesiredAttachment,
  observed: Observed,
): { reason: InstanceReason; message: string } | null {
  if (
    observed.agentNamespace &&
    a.target.namespace === observed.agentNamespace
  ) {
    return {
      reason: 'AgentNamespace',
      message: `Namespace "${a.target.namespace}" is where the agent itself runs (with its token and Kubernetes rights); it never injects there. Attach to workloads in other namespaces.`,
    };
  }
  if (observed.images) {
    const image = a.whisperer.image ?? observed.images.defaultImage;
    if (!imageAllowed(image, observed.images.allowed)) {
      const list = observed.images.allowed.map(p => p.text).join(', ');
      return {
        reason: 'ImageNotAllowed',
        message:
          `The image "${image}" of Whisperer "${a.whisperer.name}" is not one this cluster's admin allows (${list}); nothing was injected. Use an allowed image, or ask the admin to add it to the agent's chart value whisperers.allowedImages.`.slice(
            0,
            2048,
          ),
      };
    }
  }
  return null;
}

function planLive(
  a: DesiredAttachment,
  pods: readonly LeanPod[],
  observed: Observed,
  now: number,
  actions: Action[],
): AttachmentView {
  if (!namespaceInScope(observed.scope, a.target.namespace)) {
    const include =
      observed.scope.include === '*'
        ? 'all namespaces'
        : observed.scope.include.join(', ');
    const exclude = observed.scope.exclude.length
      ? ` except ${observed.scope.exclude.join(', ')}`
      : '';
    return {
      attachmentId: a.id,
      phase: 'failed',
      message: `NamespaceOutOfScope: namespace "${a.target.namespace}" is outside this agent's install scope (${include}${exclude}). Reinstall the agent with the namespace included.`,
      instances: [],
    };
  }
  const refusal = refuse(a, observed);
  if (refusal) {
    // Nothing is injected: each live pod shows why, in plain words.
    const instances = pods
      .filter(p => !p.deleting && !podFinished(p))
      .map(p =>
        instance(
          p,
          whispererContainerName(a.id),
          0,
          'failed',
          refusal.reason,
          refusal.message,
        ),
      )
      .sort(byPod);
    return {
      attachmentId: a.id,
      phase: 'failed',
      message: `${refusal.reason}: ${refusal.message}`,
      instances,
    };
  }
  const instances: WhispererInstance[] = [];
  const access = processAccessOf(a, observed.allowProcessAccess ?? false);
  const base = whispererContainerName(a.id);
  const ownKey = attachmentKey(a.id);
  for (const pod of pods) {
    const mine = whisperersOf(pod, a.id, ownKey);
    const latest = mine[mine.length - 1];
    const report = latest
      ? observed.reports.get(reportKey(pod.namespace, pod.name, latest.name))
      : undefined;

    // A pod on its way out or finished gets nothing new; show what it had, if anything.
    if (pod.deleting || podFinished(pod)) {
      if (latest) instances.push(existingInstance(pod, latest, report));
      else if (podFinished(pod) && a.target.kind === 'Pod') {
        instances.push(
          instance(
            pod,
            base,
            0,
            'failed',
            'PodNotRunning',
            `The pod has ${pod.phase.toLowerCase()}; a whisperer needs a running pod.`,
          ),
        );
      }
      continue;
    }
    if (pod.mirror) {
      instances.push(
        instance(
          pod,
          base,
          0,
          'failed',
          'StaticPod',
          'This is a static pod (managed by the kubelet from a file); the API server does not allow ephemeral containers in it.',
        ),
      );
      continue;
    }
    // Its IP is the node's: a whisperer there would capture every pod on the node, and
    // the whisperer endpoint refuses it anyway (it cannot tell the pod from the node).
    if (pod.hostNetwork && !latest) {
      instances.push(
        instance(
          pod,
          base,
          0,
          'failed',
          'HostNetworkPod',
          "This pod uses the node's network (hostNetwork): a whisperer there would capture the traffic of every pod on the node, so Spider does not attach to it.",
        ),
      );
      continue;
    }
    const target = targetContainerOf(pod);
    if ('error' in target) {
      instances.push(
        instance(pod, base, 0, 'failed', 'ContainerNotFound', target.error),
      );
      continue;
    }

    let generation = 0;
    let restartNote: string | null = null;
    if (latest) {
      const current = existingInstance(pod, latest, report);
      if (!hasFailed(latest) || current.reason === 'WhispererFailed') {
        instances.push(current);
        continue;
      }
      const guard = crashLoopGuard(mine, now);
      if (!guard.restart) {
        instances.push({
          ...current,
          state: 'failed',
          reason: 'CrashLoopGuard',
          message: `The whisperer failed ${guard.recentFailures} times within ${
            CRASH_LOOP_WINDOW_MS / 60_000
          } minutes in this pod; it is not restarted here (each restart adds a container to the pod for its lifetime). Last: ${
            current.message
          }`,
        });
        continue;
      }
      generation = latest.generation + 1;
      restartNote = `Restarting: ${current.message}`;
    }

    const container = generation > 0 ? `${base}-${generation}` : base;
    const key = injectKey(pod.uid, container);
    const failure = observed.failures.get(key);
    if (failure && (failure.retryAt === null || now < failure.retryAt)) {
      instances.push(
        instance(
          pod,
          container,
          generation,
          'failed',
          failure.reason,
          failure.message,
        ),
      );
      continue;
    }
    if (pod.phase !== 'Running') {
      instances.push(
        instance(
          pod,
          container,
          generation,
          'pending',
          'PodNotRunning',
          `Waiting for the pod to run (it is ${pod.phase}).`,
        ),
      );
      continue;
    }
    instances.push(
      instance(pod, container, generation, 'pending', 'Injecting', restartNote),
    );
    if (!observed.inFlight.has(key)) {
      actions.push({
        type: 'inject',
        attachmentId: a.id,
        namespace: pod.namespace,
        pod: pod.name,
        podUid: pod.uid,
        container,
        generation,
        targetContainer: target.name,
        processAccess: access.granted,
      });
    }
  }
  if (access.note) {
    for (const [n, i] of instances.entries()) {
      if (i.state === 'running' || i.state === 'pending') {
        // Instance messages are capped at 2048 characters by the protocol.
        instances[n] = {
          ...i,
          message: (i.message
            ? `${i.message} ${access.note}`
            : access.note
          ).slice(0, 2048),
        };
      }
    }
  }
  instances.sort(byPod);
  const failed = instances.filter(i => i.state === 'failed');
  let phase: AttachmentPhase = 'active';
  let message: string | null = null;
  if (failed.length && failed.length === instances.length) {
    phase = 'failed';
    message = `${failed[0].reason}: ${failed[0].message}`;
  } else if (failed.length) {
    message = `${failed.length} of ${instances.length} pods failed; first: ${failed[0].pod}: ${failed[0].reason}: ${failed[0].message}`;
  }
  return { attachmentId: a.id, phase, message, instances };
}

const STOP_REASON: Record<WhispererStopReason, InstanceReason> = {
  detached: 'Detached',
  deleted: 'Detached',
  expired: 'Expired',
};

function planStopped(
  a: DesiredAttachment,
  reason: WhispererStopReason,
  pods: readonly LeanPod[],
): AttachmentView {
  const instances: WhispererInstance[] = [];
  const ownKey = attachmentKey(a.id);
  for (const pod of pods) {
    const latest = whisperersOf(pod, a.id, ownKey).pop();
    if (!latest) continue;
    const done = latest.state === 'terminated' || podFinished(pod);
    const message =
      reason === 'expired'
        ? 'The attachment expired; the whisperer was told to stop.'
        : 'The attachment was detached; the whisperer was told to stop.';
    instances.push(
      instance(
        pod,
        latest.name,
        latest.generation,
        done ? 'terminated' : 'stopping',
        STOP_REASON[reason],
        message,
        latest,
      ),
    );
  }
  instances.sort(byPod);
  return {
    attachmentId: a.id,
    phase: reason === 'expired' ? 'expired' : 'stopped',
    message: null,
    instances,
  };
}

export function planReconcile(
  desired: Iterable<DesiredEntry>,
  observed: Observed,
  now: number,
): Plan {
  const actions: Action[] = [];
  const attachments: AttachmentView[] = [];
  for (const entry of desired) {
    const a = entry.attachment;
    const pods = observed.podsByAttachment.get(a.id) ?? [];
    let stopReason = entry.stopped?.reason ?? null;
    if (!stopReason && isExpired(a, now)) {
      actions.push({ type: 'expire', attachmentId: a.id });
      stopReason = 'expired';
    }
    attachments.push(
      stopReason
        ? planStopped(a, stopReason, pods)
        : planLive(a, pods, observed, now, actions),
    );
  }
  return { actions, attachments };
}
