import type { WorkloadKind } from '@spider/backstage-plugin-spider-common';

/**
 * What the agent knows about one pod, as much as the DNS proxy and the whisperer
 * endpoint need: PTR answers and "is this request really from a pod carrying that
 * whisperer". Values are the agent's lean cache; never mutate them.
 */
export interface PodIdentity {
  namespace: string;
  name: string;
  /** The pod's UID: the whisperer endpoint derives instance secrets from it. */
  uid: string;
  ip: string;
  /** The pod uses the node's network (its IP is the node's): never trusted by IP. */
  hostNetwork: boolean;
  node: string | null;
  /** The top-level workload owning the pod (Deployment, not its ReplicaSet), or null for a bare pod. */
  workload: { kind: WorkloadKind; name: string } | null;
  /** Names of the pod's ephemeral containers (whisperers among them). */
  ephemeralContainers: string[];
}

export interface ServiceIdentity {
  namespace: string;
  name: string;
}

/**
 * Lookup of pods and services by IP, backed by the agent's watches. Only pods that have
 * an IP and are not finished are indexed.
 */
export interface PodDirectory {
  podByIp(ip: string): PodIdentity | undefined;
  serviceByIp(ip: string): ServiceIdentity | undefined;
  /** Called (coalesced, not per object) after pods or services changed. Returns an unsubscribe. */
  onChange(listener: () => void): () => void;
}
