import { parseEntityRef } from '@backstage/catalog-model';
import { Link } from '@backstage/core-components';
import { useRouteRef } from '@backstage/core-plugin-api';
import { entityRouteRef } from '@backstage/plugin-catalog-react';

type EntityRoute = (params: {
  kind: string;
  namespace: string;
  name: string;
}) => string;

function useEntityRoute(): EntityRoute | undefined {
  try {
    return useRouteRef(entityRouteRef) as EntityRoute | undefined;
  } catch {
    // No catalog in this app: entity names render as text.
    return undefined;
  }
}

/** The short name of an entity ref (`component:default/x` → `x`). */
export function entityName(entityRef: string): string {
  try {
    const r = parseEntityRef(entityRef);
    return r.namespace === 'default' ? r.name : `${r.namespace}/${r.name}`;
  } catch {
    return entityRef;
  }
}

/**
 * A link to a catalog entity's page, built from the ref alone: no catalog request per
 * link, so it is cheap in long lists.
 */
export function EntityLink(props: { entityRef: string; tabIndex?: number }) {
  const route = useEntityRoute();
  const name = entityName(props.entityRef);
  let to: string | undefined;
  try {
    const r = parseEntityRef(props.entityRef);
    to = route?.({
      kind: r.kind.toLocaleLowerCase('en-US'),
      namespace: r.namespace.toLocaleLowerCase('en-US'),
      name: r.name,
    });
  } catch {
    to = undefined;
  }
  if (!to) return <span title={props.entityRef}>{name}</span>;
  return (
    <Link to={to} title={props.entityRef} tabIndex={props.tabIndex}>
      {name}
    </Link>
  );
}
