import { computeExpiresAt } from './computeExpiresAt';

describe('computeExpiresAt', () => {
  const t0 = Date.parse('2026-11-26T10:00:00Z');
  it('adds the timeToLive', () => {
    expect(computeExpiresAt(t0, 'PT2M', undefined)).toBe(t0 + 120_000);
  });
  it('caps it by the maximum', () => {
    expect(computeExpiresAt(t0, 'P1D', 3_600_000)).toBe(t0 + 3_600_000);
    expect(computeExpiresAt(t0, 'PT2S', 3_600_000)).toBe(t0 + 2_000);
  });
  it('gives the maximum to whisperers without a timeToLive', () => {
    expect(computeExpiresAt(t0, null, 60_000)).toBe(t0 + 60_000);
  });
  it('never expires without either', () => {
    expect(computeExpiresAt(t0, null, undefined)).toBeNull();
  });
});
