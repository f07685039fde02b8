import express from 'express';
import { HttpAuthService, LoggerService } from '@backstage/backend-plugin-api';
import {
  entityTrafficQuerySchema,
  exchangeIdParamSchema,
  harQuerySchema,
  idParamSchema,
  trafficMapQuerySchema,
  trafficQuerySchema,
} from '@spider/backstage-plugin-spider-common';
import { TrafficService } from './TrafficService';
import type { SpiderApiRouter } from './router';
import { parseInput } from './validation';
import { normalizeEntityRef } from '../catalog/normalizeEntityRef';

/**
 * Returns a wait for the response to take more data, or be gone. One 'drain' listener
 * per response, not one per wait: the compression middleware forwards `res.on('drain')`
 * to its gzip stream but not `res.off`/`once`'s removal, so listeners piled up there.
 */
function drainWaiter(res: express.Response): () => Promise<void> {
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  res.on('drain', notify);
  res.on('close', notify);
  return () =>
    new Promise(resolve => {
      if (res.destroyed) resolve();
      else wake = resolve;
    });
}

/**
 * The traffic routes (README "Traffic API") on the router generated from the spec:
 * validation and HTTP only; TrafficService decides. The HAR export streams through the
 * same router: validation happens before the handler, which then writes as it pleases.
 */
export function addTrafficRoutes(
  router: SpiderApiRouter,
  options: {
    httpAuth: HttpAuthService;
    logger: LoggerService;
    service: TrafficService;
  },
): void {
  const { httpAuth, logger, service } = options;
  const user = (req: express.Request) =>
    httpAuth.credentials(req, { allow: ['user'] });

  router.get('/attachments/:id/traffic', async (req, res) => {
    const { id } = parseInput(idParamSchema, req.params, 'path');
    const query = parseInput(trafficQuerySchema, req.query, 'query');
    res.json(await service.list(await user(req), id, query));
  });

  router.get('/attachments/:id/traffic.har', async (req, res) => {
    const { id } = parseInput(idParamSchema, req.params, 'path');
    const query = parseInput(harQuerySchema, req.query, 'query');
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    const { fileName, chunks } = await service.har(await user(req), id, query);
    // The first chunk is read before any header goes out, so a failing store still gets
    // a proper error response; after that the file streams as the store pages come.
    const first = await chunks.next();
    res.status(200);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="${fileName}"`);
    res.setHeader('Cache-Control', 'no-store');
    const drained = drainWaiter(res);
    try {
      if (!first.done && !res.write(first.value)) await drained();
      while (!closed && !res.destroyed) {
        const next = await chunks.next();
        if (next.done) break;
        if (!res.write(next.value)) await drained();
      }
      if (closed || res.destroyed) {
        await chunks.return(undefined);
        return;
      }
      res.end();
    } catch (e) {
      // Headers are gone: cut the connection so a partial file cannot pass for a whole one.
      logger.warn(`HAR export of attachment ${id} failed midway: ${e}`);
      await chunks.return(undefined).catch(() => undefined);
      res.destroy(e as Error);
    }
  });

  router.get('/traffic/:exchangeId', async (req, res) => {
    const { exchangeId } = parseInput(
      exchangeIdParamSchema,
      req.params,
      'path',
    );
    res.json(await service.get(await user(req), exchangeId));
  });

  router.get('/attachments/:id/map', async (req, res) => {
    const { id } = parseInput(idParamSchema, req.params, 'path');
    const query = parseInput(trafficMapQuerySchema, req.query, 'query');
    res.json(await service.map(await user(req), id, query));
  });

  router.get('/entity-traffic', async (req, res) => {
    const query = parseInput(entityTrafficQuerySchema, req.query, 'query');
    res.json(
      await service.entityTraffic(await user(req), {
        ...query,
        entityRef: normalizeEntityRef(query.entityRef),
      }),
    );
  });
}
