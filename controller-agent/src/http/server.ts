import http from 'node:http';
import { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/**
 * /metrics (Prometheus), /healthz (the process and its event loop answer), /readyz
 * (caches synced). Nothing else is served here.
 */
export async function startHttpServer(opts: {
  port: number;
  host?: string;
  registry: Registry;
  ready: () => { ready: boolean; detail: Record<string, unknown> };
}): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      } else if (path === '/metrics') {
        const body = await opts.registry.metrics();
        res
          .writeHead(200, { 'Content-Type': opts.registry.contentType })
          .end(body);
      } else if (path === '/healthz') {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const r = opts.ready();
        res
          .writeHead(r.ready ? 200 : 503, {
            'Content-Type': 'application/json',
          })
          .end(`${JSON.stringify(r)}\n`);
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      }
    } catch (e) {
      res
        .writeHead(500, { 'Content-Type': 'text/plain' })
        .end(`${(e as Error).message}\n`);
    }
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
