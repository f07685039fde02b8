import { InstanceRateLimiter, TokenBucket } from './TokenBucket';

describe('TokenBucket', () => {
  it('allows the burst, then refills at the rate, and says how long to wait', () => {
    const b = new TokenBucket(10, 2, 0);
    expect(b.take(10, 0)).toBe(0);
    expect(b.take(1, 0)).toBe(1); // 1 token at 2/s: half a second, rounded up
    expect(b.take(4, 0)).toBe(2);
    expect(b.take(1, 500)).toBe(0);
    expect(b.take(4, 1500)).toBe(1); // 2 tokens there after 1 s more; 2 missing
    expect(b.take(4, 2500)).toBe(0);
    expect(b.full(2500)).toBe(false);
    expect(b.full(10_000)).toBe(true);
  });

  it('never lets more than the capacity through at once', () => {
    const b = new TokenBucket(10, 1, 0);
    expect(b.take(11, 0)).toBeGreaterThan(0);
    expect(b.take(10, 0)).toBe(0);
  });
});

describe('InstanceRateLimiter', () => {
  it('limits each instance on its own, by batches and by bytes', () => {
    const r = new InstanceRateLimiter({
      bytesPerSecond: 1000,
      burstBytes: 2000,
      batchesPerSecond: 1,
      burstBatches: 2,
    });
    expect([
      r.takeBatch('a', 0),
      r.takeBatch('a', 0),
      r.takeBatch('a', 0),
    ]).toEqual([0, 0, 1]);
    expect(r.takeBatch('b', 0)).toBe(0);
    expect(r.takeBytes('b', 1500, 0)).toBe(0);
    expect(r.takeBytes('b', 1500, 0)).toBe(1);
    expect(r.takeBytes('b', 1500, 1000)).toBe(0);
    expect(r.size).toBe(2);
  });
});
