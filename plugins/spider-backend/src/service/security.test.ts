import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import { startSpiderTestBackend } from '../__testUtils__/startSpiderTestBackend';
import { clearSpiderTables } from '../__testUtils__/clearSpiderTables';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';
import { TestAgent, TestAgentOptions } from '../__testUtils__/TestAgent';

/**
 * Issue 13, tried as an attacker would through the REST API: a Whisperer with a forbidden
 * image, a `share` grantee escalating, a non-owner editing a Whisperer, and a portal whose
 * permission framework is off. Each refused with the right status, and nothing changed.
 */
jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: testDatabaseIds() });

const OWNER = 'user:default/owner';
const BOB = 'user:default/bob'; // member of group:default/team-b
const CAROL = 'user:default/carol'; // member of group:default/team-c

const workloads: NonNullable<TestAgentOptions['workloads']> = [
  {
    namespace: 'team-a',
    kind: 'Deployment',
    name: 'web',
    labels: {},
    replicas: 1,
    pods: 1,
  },
  {
    namespace: 'team-b',
    kind: 'Deployment',
    name: 'api',
    labels: {},
    replicas: 1,
    pods: 1,
  },
];

describe.each(databases.eachSupportedId())(
  'security of the Controls service on %p',
  (databaseId: TestDatabaseId) => {
    let knex: Awaited<ReturnType<typeof databases.init>>;
    let app: Awaited<ReturnType<typeof startSpiderTestBackend>>;
    const agents: TestAgent[] = [];

    beforeAll(async () => {
      knex = await databases.init(databaseId);
    });

    async function start(
      options: Partial<Parameters<typeof startSpiderTestBackend>[0]> = {},
    ) {
      await clearSpiderTables(knex);
      app = await startSpiderTestBackend({ knex, ...options });
    }

    afterEach(async () => {
      agents.splice(0).forEach(a => a.close());
      await app?.stop();
    });

    async function controller() {
      const c = await app.as(OWNER).post('/controllers', { name: 'prod' });
      expect(c.status).toBe(201);
      return c.body as { id: string; token: string };
    }

    const grantsOf = async (id: string) =>
      (await app.as(OWNER).get(`/controllers/${id}/shares`)).body.items;

    describe('image allow-list', () => {
      beforeEach(() =>
        start({
          config: {
            whisperers: { allowedImages: ['reg.example/spider/*'] },
          },
        }),
      );

      it('refuses a Whisperer whose image is outside spider.whisperers.allowedImages (400 naming the list), on create and update', async () => {
        const evil = await app.as(OWNER).post('/whisperers', {
          name: 'evil',
          image: 'evil.example/reg.example/spider/whisperer:1',
        });
        expect(evil.status).toBe(400);
        expect(evil.body.error.message).toBe(
          'Invalid Whisperer: image "evil.example/reg.example/spider/whisperer:1" is not allowed here; allowed images (spider.whisperers.allowedImages): reg.example/spider/*. Leave the image empty to use the agent\'s default whisperer image.',
        );
        expect((await app.as(OWNER).get('/whisperers')).body.items).toEqual([]);

        const ok = await app.as(OWNER).post('/whisperers', {
          name: 'ok',
          image: 'reg.example/spider/whisperer:1',
        });
        expect(ok.status).toBe(201);
        const none = await app.as(OWNER).post('/whisperers', { name: 'x' });
        expect(none.status).toBe(201);

        const patched = await app
          .as(OWNER)
          .patch(`/whisperers/${ok.body.id}`, { image: 'spider/whisperer:1' });
        expect(patched.status).toBe(400);
        expect(patched.body.error.message).toContain('reg.example/spider/*');
        expect(
          (await app.as(OWNER).get(`/whisperers/${ok.body.id}`)).body.image,
        ).toBe('reg.example/spider/whisperer:1');
      });
    });

    describe('grants and Whisperers', () => {
      beforeEach(() => start());

      it('a share grantee may grant only within their own grant, and changes nothing when refused (403)', async () => {
        const { id } = await controller();
        const initial = [
          {
            principal: 'group:default/team-b',
            rights: ['read', 'use', 'share'],
            namespaces: ['team-b'],
          },
          {
            principal: 'group:default/ops',
            rights: ['read', 'delete'],
            namespaces: '*',
          },
        ];
        expect(
          (
            await app
              .as(OWNER)
              .put(`/controllers/${id}/shares`, { items: initial })
          ).status,
        ).toBe(200);
        const before = await grantsOf(id);
        const mine = initial[0];
        const ops = initial[1];

        for (const [what, items] of [
          [
            'more rights for themselves',
            [{ ...mine, rights: ['read', 'use', 'share', 'delete'] }, ops],
          ],
          [
            'every namespace for themselves',
            [{ ...mine, namespaces: '*' }, ops],
          ],
          [
            'share beyond their namespaces to a friend',
            [
              mine,
              ops,
              {
                principal: CAROL,
                rights: ['read', 'share'],
                namespaces: ['team-a'],
              },
            ],
          ],
          ['removing a wider grant', [mine]],
          ['narrowing a wider grant', [mine, { ...ops, rights: ['read'] }]],
          [
            'a grant to the owner',
            [
              mine,
              ops,
              { principal: OWNER, rights: ['read'], namespaces: ['team-b'] },
            ],
          ],
        ] as const) {
          const res = await app
            .as(BOB)
            .put(`/controllers/${id}/shares`, { items });
          expect([what, res.status]).toEqual([what, 403]);
          expect(res.body.error.message).toMatch(/Nothing was changed\.$/);
          expect(await grantsOf(id)).toEqual(before);
        }

        const within = await app.as(BOB).put(`/controllers/${id}/shares`, {
          items: [
            mine,
            ops,
            {
              principal: CAROL,
              rights: ['read', 'use'],
              namespaces: ['team-b'],
            },
          ],
        });
        expect(within.status).toBe(200);
        expect(await grantsOf(id)).toHaveLength(3);
      });

      it('only the owner edits or deletes a Whisperer (403, unchanged)', async () => {
        const w = await app
          .as(OWNER)
          .post('/whisperers', { name: 'http', captureFilter: 'tcp port 80' });
        expect(w.status).toBe(201);
        const edit = await app
          .as(BOB)
          .patch(`/whisperers/${w.body.id}`, { captureFilter: 'tcp' });
        expect(edit.status).toBe(403);
        const del = await app.as(BOB).delete(`/whisperers/${w.body.id}`);
        expect(del.status).toBe(403);
        expect(
          (await app.as(OWNER).get(`/whisperers/${w.body.id}`)).body,
        ).toMatchObject({ name: 'http', captureFilter: 'tcp port 80' });
      });
    });

    describe('audit', () => {
      beforeEach(() => start());

      it('records refused changes with actor, request and reason, beside the successful ones', async () => {
        const { id } = await controller();
        const res = await app.as(BOB).put(`/controllers/${id}/shares`, {
          items: [{ principal: BOB, rights: ['read'], namespaces: '*' }],
        });
        expect(res.status).toBe(404);
        const bad = await app
          .as(OWNER)
          .post('/whisperers', { name: 'x', image: 'evil.example/x:1' });
        expect(bad.status).toBe(400);
        expect((await app.as(BOB).get(`/controllers/${id}`)).status).toBe(404);

        const rows = await knex('spider_audit')
          .where({ action: 'request.refused' })
          .orderBy('id');
        expect(
          rows.map(r => ({
            actor: r.actor,
            resource: `${r.resource_type}/${r.resource_id}`,
            ...JSON.parse(r.details_json),
          })),
        ).toEqual([
          {
            actor: BOB,
            resource: `controller/${id}`,
            method: 'PUT',
            path: `/api/spider/controllers/${id}/shares`,
            status: 404,
            error: 'NotFoundError',
            message: `No Controller with id ${id}`,
          },
          {
            actor: OWNER,
            resource: 'request/',
            method: 'POST',
            path: '/api/spider/whisperers',
            status: 400,
            error: 'InputError',
            message: expect.stringContaining('image "evil.example/x:1"'),
          },
        ]);
      });
    });

    describe('with the permission framework off (it answers ALLOW to everything)', () => {
      beforeEach(() => start({ permissionEnabled: false }));

      it('a user without a grant gets no namespaces, cannot attach, and cannot grant themselves any', async () => {
        const c = await controller();
        const agent = new TestAgent({
          url: app.agentUrl,
          token: c.token,
          workloads,
        });
        agents.push(agent);
        await agent.connect();
        const w = await app.as(OWNER).post('/whisperers', { name: 'http' });
        expect(w.status).toBe(201);

        const owned = await app.as(OWNER).get(`/controllers/${c.id}/workloads`);
        expect(owned.status).toBe(200);
        expect(owned.body.items).toHaveLength(2);

        const wl = await app.as(BOB).get(`/controllers/${c.id}/workloads`);
        expect(wl.body.items ?? []).toEqual([]);
        const attach = await app.as(BOB).post('/attachments', {
          controllerId: c.id,
          whispererId: w.body.id,
          target: { namespace: 'team-a', kind: 'Deployment', name: 'web' },
        });
        expect(attach.status).toBe(403);

        const grab = await app.as(BOB).put(`/controllers/${c.id}/shares`, {
          items: [{ principal: BOB, rights: ['read', 'use'], namespaces: '*' }],
        });
        expect(grab.status).toBe(403);
        expect(await grantsOf(c.id)).toEqual([]);

        // A grant gives exactly its namespaces.
        await app.as(OWNER).put(`/controllers/${c.id}/shares`, {
          items: [
            { principal: BOB, rights: ['read', 'use'], namespaces: ['team-b'] },
          ],
        });
        const granted = await app.as(BOB).get(`/controllers/${c.id}/workloads`);
        expect(granted.body.items.map((x: any) => x.namespace)).toEqual([
          'team-b',
        ]);
      });
    });
  },
);
