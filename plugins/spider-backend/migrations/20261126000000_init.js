/*
 * Spider Controls service schema. Times are epoch milliseconds (bigint) so the same
 * comparisons (expiry, liveness) behave identically on SQLite and PostgreSQL.
 */

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.createTable('spider_controllers', t => {
    t.string('id', 36).primary();
    t.string('name', 200).notNullable();
    t.text('description').notNullable().defaultTo('');
    t.string('owner', 400).notNullable().index();
    t.string('token_hash', 64).notNullable().unique();
    t.bigInteger('token_rotated_at').notNullable();
    /** Bumped whenever the desired attachment set changes; agents converge on it. */
    t.bigInteger('revision').notNullable().defaultTo(0);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    /** Session id of the backend replica holding the agent socket, null when none. */
    t.string('session_id', 64).nullable();
    t.bigInteger('last_seen_at').nullable();
    t.string('agent_version', 64).nullable();
    t.string('cluster_version', 64).nullable();
    t.text('scope_json').nullable();
    t.text('status_json').nullable();
    t.bigInteger('status_at').nullable();
  });

  await knex.schema.createTable('spider_whisperers', t => {
    t.string('id', 36).primary();
    t.string('name', 200).notNullable();
    t.text('description').notNullable().defaultTo('');
    t.string('image', 512).nullable();
    t.text('capture_filter').notNullable().defaultTo('');
    t.string('time_to_live', 40).nullable();
    t.text('env_json').notNullable().defaultTo('{}');
    t.string('owner', 400).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });

  await knex.schema.createTable('spider_attachments', t => {
    t.string('id', 36).primary();
    t.string('controller_id', 36)
      .notNullable()
      .references('id')
      .inTable('spider_controllers')
      .onDelete('CASCADE');
    t.string('whisperer_id', 36).notNullable().index();
    t.string('whisperer_name', 200).notNullable();
    /** The whisperer as it was when attached: editing a whisperer does not move running captures. */
    t.text('whisperer_json').notNullable();
    t.string('target_namespace', 63).notNullable();
    t.string('target_kind', 20).notNullable();
    t.string('target_name', 253).notNullable();
    t.string('entity_ref', 400).nullable().index();
    t.string('created_by', 400).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').nullable();
    t.string('status', 20).notNullable();
    t.text('message').nullable();
    t.bigInteger('detached_at').nullable();
    t.string('detached_by', 400).nullable();
    t.string('detach_reason', 200).nullable();
    t.index(['controller_id', 'status']);
    t.index(['status', 'expires_at']);
    t.index(['created_at']);
  });
  // One live attachment per whisperer and target: a second attach answers 409, race-free.
  await knex.raw(
    `CREATE UNIQUE INDEX spider_attachments_live_unique ON spider_attachments
       (controller_id, whisperer_id, target_namespace, target_kind, target_name)
       WHERE status IN ('pending', 'active', 'failed')`,
  );

  await knex.schema.createTable('spider_instances', t => {
    t.string('attachment_id', 36)
      .notNullable()
      .references('id')
      .inTable('spider_attachments')
      .onDelete('CASCADE');
    t.string('pod', 253).notNullable();
    t.string('container', 63).notNullable();
    t.string('node', 253).nullable();
    t.string('pod_ip', 45).nullable();
    t.string('state', 20).notNullable();
    t.string('reason', 64).nullable();
    t.text('message').nullable();
    t.string('started_at', 40).nullable();
    t.string('finished_at', 40).nullable();
    t.integer('exit_code').nullable();
    t.integer('generation').notNullable().defaultTo(0);
    t.primary(['attachment_id', 'pod', 'container']);
  });

  await knex.schema.createTable('spider_shares', t => {
    t.string('controller_id', 36)
      .notNullable()
      .references('id')
      .inTable('spider_controllers')
      .onDelete('CASCADE');
    t.string('principal', 400).notNullable().index();
    /** Comma-delimited with leading and trailing commas (",read,use,") so SQL can match a right. */
    t.string('rights', 200).notNullable();
    /** '*' or a JSON array of namespace names. */
    t.text('namespaces').notNullable();
    t.primary(['controller_id', 'principal']);
  });

  await knex.schema.createTable('spider_inventory', t => {
    t.string('controller_id', 36)
      .notNullable()
      .references('id')
      .inTable('spider_controllers')
      .onDelete('CASCADE');
    t.string('namespace', 63).notNullable();
    t.string('kind', 20).notNullable();
    t.string('name', 253).notNullable();
    t.text('labels_json').notNullable();
    t.integer('replicas').nullable();
    t.integer('pods').notNullable();
    t.primary(['controller_id', 'namespace', 'kind', 'name']);
  });

  await knex.schema.createTable('spider_audit', t => {
    t.increments('id');
    t.bigInteger('at').notNullable().index();
    t.string('actor', 400).notNullable();
    t.string('action', 64).notNullable();
    t.string('resource_type', 32).notNullable();
    t.string('resource_id', 36).notNullable().index();
    t.text('details_json').notNullable();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('spider_audit');
  await knex.schema.dropTable('spider_inventory');
  await knex.schema.dropTable('spider_shares');
  await knex.schema.dropTable('spider_instances');
  await knex.schema.dropTable('spider_attachments');
  await knex.schema.dropTable('spider_whisperers');
  await knex.schema.dropTable('spider_controllers');
};
