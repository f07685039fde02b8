import knexFactory, { Knex } from 'knex';
import { Entity } from '@backstage/catalog-model';
// eslint-disable-next-line @backstage/no-forbidden-package-imports, no-restricted-imports, @backstage/no-mixed-plugin-imports -- e2e drives the backend's own test helpers
import { startSpiderTestBackend } from '@spider/backstage-plugin-spider-backend/src/__testUtils__/startSpiderTestBackend';
// eslint-disable-next-line @backstage/no-forbidden-package-imports, no-restricted-imports, @backstage/no-mixed-plugin-imports -- e2e drives the backend's own test helpers
import { TestAgent } from '@spider/backstage-plugin-spider-backend/src/__testUtils__/TestAgent';

export { TestAgent };

/**
 * A real Controls service (Backstage backend with the Spider plugin, permission backend
 * and default policy) on its own SQLite database, for end-to-end tests. `restart()`
 * stops it and brings it back on the same port and database, as a redeploy would.
 */
export async function startControls(
  options: {
    entities?: Entity[];
    config?: Record<string, unknown>;
    knex?: Knex;
    port?: number;
    listenHost?: string;
  } = {},
) {
  const knex =
    options.knex ??
    knexFactory({
      client: 'better-sqlite3',
      connection: { filename: ':memory:' },
      useNullAsDefault: true,
      pool: { min: 1, max: 1, idleTimeoutMillis: 24 * 3600_000 },
    });
  let app = await startSpiderTestBackend({
    knex,
    entities: options.entities,
    config: options.config,
    port: options.port,
    listenHost: options.listenHost,
  });
  const port = app.port;
  const controls = {
    get app() {
      return app;
    },
    knex,
    port,
    /** What agents dial (SPIDER_CONTROLS_URL): the plugin base URL. */
    controlsUrl: `http://127.0.0.1:${port}/api/spider`,
    agentUrl: app.agentUrl,
    as: (user: string) => app.as(user),
    async stop() {
      await app.stop();
    },
    async restart(downtimeMs = 0) {
      await app.stop();
      if (downtimeMs) await new Promise(r => setTimeout(r, downtimeMs));
      app = await startSpiderTestBackend({
        knex,
        entities: options.entities,
        config: options.config,
        port,
        listenHost: options.listenHost,
      });
    },
    async start() {
      app = await startSpiderTestBackend({
        knex,
        entities: options.entities,
        config: options.config,
        port,
        listenHost: options.listenHost,
      });
    },
    async close() {
      await app.stop().catch(() => {});
      await knex.destroy();
    },
    /** Creates a Controller (returns its one-time token), a Whisperer and, if asked, an attachment. */
    async seed(
      user = 'user:default/owner',
      whisperer: Record<string, unknown> = { name: 'http' },
    ) {
      const c = await app
        .as(user)
        .post('/controllers', { name: `cluster-${Date.now()}` });
      if (c.status !== 201)
        throw new Error(
          `create Controller: ${c.status} ${JSON.stringify(c.body)}`,
        );
      const w = await app.as(user).post('/whisperers', whisperer);
      if (w.status !== 201)
        throw new Error(
          `create Whisperer: ${w.status} ${JSON.stringify(w.body)}`,
        );
      return {
        controllerId: c.body.id as string,
        token: c.body.token as string,
        whispererId: w.body.id as string,
      };
    },
  };
  return controls;
}
