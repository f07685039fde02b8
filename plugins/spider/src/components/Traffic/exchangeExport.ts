import type {
  CapturedBody,
  Headers,
  StoredExchange,
} from '@spider/backstage-plugin-spider-common';
import { REDACTED_VALUE } from '@spider/backstage-plugin-spider-common';

/** Quotes a word for a POSIX shell. */
export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Headers curl sets itself, or that only exist on HTTP/2 as pseudo-headers. */
const SKIPPED_HEADERS = new Set([
  'content-length',
  'host',
  'connection',
  'transfer-encoding',
]);

export function headerValue(
  headers: Headers,
  name: string,
): string | undefined {
  const lower = name.toLowerCase();
  return headers.find(([k]) => k.toLowerCase() === lower)?.[1];
}

/**
 * The request as a curl command that replays it. Redacted header values stay as
 * `[redacted]` (the real value never left the pod): the caller says so beside it.
 */
export function toCurl(e: StoredExchange): string {
  const authority =
    e.request.authority ||
    headerValue(e.request.headers, 'host') ||
    `${e.server.ip}:${e.server.port}`;
  const url = `http://${authority}${e.request.path.startsWith('/') ? '' : '/'}${
    e.request.path
  }`;
  const parts = ['curl'];
  if (e.protocol === 'h2' || e.protocol === 'grpc')
    parts.push('--http2-prior-knowledge');
  if (e.request.method !== 'GET' || e.request.body)
    parts.push('-X', shellQuote(e.request.method));
  parts.push(shellQuote(url));
  for (const [k, v] of e.request.headers) {
    if (k.startsWith(':') || SKIPPED_HEADERS.has(k.toLowerCase())) continue;
    parts.push('-H', shellQuote(`${k}: ${v}`));
  }
  const body = e.request.body;
  if (body && body.encoding === 'utf8')
    parts.push('--data-raw', shellQuote(body.text));
  if (body && body.encoding === 'base64')
    return `printf %s ${shellQuote(body.text)} | base64 -d | ${parts.join(
      ' ',
    )} --data-binary @-`;
  return parts.join(' ');
}

export function hasRedacted(headers: Headers): boolean {
  return headers.some(([, v]) => v === REDACTED_VALUE);
}

export type BodyView =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown; truncated: boolean }
  | { kind: 'text'; text: string; truncated: boolean }
  | { kind: 'binary'; size: number; truncated: boolean };

const TEXT_TYPES =
  /^(text\/|application\/(json|xml|x-www-form-urlencoded|javascript|graphql|x-ndjson|problem\+json|[a-z.+-]*\+(json|xml)))/i;

/** How to show a captured body: JSON as a tree, text as text, anything else by size. Pure. */
export function bodyView(
  body: CapturedBody,
  headers: Headers,
  bodySize: number,
): BodyView {
  if (!body)
    return bodySize > 0
      ? { kind: 'binary', size: bodySize, truncated: false }
      : { kind: 'none' };
  const type = headerValue(headers, 'content-type') ?? '';
  let text: string | undefined;
  if (body.encoding === 'utf8') text = body.text;
  else if (TEXT_TYPES.test(type)) {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(
        Uint8Array.from(atob(body.text), ch => ch.charCodeAt(0)),
      );
    } catch {
      text = undefined;
    }
  }
  if (text === undefined)
    return { kind: 'binary', size: bodySize, truncated: body.truncated };
  const looksJson = /json/i.test(type) || /^\s*[[{]/.test(text);
  if (looksJson && !body.truncated) {
    try {
      return { kind: 'json', value: JSON.parse(text), truncated: false };
    } catch {
      // Not JSON after all: show it as text.
    }
  }
  return { kind: 'text', text, truncated: body.truncated };
}

export function exchangeFileName(e: StoredExchange): string {
  return `exchange-${e.id.replace(/[^A-Za-z0-9._-]/g, '_')}.json`;
}
