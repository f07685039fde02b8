import { DEFAULT_CAPTURE_SETTINGS } from '@spider/backstage-plugin-spider-common';
import type {
  WhispererConfig,
  WhispererRegistry,
  WhispererStateReport,
  WhispererStopReason,
} from '../reconcile/WhispererRegistry';

/**
 * An in-memory WhispererRegistry for endpoint tests: containers are added by the test,
 * `stop()` plays a detach, `expiresAt` in the past reads as an expiry (as the real one
 * computes it on read, without an event).
 */
export class MemoryWhispererRegistry implements WhispererRegistry {
  readonly reports: WhispererStateReport[] = [];
  private readonly configs = new Map<string, WhispererConfig>();
  private readonly stopped = new Map<string, WhispererStopReason>();
  private readonly listeners = new Set<
    (id: string, reason: WhispererStopReason) => void
  >();
  desiredSet = true;

  add(
    config: Pick<WhispererConfig, 'attachmentId' | 'container' | 'pod'> &
      Partial<WhispererConfig>,
  ): this {
    this.configs.set(
      `${config.pod.namespace}/${config.pod.name}/${config.container}`,
      {
        generation: 0,
        target: {
          namespace: config.pod.namespace,
          kind: 'Deployment',
          name: 'web',
        },
        whisperer: {
          id: 'w1',
          name: 'tcpdump',
          image: null,
          captureFilter: 'tcp',
          env: {},
        },
        captureFilter: 'tcp',
        expiresAt: null,
        stop: false,
        stopReason: null,
        capture: DEFAULT_CAPTURE_SETTINGS,
        ...config,
      },
    );
    return this;
  }

  stop(attachmentId: string, reason: WhispererStopReason): void {
    this.stopped.set(attachmentId, reason);
    for (const l of this.listeners) l(attachmentId, reason);
  }

  configFor(
    podNamespace: string,
    podName: string,
    container: string,
  ): WhispererConfig | undefined {
    const c = this.configs.get(`${podNamespace}/${podName}/${container}`);
    if (!c) return undefined;
    let reason = this.stopped.get(c.attachmentId) ?? null;
    if (!reason && c.expiresAt && Date.parse(c.expiresAt) <= Date.now())
      reason = 'expired';
    return { ...c, stop: reason !== null, stopReason: reason };
  }

  hasDesiredSet(): boolean {
    return this.desiredSet;
  }

  isStopped(attachmentId: string): boolean {
    return this.stopped.has(attachmentId);
  }

  reportState(report: WhispererStateReport): void {
    this.reports.push(report);
  }

  onStop(
    listener: (id: string, reason: WhispererStopReason) => void,
  ): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
