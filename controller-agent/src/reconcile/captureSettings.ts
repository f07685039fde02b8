import {
  CAPTURE_SETTINGS_ENV,
  CaptureSettings,
  captureSettingsSchema,
  DEFAULT_CAPTURE_SETTINGS,
} from '@spider/backstage-plugin-spider-common';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]{1,256}$/;
const MAX_REDACT_HEADERS = 100;

function number(
  env: Record<string, string>,
  name: string,
  fallback: number,
  bounds: { min: number; max: number; integer: boolean },
  problems: string[],
): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw.trim());
  if (
    !Number.isFinite(n) ||
    (bounds.integer && !Number.isInteger(n)) ||
    n < bounds.min ||
    n > bounds.max
  ) {
    problems.push(
      `${name}: must be ${
        bounds.integer ? 'a whole number' : 'a number'
      } from ${bounds.min} to ${bounds.max}, got "${raw.slice(
        0,
        64,
      )}"; using ${fallback}`,
    );
    return fallback;
  }
  return n;
}

/**
 * The capture settings a whisperer gets in its configuration: the defaults, overridden
 * by the Whisperer's env entries (CAPTURE_SETTINGS_ENV). An entry that does not parse or
 * is out of bounds keeps its default and is named in `problems` (the caller logs them).
 */
export function captureSettingsFromEnv(env: Record<string, string>): {
  settings: CaptureSettings;
  problems: string[];
} {
  const problems: string[] = [];
  const d = DEFAULT_CAPTURE_SETTINGS;
  let redactHeaders = d.redactHeaders;
  const rawHeaders = env[CAPTURE_SETTINGS_ENV.redactHeaders];
  if (rawHeaders !== undefined && rawHeaders.trim() !== '') {
    const names = [
      ...new Set(
        rawHeaders
          .split(',')
          .map(h => h.trim().toLowerCase())
          .filter(Boolean),
      ),
    ];
    const bad = names.filter(h => !HEADER_NAME.test(h));
    if (bad.length) {
      problems.push(
        `${CAPTURE_SETTINGS_ENV.redactHeaders}: not header names: ${bad
          .slice(0, 5)
          .map(b => `"${b.slice(0, 64)}"`)
          .join(', ')}; using the default (the always-redacted headers only)`,
      );
    } else if (names.length > MAX_REDACT_HEADERS) {
      problems.push(
        `${CAPTURE_SETTINGS_ENV.redactHeaders}: at most ${MAX_REDACT_HEADERS} names, got ${names.length}; using the default`,
      );
    } else {
      redactHeaders = names;
    }
  }
  const settings: CaptureSettings = {
    bodyCapBytes: number(
      env,
      CAPTURE_SETTINGS_ENV.bodyCapBytes,
      d.bodyCapBytes,
      { min: 0, max: 1024 * 1024, integer: true },
      problems,
    ),
    redactHeaders,
    maxExchangesPerSecond: number(
      env,
      CAPTURE_SETTINGS_ENV.maxExchangesPerSecond,
      d.maxExchangesPerSecond,
      { min: 1, max: 1_000_000, integer: true },
      problems,
    ),
    maxCpuCores: number(
      env,
      CAPTURE_SETTINGS_ENV.maxCpuCores,
      d.maxCpuCores,
      { min: 0.01, max: 64, integer: false },
      problems,
    ),
    flushIntervalMs: d.flushIntervalMs,
  };
  // The bounds above are the schema's; this keeps them from drifting apart silently.
  const checked = captureSettingsSchema.safeParse(settings);
  if (!checked.success)
    return {
      settings: { ...d },
      problems: [
        ...problems,
        `capture settings rejected: ${checked.error.issues[0].message}`,
      ],
    };
  return { settings: checked.data, problems };
}
