import { z } from 'zod';

/**
 * Captured traffic: one shape for the whisperer's JSON (live batches and `read` output),
 * the agent protocol's `traffic` messages, the TrafficStore and the REST API
 * (ARCHITECTURE.md section 5).
 */
export const TRAFFIC_LIMITS = {
  /** Largest batch a whisperer POSTs to the agent (413 beyond). */
  maxBatchBytes: 1024 * 1024,
  /** Exchanges in one batch or one `traffic` message. */
  maxExchangesPerBatch: 2000,
  /** Flows in one batch or one `traffic` message. */
  maxFlowsPerBatch: 2000,
  /** Largest `traffic` protocol message; the agent chunks below it. */
  maxMessageBytes: 1536 * 1024,
  /** Default cap on each captured body (bytes before encoding). */
  defaultBodyCapBytes: 64 * 1024,
  /** Hard cap on a body's `text` (base64 of the largest allowed cap, with room). */
  maxBodyTextChars: 1_400_000,
  maxHeaders: 200,
  maxHeaderNameChars: 256,
  maxHeaderValueChars: 16 * 1024,
  maxPathChars: 16 * 1024,
  maxAuthorityChars: 1024,
} as const;

/** What redaction puts in place of a header value. */
export const REDACTED_VALUE = '[redacted]';
/** Headers always redacted in the pod, before anything leaves it. */
export const ALWAYS_REDACTED_HEADERS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
] as const;

export const EXCHANGE_PROTOCOLS = [
  'http/1.0',
  'http/1.1',
  'h2',
  'grpc',
] as const;
export type ExchangeProtocol = (typeof EXCHANGE_PROTOCOLS)[number];
export const EXCHANGE_DIRECTIONS = ['inbound', 'outbound'] as const;
export type ExchangeDirection = (typeof EXCHANGE_DIRECTIONS)[number];
export const EXCHANGE_ERRORS = [
  'reset',
  'timeout',
  'truncated',
  'unparsed',
] as const;
export type ExchangeError = (typeof EXCHANGE_ERRORS)[number];

const isoTime = z.string().max(40);
const ip = z.string().min(2).max(45);
const port = z.number().int().min(0).max(65535);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const bytes = count;

export const headersSchema = z
  .array(
    z.tuple([
      z.string().max(TRAFFIC_LIMITS.maxHeaderNameChars),
      z.string().max(TRAFFIC_LIMITS.maxHeaderValueChars),
    ]),
  )
  .max(TRAFFIC_LIMITS.maxHeaders);
export type Headers = z.infer<typeof headersSchema>;

export const bodySchema = z
  .strictObject({
    encoding: z.enum(['utf8', 'base64']),
    text: z.string().max(TRAFFIC_LIMITS.maxBodyTextChars),
    /** True when the captured body was cut at the cap (or the capture missed bytes). */
    truncated: z.boolean(),
  })
  .nullable();
export type CapturedBody = z.infer<typeof bodySchema>;

export const endpointSchema = z.strictObject({
  ip,
  port,
  /** The peer's name from the agent's DNS proxy (PTR), or null when unknown. */
  name: z.string().max(253).nullable(),
});
export type TrafficEndpoint = z.infer<typeof endpointSchema>;

/** gRPC details, when `protocol` is `grpc` (from `:path` and the trailers). */
export const grpcSchema = z
  .strictObject({
    service: z.string().max(1024),
    method: z.string().max(1024),
    /** `grpc-status` (0 OK), null when no trailers were seen. */
    status: z.number().int().min(0).max(1000).nullable(),
    message: z.string().max(4096).nullable(),
  })
  .nullable();

export const capturedExchangeSchema = z.strictObject({
  /**
   * Whisperer: `<run>.<seq>` (a random id per whisperer process and a sequence), unique per
   * instance. REST: the id the Controls service gave the stored exchange.
   */
  id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9._:-]+$/, {
      message: 'must be letters, digits, . _ : -',
    }),
  /** The whisperer instance that saw it (empty strings in `read` file mode). */
  attachmentId: z.string().max(64),
  container: z.string().max(63),
  pod: z.string().max(253),
  namespace: z.string().max(63),
  protocol: z.enum(EXCHANGE_PROTOCOLS),
  /** inbound: the pod is the server; outbound: the pod is the client. */
  direction: z.enum(EXCHANGE_DIRECTIONS),
  /** First request byte seen. */
  startedAt: isoTime,
  /** First request byte → last response byte (or to the error), in milliseconds. */
  durationMs: z.number().min(0).max(86_400_000),
  client: endpointSchema,
  server: endpointSchema,
  request: z.strictObject({
    method: z.string().min(1).max(64),
    path: z.string().max(TRAFFIC_LIMITS.maxPathChars),
    /** Host header (HTTP/1) or :authority (h2), empty when absent. */
    authority: z.string().max(TRAFFIC_LIMITS.maxAuthorityChars),
    headers: headersSchema,
    /** Bytes of the body on the wire after de-chunking, before decompression. */
    bodySize: bytes,
    body: bodySchema,
  }),
  response: z
    .strictObject({
      status: z.number().int().min(100).max(999),
      headers: headersSchema,
      /** h2/gRPC trailers (HTTP/1 chunked trailers too); empty when none. */
      trailers: headersSchema,
      bodySize: bytes,
      body: bodySchema,
    })
    .nullable(),
  grpc: grpcSchema,
  error: z.enum(EXCHANGE_ERRORS).nullable(),
});
export type CapturedExchange = z.infer<typeof capturedExchangeSchema>;

