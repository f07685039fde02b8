/**
 * Counts failed agent authentications per source address. HTTP rate limiting does not
 * run for WebSocket upgrades, so token guessing is slowed here.
 */
export class FailedAuthLimiter {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly maxFailures = 20,
    private readonly windowMs = 60_000,
  ) {}

  fail(ip: string, now = Date.now()) {
    const entry = this.failures.get(ip);
    if (!entry || now - entry.since > this.windowMs) {
      this.failures.set(ip, { count: 1, since: now });
    } else {
      entry.count += 1;
    }
    if (this.failures.size > 10_000) this.prune(now);
  }

  isBlocked(ip: string, now = Date.now()): boolean {
    const entry = this.failures.get(ip);
    if (!entry) return false;
    if (now - entry.since > this.windowMs) {
      this.failures.delete(ip);
      return false;
    }
    return entry.count >= this.maxFailures;
  }

  private prune(now: number) {
    for (const [ip, e] of this.failures) if (now - e.since > this.windowMs) this.failures.delete(ip);
  }
}
