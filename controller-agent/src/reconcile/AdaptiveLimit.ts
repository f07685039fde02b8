/**
 * How many PATCHes the Injector keeps in flight, learnt from the API server's answers
 * (pure: the caller reports each answer with its latency; no clock, no timers).
 *
 * A fixed cap is wrong both ways: 32 left a 1,000-pod attach at a fifth of what the API
 * server could take (bench:agent's minimal client was fastest at 200 in flight), and
 * a fixed 200 would crowd a busy cluster's API server. API priority and fairness
 * answers an over-eager client in two ways, and the limit follows both:
 * - it queues the client's requests in its priority level: latency grows while the
 *   throughput does not. Once per round (as many answers as the limit), the round's
 *   mean latency is compared with the lowest seen; past `tolerance` times that, the
 *   limit shrinks in proportion, by a quarter at most (latency
 *   on a shared machine is noisy: one slow round must not collapse it);
 * - it answers 429 once the queue is full (as it does 5xx when overloaded): the limit
 *   halves at once, at most once per round (the other answers of that round were
 *   already sent at the old limit).
 * While latency holds, the limit doubles per round until the first congestion, then
 * grows by one per round (TCP's slow start and congestion avoidance). It grows only in
 * rounds where the limit was reached, so a few small attaches never inflate it.
 */
export interface AdaptiveLimitOptions {
  initial: number;
  min: number;
  max: number;
  /** A round whose mean latency exceeds the lowest seen this many times is congested. */
  tolerance: number;
}

export const DEFAULT_ADAPTIVE_LIMIT: AdaptiveLimitOptions = {
  initial: 32,
  min: 4,
  max: 256,
  tolerance: 2,
};

export class AdaptiveLimit {
  private current: number;
  private slowStart = true;
  /** The lowest round mean seen, slowly forgotten so a slower server is not punished forever. */
  private baseline = Infinity;
  private roundCount = 0;
  private roundSum = 0;
  private roundFull = false;
  private roundOverloaded = false;

  constructor(private readonly options: AdaptiveLimitOptions) {
    this.current = clamp(options.initial, options.min, options.max);
  }

  get limit(): number {
    return this.current;
  }

  /** An answer that is not an overload (success or a refusal), `inFlight` including it. */
  onAnswer(latencyMs: number, inFlight: number): void {
    this.roundCount++;
    this.roundSum += latencyMs;
    if (inFlight >= this.current) this.roundFull = true;
    if (this.roundCount < this.current) return;
    const mean = this.roundSum / this.roundCount;
    const full = this.roundFull;
    const overloaded = this.roundOverloaded;
    this.newRound();
    // Forget the floor by 10 % a round: a server that got slower for good (more load
    // elsewhere) is compared with itself after a few rounds, not with its best moment.
    this.baseline = Math.min(
      mean,
      this.baseline === Infinity ? mean : this.baseline * 1.1,
    );
    if (overloaded) return;
    const allowed = this.baseline * this.options.tolerance;
    if (mean > allowed) {
      this.slowStart = false;
      this.set(this.current * Math.max(0.75, allowed / mean));
    } else if (full) {
      this.set(this.slowStart ? this.current * 2 : this.current + 1);
    }
  }

  /** A 429 (priority and fairness queue full) or a 5xx overload answer. */
  onOverload(): void {
    if (this.roundOverloaded) return;
    this.slowStart = false;
    this.set(this.current / 2);
    this.newRound();
    this.roundOverloaded = true;
  }

  private newRound(): void {
    this.roundCount = 0;
    this.roundSum = 0;
    this.roundFull = false;
    this.roundOverloaded = false;
  }

  private set(limit: number): void {
    this.current = clamp(Math.floor(limit), this.options.min, this.options.max);
  }
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}
