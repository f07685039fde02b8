import { randomBytes } from 'node:crypto';
import knexFactory, { Knex } from 'knex';
import { CapturedExchange } from '@spider/backstage-plugin-spider-common';
import { migrationsDir } from './migrations';
import { DatabaseTrafficStore } from './DatabaseTrafficStore';

jest.setTimeout(120_000);

const serverUrl =
  process.env.BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING;
const T0 = Date.parse('2026-12-01T10:00:00.000Z');

function exchange(i: number, path: string, status: number): CapturedExchange {
  return {
    id: `run1.${i}`,
    attachmentId: '',
    container: '',
    pod: '',
    namespace: '',
    protocol: 'http/1.1',
    direction: 'inbound',
    startedAt: new Date(T0 + i * 1000).toISOString(),
    durationMs: 1,
    client: { ip: '10.1.0.9', port: 40000, name: null },
    server: { ip: '10.0.0.1', port: 8080, name: null },
    request: {
      method: 'GET',
      path,
      authority: 'api',
      headers: [],
      bodySize: 0,
      body: null,
    },
    response: {
      status,
      headers: [],
      trailers: [],
      bodySize: 0,
      body: null,
    },
    grpc: null,
    error: null,
  };
}

/** The plan PostgreSQL picks when it may not scan the table (a few rows would). */
async function plan(
  knex: Knex,
  sql: string,
  bindings: unknown[],
  off: string[] = [],
) {
  return knex.transaction(async tx => {
    for (const setting of ['enable_seqscan', ...off])
      await tx.raw(`SET LOCAL ${setting} = off`);
    const r = await tx.raw(`EXPLAIN ${sql}`, bindings as any);
    return r.rows
      .map((x: Record<string, string>) => x['QUERY PLAN'])
      .join('\n');
  });
}

