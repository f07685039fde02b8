import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { EphemeralPodApi } from '../reconcile/Injector';
import { KubeApiError, KubeHttp } from './KubeHttp';
import { ephemeralContainerPatch } from '../reconcile/whispererContainer';

/**
 * EphemeralPodApi over the Kubernetes API. The PATCH goes through client-node with an
 * explicit strategic-merge content type: its default would be JSON Patch, which cannot
 * add to ephemeralContainers by name.
 */
export class EphemeralPods implements EphemeralPodApi {
  private readonly core: CoreV1Api;
  private readonly patchOptions = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

  constructor(kc: KubeConfig, private readonly http: KubeHttp) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async readEphemeral(namespace: string, name: string) {
    try {
      const pod = await this.http.json('GET', `/api/v1/namespaces/${namespace}/pods/${name}`);
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
    try {
      await this.core.patchNamespacedPodEphemeralcontainers(
        { name, namespace, body: ephemeralContainerPatch(container), fieldManager: 'spider-agent' },
        this.patchOptions,
      );
    } catch (e) {
      if (e instanceof ApiException) {
        throw new KubeApiError(e.code, e.body, `PATCH pods/${name}/ephemeralcontainers: ${e.code}`);
      }
      throw new KubeApiError(undefined, undefined, (e as Error).message);
    }
  }
}
