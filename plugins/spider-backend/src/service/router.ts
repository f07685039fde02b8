import express from 'express';
import { z } from 'zod';
import Router from 'express-promise-router';
import { HttpAuthService, LoggerService } from '@backstage/backend-plugin-api';
import {
  createAttachmentRequestSchema,
  createControllerRequestSchema,
  createWhispererRequestSchema,
  entityTrafficQuerySchema,
  entityWorkloadsQuerySchema,
  exchangeIdParamSchema,
  harQuerySchema,
  idParamSchema,
  installQuerySchema,
  listAttachmentsQuerySchema,
  listWorkloadsQuerySchema,
  putSharesRequestSchema,
  REST_LIMITS,
  trafficMapQuerySchema,
  trafficQuerySchema,
  updateControllerRequestSchema,
  updateWhispererRequestSchema,
} from '@spider/backstage-plugin-spider-common';
import { nameUnknownFields, parseInput } from './validation';
import { spiderErrorHandler } from './errorHandler';
import { SpiderServices } from './SpiderServices';
import { streamHar } from './trafficRouter';
import { normalizeEntityRef } from '../catalog/normalizeEntityRef';
import { createOpenApiRouter, spec } from '../schema/openapi/generated';

/** Any request of the typed router (its params, query and body types differ per route). */
export type SpiderRequest = express.Request<any, any, any, any>;

export interface RouterOptions {
  logger: LoggerService;
  httpAuth: HttpAuthService;
  services: SpiderServices;
}

/**
 * The REST API (README "REST API"): each handler validates its input with the shared
 * schemas, asks the service that owns the concept, and answers. Authorization, audit and
 * signals live in the services.
 */
