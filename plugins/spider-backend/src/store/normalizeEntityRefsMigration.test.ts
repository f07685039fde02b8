import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import { join } from 'node:path';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';
import { migrationsDir } from './migrations';
import { DatabaseControllersStore } from './ControllersStore';
import { DatabaseSharesStore } from './SharesStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: testDatabaseIds() });
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a Knex migration module
const migration = require(join(
  migrationsDir,
  '20261202300000_normalize_entity_refs.js',
));

describe.each(databases.eachSupportedId())(
  'entity ref normalisation migration on %p',
  (id: TestDatabaseId) => {
    let knex: Knex;

    beforeAll(async () => {
      knex = await databases.init(id);
      await knex.migrate.latest({ directory: migrationsDir });
    });

    beforeEach(async () => {
      await knex('spider_shares').delete();
      await knex('spider_attachments').delete();
      await knex('spider_whisperers').delete();
      await knex('spider_controllers').delete();
    });

    // Rows as the service wrote them before refs were normalised.
    async function seedMixedCase() {
      const controllers = new DatabaseControllersStore(knex);
      const { controller } = await controllers.create({
        name: 'c',
        owner: 'user:Default/Jane.Doe',
      });
      const now = Date.now();
      await knex('spider_whisperers').insert({
        id: '00000000-0000-4000-8000-000000000001',
        name: 'w',
        description: '',
        capture_filter: '',
        env_json: '{}',
        owner: 'user:default/Jane.Doe',
        created_at: now,
        updated_at: now,
      });
      await knex('spider_attachments').insert({
        id: '00000000-0000-4000-8000-000000000002',
        controller_id: controller.id,
        whisperer_id: '00000000-0000-4000-8000-000000000001',
        whisperer_name: 'w',
        whisperer_json: '{}',
        target_namespace: 'shop',
        target_kind: 'Deployment',
        target_name: 'api',
        entity_ref: 'component:default/My-Service',
        created_by: 'user:default/Jane.Doe',
        created_at: now,
        status: 'detached',
        detached_by: 'user:Default/Jane.Doe',
      });
      await knex('spider_shares').insert([
        // The normalised grant of the same principal wins over the mixed-case one.
        {
          controller_id: controller.id,
          principal: 'user:default/Bob',
          rights: ',read,',
          namespaces: '*',
        },
        {
          controller_id: controller.id,
          principal: 'user:default/bob',
          rights: ',read,use,',
          namespaces: '*',
        },
        {
          controller_id: controller.id,
          principal: 'group:default/Team-B',
          rights: ',read,',
          namespaces: '["shop"]',
        },
      ]);
      return controller.id;
    }

    it('makes mixed-case rows visible to their owner, and a second run changes nothing', async () => {
      const controllerId = await seedMixedCase();
      const shares = new DatabaseSharesStore(knex);
      const controllers = new DatabaseControllersStore(knex);
      const jane = 'user:default/jane.doe';
      // Before: the owner's own ref finds nothing.
      expect(
        await controllers.list(qb => qb.whereIn('owner', [jane])),
      ).toHaveLength(0);
      expect(
        (await shares.listForClaims([controllerId], ['group:default/team-b']))
          .size,
      ).toBe(0);

      await migration.up(knex);

      expect(
        (await controllers.list(qb => qb.whereIn('owner', [jane]))).map(
          c => c.id,
        ),
      ).toEqual([controllerId]);
      expect(
        (
          await shares.listForClaims([controllerId], ['group:default/team-b'])
        ).get(controllerId),
      ).toEqual([
        {
          principal: 'group:default/team-b',
          rights: ['read'],
          namespaces: ['shop'],
        },
      ]);
      expect(await shares.list(controllerId)).toEqual([
        expect.objectContaining({ principal: 'group:default/team-b' }),
        {
          principal: 'user:default/bob',
          rights: ['read', 'use'],
          namespaces: '*',
        },
      ]);
      expect(await knex('spider_whisperers').select('owner').first()).toEqual({
        owner: jane,
      });
      expect(
        await knex('spider_attachments')
          .select('entity_ref', 'created_by', 'detached_by')
          .first(),
      ).toEqual({
        entity_ref: 'component:default/my-service',
        created_by: jane,
        detached_by: jane,
      });

      const before = {
        controllers: await knex('spider_controllers').select('id', 'owner'),
        shares: await knex('spider_shares').select().orderBy('principal'),
        attachments: await knex('spider_attachments').select(),
      };
      await migration.up(knex);
      expect({
        controllers: await knex('spider_controllers').select('id', 'owner'),
        shares: await knex('spider_shares').select().orderBy('principal'),
        attachments: await knex('spider_attachments').select(),
      }).toEqual(before);
    });

    it('leaves values that are not entity refs as they are', async () => {
      const controllerId = await seedMixedCase();
      await knex('spider_attachments').update({ detached_by: 'Expiry' });
      await migration.up(knex);
      expect(
        await knex('spider_attachments')
          .where({ controller_id: controllerId })
          .select('detached_by')
          .first(),
      ).toEqual({ detached_by: 'Expiry' });
    });
  },
);
