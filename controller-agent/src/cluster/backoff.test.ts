import { backoffDelay } from './backoff';

describe('backoffDelay', () => {
  it.each([
    [1, 0, 250],
    [1, 1, 500],
    [2, 1, 1000],
    [3, 0, 1000],
    [10, 1, 30000],
    [50, 0, 15000],
  ])('attempt %d with random %d → %d ms', (attempt, r, expected) => {
    expect(backoffDelay(attempt, 500, 30_000, () => r)).toBe(expected);
  });
});
