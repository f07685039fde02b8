import { z } from 'zod';

/** Workload kinds an Attachment may target. */
export const WORKLOAD_KINDS = [
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
  'Pod',
] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN =
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && DNS1123_LABEL.test(value);
}
export function isDns1123Subdomain(value: string): boolean {
  return value.length <= 253 && DNS1123_SUBDOMAIN.test(value);
}

/** A namespace name (RFC 1123 label). */
export const namespaceNameSchema = z.string().max(63).refine(isDns1123Label, {
  message:
    'must be a Kubernetes namespace name: lower-case letters, digits and "-", starting and ending with a letter or digit, at most 63 characters',
});

/** The name of a workload object (RFC 1123 subdomain). */
export const objectNameSchema = z.string().max(253).refine(isDns1123Subdomain, {
  message:
    'must be a Kubernetes object name: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit, at most 253 characters',
});

export const workloadKindSchema = z.enum(WORKLOAD_KINDS, {
  error: () => `must be one of ${WORKLOAD_KINDS.join(', ')}`,
});

export const workloadRefSchema = z.strictObject({
  namespace: namespaceNameSchema,
  kind: workloadKindSchema,
  name: objectNameSchema,
});
export type WorkloadRef = z.infer<typeof workloadRefSchema>;

/** An OCI image reference, loosely checked (registry/repo[:tag][@digest]). */
export const imageSchema = z
  .string()
  .min(1)
  .max(512)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/, {
    message: 'must be an image reference such as registry/repository:tag',
  });

/** Labels as Kubernetes has them (kept small: they travel in inventories). */
export const labelsSchema = z
  .record(z.string().max(317), z.string().max(63))
  .refine(l => Object.keys(l).length <= 64, {
    message: 'at most 64 labels',
  });

/**
 * The container name a whisperer gets in a pod: deterministic from the attachment so a
 * replayed attach, a resync or an agent restart find it instead of adding a second one.
 * A restarted whisperer gets a generation suffix (ephemeral containers cannot be reused).
 */
export function whispererContainerName(
  attachmentId: string,
  generation = 0,
): string {
  const id = attachmentId
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase()
    .slice(0, 32);
  return generation > 0 ? `spider-${id}-${generation}` : `spider-${id}`;
}

/** Parses a container name made by {@link whispererContainerName}. */
export function parseWhispererContainerName(
  name: string,
): { attachmentKey: string; generation: number } | undefined {
  const m = /^spider-([a-z0-9]{1,32})(?:-(\d+))?$/.exec(name);
  if (!m) return undefined;
  return { attachmentKey: m[1], generation: m[2] ? Number(m[2]) : 0 };
}
