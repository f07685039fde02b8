/*
 * Runs a Controls service in its own process for benchmarks, so its RSS is its own.
 * Prints "READY <port>" when listening. Database: PostgreSQL when
 * SPIDER_BENCH_PG is a connection string, else SQLite in memory.
 */
import knexFactory from 'knex';
// eslint-disable-next-line @backstage/no-forbidden-package-imports -- e2e drives the backend's own test helpers
import { startSpiderTestBackend } from '@spider/backstage-plugin-spider-backend/src/__testUtils__/startSpiderTestBackend';

async function main() {
  const pg = process.env.SPIDER_BENCH_PG;
  const knex = pg
    ? knexFactory({ client: 'pg', connection: pg, pool: { min: 1, max: 20 } })
    : knexFactory({
        client: 'better-sqlite3',
        connection: { filename: ':memory:' },
        useNullAsDefault: true,
        pool: { min: 1, max: 1, idleTimeoutMillis: 86_400_000 },
      });
  const app = await startSpiderTestBackend({
    knex,
    config: {
      agents: { maxConnections: 20_000 },
      // A benchmark measures the rows it stored: retention (by default 100,000 rows per
      // attachment and 1 GiB) must not delete them under it while it runs.
      traffic: { maxRowsPerAttachment: 100_000_000, maxTotalBytes: 1e13 },
    },
    // SPIDER_BENCH_PORT: a fixed port (a shared machine assigns each user a range).
    port: process.env.SPIDER_BENCH_PORT
      ? Number(process.env.SPIDER_BENCH_PORT)
      : undefined,
    logLevel: 'error',
  });
  process.stdout.write(`READY ${app.port}\n`);
  process.on('message', (m: any) => {
    if (m === 'gc') (globalThis as any).gc?.();
    if (m === 'rss')
      process.send?.({
        rss: process.memoryUsage().rss,
        mem: process.memoryUsage(),
      });
  });
  process.on('SIGTERM', async () => {
    await app.stop();
    await knex.destroy();
    process.exit(0);
  });
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
