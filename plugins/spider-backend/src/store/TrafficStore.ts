import {
  CaptureStats,
  CapturedExchange,
  ExchangeDirection,
  RelayStats,
  StoredExchange,
  TrafficCoverage,
  TrafficFlow,
} from '@spider/backstage-plugin-spider-common';

/** One relayed batch of one whisperer instance (a `traffic` protocol message). */
export interface TrafficBatch {
  controllerId: string;
  attachmentId: string;
  namespace: string;
  pod: string;
  container: string;
  exchanges: CapturedExchange[];
  flows: TrafficFlow[];
  stats: CaptureStats | null;
  relay: RelayStats;
  /**
   * The message's agent run and sequence: flows and stats of a message that is not newer
   * than the instance's last applied one are a replay and are not added again.
   */
  agentRun?: string;
  seq?: number;
}

/** Filters of the traffic listing, HAR export and map (already validated). */
export interface TrafficFilter {
  /** The attachments the caller may read (never empty: the caller checks access first). */
  attachmentIds: string[];
  /** `pod` or `pod/container`. */
  instance?: string;
  method?: string;
  /** `404`, `5xx` or `error`. */
  status?: string;
  q?: string;
  peer?: string;
  direction?: ExchangeDirection;
  since?: Date;
  until?: Date;
}

/** A page of the traffic listing: `cursor` pages back in time, `after` tails forward. */
export interface TrafficPage {
  limit: number;
  cursor?: string;
  after?: string;
}

/** Per-peer aggregate of one attachment's exchanges, for the map. */
export interface TrafficPeerAggregate {
  role: 'caller' | 'callee';
  /** The other end's IP and PTR name (null when unresolved). */
  peerIp: string;
  peerName: string | null;
  calls: number;
  errors: number;
  p50Ms: number | null;
  p99Ms: number | null;
  bytes: number;
  flowBytes: number;
}

export interface RetentionLimits {
  /** Exchanges older than this are deleted. */
  maxAgeMs: number;
  /** Newest rows kept per attachment. */
  maxRowsPerAttachment: number;
  /** Total stored bytes; bodies go first, then the oldest rows. */
  maxTotalBytes: number;
}

export interface RetentionResult {
  deletedByAge: number;
  deletedByRows: number;
  deletedBySize: number;
  bodiesDropped: number;
}

/**
 * Captured traffic, indexed by attachment and time. Every write is idempotent: the key of
 * an exchange is (attachmentId, pod, container, whisperer id), so a replayed batch stores
 * nothing twice.
 */
export interface TrafficStore {
  /** Stores a batch; returns how many exchanges were new. */
  insertBatch(
    batch: TrafficBatch,
  ): Promise<{ inserted: number; latest: string | null }>;
  /**
   * Newest first, stable under concurrent inserts; items without bodies. With `after` (an
   * exchange id; the live tail): only exchanges stored after it, in the order they were
   * stored, at most `limit` and no cursor (the next call passes the last item's id).
   */
  list(
    filter: TrafficFilter,
    page: TrafficPage,
  ): Promise<{ items: StoredExchange[]; nextCursor?: string }>;
  /** One exchange with headers and bodies. */
  get(exchangeId: string): Promise<StoredExchange | undefined>;
  /** Exchanges with bodies, newest first, read in pages (for streaming HAR). */
  stream(filter: TrafficFilter, limit: number): AsyncIterable<StoredExchange>;
  coverage(attachmentIds: string[]): Promise<TrafficCoverage>;
  peers(filter: TrafficFilter): Promise<TrafficPeerAggregate[]>;
  deleteForAttachments(attachmentIds: string[]): Promise<number>;
  applyRetention(limits: RetentionLimits, now: Date): Promise<RetentionResult>;
}
