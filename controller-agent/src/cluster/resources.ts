/** The kinds the agent watches, and where they live in the API. */
export const WATCHED_KINDS = [
  'Pod',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
  'Service',
] as const;
export type WatchedKind = (typeof WATCHED_KINDS)[number];

const API: Record<WatchedKind, { prefix: string; plural: string }> = {
  Pod: { prefix: '/api/v1', plural: 'pods' },
  Service: { prefix: '/api/v1', plural: 'services' },
  Deployment: { prefix: '/apis/apps/v1', plural: 'deployments' },
  StatefulSet: { prefix: '/apis/apps/v1', plural: 'statefulsets' },
  DaemonSet: { prefix: '/apis/apps/v1', plural: 'daemonsets' },
  ReplicaSet: { prefix: '/apis/apps/v1', plural: 'replicasets' },
  Job: { prefix: '/apis/batch/v1', plural: 'jobs' },
  CronJob: { prefix: '/apis/batch/v1', plural: 'cronjobs' },
};

/** Collection path of a kind, cluster-wide (namespace null) or in one namespace. */
export function collectionPath(
  kind: WatchedKind,
  namespace: string | null,
): string {
  const { prefix, plural } = API[kind];
  return namespace
    ? `${prefix}/namespaces/${namespace}/${plural}`
    : `${prefix}/${plural}`;
}
