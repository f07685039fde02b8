import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import {
  CapturedExchange,
  TrafficFlow,
} from '@spider/backstage-plugin-spider-common';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';
import { migrationsDir } from './migrations';
import { DatabaseTrafficStore } from './DatabaseTrafficStore';
import { TrafficBatch, TrafficFilter } from './TrafficStore';

jest.setTimeout(60_000);

const SEARCH_HEAD_MIGRATION = '20261202400000_traffic_search_head.js';

const databases = TestDatabases.create({ ids: testDatabaseIds() });

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

function exchange(
  n: number,
  over: Partial<CapturedExchange> & {
    status?: number | null;
    method?: string;
    path?: string;
  } = {},
): CapturedExchange {
  const { status = 200, method = 'GET', path = `/items/${n}`, ...rest } = over;
  const inbound = (rest.direction ?? 'inbound') === 'inbound';
  return {
    id: `run1.${n}`,
    attachmentId: '',
    container: '',
    pod: '',
    namespace: '',
    protocol: 'http/1.1',
    direction: 'inbound',
    startedAt: at(n),
    durationMs: n,
    client: inbound
      ? { ip: '10.1.0.9', port: 40000 + n, name: 'frontend-7d9.team-a.pod' }
      : { ip: '10.0.0.1', port: 40000 + n, name: null },
    server: inbound
      ? { ip: '10.0.0.1', port: 8080, name: null }
      : { ip: '10.2.0.5', port: 5432, name: 'Payments-DB.team-b.svc' },
    request: {
      method,
      path,
      authority: 'api.team-a',
      headers: [['accept', 'application/json']],
      bodySize: 10,
      body: { encoding: 'utf8', text: `request ${n}`, truncated: false },
    },
    response:
      status === null
        ? null
        : {
            status,
            headers: [['content-type', 'application/json']],
            trailers: [],
            bodySize: 20,
            body: {
              encoding: 'utf8',
              text: `response ${n} ${'x'.repeat(200)}`,
              truncated: false,
            },
          },
    grpc: null,
    error: null,
    ...rest,
  };
}

function batch(
  exchanges: CapturedExchange[],
  over: Partial<TrafficBatch> = {},
): TrafficBatch {
  return {
    controllerId: 'c1',
    attachmentId: 'a1',
    namespace: 'team-a',
    pod: 'web-1',
    container: 'spider-a1',
    exchanges,
    flows: [],
    stats: null,
    relay: { droppedExchanges: 0, droppedBytes: 0, rateLimited: 0 },
    ...over,
  };
}

