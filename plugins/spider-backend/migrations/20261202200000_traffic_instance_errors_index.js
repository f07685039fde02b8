/*
 * One more index for the traffic list (ARCHITECTURE.md section 5), measured with
 * 1,000,000 stored exchanges (yarn bench:traffic; EXPLAIN figures in the README):
 * `instance=` with `status=error`. The errors index walks the errors of every pod newest
 * first, so a pod whose errors are not the newest read the others' first (48,201 rows
 * for one page in the benchmark's data); this one holds each pod's errors in time order
 * (the page reads its 101 rows). A partial index: about one row in six is an error.
 *
 * On PostgreSQL it is built CONCURRENTLY, outside a transaction, so traffic keeps being
 * written while it builds on a big table (19 s for 1,000,000 rows on a loaded 2-core
 * machine); a build that failed half-way (an INVALID index) is dropped and built again
 * on the next start.
 *
 * Not here on purpose: a pg_trgm GIN index for `q`. It finds rare needles at once, but
 * it cost about 40% of the ingest rate in the same measurement (about a hundred
 * trigram entries per row); the README says how to add it by hand where search matters
 * more than ingest. The store's `q` is a LIKE that uses it when it exists.
 */

exports.config = { transaction: false };

/** The store's ERROR_SQL, word for word, so the planner can use the partial index. */
const ERROR_SQL = '(status IS NULL OR status >= 400 OR error IS NOT NULL)';
const NAME = 'spider_traffic_exchanges_instance_errors';
const DEFINITION = `ON spider_traffic_exchanges (attachment_id, pod, started_at, id) WHERE ${ERROR_SQL}`;

/** @param {import('knex').Knex} knex */
function isPg(knex) {
  return knex.client.config.client === 'pg';
}

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  if (!isPg(knex)) {
    await knex.raw(`CREATE INDEX IF NOT EXISTS ${NAME} ${DEFINITION}`);
    return;
  }
  const existing = await knex.raw(
    'SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(?)',
    [NAME],
  );
  if (existing.rows.length > 0 && existing.rows[0].indisvalid) return;
  if (existing.rows.length > 0)
    await knex.raw(`DROP INDEX CONCURRENTLY IF EXISTS ${NAME}`);
  await knex.raw(`CREATE INDEX CONCURRENTLY ${NAME} ${DEFINITION}`);
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.raw(
    `DROP INDEX ${isPg(knex) ? 'CONCURRENTLY ' : ''}IF EXISTS ${NAME}`,
  );
};
