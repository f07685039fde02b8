import { crashLoopGuard, hasFailed } from './crashLoop';

const now = Date.parse('2026-05-01T12:00:00Z');
const ago = (ms: number) => new Date(now - ms).toISOString();
const failed = (finishedAt: string | null, exitCode: number | null = 1) => ({
  state: 'terminated' as const,
  exitCode,
  finishedAt,
});

describe('crashLoopGuard', () => {
  it.each([
    ['no failures', [], true, 0],
    ['one recent failure', [failed(ago(10_000))], true, 1],
    [
      'two failures within 5 minutes',
      [failed(ago(200_000)), failed(ago(10_000))],
      false,
      2,
    ],
    [
      'two failures, one older than 5 minutes',
      [failed(ago(400_000)), failed(ago(10_000))],
      true,
      1,
    ],
    [
      'clean exits do not count',
      [failed(ago(1000), 0), failed(ago(2000), 0)],
      true,
      0,
    ],
    [
      'unknown finish time counts as recent',
      [failed(null), failed(null)],
      false,
      2,
    ],
    [
      'running containers do not count',
      [
        { state: 'running' as const, exitCode: null, finishedAt: null },
        failed(ago(1)),
      ],
      true,
      1,
    ],
    [
      'a failure with no exit code counts',
      [failed(ago(1), null), failed(ago(2), 137)],
      false,
      2,
    ],
  ])('%s', (_name, whisperers, restart, recentFailures) => {
    expect(crashLoopGuard(whisperers as any, now)).toEqual({
      restart,
      recentFailures,
    });
  });
  it('hasFailed', () => {
    expect(hasFailed({ state: 'terminated', exitCode: 0 })).toBe(false);
    expect(hasFailed({ state: 'terminated', exitCode: 1 })).toBe(true);
    expect(hasFailed({ state: 'running', exitCode: null })).toBe(false);
  });
});
