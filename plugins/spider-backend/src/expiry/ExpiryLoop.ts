import { LoggerService } from '@backstage/backend-plugin-api';
import { AttachmentsStore } from '../store/AttachmentsStore';

/**
 * Expires attachments whose time is up and tells their agents to detach. The state is
 * in the database, so a restart picks up where it left off; the conditional update in
 * the store lets several replicas run this loop without double work.
 */
export class ExpiryLoop {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;

  constructor(
    private readonly deps: {
      attachments: AttachmentsStore;
      logger: LoggerService;
      intervalMs: number;
      onExpired(a: {
        id: string;
        controllerId: string;
        revision: number;
      }): void;
    },
  ) {}

  start() {
    this.stopped = false;
    this.schedule(0);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Wakes the loop early, e.g. right after an attachment with a short TTL was made. */
  poke(at: number | null) {
    if (at === null || this.stopped) return;
    const delay = Math.max(0, at - Date.now());
    if (delay < this.deps.intervalMs) this.schedule(delay);
  }

  private schedule(delay: number) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delay);
    this.timer.unref?.();
  }

  async tick(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    let count = 0;
    try {
      const now = Date.now();
      for (const due of await this.deps.attachments.dueForExpiry(now)) {
        const revision = await this.deps.attachments.expire(
          due.id,
          due.controllerId,
          now,
        );
        if (revision !== undefined) {
          count += 1;
          this.deps.onExpired({ ...due, revision });
        }
      }
      if (count) this.deps.logger.info(`Expired ${count} attachment(s)`);
    } catch (err) {
      this.deps.logger.warn(`Expiry check failed: ${err}`);
    } finally {
      this.running = false;
      if (!this.stopped) {
        const next = await this.deps.attachments.nextExpiry().catch(() => null);
        // Never spin: a row that cannot be expired (or another replica's) waits a beat.
        const delay =
          next === null
            ? this.deps.intervalMs
            : Math.min(this.deps.intervalMs, Math.max(100, next - Date.now()));
        this.schedule(delay);
      }
    }
    return count;
  }
}
