import {
  humanizeDuration,
  parseDuration,
  parseHumanDuration,
  toIsoDuration,
} from '@spider/backstage-plugin-spider-common';

// What people type is read by spider-common's parseHumanDuration, the one duration
// parser for Whisperers (the backend reads the stored ISO form with parseDuration).

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
