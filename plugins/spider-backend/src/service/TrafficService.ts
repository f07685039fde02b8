import { readFileSync } from 'node:fs';
import {
  BackstageCredentials,
  LoggerService,
  resolvePackagePath,
} from '@backstage/backend-plugin-api';
import { InputError, NotFoundError } from '@backstage/errors';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { CATALOG_FILTER_EXISTS } from '@backstage/catalog-client';
import { Entity, stringifyEntityRef } from '@backstage/catalog-model';
import {
  Attachment,
  EntityTrafficQuery,
  HarQuery,
  StoredExchange,
  TRAFFIC_REST_LIMITS,
  TrafficListResponse,
  TrafficMapQuery,
  TrafficMapResponse,
  TrafficQuery,
  Workload,
} from '@spider/backstage-plugin-spider-common';
import { TrafficFilter, TrafficStore } from '../store/TrafficStore';
import { AttachmentScope, AttachmentsStore } from '../store/AttachmentsStore';
import { InventoryStore } from '../store/InventoryStore';
import { ControllerAccess } from '../access/ControllerAccess';
import { hasAnyNamespace } from '../access/namespaceAccess';
import {
  KUBERNETES_ID_ANNOTATION,
  KUBERNETES_LABEL_SELECTOR_ANNOTATION,
  matchEntityWorkloads,
} from '../catalog/matchEntityWorkloads';
import {
  buildTrafficMap,
  CatalogEntityAnnotations,
  entityRefFor,
  peerNamespaces,
  resolvedWorkloads,
} from '../traffic/buildTrafficMap';
import { harDocument, harFileName } from '../traffic/har';

/**
 * The attachment-read path of `GET /attachments/:id`: the attachment, or 404 when the
 * caller may not read its Controller or its namespace. Traffic access is exactly that.
 */
export type ReadableAttachment = (
  credentials: BackstageCredentials,
  id: string,
) => Promise<{ attachment: Attachment }>;

export interface TrafficServiceOptions {
  traffic: TrafficStore;
  attachments: AttachmentsStore;
  inventory: InventoryStore;
  access: ControllerAccess;
  catalog?: CatalogService;
  logger: LoggerService;
  readableAttachment: ReadableAttachment;
}

/** Default HAR size when `limit` is not given (TRAFFIC_REST_LIMITS.maxHarEntries at most). */
export const DEFAULT_HAR_ENTRIES = 10_000;
/** Default map window, back from its end. */
const DEFAULT_MAP_WINDOW_MS = 60 * 60 * 1000;
/** Attachments one entity-traffic listing spans at most (newest first). */
const MAX_ENTITY_ATTACHMENTS = 1000;

type TrafficFilterQuery = Omit<TrafficQuery, 'limit' | 'cursor' | 'after'>;

function parseWindow(query: { since?: string; until?: string }): {
  since?: Date;
  until?: Date;
} {
  const since = query.since ? new Date(query.since) : undefined;
  const until = query.until ? new Date(query.until) : undefined;
  if (since && until && since > until) {
    throw new InputError('Invalid query: since must not be after until');
  }
  return { since, until };
}

/** `after` tails forward by itself; a cursor pages back in time: one or the other. */
function checkPaging(query: { cursor?: string; after?: string }) {
  if (query.cursor !== undefined && query.after !== undefined)
    throw new InputError(
      'Invalid query: after and cursor do not go together (after pages by itself: pass the last item id)',
    );
}

function toFilter(
  attachmentIds: string[],
  query: TrafficFilterQuery,
): TrafficFilter {
  return {
    attachmentIds,
    instance: query.instance,
    method: query.method?.toUpperCase(),
    status: query.status,
    q: query.q,
    peer: query.peer,
    direction: query.direction,
    ...parseWindow(query),
  };
}

let creatorVersion: string | undefined;
function spiderVersion(): string {
  if (creatorVersion === undefined) {
    try {
      const pkg = resolvePackagePath(
        '@spider/backstage-plugin-spider-backend',
        'package.json',
      );
      creatorVersion = String(
        JSON.parse(readFileSync(pkg, 'utf8')).version ?? '0.0.0',
      );
    } catch {
      creatorVersion = '0.0.0';
    }
  }
  return creatorVersion;
}

/**
 * Reads captured traffic for a caller: every method first proves the caller may read the
 * attachment(s) (the attachment-read path, nothing else), then asks the store.
 */
export class TrafficService {
  constructor(private readonly deps: TrafficServiceOptions) {}

