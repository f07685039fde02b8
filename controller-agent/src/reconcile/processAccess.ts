import type { DesiredAttachment } from '@spider/backstage-plugin-spider-common';

/** The Whisperer env entry by which a Whisperer asks to see the target container's processes. */
export const PROCESS_ACCESS_ENV = 'SPIDER_PROCESS_ACCESS';

export interface ProcessAccess {
  /** Whether the injected container gets `targetContainerName` (the target's process namespace). */
  granted: boolean;
  /** Shown on the instances when the Whisperer asked and the admin did not allow it. */
  note: string | null;
}

/**
 * Process access takes two yeses: the Whisperer asks (`SPIDER_PROCESS_ACCESS=true`) and the
 * cluster admin allows it (chart value `whisperers.allowProcessAccess`). Without both the
 * whisperer shares only the pod's network, which is all capture needs.
 */
export function processAccessOf(
  attachment: DesiredAttachment,
  allowed: boolean,
): ProcessAccess {
  const asked =
    (attachment.whisperer.env[PROCESS_ACCESS_ENV] ?? '')
      .trim()
      .toLowerCase() === 'true';
  if (!asked) return { granted: false, note: null };
  if (allowed) return { granted: true, note: null };
  return {
    granted: false,
    note: `The Whisperer asks for process access (${PROCESS_ACCESS_ENV}=true), but this agent does not allow it (chart value whisperers.allowProcessAccess); the whisperer sees only the pod's network.`,
  };
}
