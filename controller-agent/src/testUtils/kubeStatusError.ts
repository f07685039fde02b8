import { KubeApiError } from '../kube/KubeHttp';

/**
 * The error a fake API server throws: a KubeApiError (an Error carrying the HTTP status and
 * the Status body), as KubeHttp throws for a non-2xx answer.
 */
export function kubeStatusError(
  status: number,
  body: { message: string; [key: string]: unknown },
): KubeApiError {
  return new KubeApiError(status, body, `${status} ${body.message}`);
}
