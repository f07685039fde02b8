import {
  BackstageCredentials,
  PermissionsRegistryService,
  PermissionsService,
  UserInfoService,
} from '@backstage/backend-plugin-api';
import { NotAllowedError, NotFoundError } from '@backstage/errors';
import {
  AuthorizeResult,
  PolicyDecision,
} from '@backstage/plugin-permission-common';
import {
  ConditionTransformer,
  createConditionAuthorizer,
  createConditionTransformer,
} from '@backstage/plugin-permission-node';
import {
  CONTROLLER_RIGHTS,
  ControllerRight,
  controllerRightPermissions,
  Grant,
} from '@spider/backstage-plugin-spider-common';
import { ControllerRecord, ControllersStore } from '../store/ControllersStore';
import { SharesStore } from '../store/SharesStore';
import {
  ControllerQuery,
  ControllerResource,
  controllerResourceRef,
} from './rules';
import {
  NamespaceAccess,
  NO_NAMESPACES,
  resolveNamespaceAccess,
} from './namespaceAccess';

/** What one caller may do on one Controller, and where. */
export interface ControllerGrantView {
  controller: ControllerRecord;
  rights: ControllerRight[];
  /** Namespaces per right ('read' to see attachments, 'use' to list workloads and attach). */
  namespaces(right: 'read' | 'use'): NamespaceAccess;
  /** The caller owns the Controller (its owner ref is among their claims). */
  isOwner: boolean;
  /** The grants that apply to the caller: what they hold, and so all they may pass on. */
  held: Grant[];
}

/**
 * Answers "may this caller do X on Controller C, and in which namespaces" through the
 * permission framework (policy decides; our rules evaluate) plus the grants' namespaces.
 */
export class ControllerAccess {
  private readonly authorizeCondition: (
    d: PolicyDecision,
    r: ControllerResource | undefined,
  ) => boolean;
  private readonly transform: ConditionTransformer<ControllerQuery>;

  constructor(
    private readonly deps: {
      permissions: PermissionsService;
      permissionsRegistry: PermissionsRegistryService;
      userInfo: UserInfoService;
      controllers: ControllersStore;
      shares: SharesStore;
    },
  ) {
    const ruleset = deps.permissionsRegistry.getPermissionRuleset(
      controllerResourceRef,
    );
    this.authorizeCondition = createConditionAuthorizer(ruleset);
    this.transform = createConditionTransformer(ruleset);
  }

  async claims(credentials: BackstageCredentials): Promise<string[]> {
    const info = await this.deps.userInfo.getUserInfo(credentials);
    return info.ownershipEntityRefs;
  }

  /** Policy decisions for every Controller right, in one call. */
  private async decisions(
    credentials: BackstageCredentials,
  ): Promise<Record<ControllerRight, PolicyDecision>> {
    const answers = await this.deps.permissions.authorizeConditional(
      CONTROLLER_RIGHTS.map(r => ({
        permission: controllerRightPermissions[r],
      })),
      { credentials },
    );
    const out = {} as Record<ControllerRight, PolicyDecision>;
    CONTROLLER_RIGHTS.forEach((r, i) => {
      out[r] = answers[i] as PolicyDecision;
    });
    return out;
  }

  /** Controllers the caller may read, filtered in SQL. */
  async listReadable(
    credentials: BackstageCredentials,
  ): Promise<ControllerGrantView[]> {
    const decisions = await this.decisions(credentials);
    const read = decisions.read;
    if (read.result === AuthorizeResult.DENY) return [];
    const filter =
      read.result === AuthorizeResult.CONDITIONAL
        ? this.toSqlFilter(read)
        : undefined;
    const records = await this.deps.controllers.list(filter);
    return this.views(credentials, records, decisions);
  }

  /**
   * The caller's view of one Controller, or 404 when they may not even read it (so its
   * existence does not leak), or 403 when they may read it but lack `right`.
   */
  async require(
    credentials: BackstageCredentials,
    controllerId: string,
    right: ControllerRight,
  ): Promise<ControllerGrantView> {
    // The row, the policy's decisions and the caller's claims do not depend on each
    // other: one round trip's wait instead of three (this is on every attach's path).
    const [record, decisions, claims] = await Promise.all([
      this.deps.controllers.get(controllerId),
      this.decisions(credentials),
      this.claims(credentials),
    ]);
    if (!record)
      throw new NotFoundError(`No Controller with id ${controllerId}`);
    const [view] = await this.views(credentials, [record], decisions, claims);
    if (!view.rights.includes('read')) {
      throw new NotFoundError(`No Controller with id ${controllerId}`);
    }
    if (!view.rights.includes(right)) {
      throw new NotAllowedError(
        `You may not ${describeRight(right)} Controller "${
          record.name
        }"; ask its owner to share it with you with the "${right}" right`,
      );
    }
    return view;
  }

  /** Views for records already loaded, with rights and namespace access. */
  async views(
    credentials: BackstageCredentials,
    records: ControllerRecord[],
    known?: Record<ControllerRight, PolicyDecision>,
    knownClaims?: string[],
  ): Promise<ControllerGrantView[]> {
    if (records.length === 0) return [];
    const decisions = known ?? (await this.decisions(credentials));
    const claims = knownClaims ?? (await this.claims(credentials));
    const grantsById = await this.deps.shares.listForClaims(
      records.map(r => r.id),
      claims,
    );
    return records.map(controller => {
      const grants = grantsById.get(controller.id) ?? [];
      const resource: ControllerResource = {
        ...controller,
        grants: grants.map(g => ({ principal: g.principal, rights: g.rights })),
      };
      const rights = CONTROLLER_RIGHTS.filter(r =>
        this.authorizeCondition(decisions[r], resource),
      );
      const isOwner = claims.includes(controller.owner);
      return {
        controller,
        rights,
        isOwner,
        held: grants,
        namespaces: (right: 'read' | 'use') =>
          rights.includes(right)
            ? resolveNamespaceAccess({
                isOwner,
                claims,
                grants,
                right,
                installScope: controller.scope,
              })
            : NO_NAMESPACES,
      };
    });
  }

  private toSqlFilter(decision: PolicyDecision): ControllerQuery {
    if (decision.result !== AuthorizeResult.CONDITIONAL) return () => {};
    const criteria = this.transform(decision.conditions);
    return qb => applyCriteria(qb, criteria);
  }
}

type Criteria =
  | ControllerQuery
  | { allOf: Criteria[] }
  | { anyOf: Criteria[] }
  | { not: Criteria };

function applyCriteria(qb: any, criteria: any): void {
  if (typeof criteria === 'function') {
    criteria(qb);
  } else if ('allOf' in criteria) {
    qb.where((inner: any) => {
      for (const c of (criteria as { allOf: Criteria[] }).allOf) {
        inner.andWhere((q: any) => applyCriteria(q, c));
      }
    });
  } else if ('anyOf' in criteria) {
    qb.where((inner: any) => {
      for (const c of (criteria as { anyOf: Criteria[] }).anyOf) {
        inner.orWhere((q: any) => applyCriteria(q, c));
      }
    });
  } else if ('not' in criteria) {
    qb.whereNot((q: any) =>
      applyCriteria(q, (criteria as { not: Criteria }).not),
    );
  }
}

function describeRight(right: ControllerRight): string {
  switch (right) {
    case 'use':
      return 'attach whisperers through';
    case 'install':
      return 'see the install instructions or rotate the token of';
    default:
      return right;
  }
}
