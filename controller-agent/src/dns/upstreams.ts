import { canonicalIp, parseIpv4 } from './reverse';

/** A resolver the agent forwards to. */
export interface Upstream {
  address: string;
  port: number;
  family: 4 | 6;
}

export const MAX_UPSTREAMS = 8;

/**
 * Parses `ip`, `ip:port`, `[ipv6]` or `[ipv6]:port` (a bare IPv6 address has no port).
 */
export function parseUpstream(spec: string): Upstream | undefined {
  const text = spec.trim();
  let host = text;
  let port = 53;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracket) {
    host = bracket[1];
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if (/^[\d.]+:\d+$/.test(text)) {
    const i = text.lastIndexOf(':');
    host = text.slice(0, i);
    port = Number(text.slice(i + 1));
  }
  // A zone index (fe80::1%eth0) is not supported: link-local resolvers are not used in pods.
  const ip = canonicalIp(host);
  if (!ip || !Number.isInteger(port) || port < 1 || port > 65_535)
    return undefined;
  return { address: ip, port, family: parseIpv4(ip) ? 4 : 6 };
}

/**
 * The `nameserver` lines of a resolv.conf (resolv.conf(5)); glibc uses at most three,
 * the agent takes up to {@link MAX_UPSTREAMS}. Unparseable entries are skipped.
 */
export function parseResolvConf(text: string): Upstream[] {
  const out: Upstream[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const up = parseUpstream(m[1]);
    if (up && out.length < MAX_UPSTREAMS) out.push(up);
  }
  return out;
}

/** Parses a configured list; throws naming each bad entry. */
export function parseUpstreamList(specs: string[]): Upstream[] {
  const bad = specs.filter(s => !parseUpstream(s));
  if (bad.length) {
    throw new Error(
      `invalid DNS upstreams ${bad
        .map(b => `"${b}"`)
        .join(', ')}: use ip, ip:port or [ipv6]:port`,
    );
  }
  if (specs.length > MAX_UPSTREAMS)
    throw new Error(`at most ${MAX_UPSTREAMS} DNS upstreams`);
  return specs.map(s => parseUpstream(s)!);
}
