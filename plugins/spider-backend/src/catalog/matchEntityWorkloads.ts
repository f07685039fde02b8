import { Workload } from '@spider/backstage-plugin-spider-common';

export const KUBERNETES_ID_ANNOTATION = 'backstage.io/kubernetes-id';
export const KUBERNETES_LABEL_SELECTOR_ANNOTATION =
  'backstage.io/kubernetes-label-selector';
export const KUBERNETES_NAMESPACE_ANNOTATION =
  'backstage.io/kubernetes-namespace';

export type LabelRequirement =
  | { key: string; op: '=' | '!='; value: string }
  | { key: string; op: 'exists' | '!exists' }
  | { key: string; op: 'in' | 'notin'; values: string[] };

/**
 * How an entity finds its workloads, from the same annotations Backstage's Kubernetes
 * plugin reads: a label selector wins over the kubernetes-id (which means the label
 * `backstage.io/kubernetes-id=<id>`); the namespace annotation narrows both.
 */
export function entityWorkloadSelector(
  annotations: Record<string, string> | undefined,
): { requirements: LabelRequirement[]; namespace?: string } | undefined {
  if (!annotations) return undefined;
  const namespace =
    annotations[KUBERNETES_NAMESPACE_ANNOTATION]?.trim() || undefined;
  const selector = annotations[KUBERNETES_LABEL_SELECTOR_ANNOTATION]?.trim();
  if (selector) {
    const requirements = parseLabelSelector(selector);
    return requirements ? { requirements, namespace } : undefined;
  }
  const id = annotations[KUBERNETES_ID_ANNOTATION]?.trim();
  if (id) {
    return {
      requirements: [{ key: KUBERNETES_ID_ANNOTATION, op: '=', value: id }],
      namespace,
    };
  }
  return undefined;
}

/** Parses a Kubernetes label selector string; undefined when it is not one. */
export function parseLabelSelector(
  selector: string,
): LabelRequirement[] | undefined {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth += 1;
    if (ch === ')') depth -= 1;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  const out: LabelRequirement[] = [];
  for (const raw of parts) {
    const part = raw.trim();
    if (!part) return undefined;
    let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
    if (m) {
      out.push({
        key: m[1],
        op: m[2] as 'in' | 'notin',
        values: m[3]
          .split(',')
          .map(v => v.trim())
          .filter(Boolean),
      });
      continue;
    }
    m = /^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/.exec(part);
    if (m) {
      out.push({ key: m[1], op: m[2] === '!=' ? '!=' : '=', value: m[3] });
      continue;
    }
    m = /^(!?)([\w./-]+)$/.exec(part);
    if (m) {
      out.push({ key: m[2], op: m[1] ? '!exists' : 'exists' });
      continue;
    }
    return undefined;
  }
  return out;
}

export function matchesLabels(
  labels: Record<string, string>,
  reqs: LabelRequirement[],
): boolean {
  return reqs.every(r => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.op) {
      case '=':
        return has && labels[r.key] === r.value;
      case '!=':
        return !has || labels[r.key] !== r.value;
      case 'exists':
        return has;
      case '!exists':
        return !has;
      case 'in':
        return has && r.values.includes(labels[r.key]);
      case 'notin':
        return !has || !r.values.includes(labels[r.key]);
      default:
        return false;
    }
  });
}

/** Top-level workloads only: a Deployment's ReplicaSets and a CronJob's Jobs are its own. */
export function matchEntityWorkloads<T extends Workload>(
  annotations: Record<string, string> | undefined,
  workloads: T[],
): T[] {
  const sel = entityWorkloadSelector(annotations);
  if (!sel) return [];
  return workloads.filter(
    w =>
      (!sel.namespace || w.namespace === sel.namespace) &&
      matchesLabels(w.labels, sel.requirements),
  );
}