  /** `GET /attachments/:id/traffic`. */
  async list(
    credentials: BackstageCredentials,
    attachmentId: string,
    query: TrafficQuery,
  ): Promise<TrafficListResponse> {
    const { attachment } = await this.deps.readableAttachment(
      credentials,
      attachmentId,
    );
    return this.page([attachment.id], query);
  }

  /** `GET /traffic/:exchangeId`: 404 alike for an unknown exchange and one the caller may not read. */
  async get(
    credentials: BackstageCredentials,
    exchangeId: string,
  ): Promise<StoredExchange> {
    const notFound = () =>
      new NotFoundError(`No exchange with id ${exchangeId}`);
    const exchange = await this.deps.traffic.get(exchangeId);
    if (!exchange) throw notFound();
    try {
      await this.deps.readableAttachment(credentials, exchange.attachmentId);
    } catch (e) {
      if ((e as Error)?.name === 'NotFoundError') throw notFound();
      throw e;
    }
    return exchange;
  }

  /**
   * `GET /attachments/:id/traffic.har`: the file name and the document as chunks, read from
   * the store page by page while the caller writes them.
   */
  async har(
    credentials: BackstageCredentials,
    attachmentId: string,
    query: HarQuery,
    now = new Date(),
  ): Promise<{ fileName: string; chunks: AsyncGenerator<string> }> {
    const { attachment } = await this.deps.readableAttachment(
      credentials,
      attachmentId,
    );
    const { limit: requested, ...filters } = query;
    const limit = Math.min(
      requested ?? DEFAULT_HAR_ENTRIES,
      TRAFFIC_REST_LIMITS.maxHarEntries,
    );
    const filter = toFilter([attachment.id], filters);
    const t = attachment.target;
    // One more than the limit: if it comes, the file says that more matched.
    const exchanges = this.deps.traffic.stream(filter, limit + 1);
    return {
      fileName: harFileName(t, now),
      chunks: harDocument(exchanges, {
        creator: { name: 'Spider for Backstage', version: spiderVersion() },
        description: `Traffic of ${t.kind} ${t.namespace}/${
          t.name
        } (attachment ${attachment.id}) exported ${now.toISOString()}`,
        limit,
      }),
    };
  }

  /** `GET /attachments/:id/map`. */
  async map(
    credentials: BackstageCredentials,
    attachmentId: string,
    query: TrafficMapQuery,
    now = new Date(),
  ): Promise<TrafficMapResponse> {
    const { attachment } = await this.deps.readableAttachment(
      credentials,
      attachmentId,
    );
    const window = parseWindow(query);
    // By default the last hour the attachment ran: up to now, or up to its detach.
    const until =
      window.until ??
      (attachment.detachedAt ? new Date(attachment.detachedAt) : now);
    const since =
      window.since ??
      new Date(
        Math.max(
          Date.parse(attachment.createdAt),
          until.getTime() - DEFAULT_MAP_WINDOW_MS,
        ),
      );
    if (since > until)
      throw new InputError('Invalid query: since must not be after until');

    const aggregates = await this.deps.traffic.peers({
      attachmentIds: [attachment.id],
      instance: query.instance,
      since,
      until,
    });
    const namespaces = new Set([
      ...peerNamespaces(aggregates),
      attachment.target.namespace,
    ]);
    const inventory: Workload[] = [];
    for (const ns of namespaces) {
      inventory.push(
        ...(await this.deps.inventory.listAcross(
          [attachment.controllerId],
          ns,
        )),
      );
    }
    const t = attachment.target;
    const target =
      inventory.find(
        w =>
          w.namespace === t.namespace && w.kind === t.kind && w.name === t.name,
      ) ?? null;
    const candidates = resolvedWorkloads(aggregates, inventory);
    if (target) candidates.push(target);
    const entities = await this.entitiesSelecting(credentials, candidates);
    return {
      workload: attachment.target,
      entityRef: entityRefFor(target, entities),
      since: since.toISOString(),
      until: until.toISOString(),
      peers: buildTrafficMap({ aggregates, inventory, entities, since, until }),
    };
  }

  /** `GET /entity-traffic`: the listing across the entity's attachments the caller may read. */
  async entityTraffic(
    credentials: BackstageCredentials,
    query: EntityTrafficQuery,
  ): Promise<TrafficListResponse> {
    const { entityRef, ...rest } = query;
    const catalog = this.deps.catalog;
    if (!catalog) throw new NotFoundError('The catalog is not available');
    const entity = await catalog.getEntityByRef(entityRef, { credentials });
    if (!entity)
      throw new NotFoundError(`No entity ${entityRef} in the catalog`);
    const ids = await this.entityAttachmentIds(credentials, entity, entityRef);
    // Validate the window and cursor even when nothing matches, so bad input is 400 alike.
    checkPaging(rest);
    const filter = toFilter(ids, rest);
    if (ids.length === 0) {
      return { items: [], coverage: await this.deps.traffic.coverage([]) };
    }
    return this.page(filter.attachmentIds, rest);
  }

