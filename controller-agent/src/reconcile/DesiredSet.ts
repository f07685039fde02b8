import type { DesiredAttachment } from '@spider/backstage-plugin-spider-common';
import type { DesiredEntry } from './plan';
import type { WhispererStopReason } from './WhispererRegistry';

/** How long a stopped attachment is remembered (to keep answering "stop" and never re-inject). */
export const STOPPED_RETENTION_MS = 24 * 3600_000;

/**
 * The desired attachments as the agent last learned them, plus the ones it stopped.
 * A stopped attachment never comes back to life: not from a replayed `attach`, a stale
 * revision, or a `welcome` sent before the backend learned of a local expiry.
 */
export class DesiredSet {
  private readonly entries = new Map<string, DesiredEntry>();
  private revision = -1;
  private received = false;

  /** True once a welcome arrived (or the set was given programmatically). */
  get known(): boolean {
    return this.received;
  }
  get currentRevision(): number {
    return this.revision;
  }

  get(id: string): DesiredEntry | undefined {
    return this.entries.get(id);
  }
  all(): DesiredEntry[] {
    return [...this.entries.values()];
  }
  live(): DesiredEntry[] {
    return this.all().filter(e => !e.stopped);
  }

  /** The full set from a welcome replaces the local one. Returns what changed. */
  replace(
    revision: number,
    attachments: DesiredAttachment[],
    now: number,
  ): { added: string[]; stopped: string[] } {
    this.received = true;
    this.revision = revision;
    const incoming = new Map(attachments.map(a => [a.id, a]));
    const added: string[] = [];
    const stopped: string[] = [];
    for (const [id, entry] of this.entries) {
      if (!entry.stopped && !incoming.has(id)) {
        entry.stopped = { reason: 'deleted', at: now };
        stopped.push(id);
      }
    }
    for (const a of attachments) {
      const existing = this.entries.get(a.id);
      if (existing?.stopped) continue;
      if (!existing) added.push(a.id);
      this.entries.set(a.id, { attachment: a, stopped: null });
    }
    return { added, stopped };
  }

  /** An attach; false when stale (older revision) or the attachment was stopped before. */
  attach(revision: number, a: DesiredAttachment): boolean {
    if (revision < this.revision) return false;
    const existing = this.entries.get(a.id);
    if (existing?.stopped) return false;
    this.revision = revision;
    this.received = true;
    this.entries.set(a.id, { attachment: a, stopped: null });
    return true;
  }

  /** Stops an attachment; false when unknown-and-stale or already stopped. */
  stop(
    id: string,
    reason: WhispererStopReason,
    now: number,
    revision?: number,
  ): boolean {
    if (revision !== undefined) {
      if (revision < this.revision) return false;
      this.revision = revision;
    }
    const entry = this.entries.get(id);
    if (!entry || entry.stopped) return false;
    entry.stopped = { reason, at: now };
    return true;
  }

  /** Forgets attachments stopped longer ago than the retention. */
  prune(now: number, retentionMs = STOPPED_RETENTION_MS): string[] {
    const gone: string[] = [];
    for (const [id, e] of this.entries) {
      if (e.stopped && now - e.stopped.at > retentionMs) {
        this.entries.delete(id);
        gone.push(id);
      }
    }
    return gone;
  }
}
