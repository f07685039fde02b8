import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import { mockCredentials } from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import WebSocket from 'ws';
import {
  CapturedExchange,
  trafficSignalChannel,
} from '@spider/backstage-plugin-spider-common';
import { startSpiderTestBackend } from '../__testUtils__/startSpiderTestBackend';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';
import { TestAgent } from '../__testUtils__/TestAgent';
import { capturedExchange } from '../__testUtils__/trafficSamples';

jest.setTimeout(120_000);

// Two replicas share one database: that is PostgreSQL (an in-memory SQLite is one process's).
const pgIds = testDatabaseIds().filter(id => id !== 'SQLITE_3');
const databases = TestDatabases.create({ ids: pgIds });
const OWNER = 'user:default/owner';

function exchange(n: number): CapturedExchange {
  return capturedExchange({
    id: `run1.${n}`,
    startedAt: new Date(Date.UTC(2026, 11, 1, 10, 0, n)).toISOString(),
    attachmentId: '',
    pod: '',
    container: '',
    namespace: '',
  });
}

const describePg = pgIds.length
  ? describe.each(pgIds)
  : describe.skip.each([
      'POSTGRES (set BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING)' as TestDatabaseId,
    ]);

describePg(
  'two replicas on one PostgreSQL (%p)',
  (databaseId: TestDatabaseId) => {
    let spiderKnex: Knex;
    let eventsKnex: Knex;
    let a: Awaited<ReturnType<typeof startSpiderTestBackend>>;
    let b: Awaited<ReturnType<typeof startSpiderTestBackend>>;
    const closers: Array<() => void> = [];

    beforeAll(async () => {
      spiderKnex = await databases.init(databaseId);
      eventsKnex = await databases.init(databaseId);
      a = await startSpiderTestBackend({ knex: spiderKnex, eventsKnex });
      b = await startSpiderTestBackend({ knex: spiderKnex, eventsKnex });
    });
    afterAll(async () => {
      closers.forEach(c => c());
      await a?.stop();
      await b?.stop();
    });

    it('serve the same traffic, and a signal from ingest on one reaches a subscriber on the other', async () => {
      const c = await a.as(OWNER).post('/controllers', { name: 'prod' });
      const w = await a.as(OWNER).post('/whisperers', { name: 'http' });
      const agent = new TestAgent({
        url: a.agentUrl,
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
      closers.push(() => agent.close());
      await agent.connect();
      const att = await a.as(OWNER).post('/attachments', {
        controllerId: c.body.id,
        whispererId: w.body.id,
        target: { namespace: 'team-a', kind: 'Deployment', name: 'web' },
      });
      expect(att.status).toBe(201);
      const attachmentId: string = att.body.id;
      await agent.waitFor(() => agent.desired.has(attachmentId), 'attach');
      const instance = {
        attachmentId,
        namespace: 'team-a',
        pod: 'web-0',
        container: 'spider-test',
      };

      // A portal user on replica B subscribes to the attachment's traffic signal.
      const signals: any[] = [];
      const socket = new WebSocket(`ws://127.0.0.1:${b.port}/api/signals`, {
        headers: { Authorization: mockCredentials.user.header(OWNER) },
      });
      closers.push(() => socket.close());
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
      });
      socket.on('message', data => signals.push(JSON.parse(data.toString())));
      socket.send(
        JSON.stringify({
          action: 'subscribe',
          channel: trafficSignalChannel(attachmentId),
        }),
      );

      // Traffic arrives on replica A until B's subscriber has heard of it (the subscription
      // has no acknowledgement, so the first messages may go before it is in place).
      let n = 0;
      const deadline = Date.now() + 60_000;
      while (!signals.length && Date.now() < deadline) {
        agent.sendTraffic(instance, { exchanges: [exchange(n++)] });
        await new Promise(r => setTimeout(r, 500));
      }
      expect(signals[0]).toMatchObject({
        channel: trafficSignalChannel(attachmentId),
        message: { type: 'traffic', attachmentId },
      });
      expect(signals[0].message.added).toBeGreaterThan(0);

      // Replica B lists what replica A stored, every exchange of it.
      let listed: any[] = [];
      while (listed.length < n && Date.now() < deadline) {
        const page = await b
          .as(OWNER)
          .get(`/attachments/${attachmentId}/traffic?limit=200`);
        expect(page.status).toBe(200);
        listed = page.body.items;
        if (listed.length < n) await new Promise(r => setTimeout(r, 100));
      }
      expect(listed).toHaveLength(n);
      expect(new Set(listed.map(e => e.startedAt)).size).toBe(n);
      const one = await b.as(OWNER).get(`/traffic/${listed[0].id}`);
      expect(one.status).toBe(200);
      expect(one.body).toMatchObject({ attachmentId, pod: 'web-0' });
    });
  },
);
