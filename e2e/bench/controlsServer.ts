/*
 * Runs a Controls service in its own process for benchmarks, so its RSS is its own.
 * Prints "READY <port>" when listening. Database: PostgreSQL when
 * SPIDER_BENCH_PG is a connection string, else SQLite in memory.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
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
      // bench:controls makes its attachments as one user, 10,000 on one Controller for
      // the listing: the limits (100 per user, 1,000 per Controller) would refuse them.
      // They are still checked (the counts run in the create transaction as in production).
      attachments: { maxPerUser: 1_000_000, maxPerController: 1_000_000 },
    },
    // SPIDER_BENCH_PORT: a fixed port (a shared machine assigns each user a range).
    port: process.env.SPIDER_BENCH_PORT
      ? Number(process.env.SPIDER_BENCH_PORT)
      : undefined,
    logLevel: 'error',
  });
  process.stdout.write(`READY ${app.port}\n`);
  // A CPU profile of one phase only (the bench's attach loop), not of start-up and connects.
  // The inspector session is opened only then, so it is not in the RSS figures.
  let profiler: Session | undefined;
  process.on('message', async (m: any) => {
    if (m === 'gc') (globalThis as any).gc?.();
    if (m === 'prof-start') {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    if (typeof m === 'object' && m?.profStop && profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(m.profStop, JSON.stringify(profile));
      process.send?.({ profiled: m.profStop });
    }
    if (m === 'rss')
      process.send?.({
        rss: process.memoryUsage().rss,
        mem: process.memoryUsage(),
        cpu: process.cpuUsage(),
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
