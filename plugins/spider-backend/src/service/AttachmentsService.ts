import { BackstageCredentials } from '@backstage/backend-plugin-api';
import {
  ConflictError,
  isError,
  NotAllowedError,
  NotFoundError,
} from '@backstage/errors';
import {
  Attachment,
  CreateAttachmentRequest,
  ListAttachmentsQuery,
} from '@spider/backstage-plugin-spider-common';
import {
  AttachmentLimitError,
  AttachmentLimits,
  AttachmentsStore,
} from '../store/AttachmentsStore';
import { WhisperersStore } from '../store/WhisperersStore';
import {
  ControllerAccess,
  ControllerGrantView,
} from '../access/ControllerAccess';
import { hasAnyNamespace, namespaceAllowed } from '../access/namespaceAccess';
import { AgentGateway } from '../agents/AgentGateway';
import { computeExpiresAt } from '../expiry/computeExpiresAt';
import { normalizeEntityRef } from '../catalog/normalizeEntityRef';
import { ChangeRecorder, actorRef } from './ChangeRecorder';

/** Attachments: attach, detach, expire, and who may see which. */
export class AttachmentsService {
  constructor(
    private readonly deps: {
      attachments: AttachmentsStore;
      whisperers: WhisperersStore;
      access: ControllerAccess;
      gateway: AgentGateway;
      changes: ChangeRecorder;
      /** Wakes the expiry loop for an attachment's deadline. */
      pokeExpiry(at: number | null): void;
      maxTimeToLiveMs?: number;
      /** Live attachments per Controller and per user (spider.attachments.maxPer*). */
      limits: AttachmentLimits;
    },
  ) {}

  async list(credentials: BackstageCredentials, query: ListAttachmentsQuery) {
    let views = await this.deps.access.listReadable(credentials);
    if (query.controllerId)
      views = views.filter(v => v.controller.id === query.controllerId);
    const scopes = views
      .map(v => ({
        controllerId: v.controller.id,
        access: v.namespaces('read'),
      }))
      .filter(s => hasAnyNamespace(s.access));
    return this.deps.attachments.list({
      scopes,
      whispererId: query.whispererId,
      statuses: query.status === undefined ? undefined : [query.status].flat(),
      entityRef: query.entityRef && normalizeEntityRef(query.entityRef),
      namespace: query.namespace,
      limit: query.limit ?? 100,
      cursor: query.cursor,
    });
  }

  /** One attachment, or 404 when the caller may not see its Controller or namespace. */
  async readable(
    credentials: BackstageCredentials,
    id: string,
  ): Promise<{ attachment: Attachment; view: ControllerGrantView }> {
    const attachment = await this.deps.attachments.get(id);
    if (!attachment) throw new NotFoundError(`No attachment with id ${id}`);
    let view: ControllerGrantView;
    try {
      view = await this.deps.access.require(
        credentials,
        attachment.controllerId,
        'read',
      );
    } catch (e) {
      // No access is "not found" (existence does not leak); anything else, a database
      // outage included, stays the server error it is.
      if (isNoAccess(e)) throw new NotFoundError(`No attachment with id ${id}`);
      throw e;
    }
    if (
      !namespaceAllowed(view.namespaces('read'), attachment.target.namespace)
    ) {
      throw new NotFoundError(`No attachment with id ${id}`);
    }
    return { attachment, view };
  }

  async get(credentials: BackstageCredentials, id: string) {
    return (await this.readable(credentials, id)).attachment;
  }

