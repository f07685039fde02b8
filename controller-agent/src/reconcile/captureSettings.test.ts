import { DEFAULT_CAPTURE_SETTINGS } from '@spider/backstage-plugin-spider-common';
import { captureSettingsFromEnv } from './captureSettings';

describe('captureSettingsFromEnv', () => {
  it('gives the defaults for a Whisperer without settings', () => {
    expect(captureSettingsFromEnv({ VERBOSE: '1' })).toEqual({
      settings: DEFAULT_CAPTURE_SETTINGS,
      problems: [],
    });
  });

  it('takes valid overrides, lower-casing and de-duplicating header names', () => {
    const { settings, problems } = captureSettingsFromEnv({
      SPIDER_BODY_CAP_BYTES: '1024',
      SPIDER_REDACT_HEADERS: 'X-Api-Key, x-api-key ,X-Session',
      SPIDER_MAX_EXCHANGES_PER_SECOND: ' 500 ',
      SPIDER_MAX_CPU_CORES: '0.25',
    });
    expect(problems).toEqual([]);
    expect(settings).toEqual({
      bodyCapBytes: 1024,
      redactHeaders: ['x-api-key', 'x-session'],
      maxExchangesPerSecond: 500,
      maxCpuCores: 0.25,
      flushIntervalMs: DEFAULT_CAPTURE_SETTINGS.flushIntervalMs,
    });
  });

  it.each([
    [
      'SPIDER_BODY_CAP_BYTES',
      '2000000',
      /SPIDER_BODY_CAP_BYTES: must be a whole number from 0 to 1048576/,
      'bodyCapBytes',
    ],
    ['SPIDER_BODY_CAP_BYTES', '1.5', /whole number/, 'bodyCapBytes'],
    [
      'SPIDER_MAX_EXCHANGES_PER_SECOND',
      '0',
      /from 1 to 1000000/,
      'maxExchangesPerSecond',
    ],
    [
      'SPIDER_MAX_CPU_CORES',
      'lots',
      /SPIDER_MAX_CPU_CORES: must be a number from 0.01 to 64, got "lots"/,
      'maxCpuCores',
    ],
    [
      'SPIDER_REDACT_HEADERS',
      'x-ok, not a header',
      /not header names: "not a header"/,
      'redactHeaders',
    ],
  ] as const)(
    '%s=%s keeps the default and says why',
    (name, value, message, field) => {
      const { settings, problems } = captureSettingsFromEnv({ [name]: value });
      expect(problems).toEqual([expect.stringMatching(message)]);
      expect(settings[field]).toEqual(DEFAULT_CAPTURE_SETTINGS[field]);
    },
  );

  it('caps the number of redacted headers', () => {
    const many = Array.from({ length: 101 }, (_, i) => `x-h${i}`).join(',');
    expect(
      captureSettingsFromEnv({ SPIDER_REDACT_HEADERS: many }).problems,
    ).toEqual([expect.stringMatching(/at most 100/)]);
  });
});
