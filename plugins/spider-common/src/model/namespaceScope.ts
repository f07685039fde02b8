import { NamespaceScope } from './resources';

/**
 * True when `namespace` is inside `scope`: in its include list (or include is '*') and not
 * excluded. The one rule for an agent install's scope and a caller's namespace grants.
 */
export function namespaceInScope(
  scope: Readonly<NamespaceScope>,
  namespace: string,
): boolean {
  if (scope.exclude.includes(namespace)) return false;
  return scope.include === '*' || scope.include.includes(namespace);
}
