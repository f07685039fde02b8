import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import {
  CapturedExchange,
  TRAFFIC_LIMITS,
} from '@spider/backstage-plugin-spider-common';
import { startSpiderTestBackend } from '../__testUtils__/startSpiderTestBackend';
import { clearSpiderTables } from '../__testUtils__/clearSpiderTables';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';
import { TestAgent, TestAgentOptions } from '../__testUtils__/TestAgent';
import { capturedExchange } from '../__testUtils__/trafficSamples';
import { DatabaseTrafficStore } from '../store/DatabaseTrafficStore';

jest.setTimeout(90_000);

const databases = TestDatabases.create({ ids: testDatabaseIds() });

const OWNER = 'user:default/owner';
const workloads: NonNullable<TestAgentOptions['workloads']> = [
  {
    namespace: 'team-a',
    kind: 'Deployment',
    name: 'web',
    labels: {},
    replicas: 2,
    pods: 2,
  },
];

function exchanges(n: number, from = 0): CapturedExchange[] {
  return Array.from({ length: n }, (_, i) =>
    capturedExchange({
      id: `run1.${from + i}`,
      startedAt: new Date(Date.UTC(2026, 11, 1, 10, 0, from + i)).toISOString(),
      attachmentId: '',
      pod: '',
      container: '',
      namespace: '',
    }),
  );
}

