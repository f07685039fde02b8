/**
 * ISO-8601 durations (the `timeToLive` of a Whisperer), e.g. `PT30M`, `P1DT2H`, `PT2S`.
 * Years and months are refused: their length depends on the calendar, and a capture
 * deadline must be exact.
 */
const DURATION_RE =
  /^P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?$/;

/** Milliseconds of an ISO-8601 duration, or undefined if it is not one we accept. */
export function parseDuration(text: string): number | undefined {
  if (typeof text !== 'string' || text.length > 40) return undefined;
  const m = DURATION_RE.exec(text);
  if (!m) return undefined;
  const [, w, d, h, min, s] = m;
  const ms =
    Number(w ?? 0) * 604_800_000 +
    Number(d ?? 0) * 86_400_000 +
    Number(h ?? 0) * 3_600_000 +
    Number(min ?? 0) * 60_000 +
    Math.round(Number(s ?? 0) * 1000);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

const UNIT_MS: Array<[RegExp, number]> = [
  [/^(w|wk|wks|week|weeks)$/, 604_800_000],
  [/^(d|day|days)$/, 86_400_000],
  [/^(h|hr|hrs|hour|hours)$/, 3_600_000],
  [/^(m|min|mins|minute|minutes)$/, 60_000],
  [/^(s|sec|secs|second|seconds)$/, 1000],
];

/**
 * A duration typed by a person: an ISO-8601 duration ("PT2M", any case) or words
 * ("2 minutes", "1h 30m", "90 min", "1 hour and 30 minutes"). Milliseconds, or undefined.
 * The one parser of a Whisperer's time to live as people type it; what is stored is
 * always the ISO form ({@link toIsoDuration}), which {@link parseDuration} reads.
 */
export function parseHumanDuration(text: string): number | undefined {
  if (typeof text !== 'string') return undefined;
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
  // Every character is a number with its unit, a separator or "and": "2 parsecs" and
  // "2 minutes soon" are refused rather than read in part.
  if (consumed.replace(/\s+/g, '') !== t.replace(/[\s,]+|and/g, ''))
    return undefined;
  return total > 0 ? total : undefined;
}

/** Canonical ISO-8601 duration for a number of milliseconds (whole seconds). */
export function toIsoDuration(ms: number): string {
  let rest = Math.max(1, Math.round(ms / 1000));
  const days = Math.floor(rest / 86_400);
  rest -= days * 86_400;
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  const seconds = rest - minutes * 60;
  let out = 'P';
  if (days) out += `${days}D`;
  if (hours || minutes || seconds) {
    out += 'T';
    if (hours) out += `${hours}H`;
    if (minutes) out += `${minutes}M`;
    if (seconds) out += `${seconds}S`;
  }
  return out;
}

/** "2 hours 30 minutes" — for people. */
export function humanizeDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0 seconds';
  const units: Array<[string, number]> = [
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
    ['second', 1000],
  ];
  const parts: string[] = [];
  let rest = Math.round(ms / 1000) * 1000;
  for (const [name, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      parts.push(`${n} ${name}${n === 1 ? '' : 's'}`);
      rest -= n * size;
    }
    if (parts.length === 2) break;
  }
  return parts.length ? parts.join(' ') : 'less than a second';
}
