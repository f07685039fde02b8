import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import {
  AGENT_CLOSE_CODES,
  CapturedExchange,
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

    it('closes the agent socket with trafficNotStored, handles nothing after it, and the replay stores every exchange once', async () => {
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

      const heal = await breakExchangeInserts(knex);
      const first = agent.sendTraffic(instance, { exchanges: exchanges(3) });
      const second = agent.sendTraffic(instance, {
        exchanges: exchanges(2, 3),
      });
      await agent.waitFor(() => agent.closeCode !== undefined, 'close', 30_000);
      expect(agent.closeCode).toBe(AGENT_CLOSE_CODES.trafficNotStored);
      expect(agent.closeReason).toMatch(/could not be stored/);
      await heal();
      // The second message came after the failed one: it was not handled either (had it
      // been, a replay could not be told from a gap).
      expect(await count()).toBe(0);

      // The relay reconnects and sends its replay window again, in order.
      const again = await connect();
      again.send(first);
      again.send(second);
      again.send(first);
      const deadline = Date.now() + 30_000;
      while ((await count()) < 5 && Date.now() < deadline)
        await new Promise(r => setTimeout(r, 50));
      expect(await count()).toBe(5);
      // A message after the replay is handled: the replay was all there was.
      again.sendTraffic(instance, { exchanges: exchanges(1, 5) });
      while ((await count()) < 6 && Date.now() < deadline)
        await new Promise(r => setTimeout(r, 50));
      expect(await count()).toBe(6);
      expect(again.closeCode).toBeUndefined();
    });
  },
);
