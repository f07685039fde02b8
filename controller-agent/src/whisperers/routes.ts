import { parseWhispererContainerName } from '@spider/backstage-plugin-spider-common';

/**
 * The whisperer endpoint's routes (docs/whisperer-contract.md), parsed without I/O.
 *
 *   GET  /v1/whisperers/{container}            its configuration
 *   GET  /v1/whisperers/{container}/stop?wait= long-poll: answers when it must stop, or after `wait` s
 *   POST /v1/whisperers/{container}/state      reports its state
 *   POST /v1/whisperers/{container}/traffic    hands over captured traffic
 */
export type Route =
  | { kind: 'config'; container: string }
  | { kind: 'stop'; container: string; waitSeconds: number }
  | { kind: 'state'; container: string }
  | { kind: 'traffic'; container: string };

export type RouteResult =
  | { ok: true; route: Route }
  | { ok: false; status: 400 | 404 | 405; message: string };

export const MAX_WAIT_SECONDS = 60;
export const DEFAULT_WAIT_SECONDS = 30;
const MAX_URL_LENGTH = 512;

export function parseRoute(
  method: string | undefined,
  url: string | undefined,
): RouteResult {
  if (!url || url.length > MAX_URL_LENGTH)
    return { ok: false, status: 404, message: 'not found' };
  let parsed: URL;
  try {
    parsed = new URL(url, 'http://endpoint.invalid');
  } catch {
    return { ok: false, status: 400, message: 'bad URL' };
  }
  const m = /^\/v1\/whisperers\/([^/]+)(\/stop|\/state|\/traffic)?$/.exec(
    parsed.pathname,
  );
  if (!m) return { ok: false, status: 404, message: 'not found' };
  const container = m[1];
  if (!parseWhispererContainerName(container)) {
    return {
      ok: false,
      status: 400,
      message: 'not a whisperer container name',
    };
  }
  const action = m[2];
  const expect = action === '/state' || action === '/traffic' ? 'POST' : 'GET';
  if (method !== expect)
    return { ok: false, status: 405, message: `use ${expect}` };
  if (!action) return { ok: true, route: { kind: 'config', container } };
  if (action === '/state')
    return { ok: true, route: { kind: 'state', container } };
  if (action === '/traffic')
    return { ok: true, route: { kind: 'traffic', container } };
  const raw = parsed.searchParams.get('wait');
  let waitSeconds = DEFAULT_WAIT_SECONDS;
  if (raw !== null) {
    if (!/^\d{1,5}$/.test(raw))
      return { ok: false, status: 400, message: 'wait must be whole seconds' };
    waitSeconds = Math.min(Number(raw), MAX_WAIT_SECONDS);
  }
  return { ok: true, route: { kind: 'stop', container, waitSeconds } };
}
