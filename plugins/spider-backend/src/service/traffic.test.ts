import net from 'node:net';
import {
  TestDatabaseId,
  TestDatabases,
  mockCredentials,
} from '@backstage/backend-test-utils';
import { Entity } from '@backstage/catalog-model';
import {
  CapturedExchange,
  StoredExchange,
  whispererContainerName,
} from '@spider/backstage-plugin-spider-common';
import { startSpiderTestBackend } from '../__testUtils__/startSpiderTestBackend';
import { clearSpiderTables } from '../__testUtils__/clearSpiderTables';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';
import { TestAgent, TestAgentOptions } from '../__testUtils__/TestAgent';
import { capturedExchange } from '../__testUtils__/trafficSamples';
import { harSchemaErrors } from '../__testUtils__/validateHar';

jest.setTimeout(120_000);

const databases = TestDatabases.create({ ids: testDatabaseIds() });

const OWNER = 'user:default/owner';
const BOB = 'user:default/bob'; // member of group:default/team-b
const NOBODY = 'user:default/nobody';

const workloads: NonNullable<TestAgentOptions['workloads']> = [
  {
    namespace: 'team-a',
    kind: 'Deployment',
    name: 'web',
    labels: { 'backstage.io/kubernetes-id': 'payments' },
    replicas: 2,
    pods: 2,
  },
  {
    namespace: 'team-b',
    kind: 'Deployment',
    name: 'api',
    labels: { 'backstage.io/kubernetes-id': 'payments' },
    replicas: 1,
    pods: 1,
  },
  {
    namespace: 'team-b',
    kind: 'StatefulSet',
    name: 'db',
    labels: { tier: 'db' },
    replicas: 1,
    pods: 1,
  },
];

const entities: Entity[] = [
  {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: {
      name: 'payments',
      namespace: 'default',
      annotations: { 'backstage.io/kubernetes-id': 'payments' },
    },
    spec: { type: 'service', owner: 'team-a', lifecycle: 'production' },
  },
  {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Resource',
    metadata: {
      name: 'orders-db',
      namespace: 'default',
      annotations: { 'backstage.io/kubernetes-label-selector': 'tier=db' },
    },
    spec: { type: 'database', owner: 'team-b' },
  },
];

const API_POD = 'api-0.api.deployment.team-b.pod.cluster.local';

