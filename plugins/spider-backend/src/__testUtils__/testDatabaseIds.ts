import { TestDatabaseId } from '@backstage/backend-test-utils';

const POSTGRES_IDS: TestDatabaseId[] = [
  'POSTGRES_18',
  'POSTGRES_17',
  'POSTGRES_16',
  'POSTGRES_15',
  'POSTGRES_14',
  'POSTGRES_13',
];

/**
 * SQLite always, plus every PostgreSQL given by its connection-string variable
 * (BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING, ...). Backstage's default would
 * start PostgreSQL in a container under CI, and these machines have no container engine.
 */
export function testDatabaseIds(): TestDatabaseId[] {
  const pg = POSTGRES_IDS.filter(
    id =>
      process.env[
        `BACKSTAGE_TEST_DATABASE_${id.replace('_', '')}_CONNECTION_STRING`
      ],
  );
  return ['SQLITE_3', ...pg];
}
