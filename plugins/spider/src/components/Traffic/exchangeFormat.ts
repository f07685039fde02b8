import type {
  StoredExchange,
  TrafficEndpoint,
  TrafficMapPeer,
} from '@spider/backstage-plugin-spider-common';

/** Peers of the map by IP: how the list names an IP after a pod, workload or entity. */
export type PeerDirectory = Map<string, TrafficMapPeer>;

export function peerDirectory(peers: TrafficMapPeer[]): PeerDirectory {
  const out: PeerDirectory = new Map();
  for (const p of peers) for (const ip of p.ips) out.set(ip, p);
  return out;
}

/** The other end of the exchange: the client of an inbound call, the server of an outbound one. */
export function peerEndpoint(e: StoredExchange): TrafficEndpoint {
  return e.direction === 'inbound' ? e.client : e.server;
}

export interface PeerLabel {
  /** What to show: the entity, workload, pod, PTR name, or IP. */
  text: string;
  /** What the peer filter matches (IP or name). */
  filterValue: string;
  entityRef: string | null;
  detail: string;
}

/** The best name of an exchange's peer. */
export function peerLabel(
  e: StoredExchange,
  directory?: PeerDirectory,
): PeerLabel {
  const end = peerEndpoint(e);
  const known = directory?.get(end.ip);
  const addr = `${end.ip}:${end.port}`;
  if (known?.entityRef)
    return {
      text: known.entityRef.replace(/^component:(default\/)?/, ''),
      filterValue: end.ip,
      entityRef: known.entityRef,
      detail: addr,
    };
  if (known?.workload)
    return {
      text: `${known.workload.namespace}/${known.workload.name}`,
      filterValue: end.ip,
      entityRef: null,
      detail: addr,
    };
  if (known?.pod)
    return {
      text: known.pod.name,
      filterValue: end.ip,
      entityRef: null,
      detail: addr,
    };
  return {
    text: end.name ?? end.ip,
    filterValue: end.name ?? end.ip,
    entityRef: null,
    detail: addr,
  };
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Local wall-clock time with milliseconds: exchanges are close together. */
export function formatClock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(
    d.getSeconds(),
  )}.${pad(d.getMilliseconds(), 3)}`;
}

/** What the status cell says: the code, or why there is none. */
export function statusText(e: StoredExchange): string {
  if (e.response) return String(e.response.status);
  return e.error ?? 'no response';
}

export function isErrorExchange(e: StoredExchange): boolean {
  return !e.response || e.response.status >= 400 || !!e.error;
}

/** Request and response body bytes on the wire. */
export function exchangeSize(e: StoredExchange): number {
  return e.request.bodySize + (e.response?.bodySize ?? 0);
}
