import { expiryTime, isExpired, nextExpiry } from './expiry';

describe('expiry', () => {
  const now = Date.parse('2026-05-01T12:00:00Z');
  it.each([
    [null, false],
    ['2026-05-01T11:59:59Z', true],
    ['2026-05-01T12:00:00Z', true],
    ['2026-05-01T12:00:01Z', false],
    ['garbage', false],
  ])('isExpired(%s) = %s', (expiresAt, expected) => {
    expect(isExpired({ expiresAt }, now)).toBe(expected);
  });
  it('finds the next expiry ahead', () => {
    expect(
      nextExpiry(
        [
          { expiresAt: null },
          { expiresAt: '2026-05-01T12:10:00Z' },
          { expiresAt: '2026-05-01T12:05:00Z' },
          { expiresAt: '2026-05-01T11:00:00Z' },
        ],
        now,
      ),
    ).toBe(Date.parse('2026-05-01T12:05:00Z'));
    expect(nextExpiry([], now)).toBeNull();
    expect(expiryTime({ expiresAt: 'x' })).toBeNull();
  });
});
