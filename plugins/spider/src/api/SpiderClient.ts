import type { DiscoveryApi, FetchApi } from '@backstage/core-plugin-api';
import { ResponseError } from '@backstage/errors';
import type {
  CreateAttachmentRequest,
  CreateControllerRequest,
  CreateWhispererRequest,
  Grant,
  UpdateControllerRequest,
  UpdateWhispererRequest,
} from '@spider/backstage-plugin-spider-common';
import type {
  AttachmentQuery,
  InstallQuery,
  SpiderApi,
  TrafficFilterQuery,
  TrafficMapQuery,
  TrafficPageQuery,
  WorkloadQuery,
} from './SpiderApi';

import {
  SpiderApiClient,
  SpiderRequests,
  TypedResponse,
} from './generated/SpiderApiClient';

/**
 * The query as the spec has it for operation K: a key the spec does not name is a type
 * error here (a spread alone would let it through), so SpiderApi's query types cannot
 * ask for what the service does not take.
 */
function specQuery<K extends keyof SpiderRequests>() {
  type Query = NonNullable<
    SpiderRequests[K] extends { query?: infer Q } ? Q : never
  >;
  return <T extends Query>(
    query: T & Record<Exclude<keyof T, keyof Query>, never>,
  ): Query => query;
}

/**
 * The fetch implementation of {@link SpiderApi} against `/api/spider`, delegating to the
 * client generated from the Controls service's OpenAPI spec: methods, paths, parameters,
 * bodies and answers are typed by the spec, so what SpiderApi promises (spider-common's
 * types) must agree with it or this file does not compile. @public
 */
export class SpiderClient implements SpiderApi {
  private readonly api: SpiderApiClient;

  constructor(options: { discoveryApi: DiscoveryApi; fetchApi: FetchApi }) {
    this.api = new SpiderApiClient(options);
  }

  /** The response of one generated call, or the Backstage error it carries. */
  private async send<T>(
    call: Promise<TypedResponse<T>>,
  ): Promise<TypedResponse<T>> {
    const response = await call;
    if (!response.ok) {
      throw await ResponseError.fromResponse(response as Response);
    }
    return response;
  }

  /** The answer's body as the spec types it; none (204) is undefined. */
  private async request<T>(call: Promise<TypedResponse<T>>): Promise<T> {
    const response = await this.send(call);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  listControllers() {
    return this.request(this.api.listControllers());
  }
  getController(id: string) {
    return this.request(this.api.getController({ path: { id } }));
  }
  createController(req: CreateControllerRequest) {
    return this.request(this.api.createController({ body: req }));
  }
  updateController(id: string, req: UpdateControllerRequest) {
    return this.request(this.api.updateController({ path: { id }, body: req }));
  }
  deleteController(id: string) {
    return this.request(this.api.deleteController({ path: { id } }));
  }
  rotateToken(id: string) {
    return this.request(this.api.rotateControllerToken({ path: { id } }));
  }
  getControllerStatus(id: string) {
    return this.request(this.api.getControllerStatus({ path: { id } }));
  }
  getInstall(id: string, query: InstallQuery) {
    return this.request(
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
    return this.request(
      this.api.listControllerWorkloads({
        path: { id },
        query: specQuery<'listControllerWorkloads'>()(query),
      }),
    );
  }
  listNamespaces(id: string) {
    return this.request(this.api.listControllerNamespaces({ path: { id } }));
  }
  getShares(id: string) {
    return this.request(this.api.listControllerShares({ path: { id } }));
  }
  putShares(id: string, items: Grant[]) {
    return this.request(
      this.api.replaceControllerShares({ path: { id }, body: { items } }),
    );
  }

  listWhisperers() {
    return this.request(this.api.listWhisperers());
  }
  getWhisperer(id: string) {
    return this.request(this.api.getWhisperer({ path: { id } }));
  }
  createWhisperer(req: CreateWhispererRequest) {
    return this.request(this.api.createWhisperer({ body: req }));
  }
  updateWhisperer(id: string, req: UpdateWhispererRequest) {
    return this.request(this.api.updateWhisperer({ path: { id }, body: req }));
  }
  deleteWhisperer(id: string) {
    return this.request(this.api.deleteWhisperer({ path: { id } }));
  }

  listAttachments(query: AttachmentQuery = {}) {
    // Repeated status parameters last, as before.
    const { status, ...rest } = query;
    return this.request(
      this.api.listAttachments({
        query: specQuery<'listAttachments'>()({ ...rest, status }),
      }),
    );
  }
  getAttachment(id: string) {
    return this.request(this.api.getAttachment({ path: { id } }));
  }
  createAttachment(req: CreateAttachmentRequest) {
    return this.request(this.api.createAttachment({ body: req }));
  }
  detach(id: string) {
    return this.request(this.api.detachAttachment({ path: { id } }));
  }

  listEntityWorkloads(entityRef: string) {
    return this.request(this.api.listEntityWorkloads({ query: { entityRef } }));
  }

  listTraffic(attachmentId: string, query: TrafficPageQuery = {}) {
    return this.request(
      this.api.listAttachmentTraffic({
        path: { id: attachmentId },
        query: specQuery<'listAttachmentTraffic'>()(query),
      }),
    );
  }
  listEntityTraffic(entityRef: string, query: TrafficPageQuery = {}) {
    return this.request(
      this.api.listEntityTraffic({
        query: specQuery<'listEntityTraffic'>()({ entityRef, ...query }),
      }),
    );
  }
  getExchange(exchangeId: string) {
    return this.request(this.api.getExchange({ path: { exchangeId } }));
  }
  async downloadTrafficHar(
    attachmentId: string,
    query: TrafficFilterQuery & { limit?: number } = {},
  ) {
    // Through fetchApi, so the user's credentials go with it; the page saves the blob.
    const response = await this.send(
      this.api.exportAttachmentTraffic({
        path: { id: attachmentId },
        query: specQuery<'exportAttachmentTraffic'>()(query),
      }),
    );
    return response.blob();
  }
  getTrafficMap(attachmentId: string, query: TrafficMapQuery = {}) {
    return this.request(
      this.api.getAttachmentTrafficMap({
        path: { id: attachmentId },
        query: specQuery<'getAttachmentTrafficMap'>()(query),
      }),
    );
  }
}
