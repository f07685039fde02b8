import type { PodIdentity } from '../../src/cluster/PodDirectory';
import { podPtrName } from '../../src/dns/ptrNames';
import { reverseNameOf } from '../../src/dns/reverse';

/** N pods spread over namespaces and Deployments, with IPs 10.244.x.y — the same for every server benchmarked. */
export function benchPods(count: number): PodIdentity[] {
  const pods: PodIdentity[] = [];
  for (let i = 0; i < count; i++) {
    const ns = `team-${i % 50}`;
    const workload = `svc-${i % 400}`;
    pods.push({
      ip: `10.${244 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
      name: `${workload}-7d9f8c6b5-${i.toString(36).padStart(5, '0')}`,
      namespace: ns,
      uid: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
      hostNetwork: false,
      node: `node-${i % 20}`,
      workload: { kind: 'Deployment', name: workload },
      ephemeralContainers: [],
    });
  }
  return pods;
}

/** dnsperf's input: one `<reverse name> PTR` line per pod, in a fixed shuffled order. */
export function queryFile(pods: PodIdentity[]): string {
  const lines = pods.map(p => `${reverseNameOf(p.ip)} PTR`);
  let seed = 42;
  for (let i = lines.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const j = seed % (i + 1);
    [lines[i], lines[j]] = [lines[j], lines[i]];
  }
  return `${lines.join('\n')}\n`;
}

/** The same names as an /etc/hosts file, for CoreDNS's hosts plugin (which answers PTR from it). */
export function hostsFile(pods: PodIdentity[], zone = 'cluster.local'): string {
  return `${pods.map(p => `${p.ip} ${podPtrName(p, zone)}`).join('\n')}\n`;
}
