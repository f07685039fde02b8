import type { PodIdentity, ServiceIdentity } from '../cluster/PodDirectory';

/**
 * The names the agent's PTR answers carry (documented in docs/dns.md). Each part is one
 * DNS label, so a name reads back unambiguously by counting labels from the zone:
 *
 *   pod of a workload  <pod>.<workload>.<kind>.<namespace>.pod.<zone>
 *   bare pod           <pod>.<namespace>.pod.<zone>
 *   Service            <service>.<namespace>.svc.<zone>   (what cluster DNS answers forward)
 */

export const DEFAULT_ZONE = 'cluster.local';
const MAX_LABEL = 63;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** 32-bit FNV-1a, to keep shortened labels distinct. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * One DNS label for a Kubernetes name. Names are RFC 1123 subdomains (up to 253
 * characters, dots allowed); a label holds 63 and no dots. Dots and anything unexpected
 * become '-', and a longer name keeps its first 54 characters plus '-' and a hash.
 */
export function toLabel(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length <= MAX_LABEL && LABEL.test(lower)) return lower;
  const cleaned = lower.replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '');
  if (!cleaned) return fnv1a(lower);
  if (cleaned.length <= MAX_LABEL) return cleaned;
  return `${cleaned.slice(0, 54).replace(/-+$/, '')}-${fnv1a(lower)}`;
}

/** Validates a zone (e.g. `cluster.local`): labels, at most 45 characters. */
export function checkZone(zone: string): string {
  const z = zone.replace(/\.$/, '').toLowerCase();
  if (!z || z.length > 45 || !z.split('.').every(l => LABEL.test(l))) {
    throw new Error(
      `invalid DNS zone "${zone}": labels of a-z, 0-9 and '-', at most 45 characters`,
    );
  }
  return z;
}

export function podPtrName(pod: PodIdentity, zone: string): string {
  const ns = toLabel(pod.namespace);
  if (!pod.workload) return `${toLabel(pod.name)}.${ns}.pod.${zone}`;
  return `${toLabel(pod.name)}.${toLabel(
    pod.workload.name,
  )}.${pod.workload.kind.toLowerCase()}.${ns}.pod.${zone}`;
}

export function servicePtrName(service: ServiceIdentity, zone: string): string {
  return `${toLabel(service.name)}.${toLabel(service.namespace)}.svc.${zone}`;
}

/** Reads a pod PTR name back (for tests and tools); undefined when it is not one. */
export function parsePodPtrName(
  name: string,
  zone: string,
):
  | {
      pod: string;
      namespace: string;
      workload: { kind: string; name: string } | null;
    }
  | undefined {
  const suffix = `.pod.${zone}`;
  const n = name.replace(/\.$/, '').toLowerCase();
  if (!n.endsWith(suffix)) return undefined;
  const labels = n.slice(0, -suffix.length).split('.');
  if (labels.length === 2)
    return { pod: labels[0], namespace: labels[1], workload: null };
  if (labels.length === 4) {
    return {
      pod: labels[0],
      namespace: labels[3],
      workload: { kind: labels[2], name: labels[1] },
    };
  }
  return undefined;
}
