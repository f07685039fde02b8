import type {
  WorkloadKind,
  WorkloadRef,
} from '@spider/backstage-plugin-spider-common';
import type { LeanPod, LeanWorkload, OwnerRef } from './lean';

/**
 * Owner resolution: which workload a pod belongs to, and which pods a target has.
 * Pods point to their direct controller (ReplicaSet, Job, StatefulSet, DaemonSet); a
 * ReplicaSet points to its Deployment and a Job to its CronJob. Lookups go through the
 * index at query time, so a pod seen before its ReplicaSet still resolves once the
 * ReplicaSet arrives.
 */
export interface OwnerIndex {
  workload(
    kind: LeanWorkload['kind'],
    namespace: string,
    name: string,
  ): LeanWorkload | undefined;
  pod(namespace: string, name: string): LeanPod | undefined;
  /** Names of the objects of `childKind` whose controller is `owner` in `namespace`. */
  children(
    namespace: string,
    owner: OwnerRef,
    childKind: 'Pod' | 'ReplicaSet' | 'Job',
  ): Iterable<string>;
}

const DIRECT_OWNER_KINDS = new Set([
  'ReplicaSet',
  'Job',
  'StatefulSet',
  'DaemonSet',
]);

/**
 * The top-level workload of a pod: its Deployment (through the ReplicaSet), CronJob
 * (through the Job), StatefulSet, DaemonSet, standalone ReplicaSet or Job; null for a
 * bare pod or one owned by something the agent does not target (e.g. a Node).
 */
export function topWorkloadOf(
  pod: Pick<LeanPod, 'namespace' | 'owner'>,
  index: Pick<OwnerIndex, 'workload'>,
): { kind: WorkloadKind; name: string } | null {
  const owner = pod.owner;
  if (!owner || !DIRECT_OWNER_KINDS.has(owner.kind)) return null;
  if (owner.kind === 'ReplicaSet' || owner.kind === 'Job') {
    const parent = index.workload(owner.kind, pod.namespace, owner.name)?.owner;
    const parentKind = owner.kind === 'ReplicaSet' ? 'Deployment' : 'CronJob';
    if (parent && parent.kind === parentKind)
      return { kind: parentKind, name: parent.name };
  }
  return { kind: owner.kind as WorkloadKind, name: owner.name };
}

/**
 * Every target a change of this pod may concern: the pod itself, its direct owner and
 * the top-level owner. Used to find the attachments to re-plan after a pod event.
 */
export function targetsOfPod(
  pod: Pick<LeanPod, 'namespace' | 'name' | 'owner'>,
  index: Pick<OwnerIndex, 'workload'>,
): WorkloadRef[] {
  const refs: WorkloadRef[] = [
    { namespace: pod.namespace, kind: 'Pod', name: pod.name },
  ];
  if (pod.owner && DIRECT_OWNER_KINDS.has(pod.owner.kind)) {
    refs.push({
      namespace: pod.namespace,
      kind: pod.owner.kind as WorkloadKind,
      name: pod.owner.name,
    });
    const top = topWorkloadOf(pod, index);
    if (top && top.kind !== pod.owner.kind) {
      refs.push({ namespace: pod.namespace, ...top });
    }
  }
  return refs;
}

/** Targets a workload change may concern (a ReplicaSet also concerns its Deployment). */
export function targetsOfWorkload(
  w: Pick<LeanWorkload, 'kind' | 'namespace' | 'name' | 'owner'>,
): WorkloadRef[] {
  const refs: WorkloadRef[] = [
    { namespace: w.namespace, kind: w.kind, name: w.name },
  ];
  if (
    w.owner &&
    ((w.kind === 'ReplicaSet' && w.owner.kind === 'Deployment') ||
      (w.kind === 'Job' && w.owner.kind === 'CronJob'))
  ) {
    refs.push({
      namespace: w.namespace,
      kind: w.owner.kind as WorkloadKind,
      name: w.owner.name,
    });
  }
  return refs;
}

/** The pods of a target workload, as the index knows them now. */
export function podsOfTarget(
  target: WorkloadRef,
  index: OwnerIndex,
): LeanPod[] {
  const { namespace } = target;
  const podsOwnedBy = (owner: OwnerRef): LeanPod[] => {
    const out: LeanPod[] = [];
    for (const name of index.children(namespace, owner, 'Pod')) {
      const p = index.pod(namespace, name);
      if (p) out.push(p);
    }
    return out;
  };
  switch (target.kind) {
    case 'Pod': {
      const p = index.pod(namespace, target.name);
      return p ? [p] : [];
    }
    case 'ReplicaSet':
    case 'Job':
    case 'StatefulSet':
    case 'DaemonSet':
      return podsOwnedBy({ kind: target.kind, name: target.name });
    case 'Deployment':
    case 'CronJob': {
      const middle = target.kind === 'Deployment' ? 'ReplicaSet' : 'Job';
      const out: LeanPod[] = [];
      for (const child of index.children(
        namespace,
        { kind: target.kind, name: target.name },
        middle,
      )) {
        out.push(...podsOwnedBy({ kind: middle, name: child }));
      }
      return out;
    }
    default:
      return [];
  }
}
