import {
  parseWhispererContainerName,
  WorkloadKind,
} from '@spider/backstage-plugin-spider-common';

/**
 * Lean copies of Kubernetes objects: only the fields the agent uses. The watch hands us
 * whole objects (≈5 KB a pod); keeping these instead is what holds 10,000 pods in a few
 * megabytes.
 */

export const TARGET_CONTAINER_ANNOTATION = 'spider.io/target-container';
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

export interface OwnerRef {
  kind: string;
  name: string;
}

/** What the agent knows about one whisperer container in a pod. */
export interface LeanWhisperer {
  name: string;
  /** From the container status; `unknown` while the kubelet has not reported it yet. */
  state: 'unknown' | 'waiting' | 'running' | 'terminated';
  exitCode: number | null;
  reason: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface LeanPod {
  uid: string;
  namespace: string;
  name: string;
  phase: string;
  ip: string | null;
  /** spec.hostNetwork: its IP is the node's, shared with everything on the node. */
  hostNetwork?: boolean;
  node: string | null;
  /** The controller owner reference, if any. */
  owner: OwnerRef | null;
  deleting: boolean;
  /** A static pod's mirror: the API server refuses ephemeral containers on it. */
  mirror: boolean;
  /** Value of the `spider.io/target-container` annotation. */
  targetContainer: string | null;
  /** Names of the regular containers, in spec order. */
  containers: string[];
  /** Names of all ephemeral containers in the spec (whisperers and others). */
  ephemeral: string[];
  /** Whisperer containers (names parsed by parseWhispererContainerName) with status. */
  whisperers: LeanWhisperer[];
}

export interface LeanWorkload {
  kind: Exclude<WorkloadKind, 'Pod'>;
  uid: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** Desired replicas (Deployment/StatefulSet/ReplicaSet), scheduled pods (DaemonSet). */
  replicas: number | null;
  owner: OwnerRef | null;
}

export interface LeanService {
  namespace: string;
  name: string;
  ips: string[];
}

// Namespace and node names repeat across thousands of pods; share one string each.
const interned = new Map<string, string>();
export function intern(s: string): string {
  const hit = interned.get(s);
  if (hit !== undefined) return hit;
  if (interned.size > 50_000) interned.clear();
  interned.set(s, s);
  return s;
}

/**
 * Per-pod parts that repeat across a workload's pods, shared: the owner reference (a
 * ReplicaSet owns all its pods), the list of container names (the same template), and
 * the empty lists most pods have. About a quarter of a pod's cached bytes at 10,000
 * pods. Shared values are frozen: nothing changes a cached object in place.
 */
const sharedOwners = new Map<string, OwnerRef>();
const sharedNameLists = new Map<string, string[]>();
const NO_NAMES = Object.freeze([]) as unknown as string[];
const NO_WHISPERERS = Object.freeze([]) as unknown as LeanWhisperer[];

function sharedOwner(kind: string, name: string): OwnerRef {
  const k = `${kind}\u0000${name}`;
  const hit = sharedOwners.get(k);
  if (hit) return hit;
  if (sharedOwners.size > 50_000) sharedOwners.clear();
  const ref = Object.freeze({ kind: intern(kind), name });
  sharedOwners.set(k, ref);
  return ref;
}

function sharedNames(names: string[]): string[] {
  if (!names.length) return NO_NAMES;
  const k = names.join('\u0000');
  const hit = sharedNameLists.get(k);
  if (hit) return hit;
  if (sharedNameLists.size > 50_000) sharedNameLists.clear();
  const list = Object.freeze(names.map(intern)) as unknown as string[];
  sharedNameLists.set(k, list);
  return list;
}

function controllerOf(meta: any): OwnerRef | null {
  const refs: any[] = meta?.ownerReferences ?? [];
  const ref = refs.find(r => r?.controller) ?? null;
  return ref ? sharedOwner(String(ref.kind), String(ref.name)) : null;
}

function whispererStatus(name: string, status: any | undefined): LeanWhisperer {
  const st = status?.state ?? {};
  if (st.terminated) {
    return {
      name,
      state: 'terminated',
      exitCode:
        typeof st.terminated.exitCode === 'number'
          ? st.terminated.exitCode
          : null,
      reason: st.terminated.reason ?? null,
      startedAt: st.terminated.startedAt ?? null,
      finishedAt: st.terminated.finishedAt ?? null,
    };
  }
  if (st.running) {
    return {
      name,
      state: 'running',
      exitCode: null,
      reason: null,
      startedAt: st.running.startedAt ?? null,
      finishedAt: null,
    };
  }
  if (st.waiting) {
    return {
      name,
      state: 'waiting',
      exitCode: null,
      reason: st.waiting.reason ?? null,
      startedAt: null,
      finishedAt: null,
    };
  }
  return {
    name,
    state: 'unknown',
    exitCode: null,
    reason: null,
    startedAt: null,
    finishedAt: null,
  };
}

export function leanPod(obj: any): LeanPod {
  const meta = obj?.metadata ?? {};
  const spec = obj?.spec ?? {};
  const status = obj?.status ?? {};
  const annotations = meta.annotations ?? {};
  const ephemeral: string[] = (spec.ephemeralContainers ?? []).map((c: any) =>
    String(c.name),
  );
  const whispererNames = ephemeral.filter(n => parseWhispererContainerName(n));
  const statuses = whispererNames.length
    ? new Map<string, any>(
        (status.ephemeralContainerStatuses ?? []).map((s: any) => [s.name, s]),
      )
    : undefined;
  const target = annotations[TARGET_CONTAINER_ANNOTATION];
  return {
    uid: String(meta.uid ?? ''),
    namespace: intern(String(meta.namespace ?? '')),
    name: String(meta.name ?? ''),
    phase: intern(String(status.phase ?? 'Pending')),
    ip: status.podIP ?? null,
    hostNetwork: spec.hostNetwork === true,
    node: spec.nodeName ? intern(String(spec.nodeName)) : null,
    owner: controllerOf(meta),
    deleting: Boolean(meta.deletionTimestamp),
    mirror: MIRROR_POD_ANNOTATION in annotations,
    targetContainer: typeof target === 'string' ? intern(target) : null,
    containers: sharedNames(
      (spec.containers ?? []).map((c: any) => String(c.name)),
    ),
    ephemeral: ephemeral.length ? ephemeral : NO_NAMES,
    whisperers: whispererNames.length
      ? whispererNames.map(n => whispererStatus(n, statuses!.get(n)))
      : NO_WHISPERERS,
  };
}

const LABEL_LIMIT = 64;
function leanLabels(labels: any): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (n++ >= LABEL_LIMIT) break;
    if (typeof v === 'string' && k.length <= 317 && v.length <= 63) out[k] = v;
  }
  return out;
}

