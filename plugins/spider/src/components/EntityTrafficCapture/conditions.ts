import type { Entity } from '@backstage/catalog-model';

export const KUBERNETES_ID_ANNOTATION = 'backstage.io/kubernetes-id';
export const KUBERNETES_LABEL_SELECTOR_ANNOTATION =
  'backstage.io/kubernetes-label-selector';
export const KUBERNETES_NAMESPACE_ANNOTATION =
  'backstage.io/kubernetes-namespace';

/**
 * Whether Spider can find the entity's workloads: a Component with the Kubernetes
 * annotations Backstage's Kubernetes plugin uses (`kubernetes-id` or
 * `kubernetes-label-selector`; `kubernetes-namespace` narrows them down).
 *
 * @public
 */
export function isSpiderAvailable(entity: Entity): boolean {
  if (entity.kind.toLowerCase() !== 'component') return false;
  const a = entity.metadata.annotations ?? {};
  return Boolean(
    a[KUBERNETES_ID_ANNOTATION] || a[KUBERNETES_LABEL_SELECTOR_ANNOTATION],
  );
}
