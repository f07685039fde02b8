import { z } from 'zod';
import {
  imageSchema,
  labelsSchema,
  namespaceNameSchema,
  objectNameSchema,
  workloadKindSchema,
  workloadRefSchema,
} from '../model/kubernetes';
import { whispererInstanceSchema } from '../model/resources';
import {
  TRAFFIC_LIMITS,
  captureStatsSchema,
  relayStatsSchema,
  trafficFlowSchema,
} from '../traffic/exchange';
import { fastExchangesSchema } from '../traffic/exchangeValidator';

/**
 * Agent protocol v1: one WebSocket per agent at `/api/spider/agent/v1`, JSON text
 * messages with a `type`, validated on both ends.
 */
export const AGENT_PROTOCOL_VERSION = 1;
export const AGENT_WEBSOCKET_PATH = '/agent/v1';

export const AGENT_PROTOCOL_LIMITS = {
  /** Largest message either side accepts (an inventory snapshot is chunked below this). */
  maxMessageBytes: 4 * 1024 * 1024,
  /** Workloads per inventory message; larger snapshots are sent in several chunks. */
  inventoryChunk: 2000,
  /** The backend pings every this often and drops a socket that misses two pongs. */
  pingIntervalMs: 5_000,
  /** An agent must say hello within this after the upgrade. */
  helloTimeoutMs: 10_000,
  /** Largest `traffic` message; the agent chunks a whisperer's batch below it. */
  maxTrafficMessageBytes: TRAFFIC_LIMITS.maxMessageBytes,
  /**
   * A chunked desired set (feature `chunkedWelcome`) is cut into frames of at most this
   * many bytes: a quarter of the frame cap, so the largest possible attachment always
   * fits one (desiredAttachmentMaxBytes), and the agent, whose DNS proxy shares its event
   * loop, parses about 1 MiB at a time rather than 4.
   */
  desiredChunkBytes: 1024 * 1024,
  /** Attachments in one welcome or desiredChunk frame (bytes are the tighter cap). */
  desiredChunkAttachments: 10_000,
  /** Attachments in one chunked desired set in all; the agent refuses a longer one. */
  maxDesiredAttachments: 100_000,
  /** Environment entries of a desired attachment (the REST API allows 32). */
  desiredEnvEntries: 64,
} as const;

/**
 * Optional capabilities. The agent lists what it can do in `hello.features`, the backend
 * in `welcome.features`; a side uses a feature only when the other announced it, so old
 * and new peers keep working.
 * - `traffic`: the agent sends `traffic` messages; a backend announcing it stores them.
 * - `chunkedWelcome`: the agent assembles a desired set sent as a `welcome` with
 *   `more: true` followed by `desiredChunk` messages (the last with `last: true`), and
 *   applies it only once complete. A backend sends an agent that did not announce it the
 *   whole set in one `welcome`, or, when that would exceed the frame cap, closes with
 *   1009 `messageTooBig` and a reason saying to upgrade the agent.
 */
export const AGENT_FEATURES = ['traffic', 'chunkedWelcome'] as const;
export type AgentFeature = (typeof AGENT_FEATURES)[number];
const featuresSchema = z.array(z.string().max(32)).max(32).optional();

/** WebSocket close codes used by the backend, with the reason sent along. */
export const AGENT_CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  invalidMessage: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
  /**
   * A `traffic` message could not be stored (the database failed): nothing after it was
   * handled either. The agent reconnects and its relay sends the messages of its replay
   * window again; exchanges are stored once by id, so the replay is safe.
   */
  trafficNotStored: 1013,
  /** Another connection of the same Controller took over. */
  replaced: 4000,
  /** The token was rotated or the Controller deleted. */
  revoked: 4001,
  /** Protocol version not supported. */
  unsupportedProtocol: 4002,
  helloTimeout: 4003,
} as const;

const isoTime = z.string().max(40);
const requestId = z.string().min(1).max(64);

export const namespaceScopeSchema = z.strictObject({
  include: z.union([z.literal('*'), z.array(namespaceNameSchema).max(10_000)]),
  exclude: z.array(namespaceNameSchema).max(10_000),
});

export const desiredAttachmentSchema = z.strictObject({
  id: z.string().min(1).max(64),
  target: workloadRefSchema,
  whisperer: z.strictObject({
    id: z.string().min(1).max(64),
    name: z.string().max(200),
    image: imageSchema.nullable(),
    captureFilter: z.string().max(1024),
    // Entries capped so that one attachment always fits a desired-set chunk.
    env: z
      .record(z.string().max(64), z.string().max(1024))
      .refine(
        e => Object.keys(e).length <= AGENT_PROTOCOL_LIMITS.desiredEnvEntries,
        {
          message: `at most ${AGENT_PROTOCOL_LIMITS.desiredEnvEntries} environment entries`,
        },
      ),
  }),
  expiresAt: isoTime.nullable(),
});
export type DesiredAttachment = z.infer<typeof desiredAttachmentSchema>;

