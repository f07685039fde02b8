import type { DesiredAttachment } from '@spider/backstage-plugin-spider-common';
import type { InstanceSecrets } from '../whisperers/instanceSecret';

/** Environment names the whisperer reads (its side of the contract). */
export const WHISPERER_ENV = {
  attachmentId: 'SPIDER_ATTACHMENT_ID',
  instance: 'SPIDER_INSTANCE',
  /** Proves to the endpoint that a call comes from this instance (contract v1.2). */
  instanceSecret: 'SPIDER_INSTANCE_SECRET',
  generation: 'SPIDER_GENERATION',
  whispererId: 'SPIDER_WHISPERER_ID',
  captureFilter: 'SPIDER_CAPTURE_FILTER',
  expiresAt: 'SPIDER_EXPIRES_AT',
  agentUrl: 'SPIDER_AGENT_URL',
  dns: 'SPIDER_DNS',
  targetContainer: 'SPIDER_TARGET_CONTAINER',
  podName: 'SPIDER_POD_NAME',
  podNamespace: 'SPIDER_POD_NAMESPACE',
} as const;

export interface AgentEndpoints {
  /** Base URL of the agent's whisperer endpoint, e.g. http://10.0.0.5:8081 */
  agentUrl: string;
  /** host:port of the agent's DNS proxy. */
  dns: string;
  /**
   * Derives each instance's secret (the endpoint checks the same). Without it the
   * containers carry none, and the endpoint refuses them: only tests leave it out.
   */
  secrets?: InstanceSecrets;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Least privilege for code running inside someone else's pod: raw sockets to capture
 * (NET_RAW, which needs root) and nothing else — no escalation, no writes to its own
 * image, the runtime's default seccomp profile.
 */
export const WHISPERER_SECURITY_CONTEXT = {
  capabilities: { drop: ['ALL'], add: ['NET_RAW'] },
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: false,
  runAsUser: 0,
  seccompProfile: { type: 'RuntimeDefault' },
} as const;

/**
 * The ephemeral container for one whisperer. Ephemeral containers may not have ports,
 * resources, probes or lifecycle hooks, so it has none. Everything here is a function of
 * the attachment, the pod and the agent's settings, so re-sending it for an existing
 * container is a no-op, not a change.
 */
export function buildWhispererContainer(input: {
  attachment: DesiredAttachment;
  container: string;
  /** The pod it goes into: its instance secret is derived from the UID. */
  podUid?: string;
  generation: number;
  targetContainer: string;
  /** Share the target's process namespace (`targetContainerName`); only when asked and allowed. */
  processAccess: boolean;
  defaultImage: string;
  endpoints: AgentEndpoints;
}): Record<string, unknown> {
  const { attachment: a } = input;
  const env: Array<Record<string, unknown>> = [];
  const ours = new Set<string>(Object.values(WHISPERER_ENV));
  // The whisperer's own settings first; ours cannot be overridden by them.
  for (const [name, value] of Object.entries(a.whisperer.env).sort(([x], [y]) =>
    x < y ? -1 : 1,
  )) {
    if (ENV_NAME.test(name) && !ours.has(name)) env.push({ name, value });
  }
  env.push(
    { name: WHISPERER_ENV.attachmentId, value: a.id },
    { name: WHISPERER_ENV.instance, value: input.container },
    // Derived, not random: the same pod and container always get the same value, so a
    // re-sent container stays identical (a no-op) and a restarted agent still accepts it.
    ...(input.endpoints.secrets && input.podUid
      ? [
          {
            name: WHISPERER_ENV.instanceSecret,
            value: input.endpoints.secrets.secretFor(
              input.podUid,
              input.container,
            ),
          },
        ]
      : []),
    { name: WHISPERER_ENV.generation, value: String(input.generation) },
    { name: WHISPERER_ENV.whispererId, value: a.whisperer.id },
    { name: WHISPERER_ENV.captureFilter, value: a.whisperer.captureFilter },
    { name: WHISPERER_ENV.expiresAt, value: a.expiresAt ?? '' },
    { name: WHISPERER_ENV.agentUrl, value: input.endpoints.agentUrl },
    { name: WHISPERER_ENV.dns, value: input.endpoints.dns },
    { name: WHISPERER_ENV.targetContainer, value: input.targetContainer },
    {
      name: WHISPERER_ENV.podName,
      valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
    },
    {
      name: WHISPERER_ENV.podNamespace,
      valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } },
    },
  );
  return {
    name: input.container,
    image: a.whisperer.image ?? input.defaultImage,
    imagePullPolicy: 'IfNotPresent',
    // Without it the whisperer shares only the pod's network namespace: it cannot see
    // the application's processes, files or environment through /proc.
    ...(input.processAccess
      ? { targetContainerName: input.targetContainer }
      : {}),
    env,
    securityContext: structuredClone(WHISPERER_SECURITY_CONTEXT),
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

/** The strategic merge patch body: ephemeralContainers merge by name, so this only adds. */
export function ephemeralContainerPatch(
  container: Record<string, unknown>,
  podUid: string,
) {
  // metadata.uid is immutable, so the API server refuses the patch (422) when the pod of
  // that name is no longer the one planned for: a precondition without a read first.
  return {
    metadata: { uid: podUid },
    spec: { ephemeralContainers: [container] },
  };
}