describe.each(databases.eachSupportedId())(
  'Traffic API on %p',
  (databaseId: TestDatabaseId) => {
    let knex: Awaited<ReturnType<typeof databases.init>>;
    let app: Awaited<ReturnType<typeof startSpiderTestBackend>>;
    let agent: TestAgent;
    let a: { id: string; container: string }; // team-a/web, made for the payments entity
    let b: { id: string; container: string }; // team-b/api, an entity workload by its labels
    const t0 = Date.now() - 10 * 60_000;
    const at = (s: number) => new Date(t0 + s * 1000).toISOString();

    beforeAll(async () => {
      knex = await databases.init(databaseId);
    });

    beforeEach(async () => {
      await clearSpiderTables(knex);
      app = await startSpiderTestBackend({ knex, entities });
      const c = await app.as(OWNER).post('/controllers', { name: 'prod-eu' });
      const w = await app.as(OWNER).post('/whisperers', { name: 'http' });
      agent = new TestAgent({
        url: app.agentUrl,
        token: c.body.token,
        workloads,
        features: ['traffic'],
      });
      await agent.connect();
      const attach = async (
        namespace: string,
        name: string,
        entityRef?: string,
      ) => {
        const res = await app.as(OWNER).post('/attachments', {
          controllerId: c.body.id,
          whispererId: w.body.id,
          target: { namespace, kind: 'Deployment', name },
          entityRef,
        });
        expect(res.status).toBe(201);
        return {
          id: res.body.id as string,
          container: whispererContainerName(res.body.id),
        };
      };
      a = await attach('team-a', 'web', 'component:default/payments');
      b = await attach('team-b', 'api');
      await app.as(OWNER).put(`/controllers/${c.body.id}/shares`, {
        items: [
          {
            principal: 'group:default/team-b',
            rights: ['read'],
            namespaces: ['team-b'],
          },
        ],
      });
    });

    afterEach(async () => {
      agent.close();
      await app.stop();
    });

    /** Sends exchanges through the agent socket, as the relay does, and waits until they are listed. */
    async function send(
      target: { id: string; container: string },
      namespace: string,
      pod: string,
      exchanges: CapturedExchange[],
      extra: Parameters<TestAgent['sendTraffic']>[1] = {},
    ) {
      const before = await countOf(target.id);
      for (let i = 0; i < exchanges.length; i += 500) {
        agent.sendTraffic(
          {
            attachmentId: target.id,
            namespace,
            pod,
            container: target.container,
          },
          {
            ...extra,
            exchanges: exchanges.slice(i, i + 500).map(e => ({
              ...e,
              attachmentId: target.id,
              namespace,
              pod,
              container: target.container,
            })),
          },
        );
      }
      await waitUntil(
        async () => (await countOf(target.id)) >= before + exchanges.length,
        `${exchanges.length} exchanges stored`,
      );
    }

    async function countOf(attachmentId: string): Promise<number> {
      let n = 0;
      let cursor: string | undefined;
      do {
        const res = await app
          .as(OWNER)
          .get(
            `/attachments/${attachmentId}/traffic?limit=500${
              cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''
            }`,
          );
        expect(res.status).toBe(200);
        n += res.body.items.length;
        cursor = res.body.nextCursor;
      } while (cursor);
      return n;
    }

    /** team-a/web: two pods, callers, callees, errors. */
    async function feedA() {
      const withBody = (text: string) => ({
        encoding: 'utf8' as const,
        text,
        truncated: false,
      });
      await send(
        a,
        'team-a',
        'web-0',
        [
          capturedExchange({
            id: 'r.1',
            startedAt: at(0),
            client: { ip: '10.2.0.5', port: 41000, name: API_POD },
            request: {
              method: 'GET',
              path: '/orders/1',
              authority: 'web',
              headers: [['authorization', '[redacted]']],
              bodySize: 0,
              body: null,
            },
          }),
          capturedExchange({
            id: 'r.2',
            startedAt: at(1),
            durationMs: 80,
            client: { ip: '10.2.0.5', port: 41001, name: API_POD },
            request: {
              method: 'POST',
              path: '/orders',
              authority: 'web',
              headers: [['content-type', 'application/json']],
              bodySize: 9,
              body: withBody('{"n":"x"}'),
            },
            response: {
              status: 503,
              headers: [['content-type', 'application/octet-stream']],
              trailers: [],
              bodySize: 4,
              body: { encoding: 'base64', text: 'AAECAw==', truncated: false },
            },
          }),
          capturedExchange({
            id: 'r.4',
            startedAt: at(3),
            direction: 'outbound',
            client: { ip: '10.1.0.4', port: 50000, name: null },
            server: {
              ip: '10.96.0.20',
              port: 5432,
              name: 'db.team-b.svc.cluster.local',
            },
            request: {
              method: 'GET',
              path: '/items',
              authority: 'db',
              headers: [],
              bodySize: 0,
              body: null,
            },
          }),
          capturedExchange({
            id: 'r.5',
            startedAt: at(4),
            direction: 'outbound',
            response: null,
            error: 'reset',
            client: { ip: '10.1.0.4', port: 50001, name: null },
            server: {
              ip: '10.2.0.9',
              port: 5432,
              name: 'db-0.db.statefulset.team-b.pod.cluster.local',
            },
            request: {
              method: 'PUT',
              path: '/upload',
              authority: 'db',
              headers: [],
              bodySize: 5,
              body: withBody('hello'),
            },
          }),
        ],
        {
          stats: {
            startedAt: at(-60),
            packets: 100,
            kernelDrops: 0,
            bytes: 5000,
            exchanges: 5,
            sampled: 0,
            dropped: 0,
            parseErrors: 0,
            cpuBreaks: 0,
          },
        },
      );
      await send(a, 'team-a', 'web-1', [
        capturedExchange({
          id: 's.3',
          startedAt: at(2),
          client: { ip: '10.9.9.9', port: 42000, name: null },
          request: {
            method: 'GET',
            path: '/health',
            authority: 'web',
            headers: [],
            bodySize: 0,
            body: null,
          },
          response: {
            status: 404,
            headers: [],
            trailers: [],
            bodySize: 0,
            body: null,
          },
        }),
      ]);
    }

    const ids = (res: { body: { items: StoredExchange[] } }) =>
      res.body.items.map(e => e.request.path);

    it('lists newest first without bodies, with every filter, pages with a cursor, and reports coverage', async () => {
      await feedA();
      const all = await app.as(OWNER).get(`/attachments/${a.id}/traffic`);
      expect(all.status).toBe(200);
      expect(ids(all)).toEqual([
        '/upload',
        '/items',
        '/health',
        '/orders',
        '/orders/1',
      ]);
      expect(all.body.nextCursor).toBeUndefined();
      const post = all.body.items.find(
        (e: StoredExchange) => e.request.method === 'POST',
      );
      expect(post.request.body).toBeNull();
      expect(post.request.bodySize).toBe(9);
      expect(post.response.body).toBeNull();
      expect(post).toMatchObject({
        attachmentId: a.id,
        pod: 'web-0',
        namespace: 'team-a',
        target: { namespace: 'team-a', kind: 'Deployment', name: 'web' },
      });
      expect(all.body.coverage.totals).toMatchObject({
        packets: 100,
        exchanges: 5,
      });
      expect(all.body.coverage.instances.map((i: any) => i.pod).sort()).toEqual(
        ['web-0', 'web-1'],
      );

      const q = async (query: string) => {
        const res = await app
          .as(OWNER)
          .get(`/attachments/${a.id}/traffic?${query}`);
        expect(res.status).toBe(200);
        return ids(res);
      };
      expect(await q('method=post')).toEqual(['/orders']);
      expect(await q('method=GET')).toEqual(['/items', '/health', '/orders/1']);
      expect(await q('status=5xx')).toEqual(['/orders']);
      expect(await q('status=404')).toEqual(['/health']);
      expect(await q('status=error')).toEqual([
        '/upload',
        '/health',
        '/orders',
      ]);
      expect(await q('q=HEALTH')).toEqual(['/health']);
      expect(await q('q=api-0.api')).toEqual(['/orders', '/orders/1']);
      expect(await q('peer=10.9.9.9')).toEqual(['/health']);
      expect(await q(`peer=${API_POD}`)).toEqual(['/orders', '/orders/1']);
      expect(await q('direction=outbound')).toEqual(['/upload', '/items']);
      expect(await q('instance=web-1')).toEqual(['/health']);
      expect(await q(`instance=web-0/${a.container}`)).toEqual([
        '/upload',
        '/items',
        '/orders',
        '/orders/1',
      ]);
      expect(await q(`since=${at(1)}&until=${at(3)}`)).toEqual([
        '/items',
        '/health',
        '/orders',
      ]);
      expect(await q('direction=inbound&status=error&instance=web-0')).toEqual([
        '/orders',
      ]);

      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const res = await app
          .as(OWNER)
          .get(
            `/attachments/${a.id}/traffic?limit=2${
              cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''
            }`,
          );
        pages.push(ids(res));
        cursor = res.body.nextCursor;
      } while (cursor);
      expect(pages).toEqual([
        ['/upload', '/items'],
        ['/health', '/orders'],
        ['/orders/1'],
      ]);

      const unknown = await app
        .as(OWNER)
        .get(`/attachments/${a.id}/traffic?colour=red&method=GET`);
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.message).toMatch(/unknown field\(s\) "colour"/);
      expect(
        (await app.as(OWNER).get(`/attachments/${a.id}/traffic?status=5x`)).body
          .error.message,
      ).toMatch(/status/);
      expect(
        (await app.as(OWNER).get(`/attachments/${a.id}/traffic?limit=501`))
          .status,
      ).toBe(400);
      expect(
        (
          await app
            .as(OWNER)
            .get(`/attachments/${a.id}/traffic?since=${at(5)}&until=${at(1)}`)
        ).body.error.message,
      ).toMatch(/since must not be after until/);
      expect(
        (await app.as(OWNER).get(`/attachments/${a.id}/traffic?cursor=bogus`))
          .status,
      ).toBe(400);
      expect(
        (await app.as(OWNER).get('/attachments/not-an-id/traffic')).status,
      ).toBe(400);
      expect(
        (
          await app
            .as(OWNER)
            .get('/attachments/0b7e8c3e-1f2a-4c3d-9e8f-0123456789ab/traffic')
        ).status,
      ).toBe(404);
    });

    it('answers one exchange with headers and bodies', async () => {
      await feedA();
      const list = await app
        .as(OWNER)
        .get(`/attachments/${a.id}/traffic?method=POST`);
      const id = list.body.items[0].id;
      const one = await app.as(OWNER).get(`/traffic/${id}`);
      expect(one.status).toBe(200);
      expect(one.body).toMatchObject({
        id,
        attachmentId: a.id,
        request: {
          method: 'POST',
          headers: [['content-type', 'application/json']],
          body: { encoding: 'utf8', text: '{"n":"x"}', truncated: false },
        },
        response: {
          status: 503,
          body: { encoding: 'base64', text: 'AAECAw==' },
        },
      });
      const redacted = (
        await app.as(OWNER).get(`/attachments/${a.id}/traffic?q=/orders/1`)
      ).body.items[0];
      expect(
        (await app.as(OWNER).get(`/traffic/${redacted.id}`)).body.request
          .headers,
      ).toEqual([['authorization', '[redacted]']]);
      expect((await app.as(OWNER).get('/traffic/999999999')).status).toBe(404);
      expect((await app.as(OWNER).get('/traffic/bad%20id')).status).toBe(400);
    });

    it('exports valid HAR 1.2 of the filtered set, keeping redacted values and base64 bodies', async () => {
      await feedA();
      const res = await app
        .as(OWNER)
        .get(`/attachments/${a.id}/traffic.har`)
        .buffer(true)
        .parse(textParser);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['content-disposition']).toMatch(
        /^attachment; filename="web-\d{4}-\d\d-\d\dT\d{6}Z\.har"$/,
      );
      const har = JSON.parse(res.body);
      expect(harSchemaErrors(har)).toEqual([]);
      expect(
        har.log.entries.map((e: any) => new URL(e.request.url).pathname),
      ).toEqual(['/upload', '/items', '/health', '/orders', '/orders/1']);
      const first = har.log.entries[4];
      expect(first.request.headers).toEqual([
        { name: 'authorization', value: '[redacted]' },
      ]);
      expect(first._spider).toMatchObject({
        direction: 'inbound',
        pod: 'web-0',
        container: a.container,
        protocol: 'http/1.1',
        grpc: null,
      });
      const post = har.log.entries[3];
      expect(post.response.content).toMatchObject({
        encoding: 'base64',
        text: 'AAECAw==',
        mimeType: 'application/octet-stream',
      });
      expect(post.request.postData).toMatchObject({
        text: '{"n":"x"}',
        mimeType: 'application/json',
      });
      expect(post.timings.wait).toBe(80);
      expect(har.log.entries[0].response).toMatchObject({
        status: 0,
        _error: 'reset',
      });

      const filtered = await app
        .as(OWNER)
        .get(`/attachments/${a.id}/traffic.har?status=5xx`)
        .buffer(true)
        .parse(textParser);
      expect(JSON.parse(filtered.body).log.entries).toHaveLength(1);
      const limited = JSON.parse(
        (
          await app
            .as(OWNER)
            .get(`/attachments/${a.id}/traffic.har?limit=2`)
            .buffer(true)
            .parse(textParser)
        ).body,
      );
      expect(limited.log.entries).toHaveLength(2);
      expect(limited.log.comment).toMatch(/the limit of 2 was reached/);
      expect(
        (await app.as(OWNER).get(`/attachments/${a.id}/traffic.har?cursor=x`))
          .status,
      ).toBe(400);
      expect(
        (
          await app
            .as(OWNER)
            .get(`/attachments/${a.id}/traffic.har?limit=100001`)
        ).status,
      ).toBe(400);
    });

    it('streams a HAR of 2,000 exchanges in chunks', async () => {
      const body = {
        encoding: 'utf8' as const,
        text: 'x'.repeat(1500),
        truncated: false,
      };
      const many = Array.from({ length: 2000 }, (_, i) =>
        capturedExchange({
          id: `bulk.${i}`,
          startedAt: new Date(t0 + i).toISOString(),
          response: {
            status: 200,
            headers: [],
            trailers: [],
            bodySize: 1500,
            body,
          },
        }),
      );
      await send(a, 'team-a', 'web-0', many);
      const { head, chunks, largest, text } = await rawChunkedGet(
        app.baseUrl,
        `/api/spider/attachments/${a.id}/traffic.har?limit=5000`,
        mockCredentials.user.header(OWNER),
      );
      expect(head).toMatch(/^HTTP\/1\.1 200/);
      expect(head).toMatch(/\r\ntransfer-encoding: chunked/i);
      expect(head).not.toMatch(/\r\ncontent-length:/i);
      const har = JSON.parse(text);
      expect(har.log.entries).toHaveLength(2000);
      expect(harSchemaErrors(har)).toEqual([]);
      // About 5.4 MB, written by the backend in pieces of about 64 KiB as the store's pages
      // come (a buffered file would be one chunk, or a Content-Length).
      expect(text.length).toBeGreaterThan(5_000_000);
      expect(chunks).toBeGreaterThan(60);
      expect(largest).toBeLessThan(200_000);

      // A client that goes away midway ends the export; the backend serves on.
      await abortAfter(
        app.baseUrl,
        `/api/spider/attachments/${a.id}/traffic.har?limit=5000`,
        mockCredentials.user.header(OWNER),
        100_000,
      );
      expect(
        (await app.as(OWNER).get(`/attachments/${a.id}/traffic?limit=1`))
          .status,
      ).toBe(200);
    });

    it('maps peers to pods, workloads and catalog entities', async () => {
      await feedA();
      const res = await app
        .as(OWNER)
        .get(`/attachments/${a.id}/map?since=${at(-60)}&until=${at(600)}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        workload: { namespace: 'team-a', kind: 'Deployment', name: 'web' },
        entityRef: 'component:default/payments',
        since: at(-60),
        until: at(600),
      });
      const byKey = new Map(
        res.body.peers.map((p: any) => [`${p.role} ${p.key}`, p]),
      );
      expect([...byKey.keys()].sort()).toEqual([
        'callee team-b/StatefulSet/db',
        'caller 10.9.9.9',
        'caller team-b/Deployment/api',
      ]);
      expect(byKey.get('caller team-b/Deployment/api')).toMatchObject({
        ips: ['10.2.0.5'],
        name: 'api-0',
        pod: { namespace: 'team-b', name: 'api-0' },
        workload: { namespace: 'team-b', kind: 'Deployment', name: 'api' },
        entityRef: 'component:default/payments',
        calls: 2,
        errors: 1,
        callsPerMinute: 0.182,
      });
      expect(byKey.get('callee team-b/StatefulSet/db')).toMatchObject({
        ips: ['10.2.0.9', '10.96.0.20'],
        name: 'db',
        pod: null,
        entityRef: 'resource:default/orders-db',
        calls: 2,
        errors: 1,
      });
      expect(byKey.get('caller 10.9.9.9')).toMatchObject({
        name: '10.9.9.9',
        workload: null,
        entityRef: null,
        calls: 1,
        errors: 1,
      });

      const onePod = await app
        .as(OWNER)
        .get(
          `/attachments/${a.id}/map?since=${at(-60)}&until=${at(
            600,
          )}&instance=web-1`,
        );
      expect(onePod.body.peers.map((p: any) => p.key)).toEqual(['10.9.9.9']);
      expect(
        (await app.as(OWNER).get(`/attachments/${a.id}/map?peer=x`)).status,
      ).toBe(400);
    });

    it('tails with after= on an attachment and an entity: what was stored since, an exchange ending late included', async () => {
      await feedA();
      const seen = await app.as(OWNER).get(`/attachments/${a.id}/traffic`);
      const newest = String(
        Math.max(...seen.body.items.map((e: StoredExchange) => Number(e.id))),
      );
      const tail = (path: string, query: string) =>
        app.as(OWNER).get(`${path}${path.includes('?') ? '&' : '?'}${query}`);
      const attachmentTail = `/attachments/${a.id}/traffic`;
      const entityTail = '/entity-traffic?entityRef=component:default/payments';
      for (const path of [attachmentTail, entityTail]) {
        const none = await tail(path, `after=${newest}`);
        expect(none.status).toBe(200);
        expect(none.body.items).toEqual([]);
      }
      // Started before everything listed, stored after it: a since-based tail misses it.
      await send(a, 'team-a', 'web-0', [
        capturedExchange({ id: 'late.1', startedAt: at(-5) }),
      ]);
      await send(b, 'team-b', 'api-0', [
        capturedExchange({ id: 'b.late', startedAt: at(9) }),
      ]);
      const onA = await tail(attachmentTail, `after=${newest}`);
      expect(onA.body.items.map((e: StoredExchange) => e.startedAt)).toEqual([
        at(-5),
      ]);
      expect(onA.body.nextCursor).toBeUndefined();
      const onEntity = await tail(entityTail, `after=${newest}&limit=5`);
      expect(
        onEntity.body.items.map((e: StoredExchange) => e.startedAt),
      ).toEqual([at(-5), at(9)]);
      const filtered = await tail(entityTail, `after=${newest}&instance=api-0`);
      expect(
        filtered.body.items.map((e: StoredExchange) => e.startedAt),
      ).toEqual([at(9)]);
      for (const path of [attachmentTail, entityTail]) {
        const bad = await tail(path, 'after=abc');
        expect(bad.status).toBe(400);
        expect(bad.body.error.message).toMatch(/after/);
        const both = await tail(path, `after=${newest}&cursor=x`);
        expect(both.status).toBe(400);
        expect(both.body.error.message).toMatch(/after and cursor/);
      }
      expect(
        (await app.as(NOBODY).get(`${attachmentTail}?after=${newest}`)).status,
      ).toBe(404);
    });

    it('lists an entity’s traffic across its attachments', async () => {
      await feedA();
      await send(b, 'team-b', 'api-0', [
        capturedExchange({
          id: 'b.1',
          startedAt: at(5),
          request: {
            method: 'GET',
            path: '/b',
            authority: 'api',
            headers: [],
            bodySize: 0,
            body: null,
          },
        }),
      ]);
      const res = await app
        .as(OWNER)
        .get('/entity-traffic?entityRef=component:default/payments');
      expect(res.status).toBe(200);
      expect(ids(res)).toEqual([
        '/b',
        '/upload',
        '/items',
        '/health',
        '/orders',
        '/orders/1',
      ]);
      expect(res.body.coverage.instances).toHaveLength(3);
      const paged = await app
        .as(OWNER)
        .get(
          '/entity-traffic?entityRef=component:default/payments&limit=1&status=5xx',
        );
      expect(ids(paged)).toEqual(['/orders']);
      expect(
        ids(
          await app
            .as(OWNER)
            .get('/entity-traffic?entityRef=resource:default/orders-db'),
        ),
      ).toEqual([]);
      expect(
        (
          await app
            .as(OWNER)
            .get('/entity-traffic?entityRef=component:default/ghost')
        ).status,
      ).toBe(404);
      expect(
        (await app.as(OWNER).get('/entity-traffic?entityRef=payments')).status,
      ).toBe(400);
      expect((await app.as(OWNER).get('/entity-traffic')).status).toBe(400);
    });

    it('shows a team-b reader team-b traffic only, and nobody nothing; traffic outlives the detach', async () => {
      await feedA();
      await send(b, 'team-b', 'api-0', [
        capturedExchange({
          id: 'b.1',
          startedAt: at(5),
          request: {
            method: 'GET',
            path: '/b',
            authority: 'api',
            headers: [['cookie', '[redacted]']],
            bodySize: 0,
            body: null,
          },
        }),
      ]);
      const aExchange = (
        await app.as(OWNER).get(`/attachments/${a.id}/traffic`)
      ).body.items[0].id;
      const bExchange = (
        await app.as(OWNER).get(`/attachments/${b.id}/traffic`)
      ).body.items[0].id;

      const bob = app.as(BOB);
      expect(ids(await bob.get(`/attachments/${b.id}/traffic`))).toEqual([
        '/b',
      ]);
      expect(
        (await bob.get(`/traffic/${bExchange}`)).body.request.headers,
      ).toEqual([['cookie', '[redacted]']]);
      const bHar = await bob
        .get(`/attachments/${b.id}/traffic.har`)
        .buffer(true)
        .parse(textParser);
      expect(bHar.status).toBe(200);
      expect(JSON.parse(bHar.body).log.entries).toHaveLength(1);
      expect((await bob.get(`/attachments/${b.id}/map`)).status).toBe(200);
      expect(
        ids(
          await bob.get('/entity-traffic?entityRef=component:default/payments'),
        ),
      ).toEqual(['/b']);

      for (const path of [
        `/attachments/${a.id}/traffic`,
        `/traffic/${aExchange}`,
        `/attachments/${a.id}/traffic.har`,
        `/attachments/${a.id}/map`,
      ]) {
        const res = await bob.get(path);
        expect([path, res.status]).toEqual([path, 404]);
      }
      expect((await bob.get(`/traffic/${aExchange}`)).body.error.message).toBe(
        `No exchange with id ${aExchange}`,
      );

      const nobody = app.as(NOBODY);
      for (const path of [
        `/attachments/${b.id}/traffic`,
        `/traffic/${bExchange}`,
        `/attachments/${b.id}/traffic.har`,
        `/attachments/${b.id}/map`,
      ]) {
        expect([path, (await nobody.get(path)).status]).toEqual([path, 404]);
      }
      const none = await nobody.get(
        '/entity-traffic?entityRef=component:default/payments',
      );
      expect(none.body).toMatchObject({
        items: [],
        coverage: { instances: [] },
      });

      expect((await app.as(OWNER).delete(`/attachments/${b.id}`)).status).toBe(
        200,
      );
      expect(ids(await bob.get(`/attachments/${b.id}/traffic`))).toEqual([
        '/b',
      ]);
      expect((await bob.get(`/traffic/${bExchange}`)).status).toBe(200);
    });
  },
);

async function waitUntil(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 100));
  }
}

/** Keeps a response body as text (superagent would parse JSON, and not at all for other types). */
function textParser(
  res: any,
  callback: (err: Error | null, body: string) => void,
) {
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (c: string) => {
    text += c;
  });
  res.on('end', () => callback(null, text));
}

/** Starts a GET over a plain socket and drops the connection once `bytes` arrived. */
function abortAfter(
  baseUrl: string,
  path: string,
  authorization: string,
  bytes: number,
): Promise<number> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    let seen = 0;
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: ${authorization}\r\n\r\n`,
      );
    });
    socket.on('data', d => {
      seen += d.length;
      if (seen >= bytes) {
        socket.destroy();
        resolve(seen);
      }
    });
    socket.on('error', reject);
    socket.on('end', () =>
      reject(new Error(`the response ended after ${seen} bytes`)),
    );
  });
}

