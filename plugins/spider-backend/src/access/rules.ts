import { Knex } from 'knex';
import {
  createConditionExports,
  createPermissionResourceRef,
  createPermissionRule,
} from '@backstage/plugin-permission-node';
import { z } from 'zod';
import {
  CONTROLLER_RIGHTS,
  SPIDER_CONTROLLER_RESOURCE_TYPE,
} from '@spider/backstage-plugin-spider-common';
import type { ControllerRecord } from '../store/ControllersStore';

/** A SQL filter on `spider_controllers`, built from permission conditions. */
export type ControllerQuery = (qb: Knex.QueryBuilder) => void;

/** A Controller as the permission rules see it: its row plus the grants on it. */
export interface ControllerResource extends ControllerRecord {
  grants: Array<{ principal: string; rights: string[] }>;
}

export const controllerResourceRef = createPermissionResourceRef<
  ControllerResource,
  ControllerQuery
>().with({
  pluginId: 'spider',
  resourceType: SPIDER_CONTROLLER_RESOURCE_TYPE,
});

const claimsSchema = z
  .array(z.string())
  .describe(
    'Entity refs of the caller: their user and the groups they belong to',
  );

export const isControllerOwner = createPermissionRule({
  name: 'IS_CONTROLLER_OWNER',
  description: 'Allow when the caller owns the Controller',
  resourceRef: controllerResourceRef,
  paramsSchema: z.object({ claims: claimsSchema }),
  apply: (resource, { claims }) => claims.includes(resource.owner),
  toQuery:
    ({ claims }) =>
    qb => {
      qb.whereIn('spider_controllers.owner', claims);
    },
});

export const hasControllerGrant = createPermissionRule({
  name: 'HAS_CONTROLLER_GRANT',
  description:
    'Allow when the Controller is shared with the caller (their user or one of their groups) with the given right',
  resourceRef: controllerResourceRef,
  paramsSchema: z.object({
    claims: claimsSchema,
    right: z.enum(CONTROLLER_RIGHTS).describe('The right the grant must carry'),
  }),
  apply: (resource, { claims, right }) =>
    resource.grants.some(
      g => claims.includes(g.principal) && g.rights.includes(right),
    ),
  toQuery:
    ({ claims, right }) =>
    qb => {
      qb.whereExists(function grantExists(this: Knex.QueryBuilder) {
        this.select(this.client.raw('1'))
          .from('spider_shares')
          .whereRaw('spider_shares.controller_id = spider_controllers.id')
          .whereIn('spider_shares.principal', claims)
          .where('spider_shares.rights', 'like', `%,${right},%`);
      });
    },
});

export const controllerPermissionRules = {
  isControllerOwner,
  hasControllerGrant,
};

export const {
  conditions: spiderControllerConditions,
  createConditionalDecision: createSpiderControllerConditionalDecision,
} = createConditionExports({
  resourceRef: controllerResourceRef,
  rules: controllerPermissionRules,
});