/** TCP that is not HTTP, summarised per minute and peer pair. */
export const trafficFlowSchema = z.strictObject({
  /** Start of the minute (ISO, seconds zero). */
  minute: isoTime,
  direction: z.enum(EXCHANGE_DIRECTIONS),
  client: endpointSchema,
  server: endpointSchema,
  bytesToServer: bytes,
  bytesToClient: bytes,
  /** Connections opened in that minute (SYN seen). */
  connections: count,
});
export type TrafficFlow = z.infer<typeof trafficFlowSchema>;

/**
 * A whisperer instance's counters since it started (cumulative, so a lost batch loses no
 * count). `sampled`: exchanges seen but not sent because of the rate limit; `dropped`:
 * exchanges lost because the agent could not take them (whisperer buffer full).
 */
export const captureStatsSchema = z.strictObject({
  startedAt: isoTime,
  packets: count,
  kernelDrops: count,
  bytes: bytes,
  exchanges: count,
  sampled: count,
  dropped: count,
  parseErrors: count,
  /** Times the CPU circuit breaker paused capture. */
  cpuBreaks: count,
});
export type CaptureStats = z.infer<typeof captureStatsSchema>;

/** Body of `POST /v1/whisperers/{container}/traffic` (whisperer → agent). */
export const whispererTrafficBatchSchema = z.strictObject({
  exchanges: z
    .array(capturedExchangeSchema)
    .max(TRAFFIC_LIMITS.maxExchangesPerBatch),
  flows: z.array(trafficFlowSchema).max(TRAFFIC_LIMITS.maxFlowsPerBatch),
  stats: captureStatsSchema.nullable(),
});
export type WhispererTrafficBatch = z.infer<typeof whispererTrafficBatchSchema>;

/**
 * What the agent itself lost for an instance (its relay buffer was full while the backend
 * was away, or the instance was rate limited), cumulative since the agent started.
 */
export const relayStatsSchema = z.strictObject({
  droppedExchanges: count,
  droppedBytes: bytes,
  rateLimited: count,
});
export type RelayStats = z.infer<typeof relayStatsSchema>;

/** Settings the agent gives a whisperer in its configuration (contract `capture`). */
export const captureSettingsSchema = z.strictObject({
  bodyCapBytes: z
    .number()
    .int()
    .min(0)
    .max(1024 * 1024),
  /** Header names (lower case) redacted besides ALWAYS_REDACTED_HEADERS. */
  redactHeaders: z.array(z.string().max(256)).max(100),
  maxExchangesPerSecond: z.number().int().min(1).max(1_000_000),
  /** Fraction of one core above which capture pauses (circuit breaker). */
  maxCpuCores: z.number().min(0.01).max(64),
  /** How often the whisperer sends a batch. */
  flushIntervalMs: z.number().int().min(50).max(60_000),
});
export type CaptureSettings = z.infer<typeof captureSettingsSchema>;

export const DEFAULT_CAPTURE_SETTINGS: CaptureSettings = {
  bodyCapBytes: TRAFFIC_LIMITS.defaultBodyCapBytes,
  redactHeaders: [],
  maxExchangesPerSecond: 2000,
  maxCpuCores: 0.5,
  flushIntervalMs: 1000,
};

/**
 * Whisperer `env` settings a user may put in a Whisperer to change capture settings
 * (comma-separated header names, numbers).
 */
export const CAPTURE_SETTINGS_ENV = {
  bodyCapBytes: 'SPIDER_BODY_CAP_BYTES',
  redactHeaders: 'SPIDER_REDACT_HEADERS',
  maxExchangesPerSecond: 'SPIDER_MAX_EXCHANGES_PER_SECOND',
  maxCpuCores: 'SPIDER_MAX_CPU_CORES',
} as const;
