import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import WebSocket from 'ws';
import request from 'supertest';
import { mockCredentials } from '@backstage/backend-test-utils';
import { startSpiderTestBackend } from '../__testUtils__/startSpiderTestBackend';
import { clearSpiderTables } from '../__testUtils__/clearSpiderTables';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';
import { TestAgent, TestAgentOptions } from '../__testUtils__/TestAgent';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: testDatabaseIds() });

const OWNER = 'user:default/owner';
const BOB = 'user:default/bob'; // member of group:default/team-b
const NOBODY = 'user:default/nobody';

const workloads: NonNullable<TestAgentOptions['workloads']> = [
  {
    namespace: 'team-a',
    kind: 'Deployment',
    name: 'web',
    labels: { 'backstage.io/kubernetes-id': 'payments' },
    replicas: 3,
    pods: 3,
  },
  {
    namespace: 'team-b',
    kind: 'Deployment',
    name: 'api',
    labels: { 'backstage.io/kubernetes-id': 'payments' },
    replicas: 2,
    pods: 2,
  },
  {
    namespace: 'team-b',
    kind: 'StatefulSet',
    name: 'db',
    labels: {},
    replicas: 1,
    pods: 1,
  },
];

describe.each(databases.eachSupportedId())(
  'Controls service on %p',
  (databaseId: TestDatabaseId) => {
    let knex: Awaited<ReturnType<typeof databases.init>>;
    let app: Awaited<ReturnType<typeof startSpiderTestBackend>>;
    const agents: TestAgent[] = [];

    const newAgent = (
      token: string,
      extra: Partial<ConstructorParameters<typeof TestAgent>[0]> = {},
    ) => {
      const a = new TestAgent({
        url: app.agentUrl,
        token,
        workloads,
        ...extra,
      });
      agents.push(a);
      return a;
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

    async function setup() {
      const c = await app.as(OWNER).post('/controllers', { name: 'prod-eu' });
      expect(c.status).toBe(201);
      const w = await app
        .as(OWNER)
        .post('/whisperers', { name: 'http', captureFilter: 'tcp port 80' });
      expect(w.status).toBe(201);
      return {
        controller: c.body,
        token: c.body.token as string,
        whisperer: w.body,
      };
    }

    it('shows the agent token once, stores it hashed, and flips connected with the agent', async () => {
      const { controller, token } = await setup();
      expect(token).toMatch(/^spd_[A-Za-z0-9_-]{43}$/);
      const stored = await knex('spider_controllers')
        .where({ id: controller.id })
        .first();
      expect(stored.token_hash).not.toContain(token);
      expect(JSON.stringify(stored)).not.toContain(token);

      const read = await app.as(OWNER).get(`/controllers/${controller.id}`);
      expect(read.body.token).toBeUndefined();
      expect(read.body.connected).toBe(false);

      const agent = newAgent(token);
      await agent.connect();
      const listed = await app.as(OWNER).get('/controllers');
      expect(listed.body.items).toHaveLength(1);
      expect(listed.body.items[0]).toMatchObject({
        connected: true,
        agentVersion: 'test-agent/1.0.0',
      });

      agent.sendStatus();
      await waitUntil(
        async () =>
          (
            await app.as(OWNER).get(`/controllers/${controller.id}/status`)
          ).body.status !== null,
        'status stored',
      );
      const status = await app
        .as(OWNER)
        .get(`/controllers/${controller.id}/status`);
      expect(status.body.status).toMatchObject({
        agentVersion: 'test-agent/1.0.0',
        watched: { Pod: 3 },
      });

      agent.close();
      await waitUntil(
        async () =>
          (
            await app.as(OWNER).get(`/controllers/${controller.id}`)
          ).body.connected === false,
        'disconnect seen',
      );
    });

    it('refuses a wrong token, and a rotated one; rotation closes the live socket', async () => {
      const { controller, token } = await setup();
      await expect(newAgent(`spd_${'x'.repeat(43)}`).connect()).rejects.toThrow(
        /401/,
      );
      const agent = newAgent(token);
      await agent.connect();
      const rotated = await app
        .as(OWNER)
        .post(`/controllers/${controller.id}/token`);
      expect(rotated.status).toBe(200);
      expect(rotated.body.token).not.toBe(token);
      await agent.waitFor(
        () => agent.closeCode !== undefined,
        'socket closed on rotation',
        3000,
      );
      expect(agent.closeCode).toBe(4001);
      await expect(newAgent(token).connect()).rejects.toThrow(/401/);
      await newAgent(rotated.body.token).connect();
    });

    it('pushes attach and detach to the connected agent, answers 409 for a duplicate, detaches idempotently', async () => {
      const { controller, token, whisperer } = await setup();
      const agent = newAgent(token);
      await agent.connect();
      const target = { namespace: 'team-a', kind: 'Deployment', name: 'web' };
      const res = await app.as(OWNER).post('/attachments', {
        controllerId: controller.id,
        whispererId: whisperer.id,
        target,
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        status: 'pending',
        target,
        expiresAt: null,
      });
      await agent.waitFor(
        () => agent.desired.has(res.body.id),
        'attach received',
      );
      expect(agent.desired.get(res.body.id)!.whisperer.captureFilter).toBe(
        'tcp port 80',
      );

      await waitUntil(
        async () =>
          (
            await app.as(OWNER).get(`/attachments/${res.body.id}`)
          ).body.status === 'active',
        'attachment active',
      );
      const active = await app.as(OWNER).get(`/attachments/${res.body.id}`);
      expect(active.body.instances).toHaveLength(2);

      const dup = await app.as(OWNER).post('/attachments', {
        controllerId: controller.id,
        whispererId: whisperer.id,
        target,
      });
      expect(dup.status).toBe(409);
      expect(dup.body.error.message).toMatch(/already attached/);

      const detached = await app
        .as(OWNER)
        .delete(`/attachments/${res.body.id}`);
      expect(detached.status).toBe(200);
      expect(['detaching', 'detached']).toContain(detached.body.status);
      await agent.waitFor(
        () => !agent.desired.has(res.body.id),
        'detach received',
      );
      await waitUntil(
        async () =>
          (
            await app.as(OWNER).get(`/attachments/${res.body.id}`)
          ).body.status === 'detached',
        'attachment detached',
      );
      const again = await app.as(OWNER).delete(`/attachments/${res.body.id}`);
      expect(again.status).toBe(200);
      expect(again.body.status).toBe('detached');
      expect(agent.received.filter(m => m.type === 'detach')).toHaveLength(1);

      // After a detach the same target may be attached again.
      const re = await app.as(OWNER).post('/attachments', {
        controllerId: controller.id,
        whispererId: whisperer.id,
        target,
      });
      expect(re.status).toBe(201);
    });

    it('gives the full desired set on connect, and a newer hello replaces the older socket', async () => {
      const { controller, token, whisperer } = await setup();
      const a1 = await app.as(OWNER).post('/attachments', {
        controllerId: controller.id,
        whispererId: whisperer.id,
        target: { namespace: 'team-a', kind: 'Deployment', name: 'web' },
      });
      const first = newAgent(token);
      await first.connect();
      expect([...first.desired.keys()]).toEqual([a1.body.id]);
      const second = newAgent(token);
      await second.connect();
      await first.waitFor(
        () => first.closeCode !== undefined,
        'older socket closed',
      );
      expect(first.closeCode).toBe(4000);
      expect([...second.desired.keys()]).toEqual([a1.body.id]);
      expect(
        (await app.as(OWNER).get(`/controllers/${controller.id}`)).body
          .connected,
      ).toBe(true);
    });

    it('limits a group grant to its namespaces', async () => {
      const { controller, token, whisperer } = await setup();
      await newAgent(token).connect();
      expect((await app.as(NOBODY).get('/controllers')).body.items).toEqual([]);
      expect((await app.as(BOB).get('/controllers')).body.items).toEqual([]);
      expect(
        (await app.as(BOB).get(`/controllers/${controller.id}`)).status,
      ).toBe(404);

      const mine = await app.as(OWNER).post('/attachments', {
        controllerId: controller.id,
        whispererId: whisperer.id,
        target: { namespace: 'team-a', kind: 'Deployment', name: 'web' },
      });
      expect(mine.status).toBe(201);

      const put = await app
        .as(OWNER)
        .put(`/controllers/${controller.id}/shares`, {
          items: [
            {
              principal: 'group:default/team-b',
              rights: ['read', 'use'],
              namespaces: ['team-b'],
            },
          ],
        });
      expect(put.status).toBe(200);
      expect(
        (
          await app
            .as(BOB)
            .put(`/controllers/${controller.id}/shares`, { items: [] })
        ).status,
      ).toBe(403);

      const listed = await app.as(BOB).get('/controllers');
      expect(listed.body.items.map((c: any) => c.id)).toEqual([controller.id]);
      expect(listed.body.items[0].rights).toEqual(['read', 'use']);
      expect((await app.as(NOBODY).get('/controllers')).body.items).toEqual([]);

      const wl = await app
        .as(BOB)
        .get(`/controllers/${controller.id}/workloads`);
      expect(wl.status).toBe(200);
      expect(
        wl.body.items.map((w: any) => `${w.namespace}/${w.name}`).sort(),
      ).toEqual(['team-b/api', 'team-b/db']);
      expect(
        (
          await app
            .as(BOB)
            .get(`/controllers/${controller.id}/workloads?namespace=team-a`)
        ).status,
      ).toBe(403);

      const denied = await app.as(BOB).post('/attachments', {
        controllerId: controller.id,
        whispererId: whisperer.id,
        target: { namespace: 'team-a', kind: 'Deployment', name: 'web2' },
      });
      expect(denied.status).toBe(403);
      expect(denied.body.error.message).toMatch(/namespace "team-a"/);
      const ok = await app.as(BOB).post('/attachments', {
        controllerId: controller.id,
        whispererId: whisperer.id,
        target: { namespace: 'team-b', kind: 'Deployment', name: 'api' },
      });
      expect(ok.status).toBe(201);

      const bobList = await app.as(BOB).get('/attachments');
      expect(bobList.body.items.map((a: any) => a.id)).toEqual([ok.body.id]);
      expect(
        (await app.as(BOB).get(`/attachments/${mine.body.id}`)).status,
      ).toBe(404);
      expect(
        (await app.as(BOB).delete(`/attachments/${mine.body.id}`)).status,
      ).toBe(404);
      const ownerList = await app.as(OWNER).get('/attachments');
      expect(ownerList.body.totalCount).toBe(2);
      expect((await app.as(NOBODY).get('/attachments')).body.items).toEqual([]);
    });

    it('answers 503 when the agent is offline and 504 when it is slow', async () => {
      const { controller, token } = await setup();
      const off = await app
        .as(OWNER)
        .get(`/controllers/${controller.id}/workloads`);
      expect(off.status).toBe(503);
      expect(off.body.error.message).toMatch(/not connected/);
      await newAgent(token, { replyDelayMs: 4000 }).connect();
      const slow = await app
        .as(OWNER)
        .get(`/controllers/${controller.id}/workloads`);
      expect(slow.status).toBe(504);
    });

    it('expires a PT2S attachment and sends the detach with no user action', async () => {
      const { controller, token } = await setup();
      const w = await app
        .as(OWNER)
        .post('/whisperers', { name: 'short', timeToLive: 'PT2S' });
      const agent = newAgent(token);
      await agent.connect();
      const a = await app.as(OWNER).post('/attachments', {
        controllerId: controller.id,
        whispererId: w.body.id,
        target: { namespace: 'team-a', kind: 'Pod', name: 'p' },
      });
      const expiresAt = Date.parse(a.body.expiresAt);
      expect(expiresAt - Date.parse(a.body.createdAt)).toBe(2000);
      await agent.waitFor(
        () =>
          agent.received.some(
            m => m.type === 'detach' && m.attachmentId === a.body.id,
          ),
        'expiry detach',
        8000,
      );
      const detach = agent.received.find(m => m.type === 'detach')!;
      expect(detach).toMatchObject({ reason: 'expired' });
      expect(Date.now() - expiresAt).toBeLessThan(5000);
      expect(
        (await app.as(OWNER).get(`/attachments/${a.body.id}`)).body.status,
      ).toBe('expired');
    });

    it('expires across a backend restart', async () => {
      const { controller, token } = await setup();
      const w = await app
        .as(OWNER)
        .post('/whisperers', { name: 'short', timeToLive: 'PT2S' });
      const a = await app.as(OWNER).post('/attachments', {
        controllerId: controller.id,
        whispererId: w.body.id,
        target: { namespace: 'team-a', kind: 'Pod', name: 'p' },
      });
      await app.stop();
      await new Promise(r => setTimeout(r, 2500));
      app = await startSpiderTestBackend({ knex });
      const agent = newAgent(token);
      await agent.connect();
      await waitUntil(
        async () =>
          (await app.as(OWNER).get(`/attachments/${a.body.id}`)).body.status ===
          'expired',
        'expired after restart',
        5000,
      );
      expect(agent.desired.has(a.body.id)).toBe(false);
    });

    it('reaches an agent held by another backend replica (shared PostgreSQL)', async () => {
      if (databaseId === 'SQLITE_3') return; // an in-memory SQLite cannot be shared by two processes
      const { controller, token, whisperer } = await setup();
      const other = await startSpiderTestBackend({ knex });
      try {
        const agent = newAgent(token);
        await agent.connect(); // held by `app`
        const res = await other.as(OWNER).post('/attachments', {
          controllerId: controller.id,
          whispererId: whisperer.id,
          target: { namespace: 'team-a', kind: 'Deployment', name: 'web' },
        });
        expect(res.status).toBe(201);
        await agent.waitFor(
          () => agent.desired.has(res.body.id),
          'attach made on the other replica',
          5000,
        );
        expect(
          (await other.as(OWNER).get(`/controllers/${controller.id}`)).body
            .connected,
        ).toBe(true);
        // The other replica answers workload lists from the inventory the agent reported.
        const wl = await other
          .as(OWNER)
          .get(`/controllers/${controller.id}/workloads?namespace=team-b`);
        expect(wl.status).toBe(200);
        expect(wl.body.items.map((w: any) => w.name).sort()).toEqual([
          'api',
          'db',
        ]);
        await other.as(OWNER).delete(`/attachments/${res.body.id}`);
        await agent.waitFor(
          () => !agent.desired.has(res.body.id),
          'detach made on the other replica',
          5000,
        );
        await other.as(OWNER).post(`/controllers/${controller.id}/token`);
        await agent.waitFor(
          () => agent.closeCode === 4001,
          'socket closed after rotation on the other replica',
          5000,
        );
      } finally {
        await other.stop();
      }
    });

    it('applies its permission rules for other plugins (apply-conditions loads Controllers and grants)', async () => {
      const { controller } = await setup();
      await app.as(OWNER).put(`/controllers/${controller.id}/shares`, {
        items: [
          {
            principal: 'group:default/team-b',
            rights: ['read'],
            namespaces: ['team-b'],
          },
        ],
      });
      const ask = (conditions: unknown) =>
        request(app.baseUrl)
          .post(
            '/api/spider/.well-known/backstage/permissions/apply-conditions',
          )
          .set(
            'Authorization',
            mockCredentials.service.header({
              onBehalfOf: mockCredentials.service('plugin:permission'),
              targetPluginId: 'spider',
            }),
          )
          .send({
            items: [
              {
                id: '1',
                resourceRef: controller.id,
                resourceType: 'spider-controller',
                conditions,
              },
            ],
          });
      const grant = (right: string) => ({
        rule: 'HAS_CONTROLLER_GRANT',
        resourceType: 'spider-controller',
        params: { claims: ['group:default/team-b'], right },
      });
      expect((await ask(grant('read'))).body.items[0].result).toBe('ALLOW');
      expect((await ask(grant('use'))).body.items[0].result).toBe('DENY');
      const owner = {
        rule: 'IS_CONTROLLER_OWNER',
        resourceType: 'spider-controller',
        params: { claims: [OWNER] },
      };
      expect((await ask(owner)).body.items[0].result).toBe('ALLOW');
    });

    it('answers bad input with clear errors and keeps serving', async () => {
      const { controller, whisperer } = await setup();
      const malformed = await app
        .as(OWNER)
        .post('/whisperers')
        .set('Content-Type', 'application/json')
        .send('{"name":');
      expect(malformed.status).toBe(400);
      const unknown = await app
        .as(OWNER)
        .post('/whisperers', { name: 'x', colour: 'red' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.message).toMatch(/unknown field.*colour/);
      const big = await app
        .as(OWNER)
        .post('/whisperers', { name: 'x', description: 'y'.repeat(200_000) });
      expect(big.status).toBe(413);
      const badName = await app.as(OWNER).post('/attachments', {
        controllerId: controller.id,
        whispererId: whisperer.id,
        target: { namespace: 'Team_A', kind: 'Deployment', name: 'web' },
      });
      expect(badName.status).toBe(400);
      expect(badName.body.error.message).toMatch(/target.namespace/);
      const badTtl = await app
        .as(OWNER)
        .post('/whisperers', { name: 'x', timeToLive: '5 minutes' });
      expect(badTtl.status).toBe(400);
      expect(
        (
          await app
            .as(OWNER)
            .get('/attachments/0b7e8c3e-1f2a-4c3d-9e8f-0123456789ab')
        ).status,
      ).toBe(404);
      expect((await app.as(OWNER).get('/controllers/not-an-id')).status).toBe(
        400,
      );
      expect(
        (await app.as(OWNER).get('/attachments?status=bogus')).status,
      ).toBe(400);
      expect(
        await knex('spider_whisperers').count({ n: '*' }).first(),
      ).toMatchObject({ n: expect.anything() });
      expect(
        Number((await knex('spider_whisperers').count({ n: '*' }).first())!.n),
      ).toBe(1);
      expect((await app.as(OWNER).get('/controllers')).status).toBe(200);
    });

    it('closes sockets that send garbage or oversized frames, and keeps serving', async () => {
      const { token } = await setup();
      const garbage = await rawSocket(app.agentUrl, token);
      garbage.send('this is not json');
      expect(await closeCodeOf(garbage)).toBe(1007);

      const unknownType = await rawSocket(app.agentUrl, token);
      unknownType.send(
        JSON.stringify({
          type: 'hello',
          protocol: 1,
          agentVersion: 'x',
          clusterVersion: null,
          scope: { include: '*', exclude: [] },
          evil: true,
        }),
      );
      expect(await closeCodeOf(unknownType)).toBe(1007);

      const huge = await rawSocket(app.agentUrl, token);
      huge.send('x'.repeat(5 * 1024 * 1024));
      expect(await closeCodeOf(huge)).toBe(1009);

      const before = await rawSocket(app.agentUrl, token);
      before.send(
        JSON.stringify({
          type: 'inventory',
          mode: 'delta',
          upserts: [],
          removed: [],
        }),
      );
      expect(await closeCodeOf(before)).toBe(1002);

      await newAgent(token).connect();
      expect(
        (await app.as(OWNER).get('/controllers')).body.items[0].connected,
      ).toBe(true);

      // An agent may pipeline its first messages right behind its hello.
      const eager = await rawSocket(app.agentUrl, token);
      const welcome = new Promise<any>(resolve =>
        eager.on('message', d => resolve(JSON.parse(d.toString()))),
      );
      eager.send(
        JSON.stringify({
          type: 'hello',
          protocol: 1,
          agentVersion: 'eager/1',
          clusterVersion: null,
          scope: { include: '*', exclude: [] },
        }),
      );
      eager.send(
        JSON.stringify({
          type: 'inventory',
          mode: 'snapshot',
          first: true,
          last: true,
          upserts: [
            {
              namespace: 'ns',
              kind: 'Pod',
              name: 'p',
              labels: {},
              replicas: null,
              pods: 1,
            },
          ],
          removed: [],
        }),
      );
      expect((await welcome).type).toBe('welcome');
      await waitUntil(
        async () =>
          (
            await app.as(OWNER).get('/controllers')
          ).body.items[0].agentVersion === 'eager/1',
        'eager agent registered',
      );
      expect(eager.readyState).toBe(WebSocket.OPEN);
      eager.close();
    });

    it('renders install instructions without the token', async () => {
      const { controller } = await setup();
      const cmd = await app
        .as(OWNER)
        .get(
          `/controllers/${controller.id}/install?format=command&include=team-a,team-b`,
        );
      expect(cmd.status).toBe(200);
      // The agent's namespace is PodSecurity restricted, whoever created it.
      expect(cmd.body.content).toContain(
        'kubectl label namespace spider-system pod-security.kubernetes.io/enforce=restricted --overwrite',
      );
      // The token goes through stdin into a Secret, never onto a command line.
      expect(cmd.body.content).toContain(
        'create secret generic spider-agent-controls-token --from-file=token=/dev/stdin',
      );
      expect(cmd.body.content).toMatch(
        /\nhelm upgrade --install spider-agent /,
      );
      expect(cmd.body.content).toContain(
        '--set-string namespaces.include[1]=team-b',
      );
      expect(cmd.body.content).toContain(
        '--set-string controls.existingSecret.name=spider-agent-controls-token',
      );
      expect(cmd.body.content).not.toContain('controls.token');
      expect(cmd.body.content).not.toContain('SPIDER_AGENT_TOKEN');
      // The URL the commands give the agent, as a field (the Install tab warns on it).
      expect(cmd.body.controlsUrl).toMatch(/^http:\/\/.+\/api\/spider$/);
      expect(cmd.body.content).toContain(
        `controls.url='${cmd.body.controlsUrl}'`,
      );
      const values = await app
        .as(OWNER)
        .get(`/controllers/${controller.id}/install?format=values`);
      expect(values.body.content).toMatch(/controls:\n\s+url: http/);
      const manifest = await app
        .as(OWNER)
        .get(
          `/controllers/${controller.id}/install?format=manifest&include=team-a`,
        );
      expect(manifest.body.content).toContain('kind: Role\n');
      expect(
        (
          await app
            .as(OWNER)
            .get(`/controllers/${controller.id}/install?include=Bad_NS`)
        ).status,
      ).toBe(400);
      expect(
        (await app.as(NOBODY).get(`/controllers/${controller.id}/install`))
          .status,
      ).toBe(404);
    });

    it('records who did what in the audit table; deleting a Controller closes its agent at once', async () => {
      const { controller, whisperer, token } = await setup();
      const agent = newAgent(token);
      await agent.connect();
      await app
        .as(OWNER)
        .patch(`/controllers/${controller.id}`, { name: 'prod-eu-1' });
      const a = await app.as(OWNER).post('/attachments', {
        controllerId: controller.id,
        whispererId: whisperer.id,
        target: { namespace: 'team-a', kind: 'Pod', name: 'p' },
      });
      await app.as(OWNER).delete(`/attachments/${a.body.id}`);
      expect(
        (await app.as(OWNER).delete(`/controllers/${controller.id}`)).status,
      ).toBe(204);
      await agent.waitFor(
        () => agent.closeCode === 4001,
        'socket closed on delete',
        3000,
      );
      await expect(newAgent(token).connect()).rejects.toThrow(/401/);
      expect(
        (await app.as(OWNER).get(`/controllers/${controller.id}`)).status,
      ).toBe(404);
      const rows = await knex('spider_audit').orderBy('id');
      expect(rows.map((r: any) => r.action)).toEqual([
        'controller.create',
        'whisperer.create',
        'controller.rename',
        'attachment.attach',
        'attachment.detach',
        'controller.delete',
      ]);
      expect(rows.every((r: any) => r.actor === OWNER)).toBe(true);
    });

    it('shows a reader every visible attachment of the status, past the first 500', async () => {
      const { controller, whisperer, token } = await setup();
      await app.as(OWNER).put(`/controllers/${controller.id}/shares`, {
        items: [
          {
            principal: 'group:default/team-b',
            rights: ['read'],
            namespaces: ['team-b'],
          },
        ],
      });
      const row = (namespace: string, i: number) => ({
        id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        controller_id: controller.id,
        whisperer_id: whisperer.id,
        whisperer_name: whisperer.name,
        whisperer_json: JSON.stringify({
          id: whisperer.id,
          name: whisperer.name,
          image: whisperer.image,
          captureFilter: whisperer.captureFilter,
          env: whisperer.env,
        }),
        target_namespace: namespace,
        target_kind: 'Pod',
        target_name: `p${i}`,
        created_by: OWNER,
        created_at: 1_700_000_000_000 + i,
        // Ended ones: not in the agent's desired set, so its welcome stays small.
        status: 'detached',
      });
      const visible = Array.from({ length: 620 }, (_, i) => row('team-b', i));
      const hidden = [row('team-a', 1000), row('team-a', 1001)];
      for (let i = 0; i < visible.length; i += 100)
        await knex('spider_attachments').insert(visible.slice(i, i + 100));
      await knex('spider_attachments').insert(hidden);
      const agent = newAgent(token);
      await agent.connect();
      agent.sendStatus({
        attachments: [...hidden, ...visible].map(r => ({
          id: r.id,
          instances: [],
        })),
      });
      const statusOf = (who: string) =>
        app.as(who).get(`/controllers/${controller.id}/status`);
      await waitUntil(
        async () => (await statusOf(OWNER)).body.status !== null,
        'status stored',
        30_000,
      );
      expect((await statusOf(OWNER)).body.status.attachments).toHaveLength(622);
      const seen = (await statusOf(BOB)).body.status.attachments.map(
        (a: any) => a.id,
      );
      expect(seen).toHaveLength(620);
      expect(new Set(seen)).toEqual(new Set(visible.map(r => r.id)));
    }, 120_000);

    it('answers a database failure while reading an attachment with 500, not 404', async () => {
      const { controller, whisperer } = await setup();
      const a = await app.as(OWNER).post('/attachments', {
        controllerId: controller.id,
        whispererId: whisperer.id,
        target: { namespace: 'team-a', kind: 'Pod', name: 'p' },
      });
      expect(a.status).toBe(201);
      expect((await app.as(BOB).get(`/attachments/${a.body.id}`)).status).toBe(
        404,
      );
      // The grants table gone: reading the attachment works, checking access fails.
      await knex.schema.renameTable('spider_shares', 'spider_shares_away');
      try {
        const res = await app.as(BOB).get(`/attachments/${a.body.id}`);
        expect(res.status).toBe(500);
      } finally {
        await knex.schema.renameTable('spider_shares_away', 'spider_shares');
      }
      expect((await app.as(BOB).get(`/attachments/${a.body.id}`)).status).toBe(
        404,
      );
    });

    it('stores and compares entity references in one spelling', async () => {
      const { controller, whisperer } = await setup();
      const a = await app.as(OWNER).post('/attachments', {
        controllerId: controller.id,
        whispererId: whisperer.id,
        target: { namespace: 'team-a', kind: 'Deployment', name: 'web' },
        entityRef: 'Component:Default/Payments',
      });
      expect(a.status).toBe(201);
      const stored = await knex('spider_attachments')
        .where({ id: a.body.id })
        .first();
      expect(stored.entity_ref).toBe('component:default/payments');
      const found = await app
        .as(OWNER)
        .get('/attachments?entityRef=component:default/PAYMENTS');
      expect(found.body.items.map((x: any) => x.id)).toEqual([a.body.id]);

      const put = await app
        .as(OWNER)
        .put(`/controllers/${controller.id}/shares`, {
          items: [
            {
              principal: 'group:default/Team-B',
              rights: ['read'],
              namespaces: '*',
            },
          ],
        });
      expect(put.status).toBe(200);
      expect(put.body.items[0].principal).toBe('group:default/team-b');
      // BOB's ownership refs say group:default/team-b: the grant applies.
      expect((await app.as(BOB).get(`/attachments/${a.body.id}`)).status).toBe(
        200,
      );
      const twice = await app
        .as(OWNER)
        .put(`/controllers/${controller.id}/shares`, {
          items: ['group:default/team-b', 'group:default/TEAM-B'].map(
            principal => ({ principal, rights: ['read'], namespaces: '*' }),
          ),
        });
      expect(twice.status).toBe(400);
      expect(twice.body.error.message).toMatch(/only once/);
    });
  },
);

async function waitUntil(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 8000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 100));
  }
}

function rawSocket(url: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${token}` },
    });
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
  });
}

function closeCodeOf(ws: WebSocket): Promise<number> {
  return new Promise(resolve => {
    ws.on('error', () => {});
    ws.on('close', code => resolve(code));
  });
}
