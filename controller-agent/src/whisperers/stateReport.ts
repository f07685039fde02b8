/** Body of `POST /v1/whisperers/{container}/state` (docs/whisperer-contract.md). */
export interface StateReportBody {
  state: 'running' | 'stopping' | 'terminated' | 'failed';
  message: string | null;
  exitCode: number | null;
}

export const MAX_STATE_BODY_BYTES = 4096;
const STATES = ['running', 'stopping', 'terminated', 'failed'] as const;
const FIELDS = new Set(['state', 'message', 'exitCode']);

/** Validates a parsed JSON body; unknown fields are refused so typos do not pass silently. */
export function parseStateReport(
  body: unknown,
): { ok: true; report: StateReportBody } | { ok: false; message: string } {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, message: 'body must be a JSON object' };
  }
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).filter(k => !FIELDS.has(k));
  if (unknown.length) return { ok: false, message: `unknown fields: ${unknown.join(', ').slice(0, 200)}` };
  if (!STATES.includes(b.state as any)) {
    return { ok: false, message: `state must be one of ${STATES.join(', ')}` };
  }
  const message = b.message ?? null;
  if (message !== null && (typeof message !== 'string' || message.length > 1024)) {
    return { ok: false, message: 'message must be a string of at most 1024 characters' };
  }
  const exitCode = b.exitCode ?? null;
  if (
    exitCode !== null &&
    (typeof exitCode !== 'number' || !Number.isInteger(exitCode) || Math.abs(exitCode) > 2_147_483_647)
  ) {
    return { ok: false, message: 'exitCode must be a whole number' };
  }
  return {
    ok: true,
    report: { state: b.state as StateReportBody['state'], message, exitCode },
  };
}