  async attach(
    credentials: BackstageCredentials,
    body: CreateAttachmentRequest,
  ): Promise<Attachment> {
    const { attachments, whisperers, access, gateway } = this.deps;
    // The Whisperer is read while access is checked (they do not depend on each other);
    // a refusal still comes first, and reading a Whisperer reveals nothing by itself.
    const whispererRead = whisperers.get(body.whispererId);
    whispererRead.catch(() => {}); // awaited below unless access throws first
    const view = await access.require(credentials, body.controllerId, 'use');
    if (!namespaceAllowed(view.namespaces('use'), body.target.namespace)) {
      throw new NotAllowedError(
        `You may not attach in namespace "${body.target.namespace}" through Controller "${view.controller.name}"; ask its owner for a grant that covers it`,
      );
    }
    const whisperer = await whispererRead;
    if (!whisperer)
      throw new NotFoundError(`No Whisperer with id ${body.whispererId}`);
    const createdAt = Date.now();
    const expiresAt = computeExpiresAt(
      createdAt,
      whisperer.timeToLive,
      this.deps.maxTimeToLiveMs,
    );
    const snapshot = {
      id: whisperer.id,
      name: whisperer.name,
      image: whisperer.image,
      captureFilter: whisperer.captureFilter,
      env: whisperer.env,
    };
    const { attachment, revision, desired } = await attachments
      .create({
        controllerId: body.controllerId,
        whisperer: snapshot,
        target: body.target,
        entityRef: body.entityRef && normalizeEntityRef(body.entityRef),
        createdBy: actorRef(credentials),
        createdAt,
        expiresAt,
        limits: this.deps.limits,
      })
      .catch(e => {
        throw e instanceof AttachmentLimitError
          ? limitConflict(e, view.controller.name)
          : e;
      });
    // Pushed first, from the row just created (no second read): the audit and the expiry
    // bookkeeping below do not hold the agent up.
    gateway.pushAttach(body.controllerId, revision, desired);
    this.deps.pokeExpiry(expiresAt);
    await this.deps.changes.record({
      action: 'attachment.attach',
      actor: credentials,
      resource: { type: 'attachment', id: attachment.id },
      controllerId: body.controllerId,
      details: {
        controllerId: body.controllerId,
        whisperer: whisperer.name,
        target: body.target,
        expiresAt: attachment.expiresAt,
      },
    });
    return attachment;
  }

  async detach(
    credentials: BackstageCredentials,
    id: string,
  ): Promise<Attachment> {
    const { attachments, gateway } = this.deps;
    const { attachment, view } = await this.readable(credentials, id);
    const isCreator = attachment.createdBy === actorRef(credentials);
    if (
      !isCreator &&
      !(
        view.rights.includes('use') &&
        namespaceAllowed(view.namespaces('use'), attachment.target.namespace)
      )
    ) {
      throw new NotAllowedError(
        'You may detach only attachments you made, or ones in namespaces you may attach in',
      );
    }
    const result = await attachments.detach(
      id,
      actorRef(credentials),
      'detached by user',
      gateway.isConnectedHere(attachment.controllerId) ||
        view.controller.connected,
    );
    if (result.changed && result.revision !== undefined) {
      gateway.pushDetach(
        attachment.controllerId,
        result.revision,
        id,
        'detached',
      );
      await this.deps.changes.record({
        action: 'attachment.detach',
        actor: credentials,
        resource: { type: 'attachment', id },
        controllerId: attachment.controllerId,
      });
    }
    return result.attachment;
  }

  /** The expiry loop ended an attachment: tell its agent, audit and announce it. */
  async expired(a: {
    id: string;
    controllerId: string;
    revision: number;
  }): Promise<void> {
    this.deps.gateway.pushDetach(a.controllerId, a.revision, a.id, 'expired');
    await this.deps.changes.record({
      action: 'attachment.expire',
      actor: { system: 'system:spider/expiry' },
      resource: { type: 'attachment', id: a.id },
      controllerId: a.controllerId,
    });
  }
}

/**
 * 409, not 429: the limit is on how many attachments exist, not on how fast they are
 * made, so retrying does not help until one is detached (and clients back off and retry
 * on 429 by themselves).
 */
function limitConflict(e: AttachmentLimitError, controllerName: string) {
  return e.scope === 'controller'
    ? new ConflictError(
        `Controller "${controllerName}" already has ${e.limit} live attachments, its limit (spider.attachments.maxPerController); detach one first, or ask the portal's admin to raise the limit`,
      )
    : new ConflictError(
        `You already have ${e.limit} live attachments, the limit per user (spider.attachments.maxPerUser); detach one first, or ask the portal's admin to raise the limit`,
      );
}

function isNoAccess(e: unknown): boolean {
  return (
    isError(e) && (e.name === 'NotFoundError' || e.name === 'NotAllowedError')
  );
}
