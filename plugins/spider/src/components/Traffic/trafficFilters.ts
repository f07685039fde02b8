import {
  EXCHANGE_DIRECTIONS,
  ExchangeDirection,
  instanceFilterSchema,
  statusFilterSchema,
} from '@spider/backstage-plugin-spider-common';
import type { TrafficFilterQuery } from '../../api/SpiderApi';

/** Relative time ranges the view offers; `custom` uses `since`/`until`. */
export const TIME_RANGES = {
  '5m': { label: 'Last 5 minutes', ms: 5 * 60_000 },
  '15m': { label: 'Last 15 minutes', ms: 15 * 60_000 },
  '1h': { label: 'Last hour', ms: 3600_000 },
  '24h': { label: 'Last 24 hours', ms: 86_400_000 },
  '7d': { label: 'Last 7 days', ms: 7 * 86_400_000 },
} as const;
export type TimeRange = keyof typeof TIME_RANGES | 'custom';

export const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx'] as const;

export const HTTP_METHODS = [
  'GET',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'HEAD',
  'OPTIONS',
] as const;

/** What the traffic view filters on, as it lives in the URL (shareable links). */
export interface TrafficFilters {
  /** `<pod>` or `<pod>/<container>`. */
  instance?: string;
  method?: string;
  /** A code (`404`) or a class (`5xx`). */
  status?: string;
  /** Text in the path, authority or peer names. */
  q?: string;
  /** Peer IP or name (exact). */
  peer?: string;
  direction?: ExchangeDirection;
  range?: TimeRange;
  /** With `range=custom`: ISO times. */
  since?: string;
  until?: string;
  /** No response, an error, or a status of 400 or more. */
  errors?: boolean;
}

/** The URL parameters the filters own; others (`exchange`, `view`) are left alone. */
export const FILTER_PARAMS = [
  'instance',
  'method',
  'status',
  'q',
  'peer',
  'direction',
  'range',
  'since',
  'until',
  'errors',
] as const;

const validTime = (v: string | null) =>
  v && v.length <= 40 && !Number.isNaN(Date.parse(v)) ? v : undefined;

/**
 * Reads the filters from a URL's query. A value that is not valid (a hand-edited or old
 * link) is dropped rather than sent to the API, which would refuse the whole request.
 */
export function filtersFromSearch(search: URLSearchParams): TrafficFilters {
  const f: TrafficFilters = {};
  const instance = search.get('instance');
  if (instance && instanceFilterSchema.safeParse(instance).success)
    f.instance = instance;
  const method = search.get('method');
  if (method && /^[A-Za-z]{1,32}$/.test(method))
    f.method = method.toUpperCase();
  const status = search.get('status');
  if (
    status &&
    status !== 'error' &&
    statusFilterSchema.safeParse(status).success
  )
    f.status = status;
  const q = search.get('q');
  if (q) f.q = q.slice(0, 200);
  const peer = search.get('peer');
  if (peer) f.peer = peer.slice(0, 253);
  const direction = search.get('direction');
  if (
    direction &&
    (EXCHANGE_DIRECTIONS as readonly string[]).includes(direction)
  )
    f.direction = direction as ExchangeDirection;
  const range = search.get('range');
  if (range && (range === 'custom' || range in TIME_RANGES))
    f.range = range as TimeRange;
  if (f.range === 'custom') {
    const since = validTime(search.get('since'));
    const until = validTime(search.get('until'));
    if (since) f.since = since;
    if (until) f.until = until;
  }
  if (search.get('errors') === '1' || search.get('status') === 'error')
    f.errors = true;
  return f;
}

/** Writes the filters into a copy of `base`, keeping the parameters they do not own. */
export function filtersToSearch(
  filters: TrafficFilters,
  base: URLSearchParams = new URLSearchParams(),
): URLSearchParams {
  const out = new URLSearchParams(base);
  FILTER_PARAMS.forEach(p => out.delete(p));
  const set = (k: string, v: string | undefined) => {
    if (v) out.set(k, v);
  };
  set('instance', filters.instance);
  set('method', filters.method);
  set('status', filters.status);
  set('q', filters.q);
  set('peer', filters.peer);
  set('direction', filters.direction);
  set('range', filters.range);
  if (filters.range === 'custom') {
    set('since', filters.since);
    set('until', filters.until);
  }
  if (filters.errors) out.set('errors', '1');
  return out;
}

/** True when any filter narrows the traffic. */
export function isFiltered(filters: TrafficFilters): boolean {
  return FILTER_PARAMS.some(p => {
    const v = filters[p as keyof TrafficFilters];
    return v !== undefined && v !== '' && v !== false;
  });
}

/** The API query of the filters at `now` (relative ranges become `since`). */
export function filtersToQuery(
  filters: TrafficFilters,
  now: number,
): TrafficFilterQuery {
  const q: TrafficFilterQuery = {};
  if (filters.instance) q.instance = filters.instance;
  if (filters.method) q.method = filters.method;
  if (filters.status) q.status = filters.status;
  // "Errors only" narrows a status of 4xx/5xx no further; with 1xx-3xx it wins.
  if (filters.errors && !(filters.status && /^[45]/.test(filters.status)))
    q.status = 'error';
  if (filters.q) q.q = filters.q;
  if (filters.peer) q.peer = filters.peer;
  if (filters.direction) q.direction = filters.direction;
  if (filters.range && filters.range !== 'custom')
    q.since = new Date(now - TIME_RANGES[filters.range].ms).toISOString();
  if (filters.range === 'custom') {
    if (filters.since) q.since = new Date(filters.since).toISOString();
    if (filters.until) q.until = new Date(filters.until).toISOString();
  }
  return q;
}

/** A stable key of the filters, to reload when they change. */
export function filtersKey(filters: TrafficFilters): string {
  return filtersToSearch(filters).toString();
}

/** `5xx` → `5xx`, `404` → `4xx`, no response → `none`. */
export function statusClass(status: number | undefined | null): string {
  if (!status) return 'none';
  return `${String(status)[0]}xx`;
}
