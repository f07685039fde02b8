import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';

/**
 * The one spelling of an entity reference (lower case, as the catalog and the ownership
 * refs of a user spell it), so that what is stored compares equal to what is asked.
 */
export function normalizeEntityRef(ref: string): string {
  return stringifyEntityRef(parseEntityRef(ref));
}
