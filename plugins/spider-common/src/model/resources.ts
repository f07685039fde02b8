import { z } from 'zod';
import { WorkloadKind, WorkloadRef } from './kubernetes';

/** Rights a grant may carry on a Controller. An owner holds them all. */
export const CONTROLLER_RIGHTS = [
  'read',
  'use',
  'update',
  'delete',
  'share',
  'install',
] as const;
export type ControllerRight = (typeof CONTROLLER_RIGHTS)[number];

export const ATTACHMENT_STATUSES = [
  'pending',
  'active',
  'detaching',
  'detached',
  'expired',
  'failed',
] as const;
export type AttachmentStatus = (typeof ATTACHMENT_STATUSES)[number];
/** Statuses in which an attachment still wants whisperers in pods. */
export const LIVE_ATTACHMENT_STATUSES: AttachmentStatus[] = [
  'pending',
  'active',
];

export const INSTANCE_STATES = [
  'pending',
  'running',
  'stopping',
  'terminated',
  'failed',
] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

/**
 * Why an instance is not (or no longer) running, in terms a user can act on.
 * The agent sets it; the UI turns it into a sentence.
 */
export const INSTANCE_REASONS = [
  'Injecting',
  'Running',
  'Completed',
  'Detached',
  'Expired',
  'Crashed',
  'CrashLoopGuard',
  'EphemeralContainersDisabled',
  'PodSecurityRejected',
  'Forbidden',
  'PodNotRunning',
  'NamespaceOutOfScope',
  'StaticPod',
  'ContainerNotFound',
  'InjectionFailed',
  /** The whisperer reported `failed` (e.g. an invalid capture filter); never re-injected. */
  'WhispererFailed',
  /** The image is not on the agent's allow-list (chart value whisperers.allowedImages); never injected. */
  'ImageNotAllowed',
  /** The target is in the agent's own namespace, where it never injects. */
  'AgentNamespace',
  /** The pod uses hostNetwork: its IP is the node's; never injected. */
  'HostNetworkPod',
] as const;
export type InstanceReason = (typeof INSTANCE_REASONS)[number];

/** Namespace scope of an agent install: `include` '*' means every namespace. */
export interface NamespaceScope {
  include: '*' | string[];
  exclude: string[];
}

export interface Controller {
  id: string;
  name: string;
  description: string;
  owner: string;
  createdAt: string;
  updatedAt: string;
  connected: boolean;
  lastSeenAt: string | null;
  agentVersion: string | null;
  clusterVersion: string | null;
  /** The namespace scope the agent reported in its hello, null before the first one. */
  scope: NamespaceScope | null;
  activeAttachments: number;
  /** What the caller may do on this Controller (to show or hide actions). */
  rights: ControllerRight[];
}

/** A Controller as answered right after create or token rotation: the only time the token shows. */
export interface ControllerWithToken extends Controller {
  token: string;
}

export interface Whisperer {
  id: string;
  name: string;
  description: string;
  /** Image of the whisperer; null means the agent's default. */
  image: string | null;
  /** A pcap/BPF capture filter, e.g. `tcp port 80`. Empty captures everything. */
  captureFilter: string;
  /** ISO-8601 duration after which an attachment of this whisperer ends by itself. */
  timeToLive: string | null;
  /** Extra settings passed to the whisperer as environment. */
  env: Record<string, string>;
  owner: string;
  createdAt: string;
  updatedAt: string;
}

export interface WhispererInstance {
  pod: string;
  container: string;
  node: string | null;
  podIp: string | null;
  state: InstanceState;
  reason: InstanceReason | null;
  message: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  generation: number;
}

export interface Attachment {
  id: string;
  controllerId: string;
  whispererId: string;
  whispererName: string;
  target: WorkloadRef;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  status: AttachmentStatus;
  /** Why the attachment is failed or detached, in plain words. */
  message: string | null;
  detachedAt: string | null;
  detachedBy: string | null;
  detachReason: string | null;
  instances: WhispererInstance[];
}

export interface Workload {
  namespace: string;
  kind: WorkloadKind;
  name: string;
  labels: Record<string, string>;
  /** Desired replicas (Deployment/StatefulSet/ReplicaSet), scheduled pods (DaemonSet). */
  replicas: number | null;
  /** Pods currently mapped to this workload. */
  pods: number;
}

export interface Grant {
  /** `user:default/jane` or `group:default/team-b`. */
  principal: string;
  rights: ControllerRight[];
  namespaces: string[] | '*';
}

export interface AgentStatus {
  agentVersion: string;
  protocolVersion: number;
  clusterVersion: string | null;
  scope: NamespaceScope;
  /** CPU used by the agent process, in cores over the last interval. */
  cpuCores: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Watched objects per kind (Pod, Deployment, ...). */
  watched: Record<string, number>;
  /** The image patterns the agent injects (absent from older agents). */
  allowedImages?: string[];
  attachments: Array<{ id: string; instances: WhispererInstance[] }>;
  reportedAt: string;
  startedAt: string;
}

export interface ControllerStatus {
  controllerId: string;
  connected: boolean;
  lastSeenAt: string | null;
  status: AgentStatus | null;
}

export interface EntityWorkload extends Workload {
  controllerId: string;
  controllerName: string;
}

export interface ListResponse<T> {
  items: T[];
  /** Opaque cursor of the next page, when there is one. */
  nextCursor?: string;
  totalCount?: number;
}

export const instanceSchemaShape = {
  pod: z.string().min(1).max(253),
  container: z.string().min(1).max(63),
  node: z.string().max(253).nullable(),
  podIp: z.string().max(45).nullable(),
  state: z.enum(INSTANCE_STATES),
  reason: z.enum(INSTANCE_REASONS).nullable(),
  message: z.string().max(2048).nullable(),
  startedAt: z.string().max(40).nullable(),
  finishedAt: z.string().max(40).nullable(),
  exitCode: z.number().int().nullable(),
  generation: z.number().int().min(0).max(1000),
};
export const whispererInstanceSchema = z.strictObject(instanceSchemaShape);
