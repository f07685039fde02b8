import type { PodDirectory, PodIdentity } from '../cluster/PodDirectory';
import { canonicalIp } from '../dns/reverse';
import type { InstanceSecrets } from './instanceSecret';

export type RefusalReason =
  | 'unknown caller'
  | 'host network pod'
  | 'container not in caller pod'
  | 'missing instance secret'
  | 'wrong instance secret';

export type Authorization =
  | { ok: true; pod: PodIdentity }
  | { ok: false; reason: RefusalReason };

/**
 * A request is trusted only when it comes from the IP of a pod that carries the named
 * whisperer container, and presents that instance's secret. The source address is the
 * TCP peer, never a header: on a pod network a pod cannot receive replies for an IP it
 * does not own, so the peer address cannot be borrowed for a whole HTTP exchange. A
 * hostNetwork pod has the node's IP, which every process on the node (and every other
 * hostNetwork pod there) shares, so it is never trusted, whatever it presents.
 */
export function authorize(
  directory: PodDirectory,
  secrets: InstanceSecrets,
  request: {
    remoteAddress: string | undefined;
    container: string;
    secret: string | undefined;
  },
): Authorization {
  const { remoteAddress, container } = request;
  if (!remoteAddress) return { ok: false, reason: 'unknown caller' };
  // IPv4 callers of a dual-stack socket arrive as ::ffff:a.b.c.d.
  const address =
    remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.')
      ? remoteAddress.slice(7)
      : remoteAddress;
  const ip = canonicalIp(address);
  const pod = ip ? directory.podByIp(ip) : undefined;
  if (!pod) return { ok: false, reason: 'unknown caller' };
  if (pod.hostNetwork) return { ok: false, reason: 'host network pod' };
  if (!pod.ephemeralContainers.includes(container)) {
    return { ok: false, reason: 'container not in caller pod' };
  }
  if (!request.secret) return { ok: false, reason: 'missing instance secret' };
  if (!secrets.verify(pod.uid, container, request.secret)) {
    return { ok: false, reason: 'wrong instance secret' };
  }
  return { ok: true, pod };
}