/** PostgreSQL only: what the traffic indexes migration builds, and what uses it. */
(serverUrl ? describe : describe.skip)('traffic indexes on PostgreSQL', () => {
  const dbName = `spider_traffic_idx_${randomBytes(4).toString('hex')}`;
  let admin: Knex;
  let knex: Knex;

  beforeAll(async () => {
    admin = knexFactory({ client: 'pg', connection: serverUrl! });
    await admin.raw(`CREATE DATABASE ${dbName}`);
    const url = new URL(serverUrl!);
    url.pathname = `/${dbName}`;
    knex = knexFactory({ client: 'pg', connection: url.toString() });
    await knex.migrate.latest({ directory: migrationsDir });
  });
  afterAll(async () => {
    await knex.destroy();
    await admin.raw(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.destroy();
  });

  it('builds the instance errors index again after a concurrent build failed half-way', async () => {
    await knex.migrate.down({
      directory: migrationsDir,
      name: '20261202200000_traffic_instance_errors_index.js',
    });
    // What CREATE INDEX CONCURRENTLY leaves when it fails: an INVALID index of the name.
    await knex.raw(
      `CREATE INDEX spider_traffic_exchanges_instance_errors ON spider_traffic_exchanges (attachment_id)`,
    );
    await knex.raw(
      `UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'spider_traffic_exchanges_instance_errors'::regclass`,
    );
    await knex.migrate.latest({ directory: migrationsDir });
    const r = await knex.raw(
      `SELECT i.indisvalid, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
        WHERE i.indexrelid = 'spider_traffic_exchanges_instance_errors'::regclass`,
    );
    expect(r.rows).toHaveLength(1);
    expect(r.rows[0].indisvalid).toBe(true);
    expect(r.rows[0].def).toMatch(
      /\(attachment_id, pod, started_at, id\) WHERE/,
    );
    const explained = await plan(
      knex,
      `SELECT id FROM spider_traffic_exchanges WHERE attachment_id = ? AND pod = ?
        AND (status IS NULL OR status >= 400 OR error IS NOT NULL)
        ORDER BY started_at DESC, id DESC LIMIT 101`,
      ['a1', 'web-1'],
    );
    expect(explained).toMatch(
      /Scan Backward using spider_traffic_exchanges_instance_errors/,
    );
  });

  it('tests q on the time index entries (an index-only scan), and rows without a head through their own index', async () => {
    const defs = await knex.raw(
      `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'spider_traffic_exchanges' ORDER BY indexname`,
    );
    const byName = new Map<string, string>(
      defs.rows.map((r: Record<string, string>) => [r.indexname, r.indexdef]),
    );
    expect(byName.get('spider_traffic_exchanges_attachment_time_head')).toMatch(
      /\(attachment_id, started_at, id\) INCLUDE \(search_head\)/,
    );
    expect(byName.get('spider_traffic_exchanges_no_head')).toMatch(
      /WHERE \(search_head IS NULL\)/,
    );
    expect(byName.has('spider_traffic_exchanges_attachment_time')).toBe(false);
    const head = await plan(
      knex,
      `SELECT id, started_at FROM spider_traffic_exchanges WHERE attachment_id = ?
        AND search_head LIKE ? ESCAPE '\\' ORDER BY started_at DESC, id DESC LIMIT 101`,
      ['a1', '%orders/12%'],
    );
    expect(head).toMatch(
      /Index Only Scan Backward using spider_traffic_exchanges_attachment_time_head/,
    );
    const noHead = await plan(
      knex,
      `SELECT id, started_at FROM spider_traffic_exchanges WHERE attachment_id = ?
        AND search_head IS NULL AND search_text LIKE ? ESCAPE '\\'
        ORDER BY started_at DESC, id DESC LIMIT 101`,
      ['a1', '%orders/12%'],
    );
    expect(noHead).toMatch(/spider_traffic_exchanges_no_head/);
  });

  it('finds q by LIKE with its own characters literal, by a scan or through a trigram index added by hand', async () => {
    const store = new DatabaseTrafficStore(knex);
    const paths = ['/Orders/7', '/pay', '/a_b%c\\d', '/a-b-c-d', '/ORDERS/77'];
    await store.insertBatch({
      controllerId: 'c1',
      attachmentId: 'a1',
      namespace: 'team-a',
      pod: 'web-1',
      container: 'spider-a1',
      exchanges: paths.map((p, i) => exchange(i, p, 200)),
      flows: [],
      stats: null,
      relay: { droppedExchanges: 0, droppedBytes: 0, rateLimited: 0 },
    });
    const found = async (q: string) =>
      (await store.list({ attachmentIds: ['a1'], q }, { limit: 10 })).items.map(
        e => e.request.path,
      );
    const expectations = async () => {
      expect(await found('orders/7')).toEqual(['/ORDERS/77', '/Orders/7']);
      expect(await found('_b%c\\')).toEqual(['/a_b%c\\d']);
      expect(await found('%')).toEqual(['/a_b%c\\d']);
      expect(await found('_')).toEqual(['/a_b%c\\d']);
      expect(await found('\\')).toEqual(['/a_b%c\\d']);
      expect(await found('b-c')).toEqual(['/a-b-c-d']);
      expect(await found('nowhere')).toEqual([]);
    };
    await expectations();

    // The README's opt-in for fast search of rare strings on PostgreSQL.
    await knex.raw('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    await knex.raw(
      'CREATE INDEX CONCURRENTLY spider_traffic_exchanges_search ON spider_traffic_exchanges USING gin (search_head gin_trgm_ops)',
    );
    await expectations();
    const explained = await plan(
      knex,
      `SELECT id FROM spider_traffic_exchanges WHERE search_head LIKE ? ESCAPE '\\'`,
      ['%orders/7%'],
      // On five rows a walk of the time index wins; which index serves is the question.
      ['enable_indexscan', 'enable_indexonlyscan'],
    );
    expect(explained).toMatch(/spider_traffic_exchanges_search/);
    await knex.raw('DROP INDEX spider_traffic_exchanges_search');
  });
});
