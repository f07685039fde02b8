import { humanizeDuration, parseDuration, toIsoDuration } from './duration';

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
