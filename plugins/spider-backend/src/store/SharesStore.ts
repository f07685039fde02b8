import { Knex } from 'knex';
import { ControllerRight, Grant } from '@spider/backstage-plugin-spider-common';

function toGrant(row: any): Grant {
  return {
    principal: row.principal,
    rights: String(row.rights).split(',').filter(Boolean) as ControllerRight[],
    namespaces: row.namespaces === '*' ? '*' : JSON.parse(row.namespaces),
  };
}

/** A Controller's grants; {@link DatabaseSharesStore} keeps them in Knex. */
export interface SharesStore {
  /** One Controller's grants, by principal. */
  list(controllerId: string): Promise<Grant[]>;
  /** Every grant of several Controllers, by Controller. */
  listMany(controllerIds: string[]): Promise<Map<string, Grant[]>>;
  /** Grants of several Controllers whose principal is one of `claims`. */
  listForClaims(
    controllerIds: string[],
    claims: string[],
  ): Promise<Map<string, Grant[]>>;
  /** Replaces every grant of a Controller at once. */
  replace(controllerId: string, grants: Grant[]): Promise<void>;
}

export class DatabaseSharesStore implements SharesStore {
  constructor(private readonly db: Knex) {}

  async list(controllerId: string): Promise<Grant[]> {
    const rows = await this.db('spider_shares')
      .where({ controller_id: controllerId })
      .orderBy('principal');
    return rows.map(toGrant);
  }

  /** Every grant of several Controllers, by Controller. */
  async listMany(controllerIds: string[]): Promise<Map<string, Grant[]>> {
    const out = new Map<string, Grant[]>();
    for (let i = 0; i < controllerIds.length; i += 500) {
      const rows = await this.db('spider_shares').whereIn(
        'controller_id',
        controllerIds.slice(i, i + 500),
      );
      for (const r of rows)
        out.set(r.controller_id, [
          ...(out.get(r.controller_id) ?? []),
          toGrant(r),
        ]);
    }
    return out;
  }

  /** Grants of several Controllers whose principal is one of `claims`. */
  async listForClaims(
    controllerIds: string[],
    claims: string[],
  ): Promise<Map<string, Grant[]>> {
    const out = new Map<string, Grant[]>();
    if (controllerIds.length === 0 || claims.length === 0) return out;
    for (let i = 0; i < controllerIds.length; i += 500) {
      const rows = await this.db('spider_shares')
        .whereIn('controller_id', controllerIds.slice(i, i + 500))
        .whereIn('principal', claims);
      for (const r of rows) {
        const list = out.get(r.controller_id) ?? [];
        list.push(toGrant(r));
        out.set(r.controller_id, list);
      }
    }
    return out;
  }

  /** Replaces every grant of a Controller at once. */
  async replace(controllerId: string, grants: Grant[]): Promise<void> {
    await this.db.transaction(async tx => {
      await tx('spider_shares').where({ controller_id: controllerId }).delete();
      if (grants.length) {
        await tx('spider_shares').insert(
          grants.map(g => ({
            controller_id: controllerId,
            principal: g.principal,
            rights: `,${[...new Set(g.rights)].join(',')},`,
            namespaces:
              g.namespaces === '*'
                ? '*'
                : JSON.stringify([...new Set(g.namespaces)].sort()),
          })),
        );
      }
    });
  }
}
