import { parseDuration } from '@spider/backstage-plugin-spider-common';

/**
 * When an attachment made now ends: creation + the whisperer's timeToLive, capped by the
 * portal's maximum (which also applies to whisperers without a timeToLive). Null: never.
 */
export function computeExpiresAt(
  createdAt: number,
  timeToLive: string | null,
  maxTimeToLiveMs: number | undefined,
): number | null {
  const ttl = timeToLive ? parseDuration(timeToLive) : undefined;
  const effective =
    ttl !== undefined && maxTimeToLiveMs !== undefined
      ? Math.min(ttl, maxTimeToLiveMs)
      : ttl ?? maxTimeToLiveMs;
  return effective === undefined ? null : createdAt + effective;
}
