import {
  AuditorService,
  BackstageCredentials,
} from '@backstage/backend-plugin-api';
import type { Request } from 'express';
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
  | 'attachment.expire'
  /** A change the API refused (bad input, not allowed, not found, conflict). */
  | 'request.refused';

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

  /**
   * A refused change: kept beside the successful ones (on the resource it aimed at) and
   * sent to Backstage's auditor as a failed event with the request, so the auditor records
   * the actor and address as it does for everything else.
   */
  async refused(input: {
    request: Request;
    actor: string;
    resourceType: string;
    resourceId: string;
    status: number;
    error: Error;
  }): Promise<void> {
    const details = {
      method: input.request.method,
      path: input.request.originalUrl.split('?')[0].slice(0, 400),
      status: input.status,
      error: input.error.name,
      message: String(input.error.message).slice(0, 1000),
    };
    await this.db('spider_audit').insert({
      at: Date.now(),
      actor: input.actor.slice(0, 400),
      action: 'request.refused',
      resource_type: input.resourceType.slice(0, 32),
      resource_id: input.resourceId.slice(0, 36),
      details_json: JSON.stringify(details),
    });
    const event = await this.auditor.createEvent({
      eventId: 'request-refused',
      severityLevel: input.status === 403 ? 'medium' : 'low',
      request: input.request,
      meta: {
        resourceType: input.resourceType,
        resourceId: input.resourceId,
        ...details,
      },
    });
    await event.fail({ error: input.error });
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
