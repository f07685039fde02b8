import type { DesiredAttachment } from '@spider/backstage-plugin-spider-common';

/** Milliseconds since epoch of an attachment's expiry, or null when it has none (or it is unreadable). */
export function expiryTime(
  attachment: Pick<DesiredAttachment, 'expiresAt'>,
): number | null {
  if (!attachment.expiresAt) return null;
  const t = Date.parse(attachment.expiresAt);
  return Number.isNaN(t) ? null : t;
}

/** True once `now` reached the attachment's expiry. Enforced by the agent itself, backend or not. */
export function isExpired(
  attachment: Pick<DesiredAttachment, 'expiresAt'>,
  now: number,
): boolean {
  const t = expiryTime(attachment);
  return t !== null && t <= now;
}

/** The earliest expiry still ahead of `now` among live attachments, to arm one timer for it. */
export function nextExpiry(
  attachments: Iterable<Pick<DesiredAttachment, 'expiresAt'>>,
  now: number,
): number | null {
  let next: number | null = null;
  for (const a of attachments) {
    const t = expiryTime(a);
    if (t !== null && t > now && (next === null || t < next)) next = t;
  }
  return next;
}
