import type { InstanceReason } from '@spider/backstage-plugin-spider-common';

/** What an API error means for an injection. */
export type InjectOutcome =
  /** The container is there already (409/422 on a replay): success, never a second one. */
  | { kind: 'exists' }
  /** The pod is gone; the pod's deletion event re-plans. */
  | { kind: 'podGone' }
  /** A new pod has the planned pod's name (its uid differs); its own event plans it. */
  | { kind: 'stale' }
  /** Worth retrying soon (429, 5xx, network). */
  | { kind: 'transient'; message: string }
  /** Will not succeed by retrying now; shown to the user. */
  | { kind: 'rejected'; reason: InstanceReason; message: string };

export interface ApiErrorLike {
  /** HTTP status, or undefined for a network error. */
  status?: number;
  /** The Kubernetes Status object or its text. */
  body?: unknown;
  message?: string;
  /** The answer's Retry-After header, in seconds (429s from priority and fairness carry one). */
  retryAfterSeconds?: number;
}

function statusBody(body: unknown): {
  message: string;
  reason?: string;
  details?: any;
} {
  if (typeof body === 'string') {
    try {
      return statusBody(JSON.parse(body));
    } catch {
      return { message: body };
    }
  }
  if (body && typeof body === 'object') {
    const b = body as any;
    return {
      message: String(b.message ?? ''),
      reason: b.reason,
      details: b.details,
    };
  }
  return { message: '' };
}

/**
 * Classifies a failed PATCH of `pods/{name}/ephemeralcontainers` into a plain-words
 * reason for the user (pure; tested with the API server's real answers).
 */
export function classifyInjectError(
  err: ApiErrorLike,
  pod: { namespace: string; name: string },
): InjectOutcome {
  const status = err.status;
  const body = statusBody(err.body);
  const text = body.message || err.message || '';
  if (status === undefined) {
    return {
      kind: 'transient',
      message: `Cannot reach the Kubernetes API: ${text || 'network error'}`,
    };
  }
  if (/violates PodSecurity/i.test(text)) {
    return {
      kind: 'rejected',
      reason: 'PodSecurityRejected',
      message: `The namespace "${pod.namespace}" enforces a PodSecurity level that forbids the whisperer: capturing needs the NET_RAW capability (as root), which the "restricted" and "baseline" levels reject. The API server said: ${text}`,
    };
  }
  if (status === 422 && /metadata\.uid/.test(text)) {
    return { kind: 'stale' };
  }
  if (
    (status === 409 || status === 422) &&
    /already exists|duplicate value|may not be changed/i.test(text)
  ) {
    return { kind: 'exists' };
  }
  if (status === 404) {
    const d = body.details;
    if (d && d.name === pod.name && (d.kind === 'pods' || d.kind === 'pod'))
      return { kind: 'podGone' };
    return {
      kind: 'rejected',
      reason: 'EphemeralContainersDisabled',
      message:
        'Ephemeral containers are not available in this cluster: the API server answered 404 for pods/ephemeralcontainers. They need Kubernetes 1.25 or later with the EphemeralContainers feature enabled.',
    };
  }
  if (status === 403) {
    return {
      kind: 'rejected',
      reason: 'Forbidden',
      message: `The agent is not allowed to add ephemeral containers to pods in namespace "${pod.namespace}" (RBAC): its ServiceAccount needs "patch" on pods/ephemeralcontainers there. The API server said: ${text}`,
    };
  }
  // A write conflict (the pod changed between the API server's read and write, e.g. a
  // status update) is not a refusal: held as one, the pod went without a whisperer for
  // the whole rejection hold (5 min) and no resync repaired it.
  if (
    status === 409 &&
    /has been modified|Operation cannot be fulfilled/i.test(text)
  ) {
    return {
      kind: 'transient',
      message: `The pod changed while the whisperer was added (409): ${text}`,
    };
  }
  if (status === 429 || status >= 500) {
    return {
      kind: 'transient',
      message: `The Kubernetes API answered ${status}: ${text}`,
    };
  }
  return {
    kind: 'rejected',
    reason: 'InjectionFailed',
    message: `The Kubernetes API refused the whisperer (${status}): ${text}`,
  };
}
