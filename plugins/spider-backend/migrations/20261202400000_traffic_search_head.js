/*
 * `q` (a substring of path, authority and peer names) without reading whole rows
 * (ARCHITECTURE.md section 5). A rare needle made the list walk the attachment's
 * exchanges newest first, fetching each row (~1.3 kB with its headers JSON) to test it:
 * 170,000 rows for one page of yarn bench:traffic's `q=orders/12` with 1,000,000 stored.
 *
 * `search_head` holds the row's search text when it is at most 1 KiB (nearly every row;
 * an index entry must stay well under PostgreSQL's 2.7 kB), and the attachment's time
 * index now carries it (an INCLUDE column), so the walk reads index entries only (an
 * index-only scan) and fetches just the rows that match. Rows with a longer text, and
 * rows stored before this migration, have no head: a partial index lists them in time
 * order and the store searches their full text there. So nothing has to be rewritten
 * here; the rows from before age out with retention.
 *
 * On PostgreSQL the indexes are built CONCURRENTLY, outside a transaction (traffic keeps
 * being written), and an INVALID one left by a build that failed half-way is built again.
 * SQLite gets the column only (the store searches the full text there).
 */

exports.config = { transaction: false };

const TABLE = 'spider_traffic_exchanges';
const OLD_TIME_INDEX = 'spider_traffic_exchanges_attachment_time';
const TIME_INDEX = 'spider_traffic_exchanges_attachment_time_head';
const NO_HEAD_INDEX = 'spider_traffic_exchanges_no_head';

/** @param {import('knex').Knex} knex */
function isPg(knex) {
  return knex.client.config.client === 'pg';
}

/** @param {import('knex').Knex} knex */
async function createConcurrently(knex, name, definition) {
  const existing = await knex.raw(
    'SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(?)',
    [name],
  );
  if (existing.rows.length > 0 && existing.rows[0].indisvalid) return;
  if (existing.rows.length > 0)
    await knex.raw(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
  await knex.raw(`CREATE INDEX CONCURRENTLY ${name} ${definition}`);
}

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  if (!(await knex.schema.hasColumn(TABLE, 'search_head'))) {
    await knex.schema.alterTable(TABLE, t => {
      t.text('search_head').nullable();
    });
  }
  // SQLite searches the full text in one query (its listing is not the one measured at
  // a million rows); it gets the column, written by the same store, and no index.
  if (!isPg(knex)) return;
  await createConcurrently(
    knex,
    TIME_INDEX,
    `ON ${TABLE} (attachment_id, started_at, id) INCLUDE (search_head)`,
  );
  await createConcurrently(
    knex,
    NO_HEAD_INDEX,
    `ON ${TABLE} (attachment_id, started_at, id) WHERE search_head IS NULL`,
  );
  await knex.raw(`DROP INDEX CONCURRENTLY IF EXISTS ${OLD_TIME_INDEX}`);
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  if (isPg(knex)) {
    await knex.raw(
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${OLD_TIME_INDEX} ON ${TABLE} (attachment_id, started_at, id)`,
    );
    await knex.raw(`DROP INDEX CONCURRENTLY IF EXISTS ${NO_HEAD_INDEX}`);
    await knex.raw(`DROP INDEX CONCURRENTLY IF EXISTS ${TIME_INDEX}`);
  }
  await knex.schema.alterTable(TABLE, t => {
    t.dropColumn('search_head');
  });
};
