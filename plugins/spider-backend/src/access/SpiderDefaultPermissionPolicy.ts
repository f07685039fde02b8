import {
  AuthorizeResult,
  isResourcePermission,
  PolicyDecision,
} from '@backstage/plugin-permission-common';
import {
  PermissionPolicy,
  PolicyQuery,
  PolicyQueryUser,
} from '@backstage/plugin-permission-node';
import {
  controllerRightPermissions,
  ControllerRight,
  SPIDER_CONTROLLER_RESOURCE_TYPE,
  spiderWhispererManagePermission,
} from '@spider/backstage-plugin-spider-common';
import {
  createSpiderControllerConditionalDecision,
  spiderControllerConditions,
} from './rules';

const rightByPermission = new Map<string, ControllerRight>(
  Object.entries(controllerRightPermissions).map(([right, p]) => [
    p.name,
    right as ControllerRight,
  ]),
);

/**
 * The default policy: every signed-in user may create Controllers and Whisperers; on a
 * Controller, its owner may do everything and others only what a grant gives them.
 * Everything else (other plugins) is allowed, as in Backstage's allow-all default.
 * Portals with their own policy call {@link spiderPolicyDecision} from it.
 */
export class SpiderDefaultPermissionPolicy implements PermissionPolicy {
  async handle(
    request: PolicyQuery,
    user?: PolicyQueryUser,
  ): Promise<PolicyDecision> {
    return (
      spiderPolicyDecision(request, user) ?? { result: AuthorizeResult.ALLOW }
    );
  }
}

/** Spider's decision for a Spider permission, or undefined for any other permission. */
export function spiderPolicyDecision(
  request: PolicyQuery,
  user?: PolicyQueryUser,
): PolicyDecision | undefined {
  const { permission } = request;
  if (!permission.name.startsWith('spider.')) return undefined;
  if (!user) return { result: AuthorizeResult.DENY };
  if (permission.name === spiderWhispererManagePermission.name) {
    return { result: AuthorizeResult.DENY };
  }
  if (isResourcePermission(permission, SPIDER_CONTROLLER_RESOURCE_TYPE)) {
    const right = rightByPermission.get(permission.name);
    const claims = user.info.ownershipEntityRefs;
    if (!right) return { result: AuthorizeResult.DENY };
    return createSpiderControllerConditionalDecision(permission, {
      anyOf: [
        spiderControllerConditions.isControllerOwner({ claims }),
        spiderControllerConditions.hasControllerGrant({ claims, right }),
      ],
    });
  }
  return { result: AuthorizeResult.ALLOW };
}
