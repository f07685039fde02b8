import type { EphemeralPodApi } from '../reconcile/Injector';
import { ephemeralContainerPatch } from '../reconcile/whispererContainer';
import { KubeHttp } from './KubeHttp';

/**
 * Strategic merge patch: ephemeralContainers merge by name, so the patch only adds.
 * (@kubernetes/client-node's PatchStrategy.StrategicMergePatch; its default for patch
 * calls is JSON Patch, which cannot do this.)
 */
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';

/** EphemeralPodApi over the Kubernetes API. */
export class EphemeralPods implements EphemeralPodApi {
  constructor(private readonly http: KubeHttp) {}

  async patchEphemeral(
    namespace: string,
    name: string,
    podUid: string,
    container: Record<string, unknown>,
  ) {
    await this.http.json(
      'PATCH',
      `/api/v1/namespaces/${encodeURIComponent(
        namespace,
      )}/pods/${encodeURIComponent(name)}/ephemeralcontainers`,
      {
        body: ephemeralContainerPatch(container, podUid),
        contentType: STRATEGIC_MERGE_PATCH,
        query: { fieldManager: 'spider-agent' },
      },
    );
  }
}
