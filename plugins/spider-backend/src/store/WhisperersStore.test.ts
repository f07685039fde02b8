import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';
import { migrationsDir } from './migrations';
import { DatabaseWhisperersStore, WhisperersStore } from './WhisperersStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: testDatabaseIds() });

describe.each(databases.eachSupportedId())(
  'WhisperersStore on %p',
  (id: TestDatabaseId) => {
    let knex: Knex;
    let whisperers: WhisperersStore;

    beforeAll(async () => {
      knex = await databases.init(id);
      await knex.migrate.latest({ directory: migrationsDir });
      whisperers = new DatabaseWhisperersStore(knex);
    });

    beforeEach(async () => {
      await knex('spider_whisperers').delete();
    });

    it('creates with defaults, lists by name, updates only given fields', async () => {
      const b = await whisperers.create({ name: 'b-http' }, 'user:default/a');
      expect(b).toMatchObject({
        name: 'b-http',
        description: '',
        image: null,
        captureFilter: '',
        timeToLive: null,
        env: {},
        owner: 'user:default/a',
      });
      await whisperers.create(
        { name: 'a-grpc', captureFilter: 'tcp port 50051', env: { X: '1' } },
        'user:default/a',
      );
      expect((await whisperers.list()).map(w => w.name)).toEqual([
        'a-grpc',
        'b-http',
      ]);
      const changed = await whisperers.update(b.id, { timeToLive: 'PT30M' });
      expect(changed).toMatchObject({ name: 'b-http', timeToLive: 'PT30M' });
      expect(Date.parse(changed.updatedAt)).toBeGreaterThanOrEqual(
        Date.parse(b.updatedAt),
      );
      expect(await whisperers.update(b.id, { image: null })).toMatchObject({
        image: null,
        timeToLive: 'PT30M',
      });
    });

    it('answers 404 for what does not exist, and deletes once', async () => {
      const missing = '00000000-0000-4000-8000-000000000000';
      expect(await whisperers.get(missing)).toBeUndefined();
      await expect(whisperers.getOrThrow(missing)).rejects.toMatchObject({
        name: 'NotFoundError',
      });
      await expect(
        whisperers.update(missing, { name: 'x' }),
      ).rejects.toMatchObject({ name: 'NotFoundError' });
      const w = await whisperers.create({ name: 'w' }, 'user:default/a');
      expect(await whisperers.delete(w.id)).toBe(true);
      expect(await whisperers.delete(w.id)).toBe(false);
    });
  },
);
