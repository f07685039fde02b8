import { createApiRef } from '@backstage/frontend-plugin-api';
import type {
  Attachment,
  AttachmentStatus,
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
  WorkloadKind,
} from '@spider/backstage-plugin-spider-common';

/** Query of `GET /attachments`. @public */
export interface AttachmentQuery {
  controllerId?: string;
  whispererId?: string;
  status?: AttachmentStatus | AttachmentStatus[];
  entityRef?: string;
  namespace?: string;
  limit?: number;
  cursor?: string;
}

/**
 * Filters of the traffic views (`GET /attachments/:id/traffic`, `/entity-traffic`, the
 * HAR export). Times are ISO strings; `status` is a code, a class (`5xx`) or `error`.
 * @public
 */
export interface TrafficFilterQuery {
  instance?: string;
  method?: string;
  status?: string;
  q?: string;
  peer?: string;
  direction?: 'inbound' | 'outbound';
  since?: string;
  until?: string;
}

/** A page of a traffic listing. @public */
export interface TrafficPageQuery extends TrafficFilterQuery {
  limit?: number;
  cursor?: string;
  /**
   * The live tail: exchanges stored after this exchange id, oldest stored first (a full
   * page means more follow: ask again with the last item's id); not with `cursor`.
   */
  after?: string;
}

/** Query of `GET /attachments/:id/map`. @public */
export interface TrafficMapQuery {
  since?: string;
  until?: string;
  instance?: string;
}

/** Query of `GET /controllers/:id/workloads`. @public */
export interface WorkloadQuery {
  namespace?: string;
  kind?: WorkloadKind;
  q?: string;
  limit?: number;
}

/** Query of `GET /controllers/:id/install`. @public */
export interface InstallQuery {
  format: 'command' | 'values' | 'manifest';
  namespace?: string;
  include?: string[];
  exclude?: string[];
}

/** @public */
export interface InstallInstructions {
  format: 'command' | 'values' | 'manifest';
  content: string;
  fileName: string;
  /** The Controls URL the instructions give the agent. */
  controlsUrl: string;
}

/** @public */
export interface NamespaceList {
  items: string[];
  /** True when the caller may target every namespace of the Controller. */
  all: boolean;
}

/**
 * The Controls service as the frontend sees it. Components only talk to this
 * interface; tests give them a fake implementation.
 *
 * @public
 */
export interface SpiderApi {
  listControllers(): Promise<ListResponse<Controller>>;
  getController(id: string): Promise<Controller>;
  createController(req: CreateControllerRequest): Promise<ControllerWithToken>;
  updateController(
    id: string,
    req: UpdateControllerRequest,
  ): Promise<Controller>;
  deleteController(id: string): Promise<void>;
  rotateToken(id: string): Promise<ControllerWithToken>;
  getControllerStatus(id: string): Promise<ControllerStatus>;
  getInstall(id: string, query: InstallQuery): Promise<InstallInstructions>;
  listWorkloads(
    id: string,
    query?: WorkloadQuery,
  ): Promise<{ items: Workload[]; truncated: boolean }>;
  listNamespaces(id: string): Promise<NamespaceList>;
  getShares(id: string): Promise<{ items: Grant[] }>;
  putShares(id: string, items: Grant[]): Promise<{ items: Grant[] }>;

  listWhisperers(): Promise<ListResponse<Whisperer>>;
  getWhisperer(id: string): Promise<Whisperer>;
  createWhisperer(req: CreateWhispererRequest): Promise<Whisperer>;
  updateWhisperer(id: string, req: UpdateWhispererRequest): Promise<Whisperer>;
  deleteWhisperer(id: string): Promise<void>;

  listAttachments(query?: AttachmentQuery): Promise<ListResponse<Attachment>>;
  getAttachment(id: string): Promise<Attachment>;
  createAttachment(req: CreateAttachmentRequest): Promise<Attachment>;
  detach(id: string): Promise<Attachment>;

  listEntityWorkloads(entityRef: string): Promise<{ items: EntityWorkload[] }>;

  /** An attachment's exchanges, newest first, without bodies. */
  listTraffic(
    attachmentId: string,
    query?: TrafficPageQuery,
  ): Promise<TrafficListResponse>;
  /** The exchanges of every attachment of the entity the caller may read. */
  listEntityTraffic(
    entityRef: string,
    query?: TrafficPageQuery,
  ): Promise<TrafficListResponse>;
  /** One exchange with its bodies. */
  getExchange(exchangeId: string): Promise<StoredExchange>;
  /** The HAR 1.2 file of an attachment's exchanges matching the filter. */
  downloadTrafficHar(
    attachmentId: string,
    query?: TrafficFilterQuery & { limit?: number },
  ): Promise<Blob>;
  /** Who the attachment's workload talks to. */
  getTrafficMap(
    attachmentId: string,
    query?: TrafficMapQuery,
  ): Promise<TrafficMapResponse>;
}

/** @public */
export const spiderApiRef = createApiRef<SpiderApi>().with({
  id: 'plugin.spider.api',
  pluginId: 'spider',
});
