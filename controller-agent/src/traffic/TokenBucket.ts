/**
 * A token bucket: `capacity` tokens, refilled at `ratePerSecond`. Pure arithmetic on the
 * caller's clock, so it is tested without timers.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    readonly capacity: number,
    readonly ratePerSecond: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.at = now;
  }

  private refill(now: number): void {
    if (now > this.at) {
      this.tokens = Math.min(
        this.capacity,
        this.tokens + ((now - this.at) / 1000) * this.ratePerSecond,
      );
      this.at = now;
    }
  }

  /** Takes `n` tokens, or none: 0 when taken, else the whole seconds until they would be there. */
  take(n: number, now: number): number {
    this.refill(now);
    if (n <= this.tokens) {
      this.tokens -= n;
      return 0;
    }
    // More than the bucket holds can never pass; say "after a full refill".
    const missing = Math.min(n, this.capacity) - this.tokens;
    return Math.max(1, Math.ceil(missing / this.ratePerSecond));
  }

  /** Whether the bucket is full (an idle caller's bucket can be forgotten). */
  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.capacity;
  }
}

export interface TrafficRateLimits {
  /** Sustained bytes per second per whisperer instance, and the burst. */
  bytesPerSecond: number;
  burstBytes: number;
  /** Sustained batches per second per whisperer instance, and the burst. */
  batchesPerSecond: number;
  burstBatches: number;
}

/** A whisperer flushes about once a second with at most 1 MiB: these leave room for bursts. */
export const DEFAULT_TRAFFIC_RATE_LIMITS: TrafficRateLimits = {
  bytesPerSecond: 8 * 1024 * 1024,
  burstBytes: 16 * 1024 * 1024,
  batchesPerSecond: 20,
  burstBatches: 40,
};

/** Token buckets on bytes and batches, one pair per whisperer instance. */
export class InstanceRateLimiter {
  private readonly buckets = new Map<
    string,
    { bytes: TokenBucket; batches: TokenBucket }
  >();

  constructor(
    private readonly limits: TrafficRateLimits = DEFAULT_TRAFFIC_RATE_LIMITS,
  ) {}

  private of(key: string, now: number) {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= 10_000) this.forgetIdle(now);
      b = {
        bytes: new TokenBucket(
          this.limits.burstBytes,
          this.limits.bytesPerSecond,
          now,
        ),
        batches: new TokenBucket(
          this.limits.burstBatches,
          this.limits.batchesPerSecond,
          now,
        ),
      };
      this.buckets.set(key, b);
    }
    return b;
  }

  /** One batch: 0 when allowed, else Retry-After seconds. */
  takeBatch(key: string, now: number): number {
    return this.of(key, now).batches.take(1, now);
  }

  /** The batch's bytes, counted once read: 0 when allowed, else Retry-After seconds. */
  takeBytes(key: string, bytes: number, now: number): number {
    return this.of(key, now).bytes.take(bytes, now);
  }

  get size(): number {
    return this.buckets.size;
  }

  private forgetIdle(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.bytes.full(now) && b.batches.full(now)) this.buckets.delete(key);
    }
  }
}
