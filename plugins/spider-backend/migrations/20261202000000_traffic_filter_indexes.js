/*
 * Indexes for the traffic list's filters (ARCHITECTURE.md section 5). Without them a
 * filtered page walks the attachment's time index and reads every row until it has a
 * page: thousands of rows for `status=5xx` at 1,000,000 stored. The same SQL on SQLite
 * and PostgreSQL (both have expression and partial indexes).
 */

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  // `status=Nxx` and `status=N` ask for one status class; the store's filter names this
  // exact expression so the index serves it, newest first.
  await knex.raw(
    `CREATE INDEX spider_traffic_exchanges_status_class
       ON spider_traffic_exchanges (attachment_id, (COALESCE(status, 0) / 100), started_at, id)`,
  );
  // `status=error`: the store's ERROR_SQL, word for word, so the planner can use it.
  await knex.raw(
    `CREATE INDEX spider_traffic_exchanges_errors
       ON spider_traffic_exchanges (attachment_id, started_at, id)
       WHERE (status IS NULL OR status >= 400 OR error IS NOT NULL)`,
  );
  // `instance=`: one whisperer instance's traffic, however few of the rows it is.
  await knex.raw(
    `CREATE INDEX spider_traffic_exchanges_instance
       ON spider_traffic_exchanges (attachment_id, pod, started_at, id)`,
  );
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.raw('DROP INDEX spider_traffic_exchanges_instance');
  await knex.raw('DROP INDEX spider_traffic_exchanges_errors');
  await knex.raw('DROP INDEX spider_traffic_exchanges_status_class');
};
