/**
 * Slows agent token guessing without locking out healthy agents. HTTP rate limiting does
 * not run for WebSocket upgrades, so the gateway asks this before and after it checks a
 * token.
 *
 * Two counters, because many agents may share one source address (a corporate NAT, an
 * ingress that does not forward the client address):
 * - per presented credential: the same wrong token retried (an agent left with a rotated
 *   token) is refused quickly, and only that token is;
 * - per address, with a much higher bar: many different wrong tokens from one place.
 * An address over its bar gets 429 for unknown tokens only: a valid token is always let
 * through, so one bad neighbour behind the same address cannot lock the others out.
 */
export interface FailedAuthLimits {
  /** Failures of one presented credential within the window before it is refused. */
  perCredential: number;
  /** Failures from one address within the window before unknown tokens get 429. */
  perAddress: number;
  windowMs: number;
  /** Tracked keys at most (oldest windows pruned first), so memory stays bounded. */
  maxKeys: number;
}

export const DEFAULT_FAILED_AUTH_LIMITS: FailedAuthLimits = {
  perCredential: 5,
  perAddress: 100,
  windowMs: 60_000,
  maxKeys: 20_000,
};

type Entry = { count: number; since: number };

export class FailedAuthLimiter {
  private readonly byCredential = new Map<string, Entry>();
  private readonly byAddress = new Map<string, Entry>();
  private readonly limits: FailedAuthLimits;

  constructor(limits: Partial<FailedAuthLimits> = {}) {
    this.limits = { ...DEFAULT_FAILED_AUTH_LIMITS, ...limits };
  }

  /** Records a failed attempt; `credential` is a hash of what was presented (or '' when none). */
  fail(address: string, credential: string, now = Date.now()) {
    this.bump(this.byAddress, address, now);
    if (credential) this.bump(this.byCredential, credential, now);
  }

  /** This exact credential failed too often: refuse it without looking it up. */
  isCredentialBlocked(credential: string, now = Date.now()): boolean {
    return this.over(
      this.byCredential,
      credential,
      this.limits.perCredential,
      now,
    );
  }

  /** This address failed too often: refuse anything but a valid token. */
  isAddressLimited(address: string, now = Date.now()): boolean {
    return this.over(this.byAddress, address, this.limits.perAddress, now);
  }

  private bump(map: Map<string, Entry>, key: string, now: number) {
    const entry = map.get(key);
    if (!entry || now - entry.since > this.limits.windowMs) {
      map.delete(key);
      map.set(key, { count: 1, since: now });
    } else {
      entry.count += 1;
    }
    if (map.size > this.limits.maxKeys) this.prune(map, now);
  }

  private over(map: Map<string, Entry>, key: string, max: number, now: number) {
    const entry = map.get(key);
    if (!entry) return false;
    if (now - entry.since > this.limits.windowMs) {
      map.delete(key);
      return false;
    }
    return entry.count >= max;
  }

  private prune(map: Map<string, Entry>, now: number) {
    for (const [k, e] of map)
      if (now - e.since > this.limits.windowMs) map.delete(k);
    // Still too many live keys: drop the oldest (Map keeps insertion order).
    for (const k of map.keys()) {
      if (map.size <= this.limits.maxKeys) break;
      map.delete(k);
    }
  }
}

/**
 * The address an upgrade came from. Behind a reverse proxy every agent shares the proxy's
 * address, so when the socket's peer is a configured trusted proxy, the right-most address
 * of the configured header that is not itself a trusted proxy is used instead. Without
 * configuration, headers are ignored (they are trivially forged).
 */
export function clientAddress(
  socketAddress: string | undefined,
  headers: Record<string, string | string[] | undefined>,
  trust: { header?: string; proxies: string[] },
): string {
  const peer = normalizeAddress(socketAddress ?? 'unknown');
  if (!trust.header || !trust.proxies.includes(peer)) return peer;
  const raw = headers[trust.header.toLowerCase()];
  const value = Array.isArray(raw) ? raw.join(',') : raw;
  if (!value) return peer;
  const hops = value
    .split(',')
    .map(s => normalizeAddress(s.trim()))
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!trust.proxies.includes(hops[i])) return hops[i].slice(0, 64);
  }
  return peer;
}

function normalizeAddress(a: string): string {
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}
