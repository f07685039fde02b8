import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';
import { migrationsDir } from './migrations';
import { DatabaseControllersStore } from './ControllersStore';
import { DatabaseInventoryStore, InventoryStore } from './InventoryStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: testDatabaseIds() });

const workload = (namespace: string, name: string, pods = 1) => ({
  namespace,
  kind: 'Deployment' as const,
  name,
  labels: { app: name },
  replicas: pods,
  pods,
});

describe.each(databases.eachSupportedId())(
  'InventoryStore on %p',
  (id: TestDatabaseId) => {
    let knex: Knex;
    let inventory: InventoryStore;
    let c1: string;
    let c2: string;

    beforeAll(async () => {
      knex = await databases.init(id);
      await knex.migrate.latest({ directory: migrationsDir });
      inventory = new DatabaseInventoryStore(knex);
    });

    beforeEach(async () => {
      await knex('spider_inventory').delete();
      await knex('spider_controllers').delete();
      const controllers = new DatabaseControllersStore(knex);
      c1 = (await controllers.create({ name: 'c1', owner: 'user:default/a' }))
        .controller.id;
      c2 = (await controllers.create({ name: 'c2', owner: 'user:default/a' }))
        .controller.id;
    });

    it('applies deltas: upserts replace, removals delete, per Controller', async () => {
      await inventory.apply(
        c1,
        [
          workload('shop', 'api'),
          workload('shop', 'web'),
          workload('ops', 'db'),
        ],
        [],
      );
      await inventory.apply(c2, [workload('shop', 'api')], []);
      await inventory.apply(
        c1,
        [workload('shop', 'api', 3)],
        [{ namespace: 'shop', kind: 'Deployment', name: 'web' }],
      );
      expect(await inventory.list(c1, { namespaces: '*' })).toEqual([
        { controllerId: c1, ...workload('ops', 'db') },
        { controllerId: c1, ...workload('shop', 'api', 3) },
      ]);
      expect(await inventory.namespaces(c1)).toEqual(['ops', 'shop']);
      expect(await inventory.list(c2, { namespaces: '*' })).toHaveLength(1);
      await inventory.clear(c1);
      expect(await inventory.list(c1, { namespaces: '*' })).toEqual([]);
      expect(await inventory.list(c2, { namespaces: '*' })).toHaveLength(1);
    });

    it('filters by allowed namespaces, namespace, kind and a literal name substring', async () => {
      await inventory.apply(
        c1,
        [
          workload('shop', 'api'),
          workload('shop', 'a_b'),
          workload('ops', 'api'),
        ],
        [],
      );
      const names = async (filter: Parameters<InventoryStore['list']>[1]) =>
        (await inventory.list(c1, filter)).map(w => `${w.namespace}/${w.name}`);
      expect(await names({ namespaces: ['shop'] })).toEqual([
        'shop/a_b',
        'shop/api',
      ]);
      expect(await names({ namespaces: '*', namespace: 'ops' })).toEqual([
        'ops/api',
      ]);
      expect(await names({ namespaces: '*', kind: 'StatefulSet' })).toEqual([]);
      // % and _ are dropped from q rather than passed to LIKE as wildcards.
      expect(await names({ namespaces: '*', q: 'a%' })).toEqual([
        'ops/api',
        'shop/a_b',
        'shop/api',
      ]);
      expect(await names({ namespaces: '*', limit: 1 })).toEqual(['ops/api']);
      expect(
        (await inventory.listAcross([c1, c2], 'shop')).map(w => w.name).sort(),
      ).toEqual(['a_b', 'api']);
      expect(await inventory.listAcross([])).toEqual([]);
    });
  },
);