describe.each(databases.eachSupportedId())(
  'DatabaseTrafficStore on %p',
  (id: TestDatabaseId) => {
    let knex: Knex;
    let store: DatabaseTrafficStore;

    beforeAll(async () => {
      knex = await databases.init(id);
      await knex.migrate.latest({ directory: migrationsDir });
    });

    beforeEach(async () => {
      for (const t of [
        'spider_traffic_exchanges',
        'spider_traffic_flows',
        'spider_traffic_stats',
        'spider_attachments',
        'spider_controllers',
      ]) {
        await knex(t).delete();
      }
      const now = Date.now();
      await knex('spider_controllers').insert({
        id: 'c1',
        name: 'c',
        owner: 'user:default/a',
        token_hash: 'h',
        token_rotated_at: now,
        created_at: now,
        updated_at: now,
      });
      for (const a of ['a1', 'a2']) {
        await knex('spider_attachments').insert({
          id: a,
          controller_id: 'c1',
          whisperer_id: 'w1',
          whisperer_name: 'w',
          whisperer_json: '{}',
          target_namespace: 'team-a',
          target_kind: 'Deployment',
          target_name: `web-${a}`,
          created_by: 'user:default/a',
          created_at: now,
          status: 'detached',
        });
      }
      store = new DatabaseTrafficStore(knex);
    });

    const all = async (filter: Partial<TrafficFilter> = {}) =>
      (
        await store.list({ attachmentIds: ['a1'], ...filter }, { limit: 500 })
      ).items.map(e => e.request.path);

    it('stores a batch once: a replay inserts nothing and adds no flows twice', async () => {
      const flows: TrafficFlow[] = [
        {
          minute: '2026-12-01T10:00:00Z',
          direction: 'outbound',
          client: { ip: '10.0.0.1', port: 5000, name: null },
          server: { ip: '10.2.0.5', port: 6379, name: 'redis' },
          bytesToServer: 100,
          bytesToClient: 1000,
          connections: 1,
        },
        {
          minute: '2026-12-01T10:00:00Z',
          direction: 'outbound',
          client: { ip: '10.0.0.1', port: 5001, name: null },
          server: { ip: '10.2.0.5', port: 6379, name: 'redis' },
          bytesToServer: 50,
          bytesToClient: 500,
          connections: 1,
        },
      ];
      const first = batch([exchange(1), exchange(2), exchange(2)], {
        flows,
        agentRun: 'r1',
        seq: 0,
      });
      expect(await store.insertBatch(first)).toEqual({
        inserted: 2,
        latest: at(2),
      });
      expect(await store.insertBatch(first)).toEqual({
        inserted: 0,
        latest: null,
      });
      expect(
        await store.insertBatch(
          batch([exchange(2), exchange(3)], { agentRun: 'r1', seq: 1 }),
        ),
      ).toEqual({ inserted: 1, latest: at(3) });
      expect(
        Number(
          (await knex('spider_traffic_exchanges').count({ n: '*' }).first())!.n,
        ),
      ).toBe(3);
      const flowRows = await knex('spider_traffic_flows').select();
      expect(flowRows).toHaveLength(1);
      expect(Number(flowRows[0].bytes_to_server)).toBe(150);
      expect(Number(flowRows[0].connections)).toBe(2);
      // A later message of the same run adds up.
      await store.insertBatch(
        batch([], { flows: [flows[0]], agentRun: 'r1', seq: 2 }),
      );
      expect(
        Number((await knex('spider_traffic_flows').first()).bytes_to_server),
      ).toBe(250);
    });

    it('stores text that array and JSON syntax would take apart exactly as it came', async () => {
      // PostgreSQL gets a batch as one JSON array per column: quotes, backslashes,
      // braces, commas, a literal NULL and an empty string must all come back as sent.
      const awkward = [
        '/a"b\\c{d},e',
        'NULL',
        '',
        '/\\"}{,\\\\',
        '/ünï\u00e9 "x"\t\n',
      ];
      await store.insertBatch(
        batch(
          awkward.map((path, i) =>
            exchange(i + 1, {
              path,
              client: {
                ip: '10.1.0.9',
                port: 40000,
                name: i === 1 ? null : `c"${i}\\`,
              },
              request: {
                method: 'GET',
                path,
                authority: `{${i}},"`,
                headers: [['x-odd', `"{${path}}"`]],
                bodySize: 1,
                body: { encoding: 'utf8', text: path, truncated: false },
              },
            }),
          ),
        ),
      );
      const listed = await store.list({ attachmentIds: ['a1'] }, { limit: 10 });
      expect(listed.items.map(e => e.request.path)).toEqual(
        [...awkward].reverse(),
      );
      for (const item of listed.items) {
        const i = awkward.indexOf(item.request.path);
        const full = (await store.get(item.id))!;
        expect(full.request.authority).toBe(`{${i}},"`);
        expect(full.client.name).toBe(i === 1 ? null : `c"${i}\\`);
        expect(full.request.headers).toEqual([['x-odd', `"{${awkward[i]}}"`]]);
        expect(full.request.body?.text).toBe(awkward[i]);
      }
      expect(await all({ q: '{d},e' })).toEqual([awkward[0]]);
    });

    it('lists newest first without bodies and gets one with bodies and its target', async () => {
      await store.insertBatch(batch([exchange(1), exchange(3), exchange(2)]));
      const page = await store.list({ attachmentIds: ['a1'] }, { limit: 10 });
      expect(page.items.map(e => e.startedAt)).toEqual([at(3), at(2), at(1)]);
      expect(page.nextCursor).toBeUndefined();
      const item = page.items[0];
      expect(item).toMatchObject({
        attachmentId: 'a1',
        controllerId: 'c1',
        pod: 'web-1',
        container: 'spider-a1',
        namespace: 'team-a',
        target: { namespace: 'team-a', kind: 'Deployment', name: 'web-a1' },
        request: {
          method: 'GET',
          path: '/items/3',
          body: null,
          bodySize: 10,
          headers: [['accept', 'application/json']],
        },
        response: { status: 200, body: null, bodySize: 20 },
      });
      expect(item.id).toMatch(/^[0-9]+$/);
      const one = await store.get(item.id);
      expect(one?.request.body).toEqual({
        encoding: 'utf8',
        text: 'request 3',
        truncated: false,
      });
      expect(one?.response?.body?.text).toMatch(/^response 3 /);
      expect(await store.get('999999')).toBeUndefined();
      expect(await store.get('not-a-number')).toBeUndefined();
    });

    it('filters by instance, method, status, q, peer, direction and time, alone and combined', async () => {
      await store.insertBatch(
        batch([
          exchange(1, { method: 'GET', status: 200, path: '/Orders/1' }),
          exchange(2, { method: 'POST', status: 201, path: '/orders' }),
          exchange(3, { method: 'POST', status: 503, path: '/pay' }),
          exchange(4, { method: 'GET', status: 404, path: '/missing' }),
          exchange(5, {
            method: 'GET',
            status: null,
            error: 'reset',
            path: '/reset',
          }),
          exchange(6, {
            method: 'GET',
            status: 200,
            error: 'truncated',
            path: '/cut',
          }),
        ]),
      );
      await store.insertBatch(
        batch(
          [
            exchange(7, {
              direction: 'outbound',
              method: 'GET',
              status: 500,
              path: '/db/query',
            }),
            exchange(8, {
              direction: 'outbound',
              method: 'PUT',
              status: 200,
              path: '/100%_done',
            }),
          ],
          { pod: 'web-2', container: 'spider-a1' },
        ),
      );
      await store.insertBatch(
        batch([exchange(9, { path: '/other' })], { attachmentId: 'a2' }),
      );

      expect(await all()).toEqual([
        '/100%_done',
        '/db/query',
        '/cut',
        '/reset',
        '/missing',
        '/pay',
        '/orders',
        '/Orders/1',
      ]);
      expect(await all({ instance: 'web-2' })).toEqual([
        '/100%_done',
        '/db/query',
      ]);
      expect(await all({ instance: 'web-1/spider-a1' })).toHaveLength(6);
      expect(await all({ instance: 'web-1/spider-other' })).toEqual([]);
      expect(await all({ method: 'post' })).toEqual(['/pay', '/orders']);
      expect(await all({ status: '404' })).toEqual(['/missing']);
      expect(await all({ status: '5xx' })).toEqual(['/db/query', '/pay']);
      expect(await all({ status: '2xx' })).toEqual([
        '/100%_done',
        '/cut',
        '/orders',
        '/Orders/1',
      ]);
      expect(await all({ status: 'error' })).toEqual([
        '/db/query',
        '/cut',
        '/reset',
        '/missing',
        '/pay',
      ]);
      // Case-insensitive substring of path, authority and peer names; % and _ are literal.
      expect(await all({ q: 'ORDERS' })).toEqual(['/orders', '/Orders/1']);
      expect(await all({ q: '%_' })).toEqual(['/100%_done']);
      expect(await all({ q: 'payments-db' })).toEqual([
        '/100%_done',
        '/db/query',
      ]);
      expect(await all({ q: 'API.TEAM-A' })).toHaveLength(8);
      expect(await all({ peer: '10.2.0.5' })).toEqual([
        '/100%_done',
        '/db/query',
      ]);
      expect(await all({ peer: 'frontend-7d9.team-a.pod' })).toHaveLength(6);
      expect(await all({ direction: 'outbound' })).toEqual([
        '/100%_done',
        '/db/query',
      ]);
      expect(
        await all({ since: new Date(at(3)), until: new Date(at(5)) }),
      ).toEqual(['/reset', '/missing', '/pay']);
      expect(
        await all({ method: 'GET', status: 'error', instance: 'web-1' }),
      ).toEqual(['/cut', '/reset', '/missing']);
      expect(
        await all({
          direction: 'outbound',
          status: '5xx',
          q: 'query',
          since: new Date(at(7)),
        }),
      ).toEqual(['/db/query']);
      expect(await all({ direction: 'inbound', peer: '10.2.0.5' })).toEqual([]);
      const both = await store.list(
        { attachmentIds: ['a1', 'a2'] },
        { limit: 500 },
      );
      expect(both.items.map(e => e.request.path)[0]).toBe('/other');
      expect(both.items).toHaveLength(9);
    });

    it('searches q in rows stored before the search head, in long texts and in short ones, paged newest first', async () => {
      // Rows of the schema before 20261202400000: stored, then the migration undone
      // (the column goes, the rows stay) and done again (they have no head).
      await store.insertBatch(
        batch([1, 3, 5].map(n => exchange(n, { path: `/Orders/old-${n}` }))),
      );
      await knex.migrate.down({
        directory: migrationsDir,
        name: SEARCH_HEAD_MIGRATION,
      });
      expect(
        await knex.schema.hasColumn('spider_traffic_exchanges', 'search_head'),
      ).toBe(false);
      await knex.migrate.latest({ directory: migrationsDir });
      expect(
        await knex('spider_traffic_exchanges').whereNotNull('search_head'),
      ).toEqual([]);
      expect(await all({ q: 'orders/old' })).toEqual([
        '/Orders/old-5',
        '/Orders/old-3',
        '/Orders/old-1',
      ]);
      // New rows: a head when the text is short, none for a path past 1 KiB.
      const long = `/orders/long-${'x'.repeat(2000)}`;
      await store.insertBatch(
        batch([
          exchange(2, { path: '/orders/new-2' }),
          exchange(4, { path: long }),
          exchange(6, { path: '/ORDERS/new-6' }),
          exchange(7, { path: '/other' }),
        ]),
      );
      const heads = await knex('spider_traffic_exchanges')
        .whereNotNull('search_head')
        .select('path');
      expect(heads.map(r => r.path).sort()).toEqual([
        '/ORDERS/new-6',
        '/orders/new-2',
        '/other',
      ]);
      const expected = [
        '/ORDERS/new-6',
        '/Orders/old-5',
        long,
        '/Orders/old-3',
        '/orders/new-2',
        '/Orders/old-1',
      ];
      expect(await all({ q: 'Orders/' })).toEqual(expected);
      expect(await all({ q: 'x'.repeat(1500) })).toEqual([long]);
      expect(await all({ q: 'orders/', until: new Date(at(4)) })).toEqual(
        expected.slice(2),
      );
      expect(await all({ q: 'api.team-a', method: 'GET' })).toHaveLength(7);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.list(
          { attachmentIds: ['a1'], q: 'orders/' },
          { limit: 2, cursor },
        );
        seen.push(...page.items.map(e => e.request.path));
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen).toEqual(expected);
      const streamed: string[] = [];
      for await (const e of store.stream(
        { attachmentIds: ['a1'], q: 'orders/' },
        5,
      ))
        streamed.push(e.request.path);
      expect(streamed).toEqual(expected.slice(0, 5));
    });

    it('pages stably while newer exchanges arrive, and refuses a forged cursor', async () => {
      await store.insertBatch(
        batch(Array.from({ length: 25 }, (_, i) => exchange(100 + i))),
      );
      // Same start time for several rows: the insertion sequence breaks the tie.
      await store.insertBatch(
        batch(
          [5, 6, 7].map(n =>
            exchange(n, { startedAt: at(110), path: `/tie/${n}` }),
          ),
        ),
      );
      const seen: string[] = [];
      let cursor: string | undefined;
      let extra = 0;
      do {
        const page = await store.list(
          { attachmentIds: ['a1'] },
          { limit: 4, cursor },
        );
        seen.push(...page.items.map(e => e.id));
        cursor = page.nextCursor;
        // Newer traffic lands between pages; it must not shift or repeat anything.
        await store.insertBatch(batch([exchange(1000 + extra++)]));
      } while (cursor);
      expect(seen).toHaveLength(28);
      expect(new Set(seen).size).toBe(28);
      const direct = await store.list(
        { attachmentIds: ['a1'], until: new Date(at(124)) },
        { limit: 500 },
      );
      expect(direct.items.map(e => e.id)).toEqual(seen);
      await expect(
        store.list({ attachmentIds: ['a1'] }, { limit: 4, cursor: 'bogus' }),
      ).rejects.toThrow(/cursor/);
    });

    it('tails with after: what was stored after an id, in storage order, with the filters', async () => {
      await store.insertBatch(
        batch([1, 2, 3].map(n => exchange(n, { path: `/first/${n}` }))),
      );
      const first = await store.list({ attachmentIds: ['a1'] }, { limit: 10 });
      const newest = first.items[0].id;
      expect(
        (
          await store.list(
            { attachmentIds: ['a1'] },
            { limit: 10, after: newest },
          )
        ).items,
      ).toEqual([]);
      // A short exchange that starts later is stored first; a long one that started
      // before the newest seen ends (and is stored) after it; another attachment's too.
      await store.insertBatch(batch([exchange(10, { path: '/short' })]));
      await store.insertBatch(
        batch([
          exchange(2, {
            startedAt: at(2.5),
            id: 'run1.long',
            path: '/long',
            status: 503,
          }),
        ]),
      );
      await store.insertBatch(
        batch([exchange(11, { path: '/elsewhere' })], { attachmentId: 'a2' }),
      );
      await store.insertBatch(batch([exchange(12, { path: '/last' })]));
      const tail = await store.list(
        { attachmentIds: ['a1'] },
        { limit: 10, after: newest },
      );
      expect(tail.items.map(e => e.request.path)).toEqual([
        '/short',
        '/long',
        '/last',
      ]);
      expect(tail.nextCursor).toBeUndefined();
      expect(tail.items[0].request.body).toBeNull();
      // A full page: the next call starts from its last item; nothing is repeated or lost.
      const one = await store.list(
        { attachmentIds: ['a1'] },
        { limit: 2, after: newest },
      );
      expect(one.items.map(e => e.request.path)).toEqual(['/short', '/long']);
      const rest = await store.list(
        { attachmentIds: ['a1'] },
        { limit: 2, after: one.items[1].id },
      );
      expect(rest.items.map(e => e.request.path)).toEqual(['/last']);
      expect(
        (
          await store.list(
            { attachmentIds: ['a1', 'a2'], status: '5xx' },
            { limit: 10, after: newest },
          )
        ).items.map(e => e.request.path),
      ).toEqual(['/long']);
      expect(
        (
          await store.list(
            { attachmentIds: ['a1', 'a2'] },
            { limit: 10, after: newest },
          )
        ).items.map(e => e.request.path),
      ).toEqual(['/short', '/long', '/elsewhere', '/last']);
      await expect(
        store.list(
          { attachmentIds: ['a1'] },
          { limit: 2, after: newest, cursor: first.nextCursor ?? 'x' },
        ),
      ).rejects.toThrow(/after and cursor/);
      await expect(
        store.list({ attachmentIds: ['a1'] }, { limit: 2, after: '1 OR 1=1' }),
      ).rejects.toThrow(/after must be an exchange id/);
    });

    it('pages one pod’s errors, newest first, whichever pod’s errors are newer', async () => {
      // web-1's errors are the newest; web-2's come from the instance errors index.
      const statusOf = (n: number) => [200, 404, 503, null, 200, 500][n % 6];
      const rows = (pod: string, from: number) =>
        batch(
          Array.from({ length: 24 }, (_, i) =>
            exchange(from + i, {
              status: statusOf(i),
              error: i % 11 === 0 ? 'truncated' : null,
              path: `/${pod}/${from + i}`,
            }),
          ),
          { pod },
        );
      await store.insertBatch(rows('web-2', 0));
      await store.insertBatch(rows('web-1', 100));
      const expected = Array.from({ length: 24 }, (_, i) => i)
        .filter(i => statusOf(i) !== 200 || i % 11 === 0)
        .map(i => `/web-2/${i}`)
        .reverse();
      for (const instance of ['web-2', 'web-2/spider-a1']) {
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.list(
            { attachmentIds: ['a1'], instance, status: 'error' },
            { limit: 4, cursor },
          );
          seen.push(...page.items.map(e => e.request.path));
          cursor = page.nextCursor;
        } while (cursor);
        expect(seen).toEqual(expected);
      }
      expect(
        await all({
          instance: 'web-2',
          status: 'error',
          since: new Date(at(20)),
        }),
      ).toEqual(['/web-2/23', '/web-2/22', '/web-2/21', '/web-2/20']);
    });

    it('streams with bodies, newest first, up to the limit, across pages', async () => {
      const many = Array.from({ length: 1200 }, (_, i) => exchange(i));
      await store.insertBatch(batch(many));
      const got: string[] = [];
      for await (const e of store.stream(
        { attachmentIds: ['a1'], method: 'GET' },
        1100,
      )) {
        expect(e.request.body).not.toBeNull();
        got.push(e.startedAt);
      }
      expect(got).toHaveLength(1100);
      expect(got[0]).toBe(at(1199));
      expect(got[1099]).toBe(at(100));
      let n = 0;
      for await (const e of store.stream(
        { attachmentIds: ['a1'], since: new Date(at(1190)) },
        100_000,
      ))
        n += e ? 1 : 0;
      expect(n).toBe(10);
    });

    it('reports coverage: latest stats and relay per instance, totals and completeness', async () => {
      const stats = {
        startedAt: at(0),
        packets: 100,
        kernelDrops: 0,
        bytes: 5000,
        exchanges: 10,
        sampled: 0,
        dropped: 0,
        parseErrors: 1,
        cpuBreaks: 0,
      };
      await store.insertBatch(
        batch([exchange(1)], { stats, agentRun: 'r', seq: 0 }),
      );
      await store.insertBatch(
        batch([], {
          stats: { ...stats, packets: 150, exchanges: 12 },
          agentRun: 'r',
          seq: 1,
        }),
      );
      // A replayed older message does not move the stats back.
      await store.insertBatch(batch([], { stats, agentRun: 'r', seq: 0 }));
      let cov = await store.coverage(['a1']);
      expect(cov.instances).toEqual([
        {
          pod: 'web-1',
          container: 'spider-a1',
          stats: { ...stats, packets: 150, exchanges: 12 },
          relay: { droppedExchanges: 0, droppedBytes: 0, rateLimited: 0 },
          updatedAt: expect.any(String),
        },
      ]);
      expect(cov.totals).toEqual({
        packets: 150,
        kernelDrops: 0,
        exchanges: 12,
        sampled: 0,
        dropped: 0,
        parseErrors: 1,
        relayDropped: 0,
        expired: 0,
      });
      expect(cov.complete).toBe(true);
      await store.insertBatch(
        batch([], {
          pod: 'web-2',
          stats: { ...stats, sampled: 3 },
          relay: { droppedExchanges: 4, droppedBytes: 400, rateLimited: 0 },
        }),
      );
      cov = await store.coverage(['a1']);
      expect(cov.instances.map(i => i.pod)).toEqual(['web-1', 'web-2']);
      expect(cov.totals).toMatchObject({
        packets: 250,
        sampled: 3,
        relayDropped: 4,
      });
      expect(cov.complete).toBe(false);
      expect((await store.coverage(['a2'])).instances).toEqual([]);
    });

    it('aggregates peers per role with calls, errors, percentiles, bytes and flow bytes', async () => {
      const inbound = Array.from({ length: 100 }, (_, i) =>
        exchange(i + 1, { status: i < 10 ? 500 : 200 }),
      );
      const outbound = [
        exchange(200, {
          direction: 'outbound',
          status: null,
          error: 'timeout',
        }),
      ];
      await store.insertBatch(
        batch([...inbound, ...outbound], {
          flows: [
            {
              minute: at(0),
              direction: 'outbound',
              client: { ip: '10.0.0.1', port: 1, name: null },
              server: { ip: '10.2.0.5', port: 5432, name: null },
              bytesToServer: 7,
              bytesToClient: 3,
              connections: 1,
            },
            {
              minute: at(0),
              direction: 'outbound',
              client: { ip: '10.0.0.1', port: 1, name: null },
              server: { ip: '10.9.9.9', port: 6379, name: 'redis.team-a.svc' },
              bytesToServer: 1,
              bytesToClient: 1,
              connections: 1,
            },
          ],
        }),
      );
      const peers = await store.peers({ attachmentIds: ['a1'] });
      expect(peers).toEqual([
        {
          role: 'caller',
          peerIp: '10.1.0.9',
          peerName: 'frontend-7d9.team-a.pod',
          calls: 100,
          errors: 10,
          p50Ms: 50,
          p99Ms: 99,
          bytes: 3000,
          flowBytes: 0,
        },
        {
          role: 'callee',
          peerIp: '10.2.0.5',
          peerName: 'Payments-DB.team-b.svc',
          calls: 1,
          errors: 1,
          p50Ms: 200,
          p99Ms: 200,
          bytes: 10,
          flowBytes: 10,
        },
        {
          role: 'callee',
          peerIp: '10.9.9.9',
          peerName: 'redis.team-a.svc',
          calls: 0,
          errors: 0,
          p50Ms: null,
          p99Ms: null,
          bytes: 0,
          flowBytes: 2,
        },
      ]);
      const late = await store.peers({
        attachmentIds: ['a1'],
        direction: 'inbound',
        since: new Date(at(91)),
      });
      expect(late).toEqual([
        expect.objectContaining({
          role: 'caller',
          calls: 10,
          errors: 0,
          p50Ms: 95,
        }),
      ]);
    });

    it('deletes the traffic of attachments', async () => {
      await store.insertBatch(
        batch([exchange(1), exchange(2)], { stats: null }),
      );
      await store.insertBatch(batch([exchange(1)], { attachmentId: 'a2' }));
      expect(await store.deleteForAttachments(['a1'])).toBe(2);
      expect(await all()).toEqual([]);
      expect(
        await knex('spider_traffic_stats').where({ attachment_id: 'a1' }),
      ).toEqual([]);
      expect(
        (await store.list({ attachmentIds: ['a2'] }, { limit: 10 })).items,
      ).toHaveLength(1);
    });

    describe('retention', () => {
      const limits = {
        maxAgeMs: 86_400_000,
        maxRowsPerAttachment: 100_000,
        maxTotalBytes: 1024 ** 3,
      };

      it('deletes by age and counts it in coverage', async () => {
        await store.insertBatch(
          batch([exchange(1), exchange(2), exchange(3600)]),
        );
        const now = new Date(T0 + 86_400_000 + 1800_000);
        const r = await store.applyRetention(limits, now);
        expect(r).toEqual({
          deletedByAge: 2,
          deletedByRows: 0,
          deletedBySize: 0,
          bodiesDropped: 0,
        });
        expect(await all()).toEqual(['/items/3600']);
        expect((await store.coverage(['a1'])).totals.expired).toBe(2);
        expect((await store.coverage(['a1'])).complete).toBe(false);
      });

      it('keeps the newest rows per attachment', async () => {
        await store.insertBatch(
          batch(Array.from({ length: 30 }, (_, i) => exchange(i))),
        );
        await store.insertBatch(
          batch(
            Array.from({ length: 5 }, (_, i) => exchange(i)),
            { attachmentId: 'a2' },
          ),
        );
        const r = await store.applyRetention(
          { ...limits, maxRowsPerAttachment: 10 },
          new Date(T0),
        );
        expect(r).toMatchObject({ deletedByAge: 0, deletedByRows: 20 });
        expect(await all()).toEqual(
          Array.from({ length: 10 }, (_, i) => `/items/${29 - i}`),
        );
        expect(
          (await store.list({ attachmentIds: ['a2'] }, { limit: 50 })).items,
        ).toHaveLength(5);
        expect((await store.coverage(['a1'])).totals.expired).toBe(20);
        expect((await store.coverage(['a2'])).totals.expired).toBe(0);
      });

      it('drops the oldest bodies first, then the oldest rows, to fit the total size', async () => {
        await store.insertBatch(
          batch(Array.from({ length: 20 }, (_, i) => exchange(10 + i))),
        );
        const sizes = async () => {
          const row = await knex('spider_traffic_exchanges')
            .sum({ bytes: 'row_bytes' })
            .sum({ body: 'body_bytes' })
            .first();
          return { bytes: Number(row!.bytes), body: Number(row!.body) };
        };
        const before = await sizes();
        const perRowBody = before.body / 20;
        // Room for everything but five rows' bodies: only bodies go, the oldest first.
        let r = await store.applyRetention(
          { ...limits, maxTotalBytes: before.bytes - perRowBody * 5 },
          new Date(T0),
        );
        expect(r).toEqual({
          deletedByAge: 0,
          deletedByRows: 0,
          deletedBySize: 0,
          bodiesDropped: 5,
        });
        const listed = (
          await store.list({ attachmentIds: ['a1'] }, { limit: 50 })
        ).items;
        expect(listed).toHaveLength(20);
        expect((await store.get(listed[19].id))?.request.body).toBeNull();
        expect((await store.get(listed[19].id))?.request.bodySize).toBe(10);
        expect((await store.get(listed[15].id))?.request.body).toBeNull();
        expect((await store.get(listed[14].id))?.request.body).not.toBeNull();
        // Less room than the metadata alone: every body goes, then the oldest rows.
        const now = await sizes();
        const metadata = now.bytes - now.body;
        r = await store.applyRetention(
          { ...limits, maxTotalBytes: Math.floor(metadata / 2) },
          new Date(T0),
        );
        expect(r.bodiesDropped).toBe(15);
        expect(r.deletedBySize).toBeGreaterThanOrEqual(10);
        expect(r.deletedBySize).toBeLessThan(12);
        expect((await sizes()).bytes).toBeLessThanOrEqual(
          Math.floor(metadata / 2),
        );
        const kept = await all();
        expect(kept[0]).toBe('/items/29');
        expect((await store.coverage(['a1'])).totals.expired).toBe(
          r.deletedBySize,
        );
      });
    });
  },
);
