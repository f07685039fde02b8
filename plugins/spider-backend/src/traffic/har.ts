import { STATUS_CODES } from 'node:http';
import { isIP } from 'node:net';
import type {
  Content,
  Creator,
  Entry,
  Header,
  PostData,
  QueryString,
  Response,
} from 'har-format';
import {
  CapturedBody,
  ExchangeProtocol,
  StoredExchange,
  TrafficEndpoint,
  WorkloadRef,
} from '@spider/backstage-plugin-spider-common';

/**
 * HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/) from stored exchanges. Pure:
 * the router feeds `harDocument` the store's stream and writes what it yields, so an
 * export of any size holds one chunk in memory, never the file.
 */

const HTTP_VERSIONS: Record<ExchangeProtocol, string> = {
  'http/1.0': 'HTTP/1.0',
  'http/1.1': 'HTTP/1.1',
  h2: 'HTTP/2',
  grpc: 'HTTP/2',
};

/** What the HAR says about the exchange beyond HAR's own fields (custom fields start with `_`). */
export interface SpiderHarFields {
  id: string;
  attachmentId: string;
  controllerId: string;
  namespace: string;
  pod: string;
  container: string;
  direction: StoredExchange['direction'];
  protocol: ExchangeProtocol;
  grpc: StoredExchange['grpc'];
  error: StoredExchange['error'];
  client: TrafficEndpoint;
  server: TrafficEndpoint;
}

/** HAR objects with the custom fields this export adds (HAR allows fields starting with `_`). */
type SpiderPostData = PostData & { _encoding?: 'base64' };
type SpiderContent = Content & { _truncated?: boolean };
type SpiderResponse = Response & { _trailers?: Header[]; _error?: string };
export type SpiderHarEntry = Entry & {
  response: SpiderResponse;
  _spider: SpiderHarFields;
};

function headerList(headers: Array<[string, string]>): Header[] {
  // Values are copied as stored: what the whisperer redacted stays "[redacted]".
  return headers.map(([name, value]) => ({ name, value }));
}

function headerValue(
  headers: Array<[string, string]>,
  name: string,
): string | undefined {
  return headers.find(([k]) => k.toLowerCase() === name)?.[1];
}

function hostPort(endpoint: TrafficEndpoint): string {
  const host = isIP(endpoint.ip) === 6 ? `[${endpoint.ip}]` : endpoint.ip;
  return `${host}:${endpoint.port}`;
}

/**
 * The request URL. Captures are plaintext (TLS is not decoded), hence `http`. A request
 * line in absolute form (to a proxy) is its own URL; a garbled authority or path (it is
 * what was on the wire) falls back to the server address and an escaped path, so the
 * file stays valid.
 */
export function requestUrl(
  exchange: Pick<StoredExchange, 'request' | 'server'>,
): string {
  const { path, authority } = exchange.request;
  const candidates: string[] = [];
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) candidates.push(path);
  const rel = path.startsWith('/') ? path : `/${path}`;
  if (authority) candidates.push(`http://${authority}${rel}`);
  candidates.push(`http://${hostPort(exchange.server)}${rel}`);
  for (const url of candidates) {
    if (isUrl(url)) return url;
  }
  return `http://${hostPort(exchange.server)}/${encodeURIComponent(path)}`;
}

function isUrl(text: string): boolean {
  // Only printable ASCII without spaces: what a URL on the wire may hold.
  if (!/^[\x21-\x7e]+$/.test(text)) return false;
  try {
    return Boolean(new URL(text).host);
  } catch {
    return false;
  }
}

function queryString(path: string): QueryString[] {
  const q = path.indexOf('?');
  if (q < 0) return [];
  const query = path.slice(q + 1).split('#')[0];
  return [...new URLSearchParams(query)].map(([name, value]) => ({
    name,
    value,
  }));
}

function decodedBytes(body: NonNullable<CapturedBody>): number {
  return body.encoding === 'base64'
    ? Buffer.from(body.text, 'base64').length
    : Buffer.byteLength(body.text, 'utf8');
}

function postData(request: StoredExchange['request']): PostData | undefined {
  const body = request.body;
  if (!body) return undefined;
  const data: SpiderPostData = {
    mimeType: headerValue(request.headers, 'content-type') ?? '',
    text: body.text,
  };
  // HAR's postData has no encoding field; say it in a custom one.
  if (body.encoding === 'base64') data._encoding = 'base64';
  if (body.truncated) data.comment = 'truncated at capture';
  return data;
}

function content(
  response: NonNullable<StoredExchange['response']>,
): SpiderContent {
  const mimeType = headerValue(response.headers, 'content-type') ?? '';
  const body = response.body;
  if (!body) return { size: response.bodySize, mimeType };
  const decoded = decodedBytes(body);
  const out: SpiderContent = {
    // A whole body: its decoded size (bodySize is on the wire, before decompression).
    size: body.truncated ? Math.max(decoded, response.bodySize) : decoded,
    mimeType,
    text: body.text,
  };
  if (!body.truncated && decoded > response.bodySize && response.bodySize > 0) {
    out.compression = decoded - response.bodySize;
  }
  if (body.encoding === 'base64') out.encoding = 'base64';
  if (body.truncated) {
    out.comment = 'truncated at capture';
    out._truncated = true;
  }
  return out;
}

