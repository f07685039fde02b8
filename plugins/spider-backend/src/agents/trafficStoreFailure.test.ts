import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import {
  AGENT_CLOSE_CODES,
  CaptureStats,
  CapturedExchange,
  TrafficFlow,
} from '@spider/backstage-plugin-spider-common';
import { startSpiderTestBackend } from '../__testUtils__/startSpiderTestBackend';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';
import { TestAgent } from '../__testUtils__/TestAgent';
import { capturedExchange } from '../__testUtils__/trafficSamples';

jest.setTimeout(90_000);

const databases = TestDatabases.create({ ids: testDatabaseIds() });
const OWNER = 'user:default/owner';

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

/** A TCP flow (non-HTTP bytes) of the minute 10:00 to one peer. */
function flow(bytesToServer: number): TrafficFlow {
  return {
    minute: '2026-12-01T10:00:00Z',
    direction: 'outbound',
    client: { ip: '10.0.0.1', port: 5000, name: null },
    server: { ip: '10.2.0.5', port: 6379, name: 'redis' },
    bytesToServer,
    bytesToClient: 1,
    connections: 1,
  };
}

function stats(packets: number): CaptureStats {
  return {
    startedAt: '2026-12-01T09:59:00.000Z',
    packets,
    kernelDrops: 0,
    bytes: packets * 100,
    exchanges: packets,
    sampled: 0,
    dropped: 0,
    parseErrors: 0,
    cpuBreaks: 0,
  };
}

/** A real database failure on the next inserts of exchanges, until `heal`. */
async function breakExchangeInserts(knex: Knex) {
  const pg = knex.client.config.client === 'pg';
  if (pg) {
    await knex.raw(`CREATE OR REPLACE FUNCTION spider_test_fail() RETURNS trigger AS $$
      BEGIN RAISE EXCEPTION 'database down (test)'; END $$ LANGUAGE plpgsql`);
    await knex.raw(`CREATE TRIGGER spider_test_fail BEFORE INSERT ON spider_traffic_exchanges
      FOR EACH STATEMENT EXECUTE FUNCTION spider_test_fail()`);
  } else {
    await knex.raw(`CREATE TRIGGER spider_test_fail BEFORE INSERT ON spider_traffic_exchanges
      BEGIN SELECT RAISE(ABORT, 'database down (test)'); END`);
  }
  return async function heal() {
    await knex.raw(
      pg
        ? 'DROP TRIGGER spider_test_fail ON spider_traffic_exchanges'
        : 'DROP TRIGGER spider_test_fail',
    );
  };
}

describe.each(databases.eachSupportedId())(
  'a traffic message the store cannot write, on %p',
  (databaseId: TestDatabaseId) => {
    let knex: Knex;
    let app: Awaited<ReturnType<typeof startSpiderTestBackend>>;
    const agents: TestAgent[] = [];

    beforeAll(async () => {
      knex = await databases.init(databaseId);
      app = await startSpiderTestBackend({ knex, logLevel: 'error' });
    });
    afterAll(async () => {
      agents.forEach(a => a.close());
      await app.stop();
    });

    it('closes the agent socket with trafficNotStored, handles nothing after it, and the replay stores every exchange, flow and stats once', async () => {
      const c = await app.as(OWNER).post('/controllers', { name: 'prod' });
      const w = await app.as(OWNER).post('/whisperers', { name: 'http' });
      const connect = async () => {
        const a = new TestAgent({
          url: app.agentUrl,
          token: c.body.token,
          features: ['traffic'],
          workloads: [
            {
              namespace: 'team-a',
              kind: 'Deployment',
              name: 'web',
              labels: {},
              replicas: 1,
              pods: 1,
            },
          ],
        });
        agents.push(a);
        await a.connect();
        return a;
      };
      const agent = await connect();
      const a = await app.as(OWNER).post('/attachments', {
        controllerId: c.body.id,
        whispererId: w.body.id,
        target: { namespace: 'team-a', kind: 'Deployment', name: 'web' },
      });
      expect(a.status).toBe(201);
      await agent.waitFor(() => agent.desired.has(a.body.id), 'attach');
      const instance = {
        attachmentId: a.body.id as string,
        namespace: 'team-a',
        pod: 'web-0',
        container: 'spider-test',
      };
      const count = async () =>
        Number(
          (await knex('spider_traffic_exchanges')
            .where({ attachment_id: instance.attachmentId })
            .count({ n: '*' })
            .first())!.n,
        );

      const flowBytes = async () =>
        (
          await knex('spider_traffic_flows')
            .where({ attachment_id: instance.attachmentId })
            .select('bytes_to_server', 'connections')
        ).map(r => [Number(r.bytes_to_server), Number(r.connections)]);
      const storedStats = async () =>
        (
          await knex('spider_traffic_stats')
            .where({ attachment_id: instance.attachmentId, pod: 'web-0' })
            .first('stats_json')
        )?.stats_json;

      // One message stored before the failure: the replay window sends it again too.
      const stored = agent.sendTraffic(instance, {
        exchanges: exchanges(1, 100),
        flows: [flow(1000)],
        stats: stats(1),
      });
      const deadline0 = Date.now() + 30_000;
      while ((await count()) < 1 && Date.now() < deadline0)
        await new Promise(r => setTimeout(r, 50));
      expect(await flowBytes()).toEqual([[1000, 1]]);

      const heal = await breakExchangeInserts(knex);
      const first = agent.sendTraffic(instance, {
        exchanges: exchanges(3),
        flows: [flow(100)],
        stats: stats(2),
      });
      const second = agent.sendTraffic(instance, {
        exchanges: exchanges(2, 3),
        flows: [flow(10)],
        stats: stats(3),
      });
      await agent.waitFor(() => agent.closeCode !== undefined, 'close', 30_000);
      expect(agent.closeCode).toBe(AGENT_CLOSE_CODES.trafficNotStored);
      expect(agent.closeReason).toMatch(/could not be stored/);
      await heal();
      // The second message came after the failed one: it was not handled either (had it
      // been, a replay could not be told from a gap). Nothing of either was applied.
      expect(await count()).toBe(1);
      expect(await flowBytes()).toEqual([[1000, 1]]);
      expect(JSON.parse(await storedStats())).toEqual(stats(1));

      // The relay reconnects and sends its replay window again, in order.
      // The relay keeps each message's seq and flows on a replay (TrafficRelay), so the
      // flows and stats of the failed messages are applied now, once, and those of the
      // message stored before are not added again.
      const again = await connect();
      again.send(stored);
      again.send(first);
      again.send(second);
      again.send(first);
      const deadline = Date.now() + 30_000;
      while ((await count()) < 6 && Date.now() < deadline)
        await new Promise(r => setTimeout(r, 50));
      expect(await count()).toBe(6);
      // A message after the replay is handled: the replay was all there was.
      again.sendTraffic(instance, { exchanges: exchanges(1, 5) });
      while ((await count()) < 7 && Date.now() < deadline)
        await new Promise(r => setTimeout(r, 50));
      expect(await count()).toBe(7);
      expect(await flowBytes()).toEqual([[1110, 3]]);
      expect(JSON.parse(await storedStats())).toEqual(stats(3));
      expect(again.closeCode).toBeUndefined();
    });
  },
);
