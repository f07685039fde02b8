import type {
  PodDirectory,
  PodIdentity,
  ServiceIdentity,
} from '../cluster/PodDirectory';

/**
 * An in-memory PodDirectory for unit tests of the DNS server and the whisperer endpoint:
 * the same contract as the informer-backed one, with pods and services set by the test.
 */
export class MemoryPodDirectory implements PodDirectory {
  private readonly pods = new Map<string, PodIdentity>();
  private readonly services = new Map<string, ServiceIdentity>();
  private readonly listeners = new Set<() => void>();

  podByIp(ip: string): PodIdentity | undefined {
    return this.pods.get(ip);
  }

  serviceByIp(ip: string): ServiceIdentity | undefined {
    return this.services.get(ip);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  setPod(identity: PodIdentity): this {
    this.pods.set(identity.ip, identity);
    this.emit();
    return this;
  }

  removePod(ip: string): this {
    this.pods.delete(ip);
    this.emit();
    return this;
  }

  setService(ip: string, service: ServiceIdentity): this {
    this.services.set(ip, service);
    this.emit();
    return this;
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }
}

export function pod(
  ip: string,
  name: string,
  namespace = 'shop',
  workload: PodIdentity['workload'] = { kind: 'Deployment', name: 'web' },
  ephemeralContainers: string[] = [],
  extra: Partial<Pick<PodIdentity, 'uid' | 'hostNetwork'>> = {},
): PodIdentity {
  return {
    ip,
    name,
    namespace,
    uid: extra.uid ?? `uid-${namespace}-${name}`,
    hostNetwork: extra.hostNetwork ?? false,
    node: 'node-1',
    workload,
    ephemeralContainers,
  };
}
