import { Registry, Counter } from 'prom-client';
import { startHttpServer } from './server';

describe('http server', () => {
  it('serves metrics, health and readiness', async () => {
    const registry = new Registry();
    new Counter({ name: 'x_total', help: 'x', registers: [registry] }).inc();
    let ready = false;
    const s = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      registry,
      ready: () => ({ ready, detail: { synced: ready } }),
    });
    const get = (p: string) => fetch(`http://127.0.0.1:${s.port}${p}`);
    try {
      expect(await (await get('/metrics')).text()).toContain('x_total 1');
      expect((await get('/healthz')).status).toBe(200);
      expect((await get('/readyz')).status).toBe(503);
      ready = true;
      const r = await get('/readyz');
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ ready: true, detail: { synced: true } });
      expect((await get('/nope')).status).toBe(404);
    } finally {
      await s.close();
    }
  });
});
