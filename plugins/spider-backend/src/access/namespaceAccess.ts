import {
  ControllerRight,
  Grant,
  NamespaceScope,
  namespaceInScope,
} from '@spider/backstage-plugin-spider-common';

/**
 * The namespaces a caller may act in on one Controller: `include` '*' means all, minus
 * `exclude`. An empty include list means none.
 */
export interface NamespaceAccess {
  include: '*' | string[];
  exclude: string[];
}

export const NO_NAMESPACES: NamespaceAccess = { include: [], exclude: [] };
export const ALL_NAMESPACES: NamespaceAccess = { include: '*', exclude: [] };

/**
 * Union of the grants that match the caller's ownership refs and carry `right`
 * (an owner: all), intersected with the agent's install scope. Pure: no I/O.
 *
 * Fail closed: a policy that answers a plain ALLOW (or the permission framework turned
 * off, which answers ALLOW to everything) gives the right, never namespaces; only
 * ownership and grants do.
 */
export function resolveNamespaceAccess(input: {
  isOwner: boolean;
  claims: string[];
  grants: Grant[];
  right: ControllerRight;
  installScope: NamespaceScope | null;
}): NamespaceAccess {
  let granted: NamespaceAccess;
  if (input.isOwner) {
    granted = ALL_NAMESPACES;
  } else {
    const claims = new Set(input.claims);
    const matching = input.grants.filter(
      g => claims.has(g.principal) && g.rights.includes(input.right),
    );
    if (matching.some(g => g.namespaces === '*')) granted = ALL_NAMESPACES;
    else {
      const set = new Set<string>();
      for (const g of matching)
        for (const ns of g.namespaces as string[]) set.add(ns);
      granted = { include: [...set].sort(), exclude: [] };
    }
  }
  return intersectWithScope(granted, input.installScope);
}

export function intersectWithScope(
  access: NamespaceAccess,
  scope: NamespaceScope | null,
): NamespaceAccess {
  if (!scope) return access;
  const exclude = [...new Set([...access.exclude, ...scope.exclude])].sort();
  let include: '*' | string[];
  if (access.include === '*')
    include = scope.include === '*' ? '*' : [...scope.include];
  else if (scope.include === '*') include = access.include;
  else {
    const allowed = new Set(scope.include);
    include = access.include.filter(ns => allowed.has(ns));
  }
  if (include !== '*') {
    const ex = new Set(exclude);
    return { include: include.filter(ns => !ex.has(ns)).sort(), exclude: [] };
  }
  return { include, exclude };
}

/** Whether `namespace` is one the caller may act in (the scope rule from spider-common). */
export function namespaceAllowed(
  access: NamespaceAccess,
  namespace: string,
): boolean {
  return namespaceInScope(access, namespace);
}

export function hasAnyNamespace(access: NamespaceAccess): boolean {
  return access.include === '*' || access.include.length > 0;
}
