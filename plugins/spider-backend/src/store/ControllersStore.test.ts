import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';
import { migrationsDir } from './migrations';
import {
  ControllersStore,
  DatabaseControllersStore,
  hashAgentToken,
} from './ControllersStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: testDatabaseIds() });

describe.each(databases.eachSupportedId())(
  'ControllersStore on %p',
  (id: TestDatabaseId) => {
    let knex: Knex;
    let controllers: ControllersStore;

    beforeAll(async () => {
      knex = await databases.init(id);
      await knex.migrate.latest({ directory: migrationsDir });
      controllers = new DatabaseControllersStore(knex);
    });

    beforeEach(async () => {
      await knex('spider_controllers').delete();
    });

    it('keeps only the token hash, and a rotated token replaces the old one', async () => {
      const { controller, token } = await controllers.create({
        name: 'prod',
        owner: 'user:default/a',
      });
      expect(controller).toMatchObject({
        name: 'prod',
        description: '',
        owner: 'user:default/a',
        connected: false,
        scope: null,
      });
      const row = await knex('spider_controllers')
        .where({ id: controller.id })
        .first();
      expect(row.token_hash).toBe(hashAgentToken(token));
      expect(JSON.stringify(row)).not.toContain(token);
      expect(await controllers.findIdByTokenHash(hashAgentToken(token))).toBe(
        controller.id,
      );
      const rotated = await controllers.rotateToken(controller.id);
      expect(rotated.token).not.toBe(token);
      expect(
        await controllers.findIdByTokenHash(hashAgentToken(token)),
      ).toBeUndefined();
      expect(
        await controllers.findIdByTokenHash(hashAgentToken(rotated.token)),
      ).toBe(controller.id);
    });

    it('lists by name with a SQL filter, updates given fields, 404s what is not there', async () => {
      await controllers.create({ name: 'b', owner: 'user:default/a' });
      const a = (
        await controllers.create({ name: 'a', owner: 'user:default/z' })
      ).controller;
      expect((await controllers.list()).map(c => c.name)).toEqual(['a', 'b']);
      expect(
        (await controllers.list(qb => qb.where('owner', 'user:default/z'))).map(
          c => c.id,
        ),
      ).toEqual([a.id]);
      expect(
        await controllers.update(a.id, { description: 'eu' }),
      ).toMatchObject({ name: 'a', description: 'eu' });
      const missing = '00000000-0000-4000-8000-000000000000';
      expect(await controllers.get(missing)).toBeUndefined();
      await expect(controllers.getOrThrow(missing)).rejects.toMatchObject({
        name: 'NotFoundError',
      });
      await expect(
        controllers.update(missing, { name: 'x' }),
      ).rejects.toMatchObject({ name: 'NotFoundError' });
      await expect(controllers.rotateToken(missing)).rejects.toMatchObject({
        name: 'NotFoundError',
      });
      expect(await controllers.delete(a.id)).toBe(true);
      expect(await controllers.delete(a.id)).toBe(false);
    });

    it('is connected while its session beats, and an old session cannot disconnect a new one', async () => {
      const { controller } = await controllers.create({
        name: 'c',
        owner: 'user:default/a',
      });
      const scope = { include: '*' as const, exclude: [] };
      await controllers.markConnected(controller.id, 's1', {
        agentVersion: '1.0.0',
        clusterVersion: 'v1.31.0',
        scope,
      });
      expect(await controllers.get(controller.id)).toMatchObject({
        connected: true,
        sessionId: 's1',
        agentVersion: '1.0.0',
        scope,
      });
      await controllers.markConnected(controller.id, 's2', {
        agentVersion: '1.0.1',
        clusterVersion: null,
        scope,
      });
      await controllers.markDisconnected(controller.id, 's1');
      expect(await controllers.get(controller.id)).toMatchObject({
        connected: true,
        sessionId: 's2',
      });
      await controllers.markDisconnected(controller.id, 's2');
      expect(await controllers.get(controller.id)).toMatchObject({
        connected: false,
        sessionId: null,
      });
      expect(
        (await controllers.syncState([controller.id])).get(controller.id),
      ).toMatchObject({ revision: 0 });
    });
  },
);