/**
 * A GET over a plain socket that reads the chunked transfer framing itself: how many
 * chunks the backend wrote, and the largest, which a client library would hide.
 */
function rawChunkedGet(
  baseUrl: string,
  path: string,
  authorization: string,
): Promise<{ head: string; chunks: number; largest: number; text: string }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: ${authorization}\r\nConnection: close\r\n\r\n`,
      );
    });
    const parts: Buffer[] = [];
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.on('error', reject);
    socket.on('end', () => {
      const raw = Buffer.concat(parts);
      const split = raw.indexOf('\r\n\r\n');
      const head = raw.subarray(0, split).toString('latin1');
      let at = split + 4;
      let chunks = 0;
      let largest = 0;
      const body: Buffer[] = [];
      for (;;) {
        const eol = raw.indexOf('\r\n', at);
        const size = parseInt(raw.subarray(at, eol).toString('latin1'), 16);
        if (!Number.isFinite(size))
          return reject(new Error('not chunked framing'));
        if (size === 0) break;
        body.push(raw.subarray(eol + 2, eol + 2 + size));
        chunks += 1;
        largest = Math.max(largest, size);
        at = eol + 2 + size + 2;
      }
      return resolve({
        head,
        chunks,
        largest,
        text: Buffer.concat(body).toString('utf8'),
      });
    });
  });
}