describe.each(databases.eachSupportedId())(
  'traffic from agents on %p',
  (databaseId: TestDatabaseId) => {
    let knex: Knex;
    let app: Awaited<ReturnType<typeof startSpiderTestBackend>>;
    const agents: TestAgent[] = [];

    const newAgent = (token: string, extra: Partial<TestAgentOptions> = {}) => {
      const a = new TestAgent({
        url: app.agentUrl,
        token,
        workloads,
        features: ['traffic'],
        ...extra,
      });
      agents.push(a);
      return a;
    };
    const stored = async () =>
      Number(
        (await knex('spider_traffic_exchanges').count({ n: '*' }).first())!.n,
      );
    const waitUntil = async (
      check: () => Promise<boolean>,
      what: string,
      timeoutMs = 10_000,
    ) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await check())) {
        if (Date.now() > deadline)
          throw new Error(`Timed out waiting for ${what}`);
        await new Promise(r => setTimeout(r, 50));
      }
    };

    beforeAll(async () => {
      knex = await databases.init(databaseId);
    });

    beforeEach(async () => {
      await clearSpiderTables(knex);
      app = await startSpiderTestBackend({ knex });
    });

    afterEach(async () => {
      agents.splice(0).forEach(a => a.close());
      await app.stop();
    });

    /** A Controller with a connected traffic-speaking agent and an active attachment on team-a/web. */
    async function attached(name = 'prod') {
      const c = await app.as(OWNER).post('/controllers', { name });
      const w = await app.as(OWNER).post('/whisperers', {
        name: `http-${name}`,
        captureFilter: 'tcp port 80',
      });
      const agent = newAgent(c.body.token);
      await agent.connect();
      const a = await app.as(OWNER).post('/attachments', {
        controllerId: c.body.id,
        whispererId: w.body.id,
        target: { namespace: 'team-a', kind: 'Deployment', name: 'web' },
      });
      expect(a.status).toBe(201);
      await agent.waitFor(
        () => agent.desired.has(a.body.id),
        'attach received',
      );
      const instance = {
        attachmentId: a.body.id as string,
        namespace: 'team-a',
        pod: 'web-0',
        container: `spider-${a.body.id.replace(/-/g, '').slice(0, 32)}`,
      };
      return {
        controller: c.body,
        whisperer: w.body,
        token: c.body.token as string,
        agent,
        attachmentId: a.body.id as string,
        instance,
      };
    }

    it('stores what a traffic agent sends, once, and answers its hello with the feature', async () => {
      const { agent, instance, attachmentId, controller } = await attached();
      const welcome = agent.received.find(m => m.type === 'welcome');
      // Other features may come with it (chunkedWelcome).
      expect(welcome).toMatchObject({
        features: expect.arrayContaining(['traffic']),
      });

      const flow = {
        minute: '2026-12-01T10:00:00Z',
        direction: 'outbound' as const,
        client: { ip: '10.1.0.5', port: 5000, name: null },
        server: { ip: '10.2.0.9', port: 6379, name: 'redis' },
        bytesToServer: 10,
        bytesToClient: 90,
        connections: 1,
      };
      const stats = {
        startedAt: '2026-12-01T09:59:00Z',
        packets: 40,
        kernelDrops: 0,
        bytes: 4000,
        exchanges: 3,
        sampled: 0,
        dropped: 0,
        parseErrors: 0,
        cpuBreaks: 0,
      };
      const first = agent.sendTraffic(instance, {
        exchanges: exchanges(3),
        flows: [flow],
        stats,
      });
      await waitUntil(
        async () => (await stored()) === 3,
        'three exchanges stored',
      );

      const store = new DatabaseTrafficStore(knex);
      const page = await store.list(
        { attachmentIds: [attachmentId] },
        { limit: 10 },
      );
      expect(page.items.map(e => e.startedAt)).toEqual([
        '2026-12-01T10:00:02.000Z',
        '2026-12-01T10:00:01.000Z',
        '2026-12-01T10:00:00.000Z',
      ]);
      // The message's instance is what counts, not what the exchanges claim.
      expect(page.items[0]).toMatchObject({
        attachmentId,
        controllerId: controller.id,
        namespace: 'team-a',
        pod: 'web-0',
        container: instance.container,
        target: { namespace: 'team-a', kind: 'Deployment', name: 'web' },
      });
      expect((await store.coverage([attachmentId])).instances).toEqual([
        expect.objectContaining({ pod: 'web-0', stats }),
      ]);

      // A replay after a reconnect: the same message again, then the same exchanges in a
      // newer message (as the agent's relay resends them), plus one new exchange.
      agent.send(first);
      agent.sendTraffic(instance, {
        exchanges: [...exchanges(3), ...exchanges(1, 3)],
      });
      await waitUntil(
        async () => (await stored()) === 4,
        'the new exchange stored',
      );
      // Let anything else in flight land, then check nothing doubled.
      agent.sendStatus();
      await new Promise(r => setTimeout(r, 300));
      expect(await stored()).toBe(4);
      expect(
        Number((await knex('spider_traffic_flows').first()).bytes_to_client),
      ).toBe(90);
      expect(agent.closeCode).toBeUndefined();

      // Deleting the Controller deletes its traffic.
      expect(
        (await app.as(OWNER).delete(`/controllers/${controller.id}`)).status,
      ).toBe(204);
      expect(await stored()).toBe(0);
      expect(await knex('spider_traffic_stats').select()).toEqual([]);
      expect(await knex('spider_traffic_flows').select()).toEqual([]);
    });

    it('deletes the traffic of a Whisperer with it', async () => {
      const { agent, instance, attachmentId, whisperer } = await attached();
      agent.sendTraffic(instance, { exchanges: exchanges(2) });
      await waitUntil(
        async () => (await stored()) === 2,
        'two exchanges stored',
      );
      expect(
        (await app.as(OWNER).delete(`/attachments/${attachmentId}`)).status,
      ).toBeLessThan(300);
      expect(
        (await app.as(OWNER).delete(`/whisperers/${whisperer.id}`)).status,
      ).toBe(204);
      expect(await stored()).toBe(0);
    });

    it('closes on garbage, wrongly typed, oversized or unannounced traffic and stores nothing', async () => {
      const { token, instance } = await attached();
      const closeOf = async (
        frame: string,
        options: Partial<TestAgentOptions> = {},
      ) => {
        const a = newAgent(token, options);
        await a.connect();
        a.ws!.send(frame);
        await a.waitFor(() => a.closeCode !== undefined, 'the socket closed');
        return a.closeCode;
      };
      const valid = (over: Record<string, unknown> = {}) =>
        JSON.stringify({
          type: 'traffic',
          agentRun: 'r',
          seq: 0,
          ...instance,
          exchanges: exchanges(1),
          flows: [],
          stats: null,
          relay: { droppedExchanges: 0, droppedBytes: 0, rateLimited: 0 },
          ...over,
        });

      expect(await closeOf(`${valid().slice(0, -10)}garbage`)).toBe(1007);
      expect(await closeOf(valid({ seq: 'one' }))).toBe(1007);
      expect(
        await closeOf(
          valid({
            exchanges: [{ ...exchanges(1)[0], response: { status: '200' } }],
          }),
        ),
      ).toBe(1007);
      expect(
        await closeOf(
          valid({ exchanges: [{ ...exchanges(1)[0], smuggled: true }] }),
        ),
      ).toBe(1007);
      // Valid in every field, but over the traffic cap (and under the socket's 4 MiB).
      const big = exchanges(2).map(e => ({
        ...e,
        request: {
          ...e.request,
          body: {
            encoding: 'utf8',
            text: 'x'.repeat(TRAFFIC_LIMITS.maxBodyTextChars - 10),
            truncated: true,
          },
        },
      }));
      const oversized = valid({ exchanges: big });
      expect(oversized.length).toBeGreaterThan(TRAFFIC_LIMITS.maxMessageBytes);
      expect(oversized.length).toBeLessThan(4 * 1024 * 1024);
      expect(await closeOf(oversized)).toBe(1009);
      expect(await closeOf(valid({ exchanges: [...big, ...big] }))).toBe(1009);
      // An agent that did not announce traffic may not send it.
      expect(await closeOf(valid(), { features: undefined })).toBe(1002);
      await new Promise(r => setTimeout(r, 300));
      expect(await stored()).toBe(0);

      // The same instance's valid traffic is stored: the refusals above were about the frames.
      const good = newAgent(token);
      await good.connect();
      good.send(JSON.parse(valid()));
      await waitUntil(
        async () => (await stored()) === 1,
        'the valid message stored',
      );
    });

    it("ignores traffic for another Controller's attachment or another namespace, and keeps the socket", async () => {
      const mine = await attached('mine');
      const other = await attached('other');
      // The other agent names mine's attachment: ignored, never stored.
      other.agent.sendTraffic(mine.instance, { exchanges: exchanges(2) });
      // Mine's agent names its attachment but a namespace outside it.
      mine.agent.sendTraffic(
        { ...mine.instance, namespace: 'team-b' },
        { exchanges: exchanges(2, 10) },
      );
      mine.agent.sendTraffic(
        { ...mine.instance, attachmentId: 'no-such-attachment' },
        { exchanges: exchanges(2, 20) },
      );
      // Then each sends its own: those, and only those, are stored.
      mine.agent.sendTraffic(mine.instance, { exchanges: exchanges(1, 30) });
      other.agent.sendTraffic(other.instance, { exchanges: exchanges(1, 40) });
      await waitUntil(
        async () => (await stored()) === 2,
        'the two legitimate exchanges',
      );
      await new Promise(r => setTimeout(r, 300));
      const rows = await knex('spider_traffic_exchanges')
        .select('attachment_id', 'controller_id', 'source_id')
        .orderBy('source_id');
      expect(rows).toEqual([
        {
          attachment_id: mine.attachmentId,
          controller_id: mine.controller.id,
          source_id: 'run1.30',
        },
        {
          attachment_id: other.attachmentId,
          controller_id: other.controller.id,
          source_id: 'run1.40',
        },
      ]);
      expect(mine.agent.closeCode).toBeUndefined();
      expect(other.agent.closeCode).toBeUndefined();
    });
  },
);
