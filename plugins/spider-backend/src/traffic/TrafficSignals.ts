import { LoggerService } from '@backstage/backend-plugin-api';
import { SignalsService } from '@backstage/plugin-signals-node';
import {
  TrafficSignalPayload,
  trafficSignalChannel,
} from '@spider/backstage-plugin-spider-common';

interface Pending {
  added: number;
  latest: string | null;
  timer?: NodeJS.Timeout;
  lastSentAt: number;
}

/**
 * "New traffic on attachment X", at most once per interval per attachment: the first
 * store is signalled at once, later ones within the interval are summed into one trailing
 * signal. Only counts travel; each portal refetches with its own credentials.
 */
export class TrafficSignals {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly signals: SignalsService | undefined,
    private readonly logger: LoggerService,
    private readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  stored(attachmentId: string, added: number, latest: string | null) {
    if (!this.signals || added <= 0) return;
    let p = this.pending.get(attachmentId);
    if (!p) {
      p = { added: 0, latest: null, lastSentAt: -Infinity };
      this.pending.set(attachmentId, p);
    }
    p.added += added;
    if (latest && (!p.latest || latest > p.latest)) p.latest = latest;
    if (p.timer) return;
    const wait = p.lastSentAt + this.intervalMs - this.now();
    if (wait <= 0) this.flush(attachmentId);
    else {
      p.timer = setTimeout(() => this.flush(attachmentId), wait);
      p.timer.unref?.();
    }
  }

  private flush(attachmentId: string) {
    const p = this.pending.get(attachmentId);
    if (!p) return;
    p.timer = undefined;
    if (p.added === 0) {
      this.pending.delete(attachmentId);
      return;
    }
    const message: TrafficSignalPayload = {
      type: 'traffic',
      attachmentId,
      added: p.added,
      latest: p.latest,
    };
    p.added = 0;
    p.lastSentAt = this.now();
    // Forget quiet attachments after the interval so the map stays small.
    p.timer = setTimeout(() => this.flush(attachmentId), this.intervalMs);
    p.timer.unref?.();
    this.signals!.publish({
      recipients: { type: 'broadcast' },
      channel: trafficSignalChannel(attachmentId),
      message: { ...message },
    }).catch(err =>
      this.logger.debug(`Could not publish a traffic signal: ${err}`),
    );
  }

  stop() {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }
}
