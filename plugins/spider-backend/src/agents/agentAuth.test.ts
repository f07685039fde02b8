import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import { startSpiderTestBackend } from '../__testUtils__/startSpiderTestBackend';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';
import { TestAgent } from '../__testUtils__/TestAgent';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: testDatabaseIds() });
const OWNER = 'user:default/owner';

describe.each(databases.eachSupportedId())(
  'agent authentication limits on %p',
  (databaseId: TestDatabaseId) => {
    let app: Awaited<ReturnType<typeof startSpiderTestBackend>>;
    const agents: TestAgent[] = [];
    const agent = (token: string) => {
      const a = new TestAgent({ url: app.agentUrl, token, workloads: [] });
      agents.push(a);
      return a;
    };

    let knex: Awaited<ReturnType<typeof databases.init>>;
    beforeAll(async () => {
      knex = await databases.init(databaseId);
    });
    // A fresh backend per test: the limiter's memory is per process.
    beforeEach(async () => {
      app = await startSpiderTestBackend({ knex });
    });
    afterEach(async () => {
      agents.splice(0).forEach(a => a.close());
      await app.stop();
    });

    it('lets a healthy agent in after a flood of bad tokens from the same address', async () => {
      const c = await app
        .as(OWNER)
        .post('/controllers', { name: `shared-nat-${Date.now()}` });
      expect(c.status).toBe(201);
      const refusals: string[] = [];
      for (let i = 0; i < 120; i++) {
        const guess = `spd_${String(i).padStart(43, 'g')}`;
        refusals.push(
          await agent(guess)
            .connect()
            .then(
              () => 'connected',
              e => String(e),
            ),
        );
      }
      expect(refusals.filter(r => r === 'connected')).toHaveLength(0);
      // The address is over its bar by now: unknown tokens get 429 …
      expect(refusals.at(-1)).toMatch(/429/);
      // … and a valid token from the same address still connects.
      await agent(c.body.token).connect();
      const listed = await app.as(OWNER).get(`/controllers/${c.body.id}`);
      expect(listed.body.connected).toBe(true);
    });

    it('refuses a rotated token retried again and again, without refusing the current one', async () => {
      const c = await app
        .as(OWNER)
        .post('/controllers', { name: `rotated-${Date.now()}` });
      const old = c.body.token as string;
      const rotated = await app
        .as(OWNER)
        .post(`/controllers/${c.body.id}/token`);
      const results: string[] = [];
      for (let i = 0; i < 7; i++)
        results.push(
          await agent(old)
            .connect()
            .then(
              () => 'connected',
              e => String(e),
            ),
        );
      expect(results.slice(0, 5).every(r => /401/.test(r))).toBe(true);
      expect(results.at(-1)).toMatch(/429/);
      await agent(rotated.body.token).connect();
    });
  },
);
