import { Knex } from 'knex';

/** Every table of the plugin, children before the rows they point at. */
const TABLES = [
  'spider_traffic_exchanges',
  'spider_traffic_flows',
  'spider_traffic_stats',
  'spider_audit',
  'spider_inventory',
  'spider_shares',
  'spider_instances',
  'spider_attachments',
  'spider_whisperers',
  'spider_controllers',
];

/** Empties the plugin's tables (those that exist yet) so a test starts from nothing. */
export async function clearSpiderTables(knex: Knex): Promise<void> {
  for (const t of TABLES) {
    if (await knex.schema.hasTable(t)) await knex(t).delete();
  }
}
