import type { EphemeralPodApi } from '../reconcile/Injector';
import { ephemeralContainerPatch } from '../reconcile/whispererContainer';
import { KubeApiError, KubeHttp } from './KubeHttp';

/**
 * Strategic merge patch: ephemeralContainers merge by name, so the patch only adds.
 * (@kubernetes/client-node's PatchStrategy.StrategicMergePatch; its default for patch
 * calls is JSON Patch, which cannot do this.)
 */
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';

/** EphemeralPodApi over the Kubernetes API. */
export class EphemeralPods implements EphemeralPodApi {
  constructor(private readonly http: KubeHttp) {}

  async readEphemeral(namespace: string, name: string) {
    try {
      const pod = await this.http.json('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`);
      return {
        uid: String(pod.metadata?.uid ?? ''),
        names: (pod.spec?.ephemeralContainers ?? []).map((c: any) => String(c.name)),
      };
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) return null;
      throw e;
    }
  }

  async patchEphemeral(namespace: string, name: string, container: Record<string, unknown>) {
    await this.http.json(
      'PATCH',
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/ephemeralcontainers`,
      { body: ephemeralContainerPatch(container), contentType: STRATEGIC_MERGE_PATCH, query: { fieldManager: 'spider-agent' } },
    );
  }
}