export const inventoryWorkloadSchema = z.strictObject({
  namespace: namespaceNameSchema,
  kind: workloadKindSchema,
  name: objectNameSchema,
  labels: labelsSchema,
  replicas: z.number().int().min(0).nullable(),
  pods: z.number().int().min(0),
});

// ---- agent → backend -------------------------------------------------------

export const helloMessageSchema = z.strictObject({
  type: z.literal('hello'),
  protocol: z.number().int().min(1),
  agentVersion: z.string().min(1).max(64),
  clusterVersion: z.string().max(64).nullable(),
  scope: namespaceScopeSchema,
  features: featuresSchema,
  /**
   * The image patterns this agent injects (chart value whisperers.allowedImages, its
   * default whisperer image included), so the portal can warn before an attach the
   * agent would refuse. Absent from agents older than the allow-list.
   */
  allowedImages: z.array(z.string().max(512)).max(256).optional(),
});

export const inventoryMessageSchema = z.strictObject({
  type: z.literal('inventory'),
  /** `snapshot` chunks replace everything (first chunk has `first`, last has `last`). */
  mode: z.enum(['snapshot', 'delta']),
  first: z.boolean().optional(),
  last: z.boolean().optional(),
  upserts: z
    .array(inventoryWorkloadSchema)
    .max(AGENT_PROTOCOL_LIMITS.inventoryChunk),
  removed: z
    .array(
      z.strictObject({
        namespace: z.string(),
        kind: workloadKindSchema,
        name: z.string(),
      }),
    )
    .max(AGENT_PROTOCOL_LIMITS.inventoryChunk),
});

export const instancesMessageSchema = z.strictObject({
  type: z.literal('instances'),
  attachments: z
    .array(
      z.strictObject({
        attachmentId: z.string().min(1).max(64),
        /** The agent's view of the attachment as a whole. */
        phase: z.enum(['active', 'failed', 'stopped', 'expired']),
        message: z.string().max(2048).nullable(),
        instances: z.array(whispererInstanceSchema).max(5000),
      }),
    )
    .max(5000),
});

export const statusMessageSchema = z.strictObject({
  type: z.literal('status'),
  status: z.strictObject({
    agentVersion: z.string().max(64),
    protocolVersion: z.number().int(),
    clusterVersion: z.string().max(64).nullable(),
    scope: namespaceScopeSchema,
    cpuCores: z.number().min(0),
    rssBytes: z.number().int().min(0),
    heapUsedBytes: z.number().int().min(0),
    watched: z.record(z.string().max(32), z.number().int().min(0)),
    /** As in hello: the image patterns this agent injects. */
    allowedImages: z.array(z.string().max(512)).max(256).optional(),
    attachments: z
      .array(
        z.strictObject({
          id: z.string().max(64),
          instances: z.array(whispererInstanceSchema).max(5000),
        }),
      )
      .max(5000),
    reportedAt: isoTime,
    startedAt: isoTime,
  }),
});

export const replyMessageSchema = z.strictObject({
  type: z.literal('reply'),
  id: requestId,
  ok: z.boolean(),
  result: z.unknown().optional(),
  error: z
    .strictObject({ code: z.string().max(64), message: z.string().max(2048) })
    .optional(),
});

/**
 * Captured traffic of one whisperer instance, relayed as the whisperer sent it (chunked
 * under maxTrafficMessageBytes, in order per instance). `seq` increases by one per new
 * message of an instance within one agent process (`agentRun`), so the backend sees gaps;
 * a replay after a reconnect keeps its seq and carries the same exchange ids, and is
 * stored once.
 */
export const trafficMessageSchema = z.strictObject({
  type: z.literal('traffic'),
  agentRun: z.string().min(1).max(64),
  seq: z.number().int().min(0),
  attachmentId: z.string().min(1).max(64),
  namespace: namespaceNameSchema,
  pod: objectNameSchema,
  container: z.string().min(1).max(63),
  /**
   * `z.array(capturedExchangeSchema).max(maxExchangesPerBatch)`, checked by the
   * hand-written validator that agrees with it (exchangeValidator.test.ts): the hot path.
   */
  exchanges: fastExchangesSchema(TRAFFIC_LIMITS.maxExchangesPerBatch),
  flows: z.array(trafficFlowSchema).max(TRAFFIC_LIMITS.maxFlowsPerBatch),
  /** The whisperer's cumulative counters, when this chunk carries them. */
  stats: captureStatsSchema.nullable(),
  /** What the agent lost of this instance's traffic (cumulative). */
  relay: relayStatsSchema,
});
export type TrafficMessage = z.infer<typeof trafficMessageSchema>;

