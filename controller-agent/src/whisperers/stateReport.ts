import {
  CaptureStats,
  captureStatsSchema,
} from '@spider/backstage-plugin-spider-common';

/** Body of `POST /v1/whisperers/{container}/state` (docs/whisperer-contract.md). */
export interface StateReportBody {
  state: 'running' | 'stopping' | 'terminated' | 'failed';
  message: string | null;
  exitCode: number | null;
  /** The whisperer's cumulative capture counters (contract v1.1), null when not sent. */
  stats: CaptureStats | null;
}

/** A report without stats; with stats the body may be up to MAX_STATE_BODY_WITH_STATS_BYTES. */
export const MAX_STATE_BODY_BYTES = 4096;
export const MAX_STATE_BODY_WITH_STATS_BYTES = 8192;
const STATES = ['running', 'stopping', 'terminated', 'failed'] as const;
const FIELDS = new Set(['state', 'message', 'exitCode', 'stats']);

/**
 * Validates a parsed JSON body of `bodyBytes`; unknown fields are refused so typos do not
 * pass silently. `tooLarge` says the body exceeds what its content allows (413).
 */
export function parseStateReport(
  body: unknown,
  bodyBytes = 0,
):
  | { ok: true; report: StateReportBody }
  | { ok: false; message: string; tooLarge?: boolean } {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, message: 'body must be a JSON object' };
  }
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).filter(k => !FIELDS.has(k));
  if (unknown.length)
    return {
      ok: false,
      message: `unknown fields: ${unknown.join(', ').slice(0, 200)}`,
    };
  if (!STATES.includes(b.state as any)) {
    return { ok: false, message: `state must be one of ${STATES.join(', ')}` };
  }
  const message = b.message ?? null;
  if (
    message !== null &&
    (typeof message !== 'string' || message.length > 1024)
  ) {
    return {
      ok: false,
      message: 'message must be a string of at most 1024 characters',
    };
  }
  const exitCode = b.exitCode ?? null;
  if (
    exitCode !== null &&
    (typeof exitCode !== 'number' ||
      !Number.isInteger(exitCode) ||
      Math.abs(exitCode) > 2_147_483_647)
  ) {
    return { ok: false, message: 'exitCode must be a whole number' };
  }
  let stats: CaptureStats | null = null;
  if (b.stats !== undefined && b.stats !== null) {
    const parsed = captureStatsSchema.safeParse(b.stats);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return {
        ok: false,
        message: `stats${
          issue.path.length ? `.${issue.path.join('.')}` : ''
        }: ${issue.message}`.slice(0, 300),
      };
    }
    stats = parsed.data;
  }
  if (!stats && bodyBytes > MAX_STATE_BODY_BYTES) {
    return {
      ok: false,
      tooLarge: true,
      message: `body larger than ${MAX_STATE_BODY_BYTES} bytes (${MAX_STATE_BODY_WITH_STATS_BYTES} with stats)`,
    };
  }
  return {
    ok: true,
    report: {
      state: b.state as StateReportBody['state'],
      message,
      exitCode,
      stats,
    },
  };
}