export async function createRouter(
  options: RouterOptions,
): Promise<express.Router> {
  const { httpAuth, logger, services } = options;
  const {
    controllers,
    grants,
    whisperers,
    attachments,
    entityWorkloads,
    traffic,
  } = services;
  // The router generated from src/schema/openapi.yaml: requests are checked against the
  // spec first (unknown body fields included: its object schemas are closed where the
  // zod schemas are strict); the shared zod schemas then parse them (trimming, defaults,
  // durations, coercion of query numbers). Unknown query parameters are zod's to refuse.
  // Each handler's path, parameters, body and the JSON it answers are typed by the spec,
  // so a service whose answer no longer matches it fails to compile. (Inferred, not
  // named: a named alias of the router type costs the compiler too deep an instantiation.)
  const router = await createOpenApiRouter({
    // The body is parsed before this router (below): errors of the validator's own
    // middleware all turn into 400, and a body over the cap must answer 413.
    middleware: [(_req, _res, next) => next()],
    validatorOptions: {
      validateRequests: {
        coerceTypes: false,
        allowUnknownQueryParameters: true,
      },
    },
  });
  // Right after the validator's own error handler: its refusal of an unknown body field
  // then names the field, as the zod schemas' messages do.
  router.use(nameUnknownFields(spec));

  const user = (req: SpiderRequest) =>
    httpAuth.credentials(req, { allow: ['user'] });
  const idOf = (req: SpiderRequest) =>
    parseInput(idParamSchema, req.params, 'path').id;

  // ---- Controllers ---------------------------------------------------------

  router.get('/controllers', async (req, res) => {
    parseInput(z.strictObject({}), req.query, 'query');
    res.json({ items: await controllers.list(await user(req)) });
  });

  router.post('/controllers', async (req, res) => {
    const credentials = await user(req);
    const body = parseInput(
      createControllerRequestSchema,
      req.body,
      'Controller',
    );
    res.status(201).json(await controllers.create(credentials, body));
  });

  router.get('/controllers/:id', async (req, res) => {
    const id = idOf(req);
    res.json(await controllers.get(await user(req), id));
  });

  router.patch('/controllers/:id', async (req, res) => {
    const id = idOf(req);
    const body = parseInput(
      updateControllerRequestSchema,
      req.body,
      'Controller change',
    );
    res.json(await controllers.rename(await user(req), id, body));
  });

  router.delete('/controllers/:id', async (req, res) => {
    const id = idOf(req);
    await controllers.delete(await user(req), id);
    res.status(204).end();
  });

  router.post('/controllers/:id/token', async (req, res) => {
    const id = idOf(req);
    res.json(await controllers.rotateToken(await user(req), id));
  });

  router.get('/controllers/:id/status', async (req, res) => {
    const id = idOf(req);
    res.json(await controllers.status(await user(req), id));
  });

  router.get('/controllers/:id/install', async (req, res) => {
    const id = idOf(req);
    const query = parseInput(installQuerySchema, req.query, 'query');
    res.json(await controllers.install(await user(req), id, query));
  });

  router.get('/controllers/:id/workloads', async (req, res) => {
    const id = idOf(req);
    const query = parseInput(listWorkloadsQuerySchema, req.query, 'query');
    res.json(await controllers.workloads(await user(req), id, query));
  });

  router.get('/controllers/:id/namespaces', async (req, res) => {
    const id = idOf(req);
    res.json(await controllers.namespaces(await user(req), id));
  });

  // ---- Sharing -------------------------------------------------------------

  router.get('/controllers/:id/shares', async (req, res) => {
    const id = idOf(req);
    res.json({ items: await grants.list(await user(req), id) });
  });

  router.put('/controllers/:id/shares', async (req, res) => {
    const id = idOf(req);
    const body = parseInput(putSharesRequestSchema, req.body, 'shares');
    res.json({ items: await grants.replace(await user(req), id, body) });
  });

  // ---- Whisperers ----------------------------------------------------------

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
    res.status(201).json(await whisperers.create(credentials, body));
  });

  router.get('/whisperers/:id', async (req, res) => {
    const id = idOf(req);
    await user(req);
    res.json(await whisperers.get(id));
  });

  router.patch('/whisperers/:id', async (req, res) => {
    const id = idOf(req);
    const body = parseInput(
      updateWhispererRequestSchema,
      req.body,
      'Whisperer change',
    );
    res.json(await whisperers.update(await user(req), id, body));
  });

  router.delete('/whisperers/:id', async (req, res) => {
    const id = idOf(req);
    await whisperers.delete(await user(req), id);
    res.status(204).end();
  });

  // ---- Attachments ---------------------------------------------------------

  router.get('/attachments', async (req, res) => {
    const query = parseInput(listAttachmentsQuerySchema, req.query, 'query');
    res.json(await attachments.list(await user(req), query));
  });

  router.get('/attachments/:id', async (req, res) => {
    const id = idOf(req);
    res.json(await attachments.get(await user(req), id));
  });

  router.post('/attachments', async (req, res) => {
    const body = parseInput(
      createAttachmentRequestSchema,
      req.body,
      'attachment',
    );
    res.status(201).json(await attachments.attach(await user(req), body));
  });

  router.delete('/attachments/:id', async (req, res) => {
    const id = idOf(req);
    res.json(await attachments.detach(await user(req), id));
  });

  // ---- Catalog -------------------------------------------------------------

  router.get('/entity-workloads', async (req, res) => {
    const { entityRef } = parseInput(
      entityWorkloadsQuerySchema,
      req.query,
      'query',
    );
    res.json({ items: await entityWorkloads.list(await user(req), entityRef) });
  });

  // ---- Traffic (README "Traffic API"; access is AttachmentsService.readable) -

  router.get('/attachments/:id/traffic', async (req, res) => {
    const id = idOf(req);
    const query = parseInput(trafficQuerySchema, req.query, 'query');
    res.json(await traffic.list(await user(req), id, query));
  });

  router.get('/attachments/:id/traffic.har', async (req, res) => {
    const id = idOf(req);
    const query = parseInput(harQuerySchema, req.query, 'query');
    const { fileName, chunks } = await traffic.har(await user(req), id, query);
    await streamHar(res, { logger, attachmentId: id, fileName, chunks });
  });

  router.get('/traffic/:exchangeId', async (req, res) => {
    const { exchangeId } = parseInput(
      exchangeIdParamSchema,
      req.params,
      'path',
    );
    res.json(await traffic.get(await user(req), exchangeId));
  });

  router.get('/attachments/:id/map', async (req, res) => {
    const id = idOf(req);
    const query = parseInput(trafficMapQuerySchema, req.query, 'query');
    res.json(await traffic.map(await user(req), id, query));
  });

  router.get('/entity-traffic', async (req, res) => {
    const query = parseInput(entityTrafficQuerySchema, req.query, 'query');
    res.json(
      await traffic.entityTraffic(await user(req), {
        ...query,
        entityRef: normalizeEntityRef(query.entityRef),
      }),
    );
  });

  const outer = Router();
  outer.use(express.json({ limit: REST_LIMITS.bodyBytes, strict: true }));
  outer.use(router);
  outer.use(spiderErrorHandler);
  return outer;
}
