import {
  TrafficMapPeer,
  Workload,
  WORKLOAD_KINDS,
  WorkloadKind,
  WorkloadRef,
} from '@spider/backstage-plugin-spider-common';
import { TrafficPeerAggregate } from '../store/TrafficStore';
import { matchEntityWorkloads } from '../catalog/matchEntityWorkloads';

/**
 * The map of an attachment's workload: the store's per-IP aggregates named by the agent's
 * PTR names (controller-agent/docs/dns.md), resolved to pods and workloads with the
 * Controller's inventory, and to catalog entities through the same kubernetes annotations
 * the entity → workloads lookup uses, run the other way. Pure: the caller loads the
 * inventory and the candidate entities.
 */

/** What a PTR name says about a peer. */
export type PeerIdentity =
  | {
      type: 'pod';
      pod: string;
      namespace: string;
      /** Kind and name as PTR labels: lower-case kind, name shortened to one DNS label. */
      workload: { kind: WorkloadKind; label: string } | null;
    }
  | { type: 'service'; service: string; namespace: string };

const KIND_BY_LABEL = new Map<string, WorkloadKind>(
  WORKLOAD_KINDS.map(k => [k.toLowerCase(), k]),
);

/**
 * Reads an agent PTR name: `<pod>.<workload>.<kind>.<namespace>.pod.<zone>`,
 * `<pod>.<namespace>.pod.<zone>` or `<service>.<namespace>.svc.<zone>`, any zone.
 * Anything else (an external host name) is no identity.
 */
export function parsePeerName(name: string): PeerIdentity | undefined {
  const labels = name.replace(/\.$/, '').toLowerCase().split('.');
  const kind = KIND_BY_LABEL.get(labels[2]);
  if (labels.length >= 6 && labels[4] === 'pod' && kind) {
    return {
      type: 'pod',
      pod: labels[0],
      namespace: labels[3],
      workload: { kind, label: labels[1] },
    };
  }
  if (labels.length >= 4 && labels[2] === 'pod') {
    return {
      type: 'pod',
      pod: labels[0],
      namespace: labels[1],
      workload: null,
    };
  }
  if (labels.length >= 4 && labels[2] === 'svc') {
    return { type: 'service', service: labels[0], namespace: labels[1] };
  }
  return undefined;
}

/**
 * Whether `label` is what the agent makes of the Kubernetes name `name`: the name itself,
 * its dots and other non-label characters as '-', or, for a name longer than a label, its
 * first characters, '-' and an 8-digit hash.
 */
export function labelMatchesName(label: string, name: string): boolean {
  const lower = name.toLowerCase();
  if (label === lower) return true;
  const cleaned = lower.replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '');
  if (label === cleaned) return true;
  const hashed = /^(.*)-[0-9a-f]{8}$/.exec(label);
  return Boolean(
    hashed &&
      cleaned.length > 63 &&
      cleaned.slice(0, 54).replace(/-+$/, '') === hashed[1],
  );
}

/** Workloads that can run pods of their own (a Service is matched among these). */
const SERVICE_TARGET_KINDS: WorkloadKind[] = [
  'Deployment',
  'StatefulSet',
  'DaemonSet',
];

interface ResolvedPeer {
  aggregate: TrafficPeerAggregate;
  pod: { namespace: string; name: string } | null;
  workload: WorkloadRef | null;
  /** The inventory's workload (labels known): what entities are matched against. */
  known: Workload | null;
}

function uniqueOrNull<T>(items: T[]): T | null {
  return items.length === 1 ? items[0] : null;
}

function resolveOne(
  aggregate: TrafficPeerAggregate,
  byNamespace: Map<string, Workload[]>,
): ResolvedPeer {
  const identity = aggregate.peerName
    ? parsePeerName(aggregate.peerName)
    : undefined;
  if (!identity) return { aggregate, pod: null, workload: null, known: null };
  const inNamespace = byNamespace.get(identity.namespace) ?? [];
  if (identity.type === 'service') {
    // The inventory has no Service selectors; a Service is taken for the one workload of
    // its name in its namespace (the usual convention), or left unresolved.
    const known = uniqueOrNull(
      inNamespace.filter(
        w =>
          SERVICE_TARGET_KINDS.includes(w.kind) &&
          labelMatchesName(identity.service, w.name),
      ),
    );
    return { aggregate, pod: null, workload: known && refOf(known), known };
  }
  const pod = { namespace: identity.namespace, name: identity.pod };
  if (!identity.workload) {
    // A bare pod is its own workload.
    const known = uniqueOrNull(
      inNamespace.filter(
        w => w.kind === 'Pod' && labelMatchesName(identity.pod, w.name),
      ),
    );
    return { aggregate, pod, workload: known && refOf(known), known };
  }
  const { kind, label } = identity.workload;
  const known = uniqueOrNull(
    inNamespace.filter(w => w.kind === kind && labelMatchesName(label, w.name)),
  );
  // Not in the inventory (out of its scope, or gone): the PTR label is the name, as it
  // is for every name without dots of up to 63 characters.
  const workload = known
    ? refOf(known)
    : { namespace: identity.namespace, kind, name: label };
  return { aggregate, pod, workload, known };
}

function refOf(w: Workload): WorkloadRef {
  return { namespace: w.namespace, kind: w.kind, name: w.name };
}

