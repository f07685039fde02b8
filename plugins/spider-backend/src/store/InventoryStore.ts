import { Knex } from 'knex';
import { Workload, WorkloadKind } from '@spider/backstage-plugin-spider-common';

function toWorkload(row: any): Workload & { controllerId: string } {
  return {
    controllerId: row.controller_id,
    namespace: row.namespace,
    kind: row.kind as WorkloadKind,
    name: row.name,
    labels: JSON.parse(row.labels_json || '{}'),
    replicas: row.replicas ?? null,
    pods: Number(row.pods ?? 0),
  };
}

/** A workload of a Controller's inventory. */
export type InventoryWorkload = Workload & { controllerId: string };

/**
 * The last inventory each agent reported, kept in the database so any backend replica
 * can answer catalog lookups without a round trip to the agent;
 * {@link DatabaseInventoryStore} keeps it in Knex.
 */
/** Which workloads to list: within `namespaces`; `q` is a name substring. */
export interface InventoryFilter {
  namespaces: '*' | string[];
  namespace?: string;
  kind?: string;
  q?: string;
  limit?: number;
}

export interface InventoryStore {
  /** Forgets a Controller's inventory (its agent sends a full one next). */
  clear(controllerId: string): Promise<void>;
  /** Applies a delta: removals, then upserts by (namespace, kind, name). */
  apply(
    controllerId: string,
    upserts: Workload[],
    removed: Array<{ namespace: string; kind: string; name: string }>,
  ): Promise<void>;
  /** By namespace, kind and name, within `namespaces`; `q` is a name substring. */
  list(
    controllerId: string,
    filter: InventoryFilter,
  ): Promise<InventoryWorkload[]>;
  /** Namespaces with at least one workload, sorted. */
  namespaces(controllerId: string): Promise<string[]>;
  /** Workloads across Controllers, pre-filtered by namespace; labels are the caller's to match. */
  listAcross(
    controllerIds: string[],
    namespace?: string,
  ): Promise<InventoryWorkload[]>;
}

export class DatabaseInventoryStore implements InventoryStore {
  constructor(private readonly db: Knex) {}

  async clear(controllerId: string): Promise<void> {
    await this.db('spider_inventory')
      .where({ controller_id: controllerId })
      .delete();
  }

  async apply(
    controllerId: string,
    upserts: Workload[],
    removed: Array<{ namespace: string; kind: string; name: string }>,
  ): Promise<void> {
    await this.db.transaction(async tx => {
      for (const r of removed) {
        await tx('spider_inventory')
          .where({
            controller_id: controllerId,
            namespace: r.namespace,
            kind: r.kind,
            name: r.name,
          })
          .delete();
      }
      for (let i = 0; i < upserts.length; i += 200) {
        const rows = upserts.slice(i, i + 200).map(w => ({
          controller_id: controllerId,
          namespace: w.namespace,
          kind: w.kind,
          name: w.name,
          labels_json: JSON.stringify(w.labels),
          replicas: w.replicas,
          pods: w.pods,
        }));
        await tx('spider_inventory')
          .insert(rows)
          .onConflict(['controller_id', 'namespace', 'kind', 'name'])
          .merge(['labels_json', 'replicas', 'pods']);
      }
    });
  }

  async list(
    controllerId: string,
    filter: InventoryFilter,
  ): Promise<Array<Workload & { controllerId: string }>> {
    const qb = this.db('spider_inventory').where({
      controller_id: controllerId,
    });
    if (filter.namespaces !== '*') qb.whereIn('namespace', filter.namespaces);
    if (filter.namespace) qb.where('namespace', filter.namespace);
    if (filter.kind) qb.where('kind', filter.kind);
    if (filter.q)
      qb.where('name', 'like', `%${filter.q.replace(/[%_\\]/g, '')}%`);
    qb.orderBy(['namespace', 'kind', 'name']).limit(filter.limit ?? 10_000);
    return (await qb).map(toWorkload);
  }

  async namespaces(controllerId: string): Promise<string[]> {
    const rows = await this.db('spider_inventory')
      .distinct('namespace')
      .where({ controller_id: controllerId })
      .orderBy('namespace');
    return rows.map((r: any) => r.namespace);
  }

  /** Workloads across Controllers, pre-filtered by namespace in SQL; labels are matched by the caller. */
  async listAcross(
    controllerIds: string[],
    namespace?: string,
  ): Promise<Array<Workload & { controllerId: string }>> {
    if (controllerIds.length === 0) return [];
    const qb = this.db('spider_inventory').whereIn(
      'controller_id',
      controllerIds,
    );
    if (namespace) qb.where('namespace', namespace);
    return (await qb.limit(50_000)).map(toWorkload);
  }
}
