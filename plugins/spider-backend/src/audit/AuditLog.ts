import {
  AuditorService,
  BackstageCredentials,
} from '@backstage/backend-plugin-api';
import { Knex } from 'knex';

export type AuditAction =
  | 'controller.create'
  | 'controller.rename'
  | 'controller.delete'
  | 'controller.token.rotate'
  | 'controller.share'
  | 'whisperer.create'
  | 'whisperer.update'
  | 'whisperer.delete'
  | 'attachment.attach'
  | 'attachment.detach'
  | 'attachment.expire';

/**
 * Who did what to which resource, and when: sent to Backstage's auditor and kept in
 * the plugin's own table so the history survives log rotation.
 */
export class AuditLog {
  constructor(
    private readonly db: Knex,
    private readonly auditor: AuditorService,
  ) {}

  async record(input: {
    action: AuditAction;
    actor: string;
    resourceType: 'controller' | 'whisperer' | 'attachment';
    resourceId: string;
    details?: Record<string, unknown>;
    credentials?: BackstageCredentials;
  }): Promise<void> {
    await this.db('spider_audit').insert({
      at: Date.now(),
      actor: input.actor,
      action: input.action,
      resource_type: input.resourceType,
      resource_id: input.resourceId,
      details_json: JSON.stringify(input.details ?? {}),
    });
    const event = await this.auditor.createEvent({
      eventId: input.action.replace(/\./g, '-'),
      severityLevel:
        input.action.endsWith('delete') || input.action.endsWith('rotate')
          ? 'medium'
          : 'low',
      meta: {
        actor: input.actor,
        resourceType: input.resourceType,
        resourceId: input.resourceId,
        ...(input.details ?? {}),
      },
    });
    await event.success();
  }

  async history(resourceId: string, limit = 100) {
    const rows = await this.db('spider_audit')
      .where({ resource_id: resourceId })
      .orderBy('id', 'desc')
      .limit(limit);
    return rows.map((r: any) => ({
      at: new Date(Number(r.at)).toISOString(),
      actor: r.actor,
      action: r.action,
      details: JSON.parse(r.details_json),
    }));
  }
}
