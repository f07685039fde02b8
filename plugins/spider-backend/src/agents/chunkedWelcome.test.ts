import { randomUUID } from 'node:crypto';
import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import { AGENT_PROTOCOL_LIMITS } from '@spider/backstage-plugin-spider-common';
import { startSpiderTestBackend } from '../__testUtils__/startSpiderTestBackend';
import { clearSpiderTables } from '../__testUtils__/clearSpiderTables';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';
import { TestAgent } from '../__testUtils__/TestAgent';

jest.setTimeout(300_000);

const databases = TestDatabases.create({ ids: testDatabaseIds() });
const OWNER = 'user:default/owner';
const COUNT = 2000;

describe.each(databases.eachSupportedId())(
  'chunked welcome on %p',
  (databaseId: TestDatabaseId) => {
    let knex: Awaited<ReturnType<typeof databases.init>>;
    let app: Awaited<ReturnType<typeof startSpiderTestBackend>>;
    let controllerId: string;
    let token: string;
    /** One stored row, to make another like it (a change made on another replica). */
    let sampleRow: Record<string, unknown>;
    const agents: TestAgent[] = [];

    beforeAll(async () => {
      knex = await databases.init(databaseId);
      await clearSpiderTables(knex);
      app = await startSpiderTestBackend({ knex });
      const c = await app.as(OWNER).post('/controllers', { name: 'big' });
      // The largest Whisperer the REST API takes: 32 environment entries of 1 KiB.
      const env = Object.fromEntries(
        Array.from({ length: 32 }, (_, i) => [`E_${i}`, 'x'.repeat(1024)]),
      );
      const w = await app
        .as(OWNER)
        .post('/whisperers', { name: 'large', captureFilter: 'tcp', env });
      if (c.status !== 201 || w.status !== 201)
        throw new Error(`setup failed: ${c.status} ${w.status} ${w.text}`);
      controllerId = c.body.id;
      token = c.body.token;
      // 2,000 rows as the store writes them (2,000 REST attaches would take minutes on a
      // loaded machine, and the limits are tested elsewhere), ~66 MB of desired set.
      const whispererJson = JSON.stringify({
        id: w.body.id,
        name: w.body.name,
        image: w.body.image,
        captureFilter: w.body.captureFilter,
        env: w.body.env,
      });
      const now = Date.now();
      const rows = Array.from({ length: COUNT }, (_, i) => ({
        id: randomUUID(),
        controller_id: controllerId,
        whisperer_id: w.body.id,
        whisperer_name: w.body.name,
        whisperer_json: whispererJson,
        target_namespace: 'shop',
        target_kind: 'Deployment',
        target_name: `w-${i}`,
        entity_ref: null,
        created_by: OWNER,
        created_at: now + i,
        expires_at: null,
        status: 'active',
      }));
      sampleRow = rows[0];
      for (let i = 0; i < rows.length; i += 100)
        await knex('spider_attachments').insert(rows.slice(i, i + 100));
      await knex('spider_controllers')
        .where({ id: controllerId })
        .increment('revision', 1);
    });
    afterAll(async () => {
      agents.splice(0).forEach(a => a.close());
      await app.stop();
    });

    it('closes an agent without chunkedWelcome with 1009 and a reason, rather than sending a frame it would refuse', async () => {
      const old = new TestAgent({ url: app.agentUrl, token, workloads: [] });
      agents.push(old);
      await expect(old.connect()).rejects.toThrow(/closed with 1009/);
      expect(old.closeReason).toBe(
        'the desired set is too big for one frame; upgrade the agent to one with chunkedWelcome',
      );
      expect(old.desired.size).toBe(0);
      // Nothing over the cap was ever sent to it.
      expect(
        old.frameBytes.every(b => b <= AGENT_PROTOCOL_LIMITS.maxMessageBytes),
      ).toBe(true);
    });

    it('welcomes an agent with 2,000 large attachments in chunks, every frame under the cap, applying the set once whole', async () => {
      const agent = new TestAgent({
        url: app.agentUrl,
        token,
        workloads: [],
        podsPerWorkload: 0,
        features: ['chunkedWelcome'],
      });
      agents.push(agent);
      await agent.connect();
      expect(agent.welcomes).toBe(1);
      expect(agent.desired.size).toBe(COUNT);
      const [welcome, ...chunks] = agent.received;
      expect(welcome).toMatchObject({
        type: 'welcome',
        more: true,
        total: COUNT,
        controllerId,
      });
      expect(welcome.type === 'welcome' && welcome.features).toContain(
        'chunkedWelcome',
      );
      // ~66 MB in frames of at most 1 MiB: more than 60 of them.
      expect(chunks.length).toBeGreaterThan(60);
      expect(chunks.map(m => m.type)).toEqual(
        Array(chunks.length).fill('desiredChunk'),
      );
      expect(chunks.map(m => (m as any).seq)).toEqual(
        chunks.map((_, i) => i + 1),
      );
      expect(chunks.map(m => (m as any).last)).toEqual(
        chunks.map((_, i) => i === chunks.length - 1),
      );
      expect(agent.frameBytes.length).toBe(chunks.length + 1);
      expect(Math.max(...agent.frameBytes)).toBeLessThanOrEqual(
        AGENT_PROTOCOL_LIMITS.desiredChunkBytes,
      );
      const sent = agent.received.reduce(
        (n, m) => n + ((m as any).attachments?.length ?? 0),
        0,
      );
      expect(sent).toBe(COUNT);

      // A change made elsewhere (another replica): one attachment more. The sync loop
      // sends that one as an attach, not the ~66 MB set again.
      const before = agent.received.length;
      const extraId = randomUUID();
      await knex('spider_attachments').insert({
        ...sampleRow,
        id: extraId,
        target_name: 'w-extra',
        created_at: Date.now() + COUNT,
      });
      await knex('spider_controllers')
        .where({ id: controllerId })
        .increment('revision', 1);
      await agent.waitFor(
        () => agent.desired.has(extraId),
        'the attach of the attachment added elsewhere',
        60_000,
      );
      expect(agent.received.slice(before).map(m => m.type)).toEqual(['attach']);
      expect(agent.welcomes).toBe(1);
      expect(agent.desired.size).toBe(COUNT + 1);
      expect(agent.frameBytes[agent.frameBytes.length - 1]).toBeLessThan(
        64 * 1024,
      );
    });
  },
);
