import express from 'express';
import { z } from 'zod';
import Router from 'express-promise-router';
import {
  BackstageCredentials,
  HttpAuthService,
  LoggerService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import {
  NotAllowedError,
  NotFoundError,
  ConflictError,
  InputError,
  isError,
} from '@backstage/errors';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { CatalogService } from '@backstage/plugin-catalog-node';
import {
  Attachment,
  Controller,
  ControllerStatus,
  createAttachmentRequestSchema,
  createControllerRequestSchema,
  createWhispererRequestSchema,
  entityWorkloadsQuerySchema,
  idParamSchema,
  ImagePattern,
  installQuerySchema,
  listAttachmentsQuerySchema,
  listWorkloadsQuerySchema,
  namespaceNameSchema,
  putSharesRequestSchema,
  REST_LIMITS,
  spiderControllerCreatePermission,
  spiderWhispererCreatePermission,
  spiderWhispererManagePermission,
  updateControllerRequestSchema,
  updateWhispererRequestSchema,
  Whisperer,
} from '@spider/backstage-plugin-spider-common';
import { ControllersStore } from '../store/ControllersStore';
import { WhisperersStore } from '../store/WhisperersStore';
import { AttachmentsStore } from '../store/AttachmentsStore';
import { SharesStore } from '../store/SharesStore';
import { InventoryStore } from '../store/InventoryStore';
import {
  ControllerAccess,
  ControllerGrantView,
} from '../access/ControllerAccess';
import {
  hasAnyNamespace,
  namespaceAllowed,
  NamespaceAccess,
} from '../access/namespaceAccess';
import { AgentGateway } from '../agents/AgentGateway';
import { AgentUnavailableError } from '../agents/AgentSession';
import { AuditLog } from '../audit/AuditLog';
import { SpiderEvents } from '../events/SpiderEvents';
import { computeExpiresAt } from '../expiry/computeExpiresAt';
import { ExpiryLoop } from '../expiry/ExpiryLoop';
import {
  InstallSettings,
  renderInstall,
  splitNamespaces,
} from '../install/renderInstall';
import { matchEntityWorkloads } from '../catalog/matchEntityWorkloads';
import { normalizeEntityRef } from '../catalog/normalizeEntityRef';
import { parseInput } from './validation';
import { spiderErrorHandler } from './errorHandler';
import { requireGrantChange } from '../access/grantChange';
import { requireAllowedImage } from '../access/imageAllowList';
import { TrafficStore } from '../store/TrafficStore';
import { TrafficService } from './TrafficService';
import { createTrafficRouter } from './trafficRouter';

export interface RouterOptions {
  logger: LoggerService;
  httpAuth: HttpAuthService;
  permissions: PermissionsService;
  catalog?: CatalogService;
  controllers: ControllersStore;
  whisperers: WhisperersStore;
  attachments: AttachmentsStore;
  shares: SharesStore;
  inventory: InventoryStore;
  traffic: TrafficStore;
  access: ControllerAccess;
  gateway: AgentGateway;
  audit: AuditLog;
  events: SpiderEvents;
  expiry: ExpiryLoop;
  install: InstallSettings;
  maxTimeToLiveMs?: number;
  /** Images a Whisperer may name (spider.whisperers.allowedImages, read by readAllowedImages). */
  allowedImages: readonly ImagePattern[];
  requestTimeoutMs: number;
}

function actorOf(credentials: BackstageCredentials<any>): string {
  return credentials.principal?.userEntityRef ?? 'unknown';
}

function namespacesParam(access: NamespaceAccess): '*' | string[] {
  if (access.include === '*') return '*';
  return access.include;
}

export async function createRouter(
  options: RouterOptions,
): Promise<express.Router> {
  const {
    httpAuth,
    permissions,
    controllers,
    whisperers,
    attachments,
    shares,
    inventory,
    access,
    gateway,
    audit,
    events,
    expiry,
  } = options;
  const router = Router();
  router.use(express.json({ limit: REST_LIMITS.bodyBytes, strict: true }));

  const user = (req: express.Request) =>
    httpAuth.credentials(req, { allow: ['user'] });

  const toController = async (
    view: ControllerGrantView,
    counts?: Map<string, number>,
  ): Promise<Controller> => {
    const c = view.controller;
    const active = counts ?? (await attachments.countLiveByController([c.id]));
    return {
      id: c.id,
      name: c.name,
      description: c.description,
      owner: c.owner,
      createdAt: c.createdAt,
      updatedAt: c.updatedAt,
      connected: c.connected,
      lastSeenAt: c.lastSeenAt,
      agentVersion: c.agentVersion,
      clusterVersion: c.clusterVersion,
      scope: c.scope,
      activeAttachments: active.get(c.id) ?? 0,
      rights: view.rights,
    };
  };

  const requireBasic = async (
    credentials: BackstageCredentials,
    permission: any,
    message: string,
  ) => {
    const [d] = await permissions.authorize([{ permission }], { credentials });
    if (d.result !== AuthorizeResult.ALLOW) throw new NotAllowedError(message);
  };

  // ---- Controllers ---------------------------------------------------------

  router.get('/controllers', async (req, res) => {
    parseInput(z.strictObject({}), req.query, 'query');
    const credentials = await user(req);
    const views = await access.listReadable(credentials);
    const counts = await attachments.countLiveByController(
      views.map(v => v.controller.id),
    );
    res.json({
      items: await Promise.all(views.map(v => toController(v, counts))),
    });
  });

  router.post('/controllers', async (req, res) => {
    const credentials = await user(req);
    const body = parseInput(
      createControllerRequestSchema,
      req.body,
      'Controller',
    );
    await requireBasic(
      credentials,
      spiderControllerCreatePermission,
      'You may not register Controllers',
    );
    const { controller, token } = await controllers.create({
      ...body,
      owner: actorOf(credentials),
    });
    await audit.record({
      action: 'controller.create',
      actor: actorOf(credentials),
      resourceType: 'controller',
      resourceId: controller.id,
      details: { name: controller.name },
    });
    events.publish({ kind: 'controller', id: controller.id });
    const [view] = await access.views(credentials, [controller]);
    res.status(201).json({ ...(await toController(view)), token });
  });

  router.get('/controllers/:id', async (req, res) => {
    const { id } = parseInput(idParamSchema, req.params, 'path');
    const view = await access.require(await user(req), id, 'read');
    res.json(await toController(view));
  });

  router.patch('/controllers/:id', async (req, res) => {
    const { id } = parseInput(idParamSchema, req.params, 'path');
    const body = parseInput(
      updateControllerRequestSchema,
      req.body,
      'Controller change',
    );
    const credentials = await user(req);
    const before = await access.require(credentials, id, 'update');
    const updated = await controllers.update(id, body);
    await audit.record({
      action: 'controller.rename',
      actor: actorOf(credentials),
      resourceType: 'controller',
      resourceId: id,
      details: { from: before.controller.name, to: updated.name },
    });
    events.publish({ kind: 'controller', id });
    res.json(await toController({ ...before, controller: updated }));
  });

  router.delete('/controllers/:id', async (req, res) => {
    const { id } = parseInput(idParamSchema, req.params, 'path');
    const credentials = await user(req);
    const view = await access.require(credentials, id, 'delete');
    await controllers.delete(id);
    gateway.revoke(id, 'the Controller was deleted');
    await audit.record({
      action: 'controller.delete',
      actor: actorOf(credentials),
      resourceType: 'controller',
      resourceId: id,
      details: { name: view.controller.name },
    });
    events.publish({ kind: 'controller', id });
    res.status(204).end();
  });

  router.post('/controllers/:id/token', async (req, res) => {
    const { id } = parseInput(idParamSchema, req.params, 'path');
    const credentials = await user(req);
    const view = await access.require(credentials, id, 'install');
    const { controller, token } = await controllers.rotateToken(id);
    gateway.revoke(id, 'the Controller token was rotated');
    await audit.record({
      action: 'controller.token.rotate',
      actor: actorOf(credentials),
      resourceType: 'controller',
      resourceId: id,
    });
    events.publish({ kind: 'controller', id });
    res.json({ ...(await toController({ ...view, controller })), token });
  });

  router.get('/controllers/:id/status', async (req, res) => {
    const { id } = parseInput(idParamSchema, req.params, 'path');
    const credentials = await user(req);
    const view = await access.require(credentials, id, 'read');
    const record = await controllers.get(id, { withStatus: true });
    const readable = view.namespaces('read');
    let status = record?.status ?? null;
    if (
      status &&
      !(readable.include === '*' && readable.exclude.length === 0)
    ) {
      // Only attachments the caller may see appear in the status they read: all of them
      // (the agent's report is capped at 5,000 by the protocol), never a first page.
      const ids = await attachments.visibleIds(
        id,
        readable,
        status.attachments.map(a => a.id),
      );
      status = {
        ...status,
        attachments: status.attachments.filter(a => ids.has(a.id)),
      };
    }
    const body: ControllerStatus = {
      controllerId: id,
      connected: record?.connected ?? false,
      lastSeenAt: record?.lastSeenAt ?? null,
      status,
    };
    res.json(body);
  });

  router.get('/controllers/:id/install', async (req, res) => {
    const { id } = parseInput(idParamSchema, req.params, 'path');
    const query = parseInput(installQuerySchema, req.query, 'query');
    const view = await access.require(await user(req), id, 'install');
    const include = splitNamespaces(query.include);
    const exclude = splitNamespaces(query.exclude);
    for (const ns of [...include, ...exclude])
      parseInput(namespaceNameSchema, ns, `namespace "${ns}"`);
    res.json(
      renderInstall(options.install, {
        controllerName: view.controller.name,
        format: query.format,
        namespace: query.namespace,
        include,
        exclude,
      }),
    );
  });

  router.get('/controllers/:id/workloads', async (req, res) => {
    const { id } = parseInput(idParamSchema, req.params, 'path');
    const query = parseInput(listWorkloadsQuerySchema, req.query, 'query');
    const view = await access.require(await user(req), id, 'use');
    const ns = view.namespaces('use');
    if (query.namespace && !namespaceAllowed(ns, query.namespace)) {
      throw new NotAllowedError(
        `You may not target namespace "${query.namespace}" on Controller "${view.controller.name}"`,
      );
    }
    if (!hasAnyNamespace(ns)) {
      res.json({ items: [], truncated: false });
      return;
    }
    const params = {
      namespaces: namespacesParam(ns),
      namespace: query.namespace,
      kind: query.kind,
      q: query.q,
      limit: query.limit ?? 5000,
    };
    let result;
    if (gateway.isConnectedHere(id)) {
      try {
        result = await gateway.request(id, params, options.requestTimeoutMs);
      } catch (e) {
        if (e instanceof AgentUnavailableError)
          throw serviceUnavailable(view.controller.name);
        throw e;
      }
    } else if (view.controller.connected) {
      // The agent holds a socket on another replica: answer from its reported inventory.
      const items = await inventory.list(id, {
        ...params,
        limit: params.limit + 1,
      });
      result = {
        items: items
          .slice(0, params.limit)
          .map(({ controllerId: _c, ...w }) => w),
        truncated: items.length > params.limit,
      };
    } else {
      throw serviceUnavailable(view.controller.name);
    }
    const items = result.items.filter(w => namespaceAllowed(ns, w.namespace));
    res.json({ items, truncated: result.truncated });
  });

  router.get('/controllers/:id/namespaces', async (req, res) => {
    const { id } = parseInput(idParamSchema, req.params, 'path');
    const view = await access.require(await user(req), id, 'read');
    const use = view.rights.includes('use')
      ? view.namespaces('use')
      : view.namespaces('read');
    const known = await inventory.namespaces(id);
    res.json({
      items: known.filter(ns => namespaceAllowed(use, ns)),
      all: use.include === '*' && use.exclude.length === 0,
    });
  });

  router.get('/controllers/:id/shares', async (req, res) => {
    const { id } = parseInput(idParamSchema, req.params, 'path');
    await access.require(await user(req), id, 'share');
    res.json({ items: await shares.list(id) });
  });

  router.put('/controllers/:id/shares', async (req, res) => {
    const { id } = parseInput(idParamSchema, req.params, 'path');
    const body = parseInput(putSharesRequestSchema, req.body, 'shares');
    const credentials = await user(req);
    const view = await access.require(credentials, id, 'share');
    requireGrantChange(view, await shares.list(id), body.items);
    // Principals compare with the caller's ownership refs, which the catalog spells in
    // lower case: store them that way, and refuse two spellings of one principal.
    const grants = body.items.map(g => ({
      ...g,
      principal: normalizeEntityRef(g.principal),
    }));
    if (new Set(grants.map(g => g.principal)).size !== grants.length) {
      throw new InputError(
        'Invalid shares: each principal may appear only once (references are not case-sensitive)',
      );
    }
    await shares.replace(id, grants);
    await audit.record({
      action: 'controller.share',
      actor: actorOf(credentials),
      resourceType: 'controller',
      resourceId: id,
      details: { grants: grants as any },
    });
    events.publish({ kind: 'controller', id });
    res.json({ items: await shares.list(id) });
  });

  // ---- Whisperers ----------------------------------------------------------

  const requireWhispererOwner = async (
    credentials: BackstageCredentials,
    w: Whisperer,
  ) => {
    if (w.owner === actorOf(credentials)) return;
    const [d] = await permissions.authorize(
      [{ permission: spiderWhispererManagePermission }],
      { credentials },
    );
    if (d.result !== AuthorizeResult.ALLOW) {
      throw new NotAllowedError(
        `Only the owner of Whisperer "${w.name}" (${w.owner}) may change or delete it`,
      );
    }
  };

  router.get('/whisperers', async (req, res) => {
    await user(req);
    res.json({ items: await whisperers.list() });
  });

  router.post('/whisperers', async (req, res) => {
    const credentials = await user(req);
    const body = parseInput(
      createWhispererRequestSchema,
      req.body,
      'Whisperer',
    );
    requireAllowedImage(body.image, options.allowedImages);
    await requireBasic(
      credentials,
      spiderWhispererCreatePermission,
      'You may not create Whisperers',
    );
    const w = await whisperers.create(body, actorOf(credentials));
    await audit.record({
      action: 'whisperer.create',
      actor: actorOf(credentials),
      resourceType: 'whisperer',
      resourceId: w.id,
      details: { name: w.name },
    });
    events.publish({ kind: 'whisperer', id: w.id });
    res.status(201).json(w);
  });

  router.get('/whisperers/:id', async (req, res) => {
    const { id } = parseInput(idParamSchema, req.params, 'path');
    await user(req);
    res.json(await whisperers.getOrThrow(id));
  });

  router.patch('/whisperers/:id', async (req, res) => {
    const { id } = parseInput(idParamSchema, req.params, 'path');
    const body = parseInput(
      updateWhispererRequestSchema,
      req.body,
      'Whisperer change',
    );
    requireAllowedImage(body.image, options.allowedImages);
    const credentials = await user(req);
    await requireWhispererOwner(credentials, await whisperers.getOrThrow(id));
    const w = await whisperers.update(id, body);
    await audit.record({
      action: 'whisperer.update',
      actor: actorOf(credentials),
      resourceType: 'whisperer',
      resourceId: id,
      details: { fields: Object.keys(body) },
    });
    events.publish({ kind: 'whisperer', id });
    res.json(w);
  });

  router.delete('/whisperers/:id', async (req, res) => {
    const { id } = parseInput(idParamSchema, req.params, 'path');
    const credentials = await user(req);
    const w = await whisperers.getOrThrow(id);
    await requireWhispererOwner(credentials, w);
    const live = await attachments.countLiveByWhisperer(id);
    if (live > 0) {
      throw new ConflictError(
        `Whisperer "${w.name}" is attached ${live} time(s); detach those attachments first`,
      );
    }
    await whisperers.delete(id);
    await audit.record({
      action: 'whisperer.delete',
      actor: actorOf(credentials),
      resourceType: 'whisperer',
      resourceId: id,
      details: { name: w.name },
    });
    events.publish({ kind: 'whisperer', id });
    res.status(204).end();
  });

  // ---- Attachments ---------------------------------------------------------

  router.get('/attachments', async (req, res) => {
    const query = parseInput(listAttachmentsQuerySchema, req.query, 'query');
    const credentials = await user(req);
    let views = await access.listReadable(credentials);
    if (query.controllerId)
      views = views.filter(v => v.controller.id === query.controllerId);
    const scopes = views
      .map(v => ({
        controllerId: v.controller.id,
        access: v.namespaces('read'),
      }))
      .filter(s => hasAnyNamespace(s.access));
    const statuses =
      query.status === undefined ? undefined : [query.status].flat();
    res.json(
      await attachments.list({
        scopes,
        whispererId: query.whispererId,
        statuses,
        entityRef: query.entityRef && normalizeEntityRef(query.entityRef),
        namespace: query.namespace,
        limit: query.limit ?? 100,
        cursor: query.cursor,
      }),
    );
  });

  /** One attachment, or 404 when the caller may not see its Controller or namespace. */
  const readableAttachment = async (
    credentials: BackstageCredentials,
    id: string,
  ): Promise<{ attachment: Attachment; view: ControllerGrantView }> => {
    const attachment = await attachments.get(id);
    if (!attachment) throw new NotFoundError(`No attachment with id ${id}`);
    let view: ControllerGrantView;
    try {
      view = await access.require(credentials, attachment.controllerId, 'read');
    } catch (e) {
      // No access is "not found" (existence does not leak); anything else, a database
      // outage included, stays the server error it is.
      if (
        isError(e) &&
        (e.name === 'NotFoundError' || e.name === 'NotAllowedError')
      )
        throw new NotFoundError(`No attachment with id ${id}`);
      throw e;
    }
    if (
      !namespaceAllowed(view.namespaces('read'), attachment.target.namespace)
    ) {
      throw new NotFoundError(`No attachment with id ${id}`);
    }
    return { attachment, view };
  };

  router.get('/attachments/:id', async (req, res) => {
    const { id } = parseInput(idParamSchema, req.params, 'path');
    res.json((await readableAttachment(await user(req), id)).attachment);
  });

  router.post('/attachments', async (req, res) => {
    const body = parseInput(
      createAttachmentRequestSchema,
      req.body,
      'attachment',
    );
    const credentials = await user(req);
    const view = await access.require(credentials, body.controllerId, 'use');
    if (!namespaceAllowed(view.namespaces('use'), body.target.namespace)) {
      throw new NotAllowedError(
        `You may not attach in namespace "${body.target.namespace}" through Controller "${view.controller.name}"; ask its owner for a grant that covers it`,
      );
    }
    const whisperer = await whisperers.get(body.whispererId);
    if (!whisperer)
      throw new NotFoundError(`No Whisperer with id ${body.whispererId}`);
    const createdAt = Date.now();
    const expiresAt = computeExpiresAt(
      createdAt,
      whisperer.timeToLive,
      options.maxTimeToLiveMs,
    );
    const { attachment, revision } = await attachments.create({
      controllerId: body.controllerId,
      whisperer: {
        id: whisperer.id,
        name: whisperer.name,
        image: whisperer.image,
        captureFilter: whisperer.captureFilter,
        env: whisperer.env,
      },
      target: body.target,
      entityRef: body.entityRef && normalizeEntityRef(body.entityRef),
      createdBy: actorOf(credentials),
      createdAt,
      expiresAt,
    });
    const desired = await attachments.desiredOne(attachment.id);
    if (desired) gateway.pushAttach(body.controllerId, revision, desired);
    expiry.poke(expiresAt);
    await audit.record({
      action: 'attachment.attach',
      actor: actorOf(credentials),
      resourceType: 'attachment',
      resourceId: attachment.id,
      details: {
        controllerId: body.controllerId,
        whisperer: whisperer.name,
        target: body.target as any,
        expiresAt: attachment.expiresAt,
      },
    });
    events.publish({
      kind: 'attachment',
      id: attachment.id,
      controllerId: body.controllerId,
    });
    res.status(201).json(attachment);
  });

  router.delete('/attachments/:id', async (req, res) => {
    const { id } = parseInput(idParamSchema, req.params, 'path');
    const credentials = await user(req);
    const { attachment, view } = await readableAttachment(credentials, id);
    const isCreator = attachment.createdBy === actorOf(credentials);
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
      actorOf(credentials),
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
      await audit.record({
        action: 'attachment.detach',
        actor: actorOf(credentials),
        resourceType: 'attachment',
        resourceId: id,
      });
      events.publish({
        kind: 'attachment',
        id,
        controllerId: attachment.controllerId,
      });
    }
    res.json(result.attachment);
  });

  // ---- Catalog ---------------------------------------------------------------

  router.get('/entity-workloads', async (req, res) => {
    const entityRef = normalizeEntityRef(
      parseInput(entityWorkloadsQuerySchema, req.query, 'query').entityRef,
    );
    const credentials = await user(req);
    if (!options.catalog)
      throw new NotFoundError('The catalog is not available');
    const entity = await options.catalog.getEntityByRef(entityRef, {
      credentials,
    });
    if (!entity)
      throw new NotFoundError(`No entity ${entityRef} in the catalog`);
    const views = (await access.listReadable(credentials)).filter(v =>
      v.rights.includes('use'),
    );
    const byId = new Map(views.map(v => [v.controller.id, v]));
    const all = await inventory.listAcross([...byId.keys()]);
    const matched = matchEntityWorkloads(
      entity.metadata.annotations,
      all,
    ).filter(w =>
      namespaceAllowed(
        byId.get(w.controllerId)!.namespaces('use'),
        w.namespace,
      ),
    );
    res.json({
      items: matched.map(w => ({
        ...w,
        controllerName: byId.get(w.controllerId)!.controller.name,
      })),
    });
  });

  // ---- Traffic (its own router; access is readableAttachment above) -------

  router.use(
    createTrafficRouter({
      httpAuth,
      logger: options.logger,
      service: new TrafficService({
        traffic: options.traffic,
        attachments,
        inventory,
        access,
        catalog: options.catalog,
        logger: options.logger,
        readableAttachment,
      }),
    }),
  );

  router.use(spiderErrorHandler);
  return router;
}

function serviceUnavailable(name: string) {
  const e = new Error(
    `The agent of Controller "${name}" is not connected; install or restart it, then try again`,
  );
  e.name = 'ServiceUnavailableError';
  return e;
}
