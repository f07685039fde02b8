import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import { CapturedExchange } from '@spider/backstage-plugin-spider-common';
import { startSpiderTestBackend } from '../__testUtils__/startSpiderTestBackend';
import { clearSpiderTables } from '../__testUtils__/clearSpiderTables';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';
import { TestAgent } from '../__testUtils__/TestAgent';
import { attachTrafficAgent } from '../__testUtils__/attachTrafficAgent';
import { capturedExchange } from '../__testUtils__/trafficSamples';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * An agent sending traffic faster than the database takes it: the backend stops reading
 * once a bounded number of bytes waits (issue 13 item 6, "bounded by bytes, not
 * messages") and leaves the rest in TCP; nothing is lost and the agent is not cut off. PostgreSQL only: the slow database is a table lock held
 * by the test's own connection, which SQLite cannot hold without failing the writes.
 */
jest.setTimeout(120_000);

const pgIds = testDatabaseIds().filter(id => id.startsWith('POSTGRES'));
const databases = TestDatabases.create({ ids: pgIds });
const OWNER = 'user:default/owner';
const MESSAGES = 24;
/** ~1 MiB per message (the protocol's traffic cap is 1.5 MiB): 24 MiB in all. */
const BODY_CHARS = 1_000_000;

/** Bytes waiting unread in the receive queue of the backend's end of the agent's socket. */
async function backendReceiveQueue(agentPort: number): Promise<number> {
  const { stdout } = await promisify(execFile)('ss', [
    '-tnH',
    'state',
    'established',
    `( dport = :${agentPort} )`,
  ]);
  const [recvQ] = stdout.trim().split(/\s+/);
  return Number(recvQ) || 0;
}

function bigExchange(i: number): CapturedExchange {
  const base = capturedExchange({
    id: `flood.${i}`,
    startedAt: new Date(Date.UTC(2026, 11, 1, 10, 0, i)).toISOString(),
  });
  return {
    ...base,
    response: base.response && {
      ...base.response,
      bodySize: BODY_CHARS,
      body: {
        encoding: 'utf8',
        text: 'x'.repeat(BODY_CHARS),
        truncated: false,
      },
    },
  };
}

(pgIds.length
  ? describe.each(databases.eachSupportedId())
  : describe.skip.each([['(no PostgreSQL configured)']]))(
  'an agent flooding a slow database on %p',
  (databaseId: TestDatabaseId | string) => {
    let knex: Knex;
    let app: Awaited<ReturnType<typeof startSpiderTestBackend>>;
    let agent: TestAgent | undefined;

    beforeAll(async () => {
      knex = await databases.init(databaseId as TestDatabaseId);
      await clearSpiderTables(knex);
      app = await startSpiderTestBackend({ knex });
    });
    afterAll(async () => {
      agent?.close();
      await app?.stop();
    });

    it('is held back by TCP, not buffered in the backend, and loses nothing', async () => {
      const attached = await attachTrafficAgent(app, OWNER, 'flood');
      agent = attached.agent;
      const { instance } = attached;

      // The database stops taking traffic: inserts wait for the test's lock.
      const trx = await knex.transaction();
      await trx.raw('LOCK TABLE spider_traffic_exchanges IN SHARE MODE');
      try {
        for (let i = 0; i < MESSAGES; i++)
          agent.sendTraffic(instance, { exchanges: [bigExchange(i)] });
        // The positive signal: the backend stops reading. Its end of the socket keeps a
        // receive queue that does not move (without backpressure the backend reads all 24
        // MiB within seconds and the queue ends empty).
        const agentPort = (agent.ws as any)._socket.localPort as number;
        const deadline = Date.now() + 30_000;
        let unread = 0;
        let still = 0;
        while (still < 3) {
          if (Date.now() > deadline)
            throw new Error(
              `the backend kept reading while the database was stuck (its receive queue: ${unread} bytes)`,
            );
          await new Promise(r => setTimeout(r, 1000));
          const now = await backendReceiveQueue(agentPort);
          still = now > 0 && now === unread ? still + 1 : 0;
          unread = now;
        }
        expect(agent.closeCode).toBeUndefined();
      } finally {
        await trx.commit();
      }

      // The database is back: every exchange is stored once, and the agent is still on.
      const deadline = Date.now() + 60_000;
      let stored = 0;
      while (Date.now() < deadline) {
        stored = Number(
          (await knex('spider_traffic_exchanges').count({ n: '*' }).first())!.n,
        );
        if (stored >= MESSAGES) break;
        await new Promise(r => setTimeout(r, 250));
      }
      expect({
        stored,
        closed: agent.closeCode,
        why: agent.closeReason,
      }).toEqual({
        stored: MESSAGES,
        closed: undefined,
        why: undefined,
      });
    });
  },
);
