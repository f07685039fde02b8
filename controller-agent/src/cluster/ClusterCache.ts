import type {
  NamespaceScope,
  WorkloadRef,
} from '@spider/backstage-plugin-spider-common';
import { namespaceInScope } from '../config/config';
import {
  LeanPod,
  LeanService,
  LeanWorkload,
  OwnerRef,
  podFinished,
} from './lean';
import {
  OwnerIndex,
  podsOfTarget,
  targetsOfPod,
  targetsOfWorkload,
  topWorkloadOf,
} from './owners';
import type {
  PodDirectory,
  PodIdentity,
  ServiceIdentity,
} from './PodDirectory';
import type { WatchedKind } from './resources';
import type { WatchSink } from './Watcher';

type WorkloadKindNoPod = LeanWorkload['kind'];
type Lean = LeanPod | LeanWorkload | LeanService;

const key = (namespace: string, name: string) => `${namespace}/${name}`;
const childKey = (namespace: string, owner: OwnerRef, childKind: string) =>
  `${namespace}\u0000${owner.kind}\u0000${owner.name}\u0000${childKind}`;

/**
 * The agent's lean view of the cluster: pods, workloads and services in scope, indexed
 * by owner and by IP. Fed by the watchers; read by the reconciler (targets → pods), the
 * inventory, the DNS proxy and the whisperer endpoint (PodDirectory).
 */
export class ClusterCache implements WatchSink<Lean>, OwnerIndex, PodDirectory {
  private readonly pods = new Map<string, LeanPod>();
  private readonly workloads = new Map<
    WorkloadKindNoPod,
    Map<string, LeanWorkload>
  >();
  private readonly services = new Map<string, LeanService>();
  private readonly childIndex = new Map<string, Set<string>>();
  private readonly podsByIp = new Map<string, string>();
  private readonly servicesByIp = new Map<string, string>();

  private readonly targetListeners = new Set<
    (targets: WorkloadRef[]) => void
  >();
  private readonly inventoryListeners = new Set<() => void>();
  private readonly directoryListeners = new Set<() => void>();
  private directoryNotify: NodeJS.Timeout | undefined;

  constructor(private readonly scope: NamespaceScope) {}

  // ---- WatchSink --------------------------------------------------------

  replace(kind: WatchedKind, namespace: string | null, items: Lean[]): void {
    const keep = new Set<string>();
    for (const item of items) {
      if (!namespaceInScope(this.scope, item.namespace)) continue;
      keep.add(key(item.namespace, item.name));
      this.apply(kind, 'MODIFIED', item);
    }
    const existing = this.mapOf(kind);
    for (const [k, item] of [...existing.entries()]) {
      if (
        (namespace === null || item.namespace === namespace) &&
        !keep.has(k)
      ) {
        this.apply(kind, 'DELETED', item as Lean);
      }
    }
  }

  apply(
    kind: WatchedKind,
    type: 'ADDED' | 'MODIFIED' | 'DELETED',
    item: Lean,
  ): void {
    if (!namespaceInScope(this.scope, item.namespace)) return;
    if (kind === 'Pod') this.applyPod(type, item as LeanPod);
    else if (kind === 'Service') this.applyService(type, item as LeanService);
    else this.applyWorkload(type, item as LeanWorkload);
  }

  /** The cached objects of one kind. */
  private mapOf(
    kind: WatchedKind,
  ):
    | Map<string, LeanPod>
    | Map<string, LeanService>
    | Map<string, LeanWorkload> {
    if (kind === 'Pod') return this.pods;
    if (kind === 'Service') return this.services;
    return this.workloadMap(kind);
  }

  private workloadMap(kind: WorkloadKindNoPod): Map<string, LeanWorkload> {
    let m = this.workloads.get(kind);
    if (!m) this.workloads.set(kind, (m = new Map()));
    return m;
  }

  private link(
    namespace: string,
    owner: OwnerRef | null,
    childKind: string,
    name: string,
    add: boolean,
  ) {
    if (!owner) return;
    const k = childKey(namespace, owner, childKind);
    let set = this.childIndex.get(k);
    if (add) {
      if (!set) this.childIndex.set(k, (set = new Set()));
      set.add(name);
    } else if (set) {
      set.delete(name);
      if (!set.size) this.childIndex.delete(k);
    }
  }

  private applyPod(type: string, pod: LeanPod) {
    const k = key(pod.namespace, pod.name);
    const prev = this.pods.get(k);
    if (prev) {
      this.link(prev.namespace, prev.owner, 'Pod', prev.name, false);
      if (prev.ip && this.podsByIp.get(prev.ip) === k)
        this.podsByIp.delete(prev.ip);
    }
    if (type === 'DELETED') {
      this.pods.delete(k);
    } else {
      this.pods.set(k, pod);
      this.link(pod.namespace, pod.owner, 'Pod', pod.name, true);
      if (pod.ip && !podFinished(pod)) this.podsByIp.set(pod.ip, k);
    }
    const targets = targetsOfPod(pod, this);
    this.emitTargets(targets);
    if (!prev || type === 'DELETED' || prev.owner?.name !== pod.owner?.name)
      this.emitInventory();
    if (
      !prev ||
      type === 'DELETED' ||
      prev.ip !== pod.ip ||
      prev.ephemeral.length !== pod.ephemeral.length ||
      prev.phase !== pod.phase
    ) {
      this.emitDirectory();
    }
  }

