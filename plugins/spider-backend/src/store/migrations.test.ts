import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import { migrationsDir } from './migrations';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: testDatabaseIds() });

describe.each(databases.eachSupportedId())(
  'migrations on %p',
  (id: TestDatabaseId) => {
    it('go up and down, one at a time, and the live-attachment index refuses a duplicate', async () => {
      const knex = await databases.init(id);
      const [, pending] = await knex.migrate.list({ directory: migrationsDir });
      expect(pending.length).toBeGreaterThan(0);
      await knex.migrate.latest({ directory: migrationsDir });
      expect(await knex.schema.hasTable('spider_attachments')).toBe(true);

      const now = Date.now();
      await knex('spider_controllers').insert({
        id: 'c1',
        name: 'c',
        owner: 'user:default/a',
        token_hash: 'h',
        token_rotated_at: now,
        created_at: now,
        updated_at: now,
      });
      const row = (attachmentId: string, status: string) => ({
        id: attachmentId,
        controller_id: 'c1',
        whisperer_id: 'w1',
        whisperer_name: 'w',
        whisperer_json: '{}',
        target_namespace: 'ns',
        target_kind: 'Pod',
        target_name: 'p',
        created_by: 'user:default/a',
        created_at: now,
        status,
      });
      await knex('spider_attachments').insert(row('a1', 'active'));
      await knex('spider_attachments').insert(row('a2', 'detached'));
      await expect(
        knex('spider_attachments').insert(row('a3', 'pending')),
      ).rejects.toThrow();

      while (
        (await knex.migrate.currentVersion({ directory: migrationsDir })) !==
        'none'
      ) {
        await knex.migrate.down({ directory: migrationsDir });
      }
      expect(await knex.schema.hasTable('spider_attachments')).toBe(false);
      expect(await knex.schema.hasTable('spider_controllers')).toBe(false);
      await knex.migrate.latest({ directory: migrationsDir });
      expect(await knex.schema.hasTable('spider_audit')).toBe(true);
    });
  },
);
