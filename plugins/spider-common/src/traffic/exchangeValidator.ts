import { z } from 'zod';
import {
  CapturedExchange,
  EXCHANGE_DIRECTIONS,
  EXCHANGE_ERRORS,
  EXCHANGE_PROTOCOLS,
  TRAFFIC_LIMITS,
  whispererTrafficBatchSchema,
} from './exchange';

/**
 * A hand-written check of one exchange, for the hot path (every exchange of every batch,
 * in the agent and the backend). It accepts exactly what `capturedExchangeSchema` accepts
 * and rejects exactly what it rejects: exchangeValidator.test.ts runs both over generated
 * valid and mutated exchanges. The zod schema stays the definition (types, docs); this
 * is the same rules written out, without zod's per-value machinery (measured 10-25 ms a
 * 500-exchange message warm, and far more while zod compiles its checks on a cold start).
 */

/** Where an exchange is wrong and why; `path` as zod gives it. */
export interface ExchangeIssue {
  path: Array<string | number>;
  message: string;
}

type Path = Array<string | number>;

class Invalid {
  constructor(readonly path: Path, readonly message: string) {}
}

const ID_PATTERN = /^[A-Za-z0-9._:-]+$/;
const PROTOCOLS: ReadonlySet<unknown> = new Set(EXCHANGE_PROTOCOLS);
const DIRECTIONS: ReadonlySet<unknown> = new Set(EXCHANGE_DIRECTIONS);
const ERRORS: ReadonlySet<unknown> = new Set(EXCHANGE_ERRORS);
const ENCODINGS: ReadonlySet<unknown> = new Set(['utf8', 'base64']);

const EXCHANGE_KEYS = [
  'id',
  'attachmentId',
  'container',
  'pod',
  'namespace',
  'protocol',
  'direction',
  'startedAt',
  'durationMs',
  'client',
  'server',
  'request',
  'response',
  'grpc',
  'error',
];
const ENDPOINT_KEYS = ['ip', 'port', 'name'];
const REQUEST_KEYS = [
  'method',
  'path',
  'authority',
  'headers',
  'bodySize',
  'body',
];
const RESPONSE_KEYS = ['status', 'headers', 'trailers', 'bodySize', 'body'];
const BODY_KEYS = ['encoding', 'text', 'truncated'];
const GRPC_KEYS = ['service', 'method', 'status', 'message'];

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function object(v: unknown, path: Path, keys: string[]): Record<string, any> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new Invalid(path, `expected object, received ${describe(v)}`);
  const o = v as Record<string, unknown>;
  for (const k in o) {
    if (Object.prototype.hasOwnProperty.call(o, k) && !keys.includes(k))
      throw new Invalid(path, `unrecognized key "${k}"`);
  }
  return o;
}

function string(v: unknown, path: Path, max: number, min = 0): string {
  if (typeof v !== 'string')
    throw new Invalid(path, `expected string, received ${describe(v)}`);
  if (v.length > max)
    throw new Invalid(path, `too long: at most ${max} characters`);
  if (v.length < min)
    throw new Invalid(path, `too short: at least ${min} characters`);
  return v;
}

function nullableString(v: unknown, path: Path, max: number) {
  if (v !== null) string(v, path, max);
}

function number(v: unknown, path: Path, min: number, max: number) {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new Invalid(path, `expected number, received ${describe(v)}`);
  if (v < min || v > max)
    throw new Invalid(path, `out of range: ${min} to ${max}`);
}

function int(v: unknown, path: Path, min: number, max: number) {
  if (typeof v !== 'number' || !Number.isSafeInteger(v))
    throw new Invalid(
      path,
      `expected a (safe) integer, received ${describe(v)}`,
    );
  if (v < min || v > max)
    throw new Invalid(path, `out of range: ${min} to ${max}`);
}

function oneOf(v: unknown, path: Path, allowed: ReadonlySet<unknown>) {
  if (!allowed.has(v))
    throw new Invalid(path, `must be one of ${[...allowed].join(', ')}`);
}

function endpoint(v: unknown, path: Path) {
  const o = object(v, path, ENDPOINT_KEYS);
  string(o.ip, [...path, 'ip'], 45, 2);
  int(o.port, [...path, 'port'], 0, 65535);
  nullableString(o.name, [...path, 'name'], 253);
}

function headers(v: unknown, path: Path) {
  if (!Array.isArray(v))
    throw new Invalid(path, `expected array, received ${describe(v)}`);
  // zod checks the length first and then stops: so does this, to name the same path.
  if (v.length > TRAFFIC_LIMITS.maxHeaders)
    throw new Invalid(path, `too many: at most ${TRAFFIC_LIMITS.maxHeaders}`);
  for (let i = 0; i < v.length; i++) {
    const h = v[i];
    if (!Array.isArray(h))
      throw new Invalid(
        [...path, i],
        `expected array, received ${describe(h)}`,
      );
    if (h.length !== 2)
      throw new Invalid([...path, i], 'expected [name, value]');
    string(h[0], [...path, i, 0], TRAFFIC_LIMITS.maxHeaderNameChars);
    string(h[1], [...path, i, 1], TRAFFIC_LIMITS.maxHeaderValueChars);
  }
}