  private async page(
    attachmentIds: string[],
    query: TrafficQuery,
  ): Promise<TrafficListResponse> {
    checkPaging(query);
    const { limit, cursor, after, ...filters } = query;
    const filter = toFilter(attachmentIds, filters);
    const [page, coverage] = await Promise.all([
      this.deps.traffic.list(filter, {
        limit: limit ?? TRAFFIC_REST_LIMITS.defaultPageSize,
        cursor,
        after,
      }),
      this.deps.traffic.coverage(attachmentIds),
    ]);
    const response: TrafficListResponse = { items: page.items, coverage };
    if (page.nextCursor) response.nextCursor = page.nextCursor;
    return response;
  }

  /**
   * Attachments of the entity that the caller may read: those made for it (their entityRef)
   * and those on its workloads (its kubernetes annotations over the inventory). Both go
   * through the attachment listing's own scope filter, as `GET /attachments` does.
   */
  private async entityAttachmentIds(
    credentials: BackstageCredentials,
    entity: Entity,
    entityRef: string,
  ): Promise<string[]> {
    const views = await this.deps.access.listReadable(credentials);
    const scopes: AttachmentScope[] = views
      .map(v => ({
        controllerId: v.controller.id,
        access: v.namespaces('read'),
      }))
      .filter(s => hasAnyNamespace(s.access));
    if (scopes.length === 0) return [];
    const ids = new Set<string>();
    for (const a of await this.allAttachments({ scopes, entityRef }))
      ids.add(a.id);

    const workloads = matchEntityWorkloads(
      entity.metadata.annotations,
      await this.deps.inventory.listAcross(scopes.map(s => s.controllerId)),
    );
    const wanted = new Set(
      workloads.map(
        w => `${w.controllerId}/${w.namespace}/${w.kind}/${w.name}`,
      ),
    );
    for (const ns of new Set(workloads.map(w => w.namespace))) {
      for (const a of await this.allAttachments({ scopes, namespace: ns })) {
        if (
          wanted.has(
            `${a.controllerId}/${a.target.namespace}/${a.target.kind}/${a.target.name}`,
          )
        )
          ids.add(a.id);
      }
    }
    return [...ids].slice(0, MAX_ENTITY_ATTACHMENTS);
  }

  private async allAttachments(filter: {
    scopes: AttachmentScope[];
    entityRef?: string;
    namespace?: string;
  }): Promise<Attachment[]> {
    const out: Attachment[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.deps.attachments.list({
        ...filter,
        limit: 500,
        cursor,
      });
      out.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor && out.length < MAX_ENTITY_ATTACHMENTS);
    return out;
  }

  /**
   * Catalog entities whose kubernetes annotations may select one of `workloads`, as the
   * caller sees the catalog: those with a kubernetes-id one of them carries, and those with
   * a label selector (matched afterwards, exactly). A failing catalog leaves entities out
   * rather than failing the map.
   */
  private async entitiesSelecting(
    credentials: BackstageCredentials,
    workloads: Workload[],
  ): Promise<CatalogEntityAnnotations[]> {
    const catalog = this.deps.catalog;
    if (!catalog || workloads.length === 0) return [];
    const ids = [
      ...new Set(
        workloads
          .map(w => w.labels[KUBERNETES_ID_ANNOTATION])
          .filter((v): v is string => Boolean(v)),
      ),
    ];
    const filter: Array<Record<string, string | symbol | string[]>> = [
      {
        [`metadata.annotations.${KUBERNETES_LABEL_SELECTOR_ANNOTATION}`]:
          CATALOG_FILTER_EXISTS,
      },
    ];
    if (ids.length)
      filter.push({
        [`metadata.annotations.${KUBERNETES_ID_ANNOTATION}`]: ids,
      });
    try {
      const { items } = await catalog.getEntities(
        {
          filter,
          fields: [
            'kind',
            'metadata.namespace',
            'metadata.name',
            'metadata.annotations',
          ],
        },
        { credentials },
      );
      return items.map(e => ({
        entityRef: stringifyEntityRef(e),
        annotations: e.metadata.annotations,
      }));
    } catch (e) {
      this.deps.logger.warn(
        `Traffic map: could not look up catalog entities: ${e}`,
      );
      return [];
    }
  }
}
