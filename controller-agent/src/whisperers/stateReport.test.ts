import { STATS } from '../testUtils/trafficFixtures';
import { parseStateReport } from './stateReport';

describe('parseStateReport', () => {
  it('accepts the documented shape', () => {
    expect(parseStateReport({ state: 'terminated', exitCode: 0 })).toEqual({
      ok: true,
      report: { state: 'terminated', message: null, exitCode: 0, stats: null },
    });
  });
  it('accepts stats (v1.1), and a larger body only with them', () => {
    expect(parseStateReport({ state: 'running', stats: STATS }, 6000)).toEqual({
      ok: true,
      report: { state: 'running', message: null, exitCode: null, stats: STATS },
    });
    expect(parseStateReport({ state: 'running' }, 6000)).toMatchObject({
      ok: false,
      tooLarge: true,
    });
  });
  it.each([
    [null],
    [[]],
    [{ state: 'exploded' }],
    [{ state: 'running', extra: 1 }],
    [{ state: 'failed', message: 'x'.repeat(1025) }],
    [{ state: 'failed', exitCode: 1.5 }],
    [{ state: 'running', stats: { ...STATS, packets: -1 } }],
    [{ state: 'running', stats: { ...STATS, extra: 1 } }],
  ])('refuses %j', body => {
    expect(parseStateReport(body).ok).toBe(false);
  });
  it('names the stats field that is wrong', () => {
    expect(
      parseStateReport({
        state: 'running',
        stats: { ...STATS, packets: 'many' },
      }),
    ).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^stats\.packets: /),
    });
  });
});