function body(v: unknown, path: Path) {
  if (v === null) return;
  const o = object(v, path, BODY_KEYS);
  oneOf(o.encoding, [...path, 'encoding'], ENCODINGS);
  string(o.text, [...path, 'text'], TRAFFIC_LIMITS.maxBodyTextChars);
  if (typeof o.truncated !== 'boolean')
    throw new Invalid(
      [...path, 'truncated'],
      `expected boolean, received ${describe(o.truncated)}`,
    );
}

function check(v: unknown, path: Path): void {
  const e = object(v, path, EXCHANGE_KEYS);
  const id = string(e.id, [...path, 'id'], 64, 1);
  if (!ID_PATTERN.test(id))
    throw new Invalid([...path, 'id'], 'must be letters, digits, . _ : -');
  string(e.attachmentId, [...path, 'attachmentId'], 64);
  string(e.container, [...path, 'container'], 63);
  string(e.pod, [...path, 'pod'], 253);
  string(e.namespace, [...path, 'namespace'], 63);
  oneOf(e.protocol, [...path, 'protocol'], PROTOCOLS);
  oneOf(e.direction, [...path, 'direction'], DIRECTIONS);
  string(e.startedAt, [...path, 'startedAt'], 40);
  number(e.durationMs, [...path, 'durationMs'], 0, 86_400_000);
  endpoint(e.client, [...path, 'client']);
  endpoint(e.server, [...path, 'server']);

  const rp = [...path, 'request'];
  const r = object(e.request, rp, REQUEST_KEYS);
  string(r.method, [...rp, 'method'], 64, 1);
  string(r.path, [...rp, 'path'], TRAFFIC_LIMITS.maxPathChars);
  string(r.authority, [...rp, 'authority'], TRAFFIC_LIMITS.maxAuthorityChars);
  headers(r.headers, [...rp, 'headers']);
  int(r.bodySize, [...rp, 'bodySize'], 0, Number.MAX_SAFE_INTEGER);
  body(r.body, [...rp, 'body']);

  if (e.response !== null) {
    const sp = [...path, 'response'];
    const s = object(e.response, sp, RESPONSE_KEYS);
    int(s.status, [...sp, 'status'], 100, 999);
    headers(s.headers, [...sp, 'headers']);
    headers(s.trailers, [...sp, 'trailers']);
    int(s.bodySize, [...sp, 'bodySize'], 0, Number.MAX_SAFE_INTEGER);
    body(s.body, [...sp, 'body']);
  }

  if (e.grpc !== null) {
    const gp = [...path, 'grpc'];
    const g = object(e.grpc, gp, GRPC_KEYS);
    string(g.service, [...gp, 'service'], 1024);
    string(g.method, [...gp, 'method'], 1024);
    if (g.status !== null) int(g.status, [...gp, 'status'], 0, 1000);
    nullableString(g.message, [...gp, 'message'], 4096);
  }

  if (e.error !== null) oneOf(e.error, [...path, 'error'], ERRORS);
}

/** The first thing wrong with `value` as a CapturedExchange, or undefined when it is one. */
export function exchangeIssue(
  value: unknown,
  path: Array<string | number> = [],
): ExchangeIssue | undefined {
  try {
    check(value, path);
    return undefined;
  } catch (err) {
    if (err instanceof Invalid) return { path: err.path, message: err.message };
    throw err;
  }
}

/**
 * `z.array(capturedExchangeSchema).max(max)` with the hand-written check: the same
 * accepted values, the same output (the input itself: every field is a JSON value kept
 * as is), an issue with the path and reason. For the wire schemas (the whisperer's batch,
 * the agent's `traffic` message).
 */
export function fastExchangesSchema(max: number) {
  return z
    .array(z.unknown())
    .max(max)
    .superRefine((items, ctx) => {
      for (let i = 0; i < items.length; i++) {
        const issue = exchangeIssue(items[i], [i]);
        if (issue) {
          ctx.addIssue({
            code: 'custom',
            path: issue.path,
            message: issue.message,
          });
          return;
        }
      }
    }) as unknown as z.ZodType<CapturedExchange[], CapturedExchange[]>;
}

/**
 * The body of `POST /v1/whisperers/{container}/traffic` as whispererTrafficBatchSchema
 * defines it, its exchanges checked by the hand-written check (the agent's hot path).
 */
export const whispererTrafficBatchWireSchema =
  whispererTrafficBatchSchema.extend({
    exchanges: fastExchangesSchema(TRAFFIC_LIMITS.maxExchangesPerBatch),
  });