/** Namespaces the peers' names mention: the inventory the map needs. */
export function peerNamespaces(aggregates: TrafficPeerAggregate[]): string[] {
  const out = new Set<string>();
  for (const a of aggregates) {
    const identity = a.peerName ? parsePeerName(a.peerName) : undefined;
    if (identity) out.add(identity.namespace);
  }
  return [...out].sort();
}

function groupByNamespace(workloads: Workload[]): Map<string, Workload[]> {
  const out = new Map<string, Workload[]>();
  for (const w of workloads) {
    const list = out.get(w.namespace) ?? [];
    list.push(w);
    out.set(w.namespace, list);
  }
  return out;
}

/** The inventory workloads the peers resolve to: whose entities the catalog is asked for. */
export function resolvedWorkloads(
  aggregates: TrafficPeerAggregate[],
  inventory: Workload[],
): Workload[] {
  const byNamespace = groupByNamespace(inventory);
  const out = new Map<string, Workload>();
  for (const a of aggregates) {
    const known = resolveOne(a, byNamespace).known;
    if (known) out.set(workloadKey(known), known);
  }
  return [...out.values()];
}

function workloadKey(w: WorkloadRef): string {
  return `${w.namespace}/${w.kind}/${w.name}`;
}

/** An entity as the map needs it: its ref and its annotations. */
export interface CatalogEntityAnnotations {
  entityRef: string;
  annotations: Record<string, string> | undefined;
}

/** The entity whose kubernetes annotations select the workload (the first by ref when several do). */
export function entityRefFor(
  workload: Workload | null,
  entities: CatalogEntityAnnotations[],
): string | null {
  if (!workload) return null;
  const refs = entities
    .filter(e => matchEntityWorkloads(e.annotations, [workload]).length > 0)
    .map(e => e.entityRef)
    .sort();
  return refs[0] ?? null;
}

/** Calls-weighted median of per-IP medians: the best the per-IP aggregates allow. */
function weightedMedian(
  values: Array<{ value: number; weight: number }>,
): number | null {
  const sorted = values
    .filter(v => v.weight > 0)
    .sort((a, b) => a.value - b.value);
  const total = sorted.reduce((s, v) => s + v.weight, 0);
  if (total === 0) return null;
  let seen = 0;
  for (const v of sorted) {
    seen += v.weight;
    if (seen * 2 >= total) return v.value;
  }
  return sorted[sorted.length - 1].value;
}

export interface TrafficMapInput {
  aggregates: TrafficPeerAggregate[];
  /** The Controller's inventory in (at least) the namespaces of `peerNamespaces`. */
  inventory: Workload[];
  entities: CatalogEntityAnnotations[];
  since: Date;
  until: Date;
}

/**
 * Peers of the map, busiest first. Peers that resolve to the same workload in the same
 * role are one peer (key `namespace/kind/name`): calls, errors and bytes add up, p50 is
 * the calls-weighted median of the per-IP medians and p99 the largest per-IP p99 (an upper
 * bound), since the store aggregates per IP.
 */
export function buildTrafficMap(input: TrafficMapInput): TrafficMapPeer[] {
  const byNamespace = groupByNamespace(input.inventory);
  const minutes =
    Math.max(input.until.getTime() - input.since.getTime(), 1) / 60_000;
  const groups = new Map<string, ResolvedPeer[]>();
  for (const a of input.aggregates) {
    const r = resolveOne(a, byNamespace);
    const key = `${a.role}|${r.workload ? workloadKey(r.workload) : a.peerIp}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const peers: TrafficMapPeer[] = [];
  for (const members of groups.values()) {
    const first = members[0];
    const sum = (f: (a: TrafficPeerAggregate) => number) =>
      members.reduce((s, m) => s + f(m.aggregate), 0);
    const calls = sum(a => a.calls);
    const podKeys = new Set(
      members.map(m => (m.pod ? `${m.pod.namespace}/${m.pod.name}` : '')),
    );
    const pod = podKeys.size === 1 ? first.pod : null;
    const known = members.find(m => m.known)?.known ?? null;
    const p99s = members
      .map(m => m.aggregate.p99Ms)
      .filter((v): v is number => v !== null);
    peers.push({
      key: first.workload
        ? workloadKey(first.workload)
        : first.aggregate.peerIp,
      role: first.aggregate.role,
      ips: [...new Set(members.map(m => m.aggregate.peerIp))].sort(),
      name:
        pod?.name ??
        first.workload?.name ??
        first.aggregate.peerName ??
        first.aggregate.peerIp,
      pod,
      workload: first.workload,
      entityRef: entityRefFor(known, input.entities),
      calls,
      errors: sum(a => a.errors),
      p50Ms: weightedMedian(
        members
          .filter(m => m.aggregate.p50Ms !== null)
          .map(m => ({
            value: m.aggregate.p50Ms as number,
            weight: m.aggregate.calls,
          })),
      ),
      p99Ms: p99s.length ? Math.max(...p99s) : null,
      bytes: sum(a => a.bytes),
      callsPerMinute: Math.round((calls / minutes) * 1000) / 1000,
      flowBytes: sum(a => a.flowBytes),
    });
  }
  return peers.sort(
    (a, b) =>
      b.calls - a.calls ||
      b.flowBytes - a.flowBytes ||
      a.key.localeCompare(b.key) ||
      a.role.localeCompare(b.role),
  );
}
