import {
  humanizeDuration,
  parseDuration,
  toIsoDuration,
} from '@spider/backstage-plugin-spider-common';

const UNIT_MS: Array<[RegExp, number]> = [
  [/^(w|wk|wks|week|weeks)$/, 604_800_000],
  [/^(d|day|days)$/, 86_400_000],
  [/^(h|hr|hrs|hour|hours)$/, 3_600_000],
  [/^(m|min|mins|minute|minutes)$/, 60_000],
  [/^(s|sec|secs|second|seconds)$/, 1000],
];

/**
 * A time to live typed by a person: an ISO-8601 duration ("PT2M") or words
 * ("2 minutes", "1h 30m", "90 min"). Returns milliseconds, or undefined.
 */
export function parseHumanDuration(text: string): number | undefined {
  const t = text.trim();
  if (!t) return undefined;
  if (/^p/i.test(t)) return parseDuration(t.toUpperCase());
  const re = /(\d+(?:\.\d+)?)\s*([a-z]+)/gi;
  let total = 0;
  let consumed = '';
  for (const m of t.matchAll(re)) {
    const word = m[2].toLowerCase();
    const unit = UNIT_MS.find(([r]) => r.test(word));
    if (!unit) return undefined;
    total += Number(m[1]) * unit[1];
    consumed += m[0];
  }
  if (consumed.replace(/\s+/g, '') !== t.replace(/[\s,]+|and/g, ''))
    return undefined;
  return total > 0 ? total : undefined;
}

/** The ISO-8601 form stored by the API for what the user typed (undefined if invalid). */
export function ttlToIso(text: string): string | undefined {
  const t = text.trim();
  if (/^p/i.test(t))
    return parseDuration(t.toUpperCase()) ? t.toUpperCase() : undefined;
  const ms = parseHumanDuration(t);
  return ms ? toIsoDuration(ms) : undefined;
}

/** "2 minutes" for "PT2M"; "no expiry" for null. */
export function ttlText(iso: string | null | undefined): string {
  if (!iso) return 'no expiry';
  const ms = parseDuration(iso);
  return ms ? humanizeDuration(ms) : iso;
}

/** The text to put in the form for a stored value. */
export function ttlInput(iso: string | null | undefined): string {
  if (!iso) return '';
  const ms = parseDuration(iso);
  return ms ? humanizeDuration(ms) : iso;
}
