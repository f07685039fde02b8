import { RetentionLimits } from '../store/TrafficStore';

/** What the store holds, per attachment, when retention looks at it. */
export interface RetentionSummary {
  attachments: Array<{
    attachmentId: string;
    rows: number;
    bytes: number;
    bodyBytes: number;
  }>;
}

export interface RetentionPlan {
  /** Exchanges that started before this (epoch ms) are deleted. */
  cutoffMs: number;
  /** Attachments over the row limit: their oldest `remove` rows go, `keep` stay. */
  trims: Array<{ attachmentId: string; keep: number; remove: number }>;
  /** Bytes of bodies to null out, oldest rows first, to get under the size limit. */
  dropBodyBytes: number;
  /** Bytes of whole rows to delete, oldest first, when dropping bodies is not enough. */
  deleteRowBytes: number;
}

/**
 * Decides what retention removes: rows past the age limit, the oldest rows of each
 * attachment over its row limit, then — when the total is still over the size limit —
 * bodies before metadata. `summary` is taken after the age deletion; the bytes the row
 * trims free are estimated from each attachment's average row, and the next run corrects
 * any error.
 */
export function planRetention(
  limits: RetentionLimits,
  now: Date,
  summary: RetentionSummary,
): RetentionPlan {
  const trims: RetentionPlan['trims'] = [];
  let bytes = 0;
  let bodyBytes = 0;
  for (const a of summary.attachments) {
    let keptBytes = a.bytes;
    let keptBodyBytes = a.bodyBytes;
    if (a.rows > limits.maxRowsPerAttachment) {
      const remove = a.rows - limits.maxRowsPerAttachment;
      trims.push({
        attachmentId: a.attachmentId,
        keep: limits.maxRowsPerAttachment,
        remove,
      });
      const keptShare = limits.maxRowsPerAttachment / a.rows;
      keptBytes = a.bytes * keptShare;
      keptBodyBytes = a.bodyBytes * keptShare;
    }
    bytes += keptBytes;
    bodyBytes += keptBodyBytes;
  }
  const over = Math.max(0, Math.ceil(bytes - limits.maxTotalBytes));
  const dropBodyBytes = Math.min(over, Math.floor(bodyBytes));
  return {
    cutoffMs: now.getTime() - limits.maxAgeMs,
    trims,
    dropBodyBytes,
    deleteRowBytes: over - dropBodyBytes,
  };
}