export const agentMessageSchema = z.discriminatedUnion('type', [
  helloMessageSchema,
  inventoryMessageSchema,
  instancesMessageSchema,
  statusMessageSchema,
  replyMessageSchema,
  trafficMessageSchema,
]);
export type AgentMessage = z.infer<typeof agentMessageSchema>;
export type HelloMessage = z.infer<typeof helloMessageSchema>;
export type InventoryMessage = z.infer<typeof inventoryMessageSchema>;
export type InstancesMessage = z.infer<typeof instancesMessageSchema>;
export type StatusMessage = z.infer<typeof statusMessageSchema>;
export type ReplyMessage = z.infer<typeof replyMessageSchema>;

// ---- backend → agent -------------------------------------------------------

export const welcomeMessageSchema = z.strictObject({
  type: z.literal('welcome'),
  protocol: z.number().int(),
  controllerId: z.string().max(64),
  revision: z.number().int().min(0),
  attachments: z
    .array(desiredAttachmentSchema)
    .max(AGENT_PROTOCOL_LIMITS.desiredChunkAttachments),
  features: featuresSchema,
  /**
   * `chunkedWelcome` only: `attachments` is the first part of the set; `desiredChunk`
   * messages of the same revision follow right after, the last with `last: true`. The
   * agent changes nothing until the set is complete.
   */
  more: z.literal(true).optional(),
  /** With `more`: how many attachments the complete set holds. */
  total: z
    .number()
    .int()
    .min(0)
    .max(AGENT_PROTOCOL_LIMITS.maxDesiredAttachments)
    .optional(),
});

/** The next part of a chunked desired set (see `welcome.more`). */
export const desiredChunkMessageSchema = z.strictObject({
  type: z.literal('desiredChunk'),
  revision: z.number().int().min(0),
  /** 1 for the first chunk after the welcome, then 2, 3, … */
  seq: z.number().int().min(1),
  attachments: z
    .array(desiredAttachmentSchema)
    .max(AGENT_PROTOCOL_LIMITS.desiredChunkAttachments),
  last: z.boolean(),
});

export const attachMessageSchema = z.strictObject({
  type: z.literal('attach'),
  revision: z.number().int().min(0),
  attachment: desiredAttachmentSchema,
});

export const detachMessageSchema = z.strictObject({
  type: z.literal('detach'),
  revision: z.number().int().min(0),
  attachmentId: z.string().min(1).max(64),
  reason: z.enum(['detached', 'expired', 'deleted']),
});

export const listWorkloadsParamsSchema = z.strictObject({
  namespaces: z.union([
    z.literal('*'),
    z.array(namespaceNameSchema).max(10_000),
  ]),
  namespace: namespaceNameSchema.optional(),
  kind: workloadKindSchema.optional(),
  q: z.string().max(253).optional(),
  limit: z.number().int().min(1).max(10_000).optional(),
});
export type ListWorkloadsParams = z.infer<typeof listWorkloadsParamsSchema>;

export const requestMessageSchema = z.strictObject({
  type: z.literal('request'),
  id: requestId,
  timeoutMs: z.number().int().min(1).max(120_000),
  method: z.literal('listWorkloads'),
  params: listWorkloadsParamsSchema,
});

export const backendMessageSchema = z.discriminatedUnion('type', [
  welcomeMessageSchema,
  desiredChunkMessageSchema,
  attachMessageSchema,
  detachMessageSchema,
  requestMessageSchema,
]);
export type BackendMessage = z.infer<typeof backendMessageSchema>;
export type WelcomeMessage = z.infer<typeof welcomeMessageSchema>;
export type DesiredChunkMessage = z.infer<typeof desiredChunkMessageSchema>;
export type AttachMessage = z.infer<typeof attachMessageSchema>;
export type DetachMessage = z.infer<typeof detachMessageSchema>;
export type RequestMessage = z.infer<typeof requestMessageSchema>;

/** Result of a `listWorkloads` request. */
export const listWorkloadsResultSchema = z.strictObject({
  items: z.array(inventoryWorkloadSchema).max(10_000),
  truncated: z.boolean(),
});
export type ListWorkloadsResult = z.infer<typeof listWorkloadsResultSchema>;

/**
 * Parses one received text frame. Returns the message, or an error text that says what
 * was wrong (for the close reason or a log line).
 */
export function parseProtocolMessage<T>(
  schema: z.ZodType<T>,
  data: string,
): { ok: true; message: T } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { ok: false, error: 'message is not JSON' };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      error: `invalid message: ${issue.path.join('.') || '(root)'}: ${
        issue.message
      }`.slice(0, 120),
    };
  }
  return { ok: true, message: parsed.data };
}