  private applyWorkload(type: string, w: LeanWorkload) {
    const map = this.workloadMap(w.kind);
    const k = key(w.namespace, w.name);
    const prev = map.get(k);
    if (prev)
      this.link(prev.namespace, prev.owner, prev.kind, prev.name, false);
    if (type === 'DELETED') map.delete(k);
    else {
      map.set(k, w);
      this.link(w.namespace, w.owner, w.kind, w.name, true);
    }
    // Owner links changing (a ReplicaSet adopted by a Deployment) change target → pods.
    if (!prev || type === 'DELETED' || prev.owner?.name !== w.owner?.name) {
      this.emitTargets(targetsOfWorkload(w));
    }
    this.emitInventory();
  }

  private applyService(type: string, s: LeanService) {
    const k = key(s.namespace, s.name);
    const prev = this.services.get(k);
    for (const ip of prev?.ips ?? [])
      if (this.servicesByIp.get(ip) === k) this.servicesByIp.delete(ip);
    if (type === 'DELETED') this.services.delete(k);
    else {
      this.services.set(k, s);
      for (const ip of s.ips) this.servicesByIp.set(ip, k);
    }
    this.emitDirectory();
  }

  // ---- events -------------------------------------------------------------

  /** Targets whose pods may have changed (synchronously, per change). */
  onTargets(listener: (targets: WorkloadRef[]) => void): () => void {
    this.targetListeners.add(listener);
    return () => this.targetListeners.delete(listener);
  }
  /** The workload inventory may have changed. */
  onInventory(listener: () => void): () => void {
    this.inventoryListeners.add(listener);
    return () => this.inventoryListeners.delete(listener);
  }
  onChange(listener: () => void): () => void {
    this.directoryListeners.add(listener);
    return () => this.directoryListeners.delete(listener);
  }
  private emitTargets(targets: WorkloadRef[]) {
    for (const l of this.targetListeners) l(targets);
  }
  private emitInventory() {
    for (const l of this.inventoryListeners) l();
  }
  private emitDirectory() {
    // Coalesced: a relist of 10,000 pods is one notification, not 10,000.
    if (this.directoryNotify || !this.directoryListeners.size) return;
    this.directoryNotify = setTimeout(() => {
      this.directoryNotify = undefined;
      for (const l of this.directoryListeners) l();
    }, 50);
    this.directoryNotify.unref?.();
  }

  // ---- OwnerIndex -----------------------------------------------------------

  workload(
    kind: WorkloadKindNoPod,
    namespace: string,
    name: string,
  ): LeanWorkload | undefined {
    return this.workloads.get(kind)?.get(key(namespace, name));
  }
  pod(namespace: string, name: string): LeanPod | undefined {
    return this.pods.get(key(namespace, name));
  }
  children(
    namespace: string,
    owner: OwnerRef,
    childKind: 'Pod' | 'ReplicaSet' | 'Job',
  ): Iterable<string> {
    return this.childIndex.get(childKey(namespace, owner, childKind)) ?? [];
  }

  podsOf(target: WorkloadRef): LeanPod[] {
    return podsOfTarget(target, this);
  }

  allWorkloads(): Iterable<LeanWorkload> {
    const maps = [...this.workloads.values()];
    return (function* allWorkloads() {
      for (const m of maps) yield* m.values();
    })();
  }
  allPods(): Iterable<LeanPod> {
    return this.pods.values();
  }

  /** Number of cached objects per kind (for status and metrics). */
  counts(): Record<string, number> {
    const out: Record<string, number> = {
      Pod: this.pods.size,
      Service: this.services.size,
    };
    for (const kind of [
      'Deployment',
      'StatefulSet',
      'DaemonSet',
      'ReplicaSet',
      'Job',
      'CronJob',
    ] as const) {
      out[kind] = this.workloads.get(kind)?.size ?? 0;
    }
    return out;
  }

  // ---- PodDirectory -------------------------------------------------------

  podByIp(ip: string): PodIdentity | undefined {
    const k = this.podsByIp.get(ip);
    const p = k ? this.pods.get(k) : undefined;
    if (!p || !p.ip) return undefined;
    return {
      namespace: p.namespace,
      name: p.name,
      uid: p.uid,
      ip: p.ip,
      hostNetwork: p.hostNetwork === true,
      node: p.node,
      workload: topWorkloadOf(p, this),
      ephemeralContainers: p.ephemeral,
    };
  }
  serviceByIp(ip: string): ServiceIdentity | undefined {
    const k = this.servicesByIp.get(ip);
    const s = k ? this.services.get(k) : undefined;
    return s ? { namespace: s.namespace, name: s.name } : undefined;
  }
}
