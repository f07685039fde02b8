// setupTests once called jest.setTimeout(30_000), which silently beat the run's
// --testTimeout (a loaded machine asking for more got 30 s). jest.setTimeout is what sets
// this symbol; nothing in the set-up may, so the run's timeout is the one tests get.
const TEST_TIMEOUT_SYMBOL = Symbol.for('TEST_TIMEOUT_SYMBOL');

describe('test set-up', () => {
  it('leaves the timeout to the run (--testTimeout, else package.json jest.testTimeout)', () => {
    expect(
      (globalThis as Record<symbol, unknown>)[TEST_TIMEOUT_SYMBOL],
    ).toBeUndefined();
  });
});