export function leanWorkload(
  kind: LeanWorkload['kind'],
  obj: any,
): LeanWorkload {
  const meta = obj?.metadata ?? {};
  let replicas: number | null = null;
  if (
    kind === 'Deployment' ||
    kind === 'StatefulSet' ||
    kind === 'ReplicaSet'
  ) {
    replicas = typeof obj?.spec?.replicas === 'number' ? obj.spec.replicas : 1;
  } else if (kind === 'DaemonSet') {
    replicas =
      typeof obj?.status?.desiredNumberScheduled === 'number'
        ? obj.status.desiredNumberScheduled
        : 0;
  }
  return {
    kind,
    uid: String(meta.uid ?? ''),
    namespace: intern(String(meta.namespace ?? '')),
    name: String(meta.name ?? ''),
    labels: leanLabels(meta.labels),
    replicas,
    owner: controllerOf(meta),
  };
}

export function leanService(obj: any): LeanService {
  const spec = obj?.spec ?? {};
  const ips = new Set<string>();
  for (const ip of [spec.clusterIP, ...(spec.clusterIPs ?? [])]) {
    if (typeof ip === 'string' && ip && ip !== 'None') ips.add(ip);
  }
  return {
    namespace: intern(String(obj?.metadata?.namespace ?? '')),
    name: String(obj?.metadata?.name ?? ''),
    ips: [...ips],
  };
}

/** Pods that ended keep their objects around; they are no targets and hold no IP. */
export function podFinished(pod: LeanPod): boolean {
  return pod.phase === 'Succeeded' || pod.phase === 'Failed';
}
