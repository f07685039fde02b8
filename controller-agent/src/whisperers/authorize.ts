import type { PodDirectory, PodIdentity } from '../cluster/PodDirectory';
import { canonicalIp } from '../dns/reverse';

export type Authorization =
  | { ok: true; pod: PodIdentity }
  | { ok: false; reason: 'unknown caller' | 'container not in caller pod' };

/**
 * A request is trusted only when it comes from the IP of a pod that carries the named
 * whisperer container. The source address is the TCP peer, never a header: on a pod
 * network a pod cannot receive replies for an IP it does not own, so the peer address
 * cannot be borrowed for a whole HTTP exchange.
 */
export function authorize(
  directory: PodDirectory,
  remoteAddress: string | undefined,
  container: string,
): Authorization {
  if (!remoteAddress) return { ok: false, reason: 'unknown caller' };
  // IPv4 callers of a dual-stack socket arrive as ::ffff:a.b.c.d.
  const address =
    remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.')
      ? remoteAddress.slice(7)
      : remoteAddress;
  const ip = canonicalIp(address);
  const pod = ip ? directory.podByIp(ip) : undefined;
  if (!pod) return { ok: false, reason: 'unknown caller' };
  if (!pod.ephemeralContainers.includes(container)) {
    return { ok: false, reason: 'container not in caller pod' };
  }
  return { ok: true, pod };
}
