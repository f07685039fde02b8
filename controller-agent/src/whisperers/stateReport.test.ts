import { parseStateReport } from './stateReport';

describe('parseStateReport', () => {
  it('accepts the documented shape', () => {
    expect(parseStateReport({ state: 'terminated', exitCode: 0 })).toEqual({
      ok: true,
      report: { state: 'terminated', message: null, exitCode: 0 },
    });
  });
  it.each([
    [null],
    [[]],
    [{ state: 'exploded' }],
    [{ state: 'running', extra: 1 }],
    [{ state: 'failed', message: 'x'.repeat(1025) }],
    [{ state: 'failed', exitCode: 1.5 }],
  ])('refuses %j', body => {
    expect(parseStateReport(body).ok).toBe(false);
  });
});
