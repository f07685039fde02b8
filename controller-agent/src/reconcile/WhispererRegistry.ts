import type {
  CaptureSettings,
  DesiredAttachment,
  InstanceState,
  WorkloadRef,
} from '@spider/backstage-plugin-spider-common';

/**
 * What a whisperer fetches from the agent's endpoint: the attachment it serves and
 * whether it must stop. `stop` becomes true on detach, expiry or when the attachment is
 * gone from the desired set; it never goes back to false for that container.
 */
export interface WhispererConfig {
  attachmentId: string;
  /** The container name (see `whispererContainerName`) and its generation. */
  container: string;
  generation: number;
  target: WorkloadRef;
  pod: { namespace: string; name: string };
  whisperer: DesiredAttachment['whisperer'];
  captureFilter: string;
  /** ISO time after which the whisperer must stop by itself, or null. */
  expiresAt: string | null;
  stop: boolean;
  /** Why it must stop (`detached`, `expired`, `deleted`), null while it runs. */
  stopReason: WhispererStopReason | null;
  /** Capture settings (contract v1.1): the defaults overridden by the Whisperer's env. */
  capture: CaptureSettings;
}

export type WhispererStopReason = 'detached' | 'expired' | 'deleted';

/** A state report from a whisperer about itself. */
export interface WhispererStateReport {
  podNamespace: string;
  podName: string;
  container: string;
  /** `running` once capturing, `terminated` on a clean exit, `failed` on an error. */
  state: Extract<
    InstanceState,
    'running' | 'stopping' | 'terminated' | 'failed'
  >;
  message?: string | null;
  exitCode?: number | null;
}

/**
 * The agent's side of the whisperer endpoint (implemented in reconcile/, consumed by
 * whisperers/). The endpoint authenticates the caller (source IP = a pod carrying that
 * container, see PodDirectory) before calling these.
 */
export interface WhispererRegistry {
  /**
   * The config of the whisperer running as `container` in pod `podNamespace/podName`, or
   * undefined when the agent does not know that container (not one of its whisperers).
   * A known attachment that was stopped still answers, with `stop: true`.
   */
  configFor(
    podNamespace: string,
    podName: string,
    container: string,
  ): WhispererConfig | undefined;
  /**
   * False until the agent has received the desired set from the Controls service at
   * least once since it started. Until then an unknown container is "not known yet",
   * not "stop": answer the whisperer with retry-later instead of stop.
   */
  hasDesiredSet(): boolean;
  /**
   * True once the attachment was detached or expired, or (when `hasDesiredSet()`) is not
   * in the desired set at all.
   */
  isStopped(attachmentId: string): boolean;
  /** Records what a whisperer says about itself; reaches the backend as instance state. */
  reportState(report: WhispererStateReport): void;
  /**
   * Called when an attachment stops (detach, expiry, removal), so the endpoint can wake
   * long-polls or push a stop. Returns an unsubscribe.
   */
  onStop(
    listener: (attachmentId: string, reason: WhispererStopReason) => void,
  ): () => void;
}
