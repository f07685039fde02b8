import {
  WhispererTrafficBatch,
  whispererTrafficBatchWireSchema,
} from '@spider/backstage-plugin-spider-common';
import type { TrafficInstance } from '../traffic/TrafficRelay';

/** `exchanges.3.request` → `exchanges[3].request` */
function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path)
    out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(body)';
}

const IDENTITY = ['attachmentId', 'container', 'pod', 'namespace'] as const;

/**
 * Validates the body of `POST /v1/whisperers/{container}/traffic` (whispererTrafficBatchSchema,
 * unknown fields refused) and checks that every exchange names the calling instance: a
 * whisperer cannot file traffic under another attachment, pod or namespace.
 */
export function parseTrafficBatch(
  body: unknown,
  instance: TrafficInstance,
): { ok: true; batch: WhispererTrafficBatch } | { ok: false; message: string } {
  const parsed = whispererTrafficBatchWireSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      message: `${fieldPath(issue.path)}: ${issue.message}`.slice(0, 300),
    };
  }
  const batch = parsed.data;
  const expected: Record<(typeof IDENTITY)[number], string> = {
    attachmentId: instance.attachmentId,
    container: instance.container,
    pod: instance.pod,
    namespace: instance.namespace,
  };
  for (const [i, x] of batch.exchanges.entries()) {
    for (const field of IDENTITY) {
      if (x[field] !== expected[field]) {
        return {
          ok: false,
          message: `exchanges[${i}].${field}: must be "${
            expected[field]
          }" (this whisperer instance), got "${x[field].slice(0, 80)}"`,
        };
      }
    }
  }
  return { ok: true, batch };
}
