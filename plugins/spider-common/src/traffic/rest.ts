import { z } from 'zod';
import { entityRefSchema, idSchema } from '../rest/schemas';
import { WorkloadRef } from '../model/kubernetes';
import {
  CaptureStats,
  CapturedExchange,
  EXCHANGE_DIRECTIONS,
  RelayStats,
} from './exchange';

/** Caps of the traffic REST API. */
export const TRAFFIC_REST_LIMITS = {
  defaultPageSize: 100,
  maxPageSize: 500,
  /** HAR export: exchanges at most in one file. */
  maxHarEntries: 100_000,
} as const;

/** `status=` accepts a code (`404`), a class (`5xx`) or `error` (no response, or ≥ 400). */
export const statusFilterSchema = z
  .string()
  .regex(/^([1-5][0-9][0-9]|[1-5]xx|error)$/, {
    message: 'must be a status code such as 404, a class such as 5xx, or error',
  });

const isoTimeQuery = z
  .string()
  .max(40)
  .refine(v => !Number.isNaN(Date.parse(v)), {
    message: 'must be an ISO time such as 2026-12-01T10:00:00Z',
  });

/**
 * `instance=` selects the exchanges one whisperer instance saw: `<pod>` (every instance in
 * that pod) or `<pod>/<container>`.
 */
export const instanceFilterSchema = z
  .string()
  .max(320)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(\/spider-[a-z0-9-]+)?$/, {
    message: 'must be a pod name, or <pod>/<whisperer container>',
  });

const trafficFilterFields = {
  instance: instanceFilterSchema.optional(),
  method: z
    .string()
    .max(32)
    .regex(/^[A-Za-z]+$/, { message: 'must be an HTTP method such as GET' })
    .optional(),
  status: statusFilterSchema.optional(),
  /** Searches path, authority and peer names (case-insensitive substring). */
  q: z.string().max(200).optional(),
  /** Peer IP or name (exact). */
  peer: z.string().max(253).optional(),
  direction: z.enum(EXCHANGE_DIRECTIONS).optional(),
  since: isoTimeQuery.optional(),
  until: isoTimeQuery.optional(),
};

export const trafficQuerySchema = z.strictObject({
  ...trafficFilterFields,
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(TRAFFIC_REST_LIMITS.maxPageSize)
    .optional(),
  cursor: z.string().max(200).optional(),
  /**
   * The live tail: only exchanges stored after this exchange id (ids grow as exchanges are
   * stored), oldest stored first; a full page means more follow (ask again with the last
   * item's id). Not with `cursor`.
   */
  after: z
    .string()
    .regex(/^[0-9]{1,18}$/, {
      message: 'must be an exchange id as returned by the API',
    })
    .optional(),
});
export type TrafficQuery = z.infer<typeof trafficQuerySchema>;

export const entityTrafficQuerySchema = trafficQuerySchema.extend({
  entityRef: entityRefSchema,
});
export type EntityTrafficQuery = z.infer<typeof entityTrafficQuerySchema>;

export const harQuerySchema = z.strictObject({
  ...trafficFilterFields,
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(TRAFFIC_REST_LIMITS.maxHarEntries)
    .optional(),
});
export type HarQuery = z.infer<typeof harQuerySchema>;

export const trafficMapQuerySchema = z.strictObject({
  since: isoTimeQuery.optional(),
  until: isoTimeQuery.optional(),
  instance: instanceFilterSchema.optional(),
});
export type TrafficMapQuery = z.infer<typeof trafficMapQuerySchema>;

export const exchangeIdParamSchema = z.strictObject({
  exchangeId: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9._:-]+$/, {
      message: 'must be an exchange id as returned by the API',
    }),
});
export { idSchema };

/**
 * A stored exchange as the REST API answers it: the captured shape, with `id` the
 * Controls service's id and `controllerId` added. In lists, `request.body` and
 * `response.body` are null (their `bodySize` stays); `GET /traffic/:id` has them.
 */
export interface StoredExchange extends CapturedExchange {
  controllerId: string;
  /** When the Controls service stored it. */
  storedAt: string;
  /** Link target of the attachment: its workload. */
  target: WorkloadRef;
}

/** How complete a capture is, per instance and in total. */
export interface TrafficCoverageInstance {
  pod: string;
  container: string;
  stats: CaptureStats | null;
  relay: RelayStats | null;
  updatedAt: string | null;
}
export interface TrafficCoverage {
  instances: TrafficCoverageInstance[];
  totals: {
    packets: number;
    kernelDrops: number;
    exchanges: number;
    sampled: number;
    dropped: number;
    parseErrors: number;
    /** Exchanges the agent's relay dropped. */
    relayDropped: number;
    /** Exchanges retention removed from this attachment. */
    expired: number;
  };
  /** True when nothing was sampled or lost anywhere. */
  complete: boolean;
}

export interface TrafficListResponse {
  items: StoredExchange[];
  nextCursor?: string;
  coverage: TrafficCoverage;
}

/** One peer on the map of an attachment's workload. */
export interface TrafficMapPeer {
  /** Stable key: the peer's IP, or the workload `namespace/kind/name` when resolved. */
  key: string;
  /** callers (they call the workload: inbound) or callees (the workload calls them: outbound). */
  role: 'caller' | 'callee';
  ips: string[];
  /** PTR name, pod name, or IP when nothing better is known. */
  name: string;
  pod: { namespace: string; name: string } | null;
  workload: WorkloadRef | null;
  /** The catalog entity whose kubernetes annotations match the workload. */
  entityRef: string | null;
  calls: number;
  errors: number;
  p50Ms: number | null;
  p99Ms: number | null;
  bytes: number;
  /** Calls per minute over the window. */
  callsPerMinute: number;
  /** Non-HTTP TCP bytes (flows) with this peer. */
  flowBytes: number;
}

export interface TrafficMapResponse {
  workload: WorkloadRef;
  entityRef: string | null;
  since: string;
  until: string;
  peers: TrafficMapPeer[];
}

/** Signal channel for an attachment's traffic. Only counts travel, never traffic. */
export function trafficSignalChannel(attachmentId: string): string {
  return `spider:traffic:${attachmentId}`;
}
export interface TrafficSignalPayload {
  type: 'traffic';
  attachmentId: string;
  /** Exchanges stored since the last signal. */
  added: number;
  /** Newest stored exchange's startedAt. */
  latest: string | null;
}
