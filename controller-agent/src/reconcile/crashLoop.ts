import type { LeanWhisperer } from '../cluster/lean';

/** A whisperer that failed this many times within the window in one pod is not restarted there. */
export const CRASH_LOOP_FAILURES = 2;
export const CRASH_LOOP_WINDOW_MS = 5 * 60_000;

/** A terminated whisperer counts as failed unless it exited 0 (0 means it was told to stop, or finished). */
export function hasFailed(
  w: Pick<LeanWhisperer, 'state' | 'exitCode'>,
): boolean {
  return w.state === 'terminated' && w.exitCode !== 0;
}

/**
 * Whether one more restart is allowed in this pod. Each restart appends a container to
 * the pod spec for the pod's lifetime, so a whisperer that keeps crashing must not turn
 * into an ever-growing spec. `whisperers` are this attachment's containers in one pod.
 */
export function crashLoopGuard(
  whisperers: Array<Pick<LeanWhisperer, 'state' | 'exitCode' | 'finishedAt'>>,
  now: number,
): { restart: boolean; recentFailures: number } {
  let recentFailures = 0;
  for (const w of whisperers) {
    if (!hasFailed(w)) continue;
    const finished = w.finishedAt ? Date.parse(w.finishedAt) : NaN;
    // An unknown finish time counts as recent: erring towards not restarting.
    if (Number.isNaN(finished) || now - finished < CRASH_LOOP_WINDOW_MS)
      recentFailures++;
  }
  return { restart: recentFailures < CRASH_LOOP_FAILURES, recentFailures };
}
