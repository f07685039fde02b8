import type { DiscoveryApi, FetchApi } from '@backstage/core-plugin-api';
import { ResponseError } from '@backstage/errors';
import type {
  Attachment,
  Controller,
  ControllerStatus,
  ControllerWithToken,
  CreateAttachmentRequest,
  CreateControllerRequest,
  CreateWhispererRequest,
  EntityWorkload,
  Grant,
  ListResponse,
  StoredExchange,
  TrafficListResponse,
  TrafficMapResponse,
  UpdateControllerRequest,
  UpdateWhispererRequest,
  Whisperer,
  Workload,
} from '@spider/backstage-plugin-spider-common';
import type {
  AttachmentQuery,
  InstallInstructions,
  InstallQuery,
  NamespaceList,
  SpiderApi,
  TrafficFilterQuery,
  TrafficMapQuery,
  TrafficPageQuery,
  WorkloadQuery,
} from './SpiderApi';

type QueryValue = string | number | string[] | undefined;

function queryString(query: Record<string, QueryValue> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === '') continue;
    if (Array.isArray(value)) value.forEach(v => params.append(key, v));
    else params.set(key, String(value));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

/** The fetch implementation of {@link SpiderApi} against `/api/spider`. @public */
export class SpiderClient implements SpiderApi {
  private readonly discoveryApi: DiscoveryApi;
  private readonly fetchApi: FetchApi;

  constructor(options: { discoveryApi: DiscoveryApi; fetchApi: FetchApi }) {
    this.discoveryApi = options.discoveryApi;
    this.fetchApi = options.fetchApi;
  }

  private async send(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Response> {
    const base = await this.discoveryApi.getBaseUrl('spider');
    const response = await this.fetchApi.fetch(`${base}${path}`, {
      method,
      headers:
        body === undefined ? undefined : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) {
      throw await ResponseError.fromResponse(response);
    }
    return response;
  }

  private async request<T>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<T> {
    const response = await this.send(method, path, body);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private id(id: string) {
    return encodeURIComponent(id);
  }

  listControllers() {
    return this.request<ListResponse<Controller>>('GET', '/controllers');
  }
  getController(id: string) {
    return this.request<Controller>('GET', `/controllers/${this.id(id)}`);
  }
  createController(req: CreateControllerRequest) {
    return this.request<ControllerWithToken>('POST', '/controllers', req);
  }
  updateController(id: string, req: UpdateControllerRequest) {
    return this.request<Controller>(
      'PATCH',
      `/controllers/${this.id(id)}`,
      req,
    );
  }
  deleteController(id: string) {
    return this.request<void>('DELETE', `/controllers/${this.id(id)}`);
  }
  rotateToken(id: string) {
    return this.request<ControllerWithToken>(
      'POST',
      `/controllers/${this.id(id)}/token`,
    );
  }
  getControllerStatus(id: string) {
    return this.request<ControllerStatus>(
      'GET',
      `/controllers/${this.id(id)}/status`,
    );
  }
  getInstall(id: string, query: InstallQuery) {
    return this.request<InstallInstructions>(
      'GET',
      `/controllers/${this.id(id)}/install${queryString({
        format: query.format,
        namespace: query.namespace,
        include: query.include?.length ? query.include.join(',') : undefined,
        exclude: query.exclude?.length ? query.exclude.join(',') : undefined,
      })}`,
    );
  }
  listWorkloads(id: string, query: WorkloadQuery = {}) {
    return this.request<{ items: Workload[]; truncated: boolean }>(
      'GET',
      `/controllers/${this.id(id)}/workloads${queryString({ ...query })}`,
    );
  }
  listNamespaces(id: string) {
    return this.request<NamespaceList>(
      'GET',
      `/controllers/${this.id(id)}/namespaces`,
    );
  }
  getShares(id: string) {
    return this.request<{ items: Grant[] }>(
      'GET',
      `/controllers/${this.id(id)}/shares`,
    );
  }
  putShares(id: string, items: Grant[]) {
    return this.request<{ items: Grant[] }>(
      'PUT',
      `/controllers/${this.id(id)}/shares`,
      { items },
    );
  }

  listWhisperers() {
    return this.request<ListResponse<Whisperer>>('GET', '/whisperers');
  }
  getWhisperer(id: string) {
    return this.request<Whisperer>('GET', `/whisperers/${this.id(id)}`);
  }
  createWhisperer(req: CreateWhispererRequest) {
    return this.request<Whisperer>('POST', '/whisperers', req);
  }
  updateWhisperer(id: string, req: UpdateWhispererRequest) {
    return this.request<Whisperer>('PATCH', `/whisperers/${this.id(id)}`, req);
  }
  deleteWhisperer(id: string) {
    return this.request<void>('DELETE', `/whisperers/${this.id(id)}`);
  }

  listAttachments(query: AttachmentQuery = {}) {
    const { status, ...rest } = query;
    return this.request<ListResponse<Attachment>>(
      'GET',
      `/attachments${queryString({
        ...rest,
        status: Array.isArray(status) ? status : status,
      })}`,
    );
  }
  getAttachment(id: string) {
    return this.request<Attachment>('GET', `/attachments/${this.id(id)}`);
  }
  createAttachment(req: CreateAttachmentRequest) {
    return this.request<Attachment>('POST', '/attachments', req);
  }
  detach(id: string) {
    return this.request<Attachment>('DELETE', `/attachments/${this.id(id)}`);
  }

  listEntityWorkloads(entityRef: string) {
    return this.request<{ items: EntityWorkload[] }>(
      'GET',
      `/entity-workloads${queryString({ entityRef })}`,
    );
  }

  listTraffic(attachmentId: string, query: TrafficPageQuery = {}) {
    return this.request<TrafficListResponse>(
      'GET',
      `/attachments/${this.id(attachmentId)}/traffic${queryString({
        ...query,
      })}`,
    );
  }
  listEntityTraffic(entityRef: string, query: TrafficPageQuery = {}) {
    return this.request<TrafficListResponse>(
      'GET',
      `/entity-traffic${queryString({ entityRef, ...query })}`,
    );
  }
  getExchange(exchangeId: string) {
    return this.request<StoredExchange>(
      'GET',
      `/traffic/${this.id(exchangeId)}`,
    );
  }
  async downloadTrafficHar(
    attachmentId: string,
    query: TrafficFilterQuery & { limit?: number } = {},
  ) {
    // Through fetchApi, so the user's credentials go with it; the page saves the blob.
    const response = await this.send(
      'GET',
      `/attachments/${this.id(attachmentId)}/traffic.har${queryString({
        ...query,
      })}`,
    );
    return response.blob();
  }
  getTrafficMap(attachmentId: string, query: TrafficMapQuery = {}) {
    return this.request<TrafficMapResponse>(
      'GET',
      `/attachments/${this.id(attachmentId)}/map${queryString({ ...query })}`,
    );
  }
}