function startedDateTime(exchange: StoredExchange): string {
  for (const t of [exchange.startedAt, exchange.storedAt]) {
    const ms = Date.parse(t);
    if (!Number.isNaN(ms)) return new Date(ms).toISOString();
  }
  return new Date(0).toISOString();
}

/** One HAR entry. Cookies stay empty: the pod redacts cookie and set-cookie before anything leaves it. */
export function harEntry(exchange: StoredExchange): SpiderHarEntry {
  const httpVersion = HTTP_VERSIONS[exchange.protocol] ?? 'HTTP/1.1';
  const { request, response } = exchange;
  const spider: SpiderHarFields = {
    id: exchange.id,
    attachmentId: exchange.attachmentId,
    controllerId: exchange.controllerId,
    namespace: exchange.namespace,
    pod: exchange.pod,
    container: exchange.container,
    direction: exchange.direction,
    protocol: exchange.protocol,
    grpc: exchange.grpc,
    error: exchange.error,
    client: exchange.client,
    server: exchange.server,
  };
  const harRequest: Entry['request'] = {
    method: request.method,
    url: requestUrl(exchange),
    httpVersion,
    cookies: [],
    headers: headerList(request.headers),
    queryString: queryString(request.path),
    headersSize: -1,
    bodySize: request.bodySize,
  };
  const post = postData(request);
  if (post) harRequest.postData = post;

  const harResponse: SpiderResponse = response
    ? {
        status: response.status,
        statusText: STATUS_CODES[response.status] ?? '',
        httpVersion,
        cookies: [],
        headers: headerList(response.headers),
        content: content(response),
        redirectURL: headerValue(response.headers, 'location') ?? '',
        headersSize: -1,
        bodySize: response.bodySize,
      }
    : {
        // No response (reset, timeout): status 0, as browsers export a failed request.
        status: 0,
        statusText: '',
        httpVersion,
        cookies: [],
        headers: [],
        content: { size: 0, mimeType: '' },
        redirectURL: '',
        headersSize: -1,
        bodySize: -1,
        _error: exchange.error ?? 'no response',
      };
  if (response && response.trailers.length > 0) {
    harResponse._trailers = headerList(response.trailers);
  }

  const entry: SpiderHarEntry = {
    startedDateTime: startedDateTime(exchange),
    time: exchange.durationMs,
    request: harRequest,
    response: harResponse,
    cache: {},
    // Only first request byte → last response byte is measured: all of it is "wait".
    timings: {
      blocked: -1,
      dns: -1,
      connect: -1,
      ssl: -1,
      send: 0,
      wait: exchange.durationMs,
      receive: 0,
    },
    connection: String(exchange.client.port),
    _spider: spider,
  };
  if (isIP(exchange.server.ip)) entry.serverIPAddress = exchange.server.ip;
  return entry;
}

export interface HarDocumentOptions {
  creator: Creator;
  /** What the file holds (which workload, which filter). */
  description: string;
  /** Entries at most; the input may hold one more, which tells that more matched. */
  limit: number;
  /** Entries are gathered into chunks of about this many characters. */
  chunkChars?: number;
}

/**
 * The HAR file as text chunks, entries in the order given. The log's comment comes after
 * the entries (JSON objects are unordered) so it can say whether the limit cut the set.
 */
export async function* harDocument(
  exchanges: AsyncIterable<StoredExchange>,
  options: HarDocumentOptions,
): AsyncGenerator<string> {
  const chunkChars = options.chunkChars ?? 64 * 1024;
  let chunk = `{"log":{"version":"1.2","creator":${JSON.stringify(
    options.creator,
  )},"entries":[`;
  let count = 0;
  let more = false;
  for await (const exchange of exchanges) {
    if (count >= options.limit) {
      more = true;
      break;
    }
    chunk += (count === 0 ? '' : ',') + JSON.stringify(harEntry(exchange));
    count += 1;
    if (chunk.length >= chunkChars) {
      yield chunk;
      chunk = '';
    }
  }
  const comment = `${options.description}: ${count} exchange${
    count === 1 ? '' : 's'
  }, newest first${
    more
      ? `; the limit of ${options.limit} was reached and more exchanges match`
      : ''
  }`;
  yield `${chunk}],"comment":${JSON.stringify(comment)}}}`;
}

/** `<workload>-<UTC date and time>.har`, safe in a Content-Disposition header. */
export function harFileName(target: WorkloadRef, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '');
  const name = target.name.replace(/[^A-Za-z0-9._-]/g, '-');
  return `${name}-${stamp}.har`;
}
