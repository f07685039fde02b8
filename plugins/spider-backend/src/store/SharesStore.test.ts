import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';
import { migrationsDir } from './migrations';
import { ControllersStore, DatabaseControllersStore } from './ControllersStore';
import { DatabaseSharesStore, SharesStore } from './SharesStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: testDatabaseIds() });

describe.each(databases.eachSupportedId())(
  'SharesStore on %p',
  (id: TestDatabaseId) => {
    let knex: Knex;
    let shares: SharesStore;
    let controllers: ControllersStore;

    beforeAll(async () => {
      knex = await databases.init(id);
      await knex.migrate.latest({ directory: migrationsDir });
      shares = new DatabaseSharesStore(knex);
      controllers = new DatabaseControllersStore(knex);
    });

    beforeEach(async () => {
      await knex('spider_shares').delete();
      await knex('spider_controllers').delete();
    });

    const newController = async (name: string) =>
      (await controllers.create({ name, owner: 'user:default/owner' }))
        .controller.id;

    it('replaces grants as a whole, deduplicating rights and namespaces', async () => {
      const c = await newController('a');
      await shares.replace(c, [
        {
          principal: 'user:default/jane',
          rights: ['read', 'use', 'read'],
          namespaces: ['b', 'a', 'b'],
        },
        { principal: 'group:default/team', rights: ['read'], namespaces: '*' },
      ]);
      expect(await shares.list(c)).toEqual([
        { principal: 'group:default/team', rights: ['read'], namespaces: '*' },
        {
          principal: 'user:default/jane',
          rights: ['read', 'use'],
          namespaces: ['a', 'b'],
        },
      ]);
      await shares.replace(c, [
        { principal: 'user:default/jane', rights: ['read'], namespaces: '*' },
      ]);
      expect(await shares.list(c)).toEqual([
        { principal: 'user:default/jane', rights: ['read'], namespaces: '*' },
      ]);
      await shares.replace(c, []);
      expect(await shares.list(c)).toEqual([]);
    });

    it('lists grants of many Controllers, and those matching a caller', async () => {
      const a = await newController('a');
      const b = await newController('b');
      const none = await newController('none');
      await shares.replace(a, [
        { principal: 'user:default/jane', rights: ['read'], namespaces: '*' },
        { principal: 'group:default/x', rights: ['use'], namespaces: ['n'] },
      ]);
      await shares.replace(b, [
        { principal: 'group:default/x', rights: ['read'], namespaces: '*' },
      ]);
      const many = await shares.listMany([a, b, none]);
      expect(many.get(a)).toHaveLength(2);
      expect(many.get(b)).toHaveLength(1);
      expect(many.has(none)).toBe(false);

      const mine = await shares.listForClaims(
        [a, b, none],
        ['user:default/jane'],
      );
      expect([...mine.keys()]).toEqual([a]);
      expect(await shares.listForClaims([a, b], [])).toEqual(new Map());
    });

    it('drops the grants of a deleted Controller', async () => {
      const a = await newController('a');
      await shares.replace(a, [
        { principal: 'user:default/jane', rights: ['read'], namespaces: '*' },
      ]);
      await controllers.delete(a);
      expect(await shares.list(a)).toEqual([]);
    });
  },
);
