import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import { startSpiderTestBackend } from '../__testUtils__/startSpiderTestBackend';
import { clearSpiderTables } from '../__testUtils__/clearSpiderTables';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';
import { TestAgent } from '../__testUtils__/TestAgent';

jest.setTimeout(120_000);

const databases = TestDatabases.create({ ids: testDatabaseIds() });
const OWNER = 'user:default/owner';
const BOB = 'user:default/bob';

describe.each(databases.eachSupportedId())(
  'attachment limits on %p',
  (databaseId: TestDatabaseId) => {
    let knex: Awaited<ReturnType<typeof databases.init>>;
    let app: Awaited<ReturnType<typeof startSpiderTestBackend>>;
    const agents: TestAgent[] = [];

    beforeAll(async () => {
      knex = await databases.init(databaseId);
    });
    beforeEach(async () => {
      await clearSpiderTables(knex);
      app = await startSpiderTestBackend({
        knex,
        config: {
          attachments: {
            expiryCheckIntervalMs: 500,
            maxPerController: 3,
            maxPerUser: 2,
          },
        },
      });
    });
    afterEach(async () => {
      agents.splice(0).forEach(a => a.close());
      await app.stop();
    });

    const attach = (
      user: string,
      controllerId: string,
      whispererId: string,
      name: string,
    ) =>
      app.as(user).post('/attachments', {
        controllerId,
        whispererId,
        target: { namespace: 'shop', kind: 'Deployment', name },
      });

    /** What a refusal must leave as it was: rows, the revision, the agent's messages. */
    const snapshot = async (controllerId: string, agent: TestAgent) => ({
      rows: Number(
        (await knex('spider_attachments').count({ n: '*' }).first())?.n,
      ),
      revision: Number(
        (
          await knex('spider_controllers')
            .select('revision')
            .where({ id: controllerId })
            .first()
        )?.revision,
      ),
      agentMessages: agent.received.length,
    });

    async function setup() {
      const c = await app.as(OWNER).post('/controllers', { name: 'prod' });
      const w = await app.as(OWNER).post('/whisperers', { name: 'http' });
      expect([c.status, w.status]).toEqual([201, 201]);
      const agent = new TestAgent({ url: app.agentUrl, token: c.body.token });
      agents.push(agent);
      await agent.connect();
      return { controllerId: c.body.id as string, whispererId: w.body.id };
    }

    it('refuses an attach past the per-user and the per-Controller limit with 409 naming the key, creating nothing', async () => {
      const { controllerId, whispererId } = await setup();
      const agent = agents[0];
      const put = await app
        .as(OWNER)
        .put(`/controllers/${controllerId}/shares`, {
          items: [
            { principal: BOB, rights: ['read', 'use'], namespaces: ['shop'] },
          ],
        });
      expect(put.status).toBe(200);

      for (const name of ['a', 'b'])
        expect(
          (await attach(OWNER, controllerId, whispererId, name)).status,
        ).toBe(201);
      await agent.waitFor(() => agent.desired.size === 2, 'two attaches');

      // The owner's third: the per-user limit (2).
      let before = await snapshot(controllerId, agent);
      const mine = await attach(OWNER, controllerId, whispererId, 'c');
      expect(mine.status).toBe(409);
      expect(mine.body.error.name).toBe('ConflictError');
      expect(mine.body.error.message).toBe(
        "You already have 2 live attachments, the limit per user (spider.attachments.maxPerUser); detach one first, or ask the portal's admin to raise the limit",
      );
      await new Promise(r => setTimeout(r, 300));
      expect(await snapshot(controllerId, agent)).toEqual(before);

      // Bob's first fills the Controller (3); his second hits the per-Controller limit.
      expect((await attach(BOB, controllerId, whispererId, 'd')).status).toBe(
        201,
      );
      await agent.waitFor(() => agent.desired.size === 3, 'the third attach');
      before = await snapshot(controllerId, agent);
      const bobs = await attach(BOB, controllerId, whispererId, 'e');
      expect(bobs.status).toBe(409);
      expect(bobs.body.error.message).toBe(
        `Controller "prod" already has 3 live attachments, its limit (spider.attachments.maxPerController); detach one first, or ask the portal's admin to raise the limit`,
      );
      await new Promise(r => setTimeout(r, 300));
      expect(await snapshot(controllerId, agent)).toEqual(before);
      // The refusal is audited as such.
      const refused = await knex('spider_audit')
        .where({ action: 'request.refused' })
        .orderBy('id');
      expect(
        refused.map(r => JSON.parse(r.details_json)).map(d => d.message),
      ).toEqual([mine.body.error.message, bobs.body.error.message]);

      // Detached attachments do not count: after a detach, Bob may attach again.
      const list = await app.as(OWNER).get('/attachments');
      const ownA = list.body.items.find((a: any) => a.target.name === 'a');
      expect(
        (await app.as(OWNER).delete(`/attachments/${ownA.id}`)).status,
      ).toBe(200);
      const after = await attach(BOB, controllerId, whispererId, 'e');
      expect(after.status).toBe(201);
    });

    it('holds the limit under concurrent attaches (nothing past it is created)', async () => {
      const { controllerId, whispererId } = await setup();
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          attach(OWNER, controllerId, whispererId, `race-${i}`),
        ),
      );
      const statuses = results.map(r => r.status).sort();
      expect(statuses).toEqual([...Array(2).fill(201), ...Array(10).fill(409)]);
      const live = await knex('spider_attachments')
        .where({ controller_id: controllerId })
        .count({ n: '*' })
        .first();
      expect(Number(live?.n)).toBe(2);
    });
  },
);
