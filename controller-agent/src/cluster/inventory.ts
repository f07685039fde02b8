import {
  AGENT_PROTOCOL_LIMITS,
  InventoryMessage,
  ListWorkloadsParams,
  ListWorkloadsResult,
  Workload,
} from '@spider/backstage-plugin-spider-common';
import type { LeanPod, LeanWorkload } from './lean';
import type { OwnerIndex } from './owners';
import { podsOfTarget } from './owners';

export type InventoryWorkload = Workload;

const inventoryKey = (w: Pick<Workload, 'namespace' | 'kind' | 'name'>) =>
  `${w.namespace}/${w.kind}/${w.name}`;

/**
 * The workloads a user may target, as the backend's inventory: every Deployment,
 * StatefulSet, DaemonSet and CronJob; ReplicaSets and Jobs only when no Deployment or
 * CronJob owns them (those are reached through their owner); Pods only when bare.
 */
export function inventoryOf(
  workloads: Iterable<LeanWorkload>,
  pods: Iterable<LeanPod>,
  index: OwnerIndex,
): InventoryWorkload[] {
  const out: InventoryWorkload[] = [];
  for (const w of workloads) {
    if (w.kind === 'ReplicaSet' && w.owner?.kind === 'Deployment') continue;
    if (w.kind === 'Job' && w.owner?.kind === 'CronJob') continue;
    out.push({
      namespace: w.namespace,
      kind: w.kind,
      name: w.name,
      labels: w.labels,
      replicas: w.replicas,
      pods: podsOfTarget(w, index).length,
    });
  }
  for (const p of pods) {
    if (p.owner) continue;
    out.push({
      namespace: p.namespace,
      kind: 'Pod',
      name: p.name,
      labels: {},
      replicas: null,
      pods: 1,
    });
  }
  out.sort((a, b) => (inventoryKey(a) < inventoryKey(b) ? -1 : 1));
  return out;
}

/** Splits a snapshot into protocol-sized chunks (first/last flags on the ends). */
export function snapshotMessages(
  items: InventoryWorkload[],
): InventoryMessage[] {
  const size = AGENT_PROTOCOL_LIMITS.inventoryChunk;
  const chunks: InventoryMessage[] = [];
  for (let i = 0; i < Math.max(items.length, 1); i += size) {
    chunks.push({
      type: 'inventory',
      mode: 'snapshot',
      upserts: items.slice(i, i + size),
      removed: [],
    });
  }
  chunks[0].first = true;
  chunks[chunks.length - 1].last = true;
  return chunks;
}

/**
 * Remembers what the backend was last told and produces deltas against it. `reset`
 * after a (re)connect's snapshot.
 */
export class InventoryTracker {
  private sent = new Map<string, string>();

  reset(items: InventoryWorkload[]): void {
    this.sent = new Map(items.map(w => [inventoryKey(w), JSON.stringify(w)]));
  }

  delta(items: InventoryWorkload[]): InventoryMessage[] {
    const upserts: InventoryWorkload[] = [];
    const seen = new Set<string>();
    for (const w of items) {
      const k = inventoryKey(w);
      seen.add(k);
      const json = JSON.stringify(w);
      if (this.sent.get(k) !== json) {
        upserts.push(w);
        this.sent.set(k, json);
      }
    }
    const removed: InventoryMessage['removed'] = [];
    for (const k of [...this.sent.keys()]) {
      if (!seen.has(k)) {
        const [namespace, kind, name] = k.split('/');
        removed.push({ namespace, kind: kind as Workload['kind'], name });
        this.sent.delete(k);
      }
    }
    const size = AGENT_PROTOCOL_LIMITS.inventoryChunk;
    const out: InventoryMessage[] = [];
    for (let i = 0; i < Math.max(upserts.length, removed.length); i += size) {
      out.push({
        type: 'inventory',
        mode: 'delta',
        upserts: upserts.slice(i, i + size),
        removed: removed.slice(i, i + size),
      });
    }
    return out;
  }
}

/** Answers a `listWorkloads` request: only the namespaces the caller was granted. */
export function listWorkloads(
  items: InventoryWorkload[],
  params: ListWorkloadsParams,
): ListWorkloadsResult {
  const allowed = params.namespaces === '*' ? null : new Set(params.namespaces);
  const q = params.q?.toLowerCase();
  const limit = params.limit ?? 1000;
  const matches = items.filter(
    w =>
      (!allowed || allowed.has(w.namespace)) &&
      (!params.namespace || w.namespace === params.namespace) &&
      (!params.kind || w.kind === params.kind) &&
      (!q || w.name.toLowerCase().includes(q)),
  );
  return { items: matches.slice(0, limit), truncated: matches.length > limit };
}
