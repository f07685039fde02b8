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

import { SpiderApiClient } from './generated/SpiderApiClient';

/**
 * The fetch implementation of {@link SpiderApi} against `/api/spider`, over the client
 * generated from the Controls service's OpenAPI spec (methods, paths and parameters come
 * from there; the shapes from spider-common). @public
 */
export class SpiderClient implements SpiderApi {
  private readonly api: SpiderApiClient;

  constructor(options: { discoveryApi: DiscoveryApi; fetchApi: FetchApi }) {
    this.api = new SpiderApiClient(options);
  }

  /** The response of one generated call, or the Backstage error it carries. */
  private async send(call: Promise<Response>): Promise<Response> {
    const response = await call;
    if (!response.ok) {
      throw await ResponseError.fromResponse(response);
    }
    return response;
  }

  private async request<T>(call: Promise<Response>): Promise<T> {
    const response = await this.send(call);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  listControllers() {
    return this.request<ListResponse<Controller>>(this.api.listControllers());
  }
  getController(id: string) {
    return this.request<Controller>(this.api.getController({ path: { id } }));
  }
  createController(req: CreateControllerRequest) {
    return this.request<ControllerWithToken>(
      this.api.createController({ body: req }),
    );
  }
  updateController(id: string, req: UpdateControllerRequest) {
    return this.request<Controller>(
      this.api.updateController({ path: { id }, body: req }),
    );
  }
  deleteController(id: string) {
    return this.request<void>(this.api.deleteController({ path: { id } }));
  }
  rotateToken(id: string) {
    return this.request<ControllerWithToken>(
      this.api.rotateControllerToken({ path: { id } }),
    );
  }
  getControllerStatus(id: string) {
    return this.request<ControllerStatus>(
      this.api.getControllerStatus({ path: { id } }),
    );
  }
  getInstall(id: string, query: InstallQuery) {
    return this.request<InstallInstructions>(
      this.api.getControllerInstall({
        path: { id },
        query: {
          format: query.format,
          namespace: query.namespace,
          include: query.include?.length ? query.include.join(',') : undefined,
          exclude: query.exclude?.length ? query.exclude.join(',') : undefined,
        },
      }),
    );
  }
  listWorkloads(id: string, query: WorkloadQuery = {}) {
    return this.request<{ items: Workload[]; truncated: boolean }>(
      this.api.listControllerWorkloads({ path: { id }, query: { ...query } }),
    );
  }
  listNamespaces(id: string) {
    return this.request<NamespaceList>(
      this.api.listControllerNamespaces({ path: { id } }),
    );
  }
  getShares(id: string) {
    return this.request<{ items: Grant[] }>(
      this.api.listControllerShares({ path: { id } }),
    );
  }
  putShares(id: string, items: Grant[]) {
    return this.request<{ items: Grant[] }>(
      this.api.replaceControllerShares({ path: { id }, body: { items } }),
    );
  }

  listWhisperers() {
    return this.request<ListResponse<Whisperer>>(this.api.listWhisperers());
  }
  getWhisperer(id: string) {
    return this.request<Whisperer>(this.api.getWhisperer({ path: { id } }));
  }
  createWhisperer(req: CreateWhispererRequest) {
    return this.request<Whisperer>(this.api.createWhisperer({ body: req }));
  }
  updateWhisperer(id: string, req: UpdateWhispererRequest) {
    return this.request<Whisperer>(
      this.api.updateWhisperer({ path: { id }, body: req }),
    );
  }
  deleteWhisperer(id: string) {
    return this.request<void>(this.api.deleteWhisperer({ path: { id } }));
  }

  listAttachments(query: AttachmentQuery = {}) {
    // Repeated status parameters last, as before.
    const { status, ...rest } = query;
    return this.request<ListResponse<Attachment>>(
      this.api.listAttachments({ query: { ...rest, status } }),
    );
  }
  getAttachment(id: string) {
    return this.request<Attachment>(this.api.getAttachment({ path: { id } }));
  }
  createAttachment(req: CreateAttachmentRequest) {
    return this.request<Attachment>(this.api.createAttachment({ body: req }));
  }
  detach(id: string) {
    return this.request<Attachment>(
      this.api.detachAttachment({ path: { id } }),
    );
  }

  listEntityWorkloads(entityRef: string) {
    return this.request<{ items: EntityWorkload[] }>(
      this.api.listEntityWorkloads({ query: { entityRef } }),
    );
  }

  listTraffic(attachmentId: string, query: TrafficPageQuery = {}) {
    return this.request<TrafficListResponse>(
      this.api.listAttachmentTraffic({
        path: { id: attachmentId },
        query: { ...query },
      }),
    );
  }
  listEntityTraffic(entityRef: string, query: TrafficPageQuery = {}) {
    return this.request<TrafficListResponse>(
      this.api.listEntityTraffic({ query: { entityRef, ...query } }),
    );
  }
  getExchange(exchangeId: string) {
    return this.request<StoredExchange>(
      this.api.getExchange({ path: { exchangeId } }),
    );
  }
  async downloadTrafficHar(
    attachmentId: string,
    query: TrafficFilterQuery & { limit?: number } = {},
  ) {
    // Through fetchApi, so the user's credentials go with it; the page saves the blob.
    const response = await this.send(
      this.api.exportAttachmentTraffic({
        path: { id: attachmentId },
        query: { ...query },
      }),
    );
    return response.blob();
  }
  getTrafficMap(attachmentId: string, query: TrafficMapQuery = {}) {
    return this.request<TrafficMapResponse>(
      this.api.getAttachmentTrafficMap({
        path: { id: attachmentId },
        query: { ...query },
      }),
    );
  }
}
