/*
 * Entity refs are normalised (stringifyEntityRef(parseEntityRef(ref)), lower-case
 * namespace and name) before they are stored or compared, since #14. Rows written before
 * kept the spelling they were given: a share for `user:default/Jane.Doe` never matched the
 * ownership ref `user:default/jane.doe` of its user, and an attachment made from
 * `component:default/My-Service` was not found by that entity's page. This rewrites them
 * with the same function the service uses, so old and new rows compare equal.
 *
 * Idempotent: a normalised value normalises to itself, so a second run changes nothing.
 * Values that are not full entity refs (none are expected) are left as they are.
 * The audit log is left alone: it records who did what as it was written.
 */
const {
  parseEntityRef,
  stringifyEntityRef,
} = require('@backstage/catalog-model');

function normalize(ref) {
  try {
    return stringifyEntityRef(parseEntityRef(ref));
  } catch {
    return ref;
  }
}

/** Columns holding entity refs, by table, with the table's key. */
const COLUMNS = [
  { table: 'spider_controllers', key: ['id'], columns: ['owner'] },
  { table: 'spider_whisperers', key: ['id'], columns: ['owner'] },
  {
    table: 'spider_attachments',
    key: ['id'],
    columns: ['entity_ref', 'created_by', 'detached_by'],
  },
];

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.transaction(async tx => {
    for (const { table, key, columns } of COLUMNS) {
      const rows = await tx(table).select([...key, ...columns]);
      for (const row of rows) {
        const changes = {};
        for (const c of columns) {
          if (typeof row[c] !== 'string') continue;
          const normal = normalize(row[c]);
          if (normal !== row[c]) changes[c] = normal;
        }
        if (Object.keys(changes).length === 0) continue;
        await tx(table)
          .where(Object.fromEntries(key.map(k => [k, row[k]])))
          .update(changes);
      }
    }
    // Shares are keyed by (controller_id, principal): a mixed-case grant whose normalised
    // principal already has a grant on that Controller is dropped, since the normalised
    // one is the grant that has been in force (only it matched the user's refs).
    const shares = await tx('spider_shares').select(
      'controller_id',
      'principal',
    );
    const present = new Set(
      shares.map(s => `${s.controller_id} ${s.principal}`),
    );
    for (const s of shares) {
      const normal = normalize(s.principal);
      if (normal === s.principal) continue;
      const where = { controller_id: s.controller_id, principal: s.principal };
      const target = `${s.controller_id} ${normal}`;
      if (present.has(target)) {
        await tx('spider_shares').where(where).delete();
      } else {
        await tx('spider_shares').where(where).update({ principal: normal });
        present.add(target);
      }
      present.delete(`${s.controller_id} ${s.principal}`);
    }
  });
};

/** The original spellings are not kept, and nothing compares by them any more. */
exports.down = async function down() {};
