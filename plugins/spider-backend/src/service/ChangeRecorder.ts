import { BackstageCredentials } from '@backstage/backend-plugin-api';
import { AuditAction, AuditLog } from '../audit/AuditLog';
import { SpiderEvents } from '../events/SpiderEvents';

/** Who made a change: a user's credentials, or a system actor such as the expiry loop. */
export type ChangeActor = BackstageCredentials | { system: string };

/** The caller's user entity ref, as audit and `createdBy` record it. */
export function actorRef(actor: ChangeActor): string {
  if ('system' in actor) return actor.system;
  return (actor.principal as any)?.userEntityRef ?? 'unknown';
}

/**
 * A change made: written to the audit trail, then announced to open portals. Every
 * mutation goes through here, so none is audited without a signal or the other way round.
 */
export class ChangeRecorder {
  constructor(
    private readonly audit: AuditLog,
    private readonly events: SpiderEvents,
  ) {}

  async record(change: {
    action: AuditAction;
    actor: ChangeActor;
    resource: { type: 'controller' | 'whisperer' | 'attachment'; id: string };
    /** The Controller an attachment belongs to, for portals that watch one. */
    controllerId?: string;
    details?: Record<string, unknown>;
  }): Promise<void> {
    try {
      await this.audit.record({
        action: change.action,
        actor: actorRef(change.actor),
        resourceType: change.resource.type,
        resourceId: change.resource.id,
        details: change.details,
      });
    } finally {
      // The change happened either way: portals hear of it even if auditing failed.
      this.events.publish({
        kind: change.resource.type,
        id: change.resource.id,
        ...(change.controllerId ? { controllerId: change.controllerId } : {}),
      });
    }
  }
}
