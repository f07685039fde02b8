/*
 * Captured traffic (ARCHITECTURE.md section 5). Times are epoch milliseconds (bigint), as
 * in the init migration, so time comparisons behave the same on SQLite and PostgreSQL.
 */

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.createTable('spider_traffic_exchanges', t => {
    // The id is also the insertion sequence: the tie-breaker that keeps paging stable
    // (SQLite can only auto-increment the primary key).
    t.bigIncrements('id');
    t.string('controller_id', 36).notNullable();
    t.string('attachment_id', 36).notNullable();
    t.string('namespace', 63).notNullable();
    t.string('pod', 253).notNullable();
    t.string('container', 63).notNullable();
    /** The whisperer's `<run>.<seq>`: with the instance, what makes a replay a no-op. */
    t.string('source_id', 64).notNullable();
    t.bigInteger('started_at').notNullable();
    t.bigInteger('stored_at').notNullable();
    t.string('direction', 8).notNullable();
    t.string('protocol', 8).notNullable();
    t.string('method', 64).notNullable();
    t.text('path').notNullable();
    t.string('authority', 1024).notNullable();
    t.integer('status').nullable();
    t.string('error', 16).nullable();
    t.double('duration_ms').notNullable();
    t.string('client_ip', 45).notNullable();
    t.integer('client_port').notNullable();
    t.string('client_name', 253).nullable();
    t.string('server_ip', 45).notNullable();
    t.integer('server_port').notNullable();
    t.string('server_name', 253).nullable();
    /** The other end as seen from the pod: the client when inbound, the server when outbound. */
    t.string('peer_ip', 45).notNullable();
    t.string('peer_name', 253).nullable();
    t.bigInteger('request_size').notNullable();
    t.bigInteger('response_size').notNullable();
    /** Lower-cased path, authority and peer names, for the case-insensitive `q` search. */
    t.text('search_text').notNullable();
    /** The exchange without its bodies (headers, trailers, gRPC). */
    t.text('exchange_json').notNullable();
    /** `[requestBody, responseBody]`; retention nulls it before it deletes rows. */
    t.text('bodies_json').nullable();
    /** Stored bytes of the row and of its bodies alone, for the size limit. */
    t.integer('row_bytes').notNullable();
    t.integer('body_bytes').notNullable();
    t.unique(['attachment_id', 'pod', 'container', 'source_id'], {
      indexName: 'spider_traffic_exchanges_source_unique',
    });
    t.index(
      ['attachment_id', 'started_at', 'id'],
      'spider_traffic_exchanges_attachment_time',
    );
  });

  await knex.schema.createTable('spider_traffic_flows', t => {
    t.string('attachment_id', 36).notNullable();
    t.string('pod', 253).notNullable();
    t.string('container', 63).notNullable();
    t.bigInteger('minute').notNullable();
    t.string('direction', 8).notNullable();
    t.string('client_ip', 45).notNullable();
    t.string('server_ip', 45).notNullable();
    t.integer('server_port').notNullable();
    t.string('client_name', 253).nullable();
    t.string('server_name', 253).nullable();
    t.bigInteger('bytes_to_server').notNullable();
    t.bigInteger('bytes_to_client').notNullable();
    t.bigInteger('connections').notNullable();
    t.primary([
      'attachment_id',
      'pod',
      'container',
      'minute',
      'direction',
      'client_ip',
      'server_ip',
      'server_port',
    ]);
  });

  await knex.schema.createTable('spider_traffic_stats', t => {
    t.string('attachment_id', 36).notNullable();
    /** Empty pod and container: the attachment's own row (what retention removed). */
    t.string('pod', 253).notNullable();
    t.string('container', 63).notNullable();
    t.string('controller_id', 36).notNullable();
    t.text('stats_json').nullable();
    t.text('relay_json').nullable();
    /** Last applied message of the instance, so a replayed message adds no flows twice. */
    t.string('agent_run', 64).nullable();
    t.bigInteger('last_seq').nullable();
    t.bigInteger('expired').notNullable().defaultTo(0);
    t.bigInteger('updated_at').notNullable();
    t.primary(['attachment_id', 'pod', 'container']);
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('spider_traffic_stats');
  await knex.schema.dropTable('spider_traffic_flows');
  await knex.schema.dropTable('spider_traffic_exchanges');
};
