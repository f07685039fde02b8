import express from 'express';
import { z } from 'zod';
import Router from 'express-promise-router';
import { HttpAuthService, LoggerService } from '@backstage/backend-plugin-api';
import {
  createAttachmentRequestSchema,
  createControllerRequestSchema,
  createWhispererRequestSchema,
  entityWorkloadsQuerySchema,
  idParamSchema,
  installQuerySchema,
  listAttachmentsQuerySchema,
  listWorkloadsQuerySchema,
  putSharesRequestSchema,
  REST_LIMITS,
  updateControllerRequestSchema,
  updateWhispererRequestSchema,
} from '@spider/backstage-plugin-spider-common';
import { parseInput } from './validation';
import { spiderErrorHandler } from './errorHandler';
import { SpiderServices } from './SpiderServices';
import { addTrafficRoutes } from './trafficRouter';
import { createOpenApiRouter } from '../schema/openapi/generated';

/** The router generated from the spec, as the handlers see it. */
export type SpiderApiRouter = express.Router;

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
  const { httpAuth, services } = options;
  const { controllers, grants, whisperers, attachments, entityWorkloads } =
    services;
  // The router generated from src/schema/openapi.yaml: requests are checked against the
  // spec first; the shared zod schemas then parse them (their messages name the field and
  // what to fix; unknown fields and query parameters are theirs to refuse).
  const validated = await createOpenApiRouter({
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
  // Handlers take their types from spider-common (the zod parse of each request), not
  // from the spec's inferred types: those demand index signatures the shared interfaces
  // do not have. The spec still validates every request at run time.
  const router = validated as unknown as SpiderApiRouter;

  const user = (req: express.Request) =>
    httpAuth.credentials(req, { allow: ['user'] });
  const idOf = (req: express.Request) =>
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

  // ---- Traffic (access is AttachmentsService.readable) ----------------------

  addTrafficRoutes(router, {
    httpAuth,
    logger: options.logger,
    service: services.traffic,
  });

  const outer = Router();
  outer.use(express.json({ limit: REST_LIMITS.bodyBytes, strict: true }));
  outer.use(validated);
  outer.use(spiderErrorHandler);
  return outer;
}
