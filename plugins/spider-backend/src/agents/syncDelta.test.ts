import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import { BackendMessage } from '@spider/backstage-plugin-spider-common';
import { startSpiderTestBackend } from '../__testUtils__/startSpiderTestBackend';
import { clearSpiderTables } from '../__testUtils__/clearSpiderTables';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';
import { TestAgent } from '../__testUtils__/TestAgent';

jest.setTimeout(120_000);

// Two replicas share one database: that is PostgreSQL (an in-memory SQLite is one process's).
const pgIds = testDatabaseIds().filter(id => id !== 'SQLITE_3');
const databases = TestDatabases.create({ ids: pgIds });
const OWNER = 'user:default/owner';

const describePg = pgIds.length
  ? describe.each(pgIds)
  : describe.skip.each([
      'POSTGRES (set BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING)' as TestDatabaseId,
    ]);

const kinds = (messages: BackendMessage[]) => messages.map(m => m.type);

describePg(
  'sync loop sends a change made on another replica as a delta (%p)',
  (databaseId: TestDatabaseId) => {
    let knex: Knex;
    let a: Awaited<ReturnType<typeof startSpiderTestBackend>>;
    let b: Awaited<ReturnType<typeof startSpiderTestBackend>>;
    const agents: TestAgent[] = [];

    beforeAll(async () => {
      knex = await databases.init(databaseId);
      await clearSpiderTables(knex);
      a = await startSpiderTestBackend({ knex });
      b = await startSpiderTestBackend({ knex });
    });
    afterAll(async () => {
      agents.splice(0).forEach(x => x.close());
      await a?.stop();
      await b?.stop();
    });

    // Without features: an agent as old as protocol v1, which never heard of deltas.
    it.each<{ agent: string; features?: string[] }>([
      { agent: 'an agent with chunkedWelcome', features: ['chunkedWelcome'] },
      { agent: 'an agent without features (older)' },
    ])(
      'attach and detach on replica B reach $agent held by replica A as one attach and one detach, never a second welcome',
      async ({ features }) => {
        const c = await a.as(OWNER).post('/controllers', { name: 'prod' });
        const w = await a.as(OWNER).post('/whisperers', { name: 'http' });
        expect([c.status, w.status]).toEqual([201, 201]);
        const attach = (name: string) =>
          a.as(OWNER).post('/attachments', {
            controllerId: c.body.id,
            whispererId: w.body.id,
            target: { namespace: 'shop', kind: 'Deployment', name },
          });
        const first = await attach('web');
        expect(first.status).toBe(201);
        const agent = new TestAgent({
          url: a.agentUrl,
          token: c.body.token,
          workloads: [],
          features,
        });
        agents.push(agent);
        await agent.connect();
        expect(agent.welcomes).toBe(1);
        expect([...agent.desired.keys()]).toEqual([first.body.id]);
        const welcomed = agent.received.length;

        const second = await b.as(OWNER).post('/attachments', {
          controllerId: c.body.id,
          whispererId: w.body.id,
          target: { namespace: 'shop', kind: 'Deployment', name: 'api' },
        });
        expect(second.status).toBe(201);
        await agent.waitFor(
          () => agent.desired.has(second.body.id),
          'the attach made on replica B',
        );
        const detached = await b
          .as(OWNER)
          .delete(`/attachments/${first.body.id}`);
        expect(detached.status).toBe(200);
        await agent.waitFor(
          () => !agent.desired.has(first.body.id),
          'the detach made on replica B',
        );

        // And one made on replica A itself, pushed at once (built from the created row).
        const third = await attach('cart');
        expect(third.status).toBe(201);
        await agent.waitFor(
          () => agent.desired.has(third.body.id),
          'the attach made on replica A',
        );

        const since = agent.received.slice(welcomed);
        expect(kinds(since)).toEqual(['attach', 'detach', 'attach']);
        expect(since[0]).toMatchObject({
          type: 'attach',
          attachment: {
            id: second.body.id,
            target: { namespace: 'shop', kind: 'Deployment', name: 'api' },
            whisperer: { id: w.body.id, name: 'http' },
          },
        });
        expect(since[1]).toMatchObject({
          type: 'detach',
          attachmentId: first.body.id,
          reason: 'deleted',
        });
        // Each carries a revision at least the one before, as the agent requires.
        const revisions = agent.received.map(m => (m as any).revision);
        expect(revisions).toEqual([...revisions].sort((x, y) => x - y));
        expect(agent.welcomes).toBe(1);
        expect([...agent.desired.keys()]).toEqual([
          second.body.id,
          third.body.id,
        ]);

        // What the agent holds, pushed and sent as deltas, is what a fresh welcome gives.
        const fresh = new TestAgent({
          url: a.agentUrl,
          token: c.body.token,
          workloads: [],
          features,
        });
        agents.push(fresh);
        await fresh.connect();
        expect([...fresh.desired.values()]).toEqual([
          ...agent.desired.values(),
        ]);
      },
    );
  },
);
