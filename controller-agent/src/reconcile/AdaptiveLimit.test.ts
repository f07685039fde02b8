import { AdaptiveLimit } from './AdaptiveLimit';

const options = { initial: 8, min: 2, max: 64, tolerance: 2 };

/** One round of answers at the current limit, each `latency` ms, the limit reached. */
function round(l: AdaptiveLimit, latency: number, inFlight = l.limit) {
  const n = l.limit;
  for (let i = 0; i < n; i++) l.onAnswer(latency, inFlight);
}

describe('AdaptiveLimit', () => {
  it('doubles per round while latency holds, up to its maximum', () => {
    const l = new AdaptiveLimit(options);
    const seen = [l.limit];
    for (let i = 0; i < 5; i++) {
      round(l, 10);
      seen.push(l.limit);
    }
    expect(seen).toEqual([8, 16, 32, 64, 64, 64]);
  });

  it('does not grow in rounds that never reached the limit', () => {
    const l = new AdaptiveLimit(options);
    round(l, 10, 3);
    round(l, 10, 3);
    expect(l.limit).toBe(8);
  });

  it('shrinks in proportion when latency passes the tolerance, then grows by one a round', () => {
    const l = new AdaptiveLimit(options);
    round(l, 10); // baseline 10, 16
    round(l, 10); // 32
    round(l, 25); // allowed 2 × 11 = 22 of 25: ×0.88 → 28
    expect(l.limit).toBe(28);
    round(l, 12);
    expect(l.limit).toBe(29);
    round(l, 12);
    expect(l.limit).toBe(30);
  });

  it('never shrinks by more than a quarter a round on latency alone', () => {
    const l = new AdaptiveLimit(options);
    round(l, 10);
    round(l, 1000);
    expect(l.limit).toBe(12);
  });

  it('halves at once on an overload answer, once per round, not below its minimum', () => {
    const l = new AdaptiveLimit(options);
    round(l, 10);
    round(l, 10);
    expect(l.limit).toBe(32);
    l.onOverload();
    l.onOverload();
    l.onOverload();
    expect(l.limit).toBe(16);
    // The round after the 429 does not grow (its answers were sent at the old limit)...
    round(l, 10);
    expect(l.limit).toBe(16);
    // ...and then growth is by one, not doubling.
    round(l, 10);
    expect(l.limit).toBe(17);
    for (let i = 0; i < 10; i++) {
      l.onOverload();
      round(l, 10);
    }
    expect(l.limit).toBe(2);
  });

  it('forgets its best latency slowly, so a server that stays slower is not throttled forever', () => {
    const l = new AdaptiveLimit({ ...options, initial: 16, max: 16 });
    round(l, 10);
    // 30 ms rounds are congested against 10 ms at first, then become the norm.
    const limits: number[] = [];
    for (let i = 0; i < 40; i++) {
      round(l, 30);
      limits.push(l.limit);
    }
    expect(Math.min(...limits)).toBeLessThan(16);
    expect(limits[limits.length - 1]).toBe(16);
  });

  it('starts within its bounds', () => {
    expect(new AdaptiveLimit({ ...options, initial: 500 }).limit).toBe(64);
    expect(new AdaptiveLimit({ ...options, initial: 0 }).limit).toBe(2);
  });
});
