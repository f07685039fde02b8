import {
  humanizeDuration,
  parseDuration,
  parseHumanDuration,
  toIsoDuration,
} from './duration';

describe('parseDuration', () => {
  it.each([
    ['PT2S', 2000],
    ['PT30M', 1_800_000],
    ['PT2H', 7_200_000],
    ['P1D', 86_400_000],
    ['P1W', 604_800_000],
    ['P1DT2H3M4S', 93_784_000],
    ['PT0.5S', 500],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    '',
    'P',
    'PT',
    'P1Y',
    'P1M',
    '30m',
    'PT-1S',
    'PT0S',
    'P1DT',
    'PT1H ',
    'x'.repeat(100),
  ])('refuses %j', text => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('toIsoDuration', () => {
  it('round-trips', () => {
    for (const text of ['PT2S', 'PT30M', 'P1DT2H3M4S', 'PT1H']) {
      expect(toIsoDuration(parseDuration(text)!)).toBe(text);
    }
  });
});

describe('humanizeDuration', () => {
  it('speaks plainly', () => {
    expect(humanizeDuration(120_000)).toBe('2 minutes');
    expect(humanizeDuration(3_661_000)).toBe('1 hour 1 minute');
    expect(humanizeDuration(1000)).toBe('1 second');
    expect(humanizeDuration(0)).toBe('0 seconds');
  });
});

describe('parseHumanDuration', () => {
  it.each([
    ['PT2M', 120_000],
    ['pt30m', 1_800_000],
    ['2 minutes', 120_000],
    ['90 min', 5_400_000],
    ['1h 30m', 5_400_000],
    ['1 hour, 30 minutes', 5_400_000],
    ['1 hour and 30 minutes', 5_400_000],
    ['1.5 hours', 5_400_000],
    ['1 day', 86_400_000],
    ['2 weeks', 1_209_600_000],
    ['  45 secs ', 45_000],
  ])('%j is %d ms', (text, ms) => {
    expect(parseHumanDuration(text)).toBe(ms);
  });

  it.each([
    '',
    '   ',
    'soon',
    '5 parsecs',
    '2 minutes soon',
    '0 minutes',
    'P1Y',
    '30',
  ])('refuses %j', text => {
    expect(parseHumanDuration(text)).toBeUndefined();
  });

  it('reads ISO the way parseDuration does', () => {
    for (const text of ['PT2S', 'P1DT2H3M4S', 'P1W'])
      expect(parseHumanDuration(text)).toBe(parseDuration(text));
  });
});
