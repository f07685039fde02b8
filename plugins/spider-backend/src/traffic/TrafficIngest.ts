import { LoggerService } from '@backstage/backend-plugin-api';
import { TrafficMessage } from '@spider/backstage-plugin-spider-common';
import { TrafficStore } from '../store/TrafficStore';
import { TrafficSignals } from './TrafficSignals';

/** What ingest needs to know of an attachment to trust traffic for it. */
export interface TrafficAttachmentOwner {
  controllerId: string;
  namespace: string;
}

export type TrafficIngestOutcome =
  | { stored: number; latest: string | null }
  | {
      ignored:
        | 'unknown attachment'
        | 'attachment of another Controller'
        | 'namespace is not the attachment’s';
    };

export interface TrafficIngestOptions {
  store: TrafficStore;
  findAttachment(
    attachmentId: string,
  ): Promise<TrafficAttachmentOwner | undefined>;
  signals: TrafficSignals;
  logger: LoggerService;
  /** How long an attachment's owner is remembered between messages. */
  cacheMs?: number;
}

const CACHE_MAX = 10_000;

/**
 * Stores the `traffic` messages of an agent (already validated against the protocol
 * schema). An agent is trusted only for its own Controller's attachments and their
 * namespace: anything else is ignored and logged, never stored. The instance named by the
 * message is authoritative for every exchange in it.
 */
export class TrafficIngest {
  private readonly owners = new Map<
    string,
    { owner: TrafficAttachmentOwner | undefined; until: number }
  >();
  private readonly warned = new Map<string, number>();

  constructor(private readonly options: TrafficIngestOptions) {}

  async ingest(
    controllerId: string,
    message: TrafficMessage,
  ): Promise<TrafficIngestOutcome> {
    const owner = await this.owner(message.attachmentId);
    let ignored:
      | Extract<TrafficIngestOutcome, { ignored: string }>['ignored']
      | undefined;
    if (!owner) ignored = 'unknown attachment';
    else if (owner.controllerId !== controllerId)
      ignored = 'attachment of another Controller';
    else if (owner.namespace !== message.namespace)
      ignored = 'namespace is not the attachment’s';
    if (ignored) {
      this.warnOnce(
        `${controllerId} ${message.attachmentId}`,
        `Ignored traffic from the agent of Controller ${controllerId} for attachment ${message.attachmentId} (${message.namespace}/${message.pod}): ${ignored}`,
      );
      return { ignored };
    }
    const { inserted, latest } = await this.options.store.insertBatch({
      controllerId,
      attachmentId: message.attachmentId,
      namespace: message.namespace,
      pod: message.pod,
      container: message.container,
      exchanges: message.exchanges,
      flows: message.flows,
      stats: message.stats,
      relay: message.relay,
      agentRun: message.agentRun,
      seq: message.seq,
    });
    this.options.signals.stored(message.attachmentId, inserted, latest);
    return { stored: inserted, latest };
  }

  private async owner(
    attachmentId: string,
  ): Promise<TrafficAttachmentOwner | undefined> {
    const now = Date.now();
    const hit = this.owners.get(attachmentId);
    if (hit && hit.until > now) return hit.owner;
    const owner = await this.options.findAttachment(attachmentId);
    if (this.owners.size >= CACHE_MAX) this.owners.clear();
    this.owners.set(attachmentId, {
      owner,
      until: now + (this.options.cacheMs ?? 2000),
    });
    return owner;
  }

  /** One log line per Controller and attachment a minute: a misdirected agent must not flood the log. */
  private warnOnce(key: string, text: string) {
    const now = Date.now();
    if ((this.warned.get(key) ?? 0) > now) return;
    if (this.warned.size >= CACHE_MAX) this.warned.clear();
    this.warned.set(key, now + 60_000);
    this.options.logger.warn(text);
  }
}
