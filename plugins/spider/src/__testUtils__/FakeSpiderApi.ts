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
  TrafficCoverage,
  TrafficListResponse,
  TrafficMapResponse,
  UpdateControllerRequest,
  UpdateWhispererRequest,
  Whisperer,
  Workload,
} from '@spider/backstage-plugin-spider-common';
import { parseDuration } from '@spider/backstage-plugin-spider-common';
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
} from '../api/SpiderApi';

/** A real ResponseError, as SpiderClient would throw it, for a status and message. */
export async function httpError(
  status: number,
  message: string,
  name = 'Error',
) {
  const body = JSON.stringify({
    error: { name, message },
    response: { statusCode: status },
  });
  return ResponseError.fromResponse({
    ok: false,
    status,
    statusText:
      {
        403: 'Forbidden',
        404: 'Not Found',
        409: 'Conflict',
        503: 'Service Unavailable',
        504: 'Gateway Timeout',
      }[status] ?? 'Error',
    url: 'http://localhost/api/spider',
    headers: new Map([['content-type', 'application/json']]) as any,
    text: async () => body,
  } as any);
}

let seq = 0;
export function uuid(n?: number) {
  const x = (n ?? ++seq).toString(16).padStart(12, '0');
  return `00000000-0000-4000-8000-${x}`;
}

const nowIso = () => new Date().toISOString();

export function makeController(p: Partial<Controller> = {}): Controller {
  return {
    id: uuid(),
    name: 'prod-eu-1',
    description: '',
    owner: 'user:default/guest',
    createdAt: '2026-11-01T10:00:00.000Z',
    updatedAt: '2026-11-01T10:00:00.000Z',
    connected: true,
    lastSeenAt: nowIso(),
    agentVersion: '0.1.0',
    clusterVersion: 'v1.34.1',
    scope: { include: '*', exclude: [] },
    activeAttachments: 0,
    rights: ['read', 'use', 'update', 'delete', 'share', 'install'],
    ...p,
  };
}

export function makeWhisperer(p: Partial<Whisperer> = {}): Whisperer {
  return {
    id: uuid(),
    name: 'http-capture',
    description: '',
    image: null,
    captureFilter: 'tcp port 80',
    timeToLive: 'PT2M',
    env: {},
    owner: 'user:default/guest',
    createdAt: '2026-11-01T10:00:00.000Z',
    updatedAt: '2026-11-01T10:00:00.000Z',
    ...p,
  };
}

export function makeWorkload(p: Partial<Workload> = {}): Workload {
  return {
    namespace: 'payments',
    kind: 'Deployment',
    name: 'payments',
    labels: {},
    replicas: 2,
    pods: 2,
    ...p,
  };
}

export function makeAttachment(p: Partial<Attachment> = {}): Attachment {
  return {
    id: uuid(),
    controllerId: uuid(9999),
    whispererId: uuid(9998),
    whispererName: 'http-capture',
    target: { namespace: 'payments', kind: 'Deployment', name: 'payments' },
    createdBy: 'user:default/guest',
    createdAt: nowIso(),
    expiresAt: new Date(Date.now() + 120_000).toISOString(),
    status: 'active',
    message: null,
    detachedAt: null,
    detachedBy: null,
    detachReason: null,
    instances: [
      {
        pod: 'payments-7c9d-abcde',
        container: 'spider-x',
        node: 'node-1',
        podIp: '10.0.0.12',
        state: 'running',
        reason: 'Running',
        message: null,
        startedAt: nowIso(),
        finishedAt: null,
        exitCode: null,
        generation: 0,
      },
    ],
    ...p,
  };
}

export function makeCoverage(
  p: Partial<TrafficCoverage['totals']> = {},
): TrafficCoverage {
  const totals = {
    packets: 1000,
    kernelDrops: 0,
    exchanges: 100,
    sampled: 0,
    dropped: 0,
    parseErrors: 0,
    relayDropped: 0,
    expired: 0,
    ...p,
  };
  const complete =
    totals.kernelDrops +
      totals.sampled +
      totals.dropped +
      totals.relayDropped +
      totals.expired ===
    0;
  return { instances: [], totals, complete };
}

let exchangeSeq = 0;
/** A stored exchange as the REST API answers it (bodies null as in lists unless given). */
export function makeExchange(
  p: Partial<StoredExchange> & { at?: number } = {},
): StoredExchange {
  const n = ++exchangeSeq;
  const { at, ...rest } = p;
  return {
    id: `ex-${n}`,
    attachmentId: uuid(1),
    controllerId: uuid(9999),
    container: 'spider-x',
    pod: 'payments-7c9d-abcde',
    namespace: 'payments',
    protocol: 'http/1.1',
    direction: 'inbound',
    startedAt: new Date(
      at ?? Date.parse('2026-12-01T10:00:00.000Z') + n,
    ).toISOString(),
    storedAt: new Date(
      at ?? Date.parse('2026-12-01T10:00:01.000Z') + n,
    ).toISOString(),
    durationMs: 12.5,
    client: {
      ip: '10.0.0.7',
      port: 40000 + (n % 20000),
      name: 'checkout-5d8f-xyz.checkout.pod',
    },
    server: { ip: '10.0.0.12', port: 8080, name: null },
    request: {
      method: 'GET',
      path: `/api/orders/${n}`,
      authority: 'payments:8080',
      headers: [
        ['accept', 'application/json'],
        ['authorization', '[redacted]'],
      ],
      bodySize: 0,
      body: null,
    },
    response: {
      status: 200,
      headers: [['content-type', 'application/json']],
      trailers: [],
      bodySize: 42,
      body: null,
    },
    grpc: null,
    error: null,
    target: { namespace: 'payments', kind: 'Deployment', name: 'payments' },
    ...rest,
  };
}

/** The filters the REST API applies, enough for the fake to answer like it. */
function matches(e: StoredExchange, q: TrafficFilterQuery): boolean {
  if (q.instance) {
    const [pod, container] = q.instance.split('/');
    if (e.pod !== pod || (container && e.container !== container)) return false;
  }
  if (q.method && e.request.method.toUpperCase() !== q.method.toUpperCase())
    return false;
  if (q.status) {
    const status = e.response?.status;
    if (q.status === 'error') {
      if (status !== undefined && status < 400 && !e.error) return false;
    } else if (/xx$/.test(q.status)) {
      if (!status || String(status)[0] !== q.status[0]) return false;
    } else if (String(status) !== q.status) return false;
  }
  const peer = e.direction === 'inbound' ? e.client : e.server;
  if (q.peer && peer.ip !== q.peer && peer.name !== q.peer) return false;
  if (q.q) {
    const hay = `${e.request.path} ${e.request.authority} ${
      e.client.name ?? ''
    } ${e.server.name ?? ''} ${e.client.ip} ${e.server.ip}`.toLowerCase();
    if (!hay.includes(q.q.toLowerCase())) return false;
  }
  if (q.direction && e.direction !== q.direction) return false;
  if (q.since && e.startedAt < new Date(q.since).toISOString()) return false;
  if (q.until && e.startedAt >= new Date(q.until).toISOString()) return false;
  return true;
}

type Method = keyof SpiderApi;

/**
 * An in-memory SpiderApi: the client boundary, faked. Tests seed it, make any
 * method fail with `failWith`, and read `calls`.
 */
export class FakeSpiderApi implements SpiderApi {
  controllers: Controller[] = [];
  whisperers: Whisperer[] = [];
  attachments: Attachment[] = [];
  workloads = new Map<string, Workload[]>();
  namespaces = new Map<string, NamespaceList>();
  shares = new Map<string, Grant[]>();
  statuses = new Map<string, ControllerStatus>();
  entityWorkloads: EntityWorkload[] = [];
  workloadsTruncated = false;
  controlsUrl = 'https://portal.example.com/api/spider';
  /**
   * Stored exchanges in the order they were stored (`after` follows it; other answers
   * are newest first, without bodies).
   */
  exchanges: StoredExchange[] = [];
  coverage: TrafficCoverage = makeCoverage();
  maps = new Map<string, TrafficMapResponse>();
  /** Attachment ids of each entity ref, for `listEntityTraffic`. */
  entityAttachments = new Map<string, string[]>();
  calls: Array<{ method: Method; args: unknown[] }> = [];
  private failures = new Map<Method, () => Promise<Error>>();
  private delays = new Map<Method, Promise<void>>();

  constructor(
    seed: Partial<
      Pick<
        FakeSpiderApi,
        | 'controllers'
        | 'whisperers'
        | 'attachments'
        | 'entityWorkloads'
        | 'exchanges'
      >
    > = {},
  ) {
    Object.assign(this, seed);
  }

  failWith(method: Method, status: number, message = 'failed') {
    this.failures.set(method, () => httpError(status, message));
    return this;
  }
  clearFailure(method: Method) {
    this.failures.delete(method);
  }
  /** Hold a method until the returned function is called. */
  hold(method: Method) {
    let release!: () => void;
    this.delays.set(method, new Promise<void>(r => (release = r)));
    return () => {
      this.delays.delete(method);
      release();
    };
  }
  callsOf(method: Method) {
    return this.calls.filter(c => c.method === method).map(c => c.args);
  }

  private async enter(method: Method, args: unknown[]) {
    this.calls.push({ method, args });
    const delay = this.delays.get(method);
    if (delay) await delay;
    const fail = this.failures.get(method);
    if (fail) throw await fail();
  }
  private controller(id: string) {
    const c = this.controllers.find(x => x.id === id);
    if (!c) throw new Error('not found');
    return c;
  }

  async listControllers(): Promise<ListResponse<Controller>> {
    await this.enter('listControllers', []);
    return { items: [...this.controllers] };
  }
  async getController(id: string) {
    await this.enter('getController', [id]);
    const c = this.controllers.find(x => x.id === id);
    if (!c)
      throw await httpError(404, `Controller ${id} not found`, 'NotFoundError');
    return c;
  }
  async createController(
    req: CreateControllerRequest,
  ): Promise<ControllerWithToken> {
    await this.enter('createController', [req]);
    const c = makeController({
      name: req.name,
      description: req.description ?? '',
      connected: false,
      lastSeenAt: null,
      agentVersion: null,
    });
    this.controllers.push(c);
    return { ...c, token: 'spdr_secret_token_1234567890' };
  }
  async updateController(id: string, req: UpdateControllerRequest) {
    await this.enter('updateController', [id, req]);
    const c = this.controller(id);
    Object.assign(c, req);
    return c;
  }
  async deleteController(id: string) {
    await this.enter('deleteController', [id]);
    this.controllers = this.controllers.filter(c => c.id !== id);
  }
  async rotateToken(id: string): Promise<ControllerWithToken> {
    await this.enter('rotateToken', [id]);
    return { ...this.controller(id), token: 'spdr_rotated_token_abcdef' };
  }
  async getControllerStatus(id: string): Promise<ControllerStatus> {
    await this.enter('getControllerStatus', [id]);
    return (
      this.statuses.get(id) ?? {
        controllerId: id,
        connected: false,
        lastSeenAt: null,
        status: null,
      }
    );
  }
  async getInstall(
    id: string,
    query: InstallQuery,
  ): Promise<InstallInstructions> {
    await this.enter('getInstall', [id, query]);
    const ns = query.namespace ?? 'spider-system';
    if (query.format === 'command')
      return {
        format: 'command',
        content: `helm upgrade --install spider-agent spider/agent -n ${ns} --set token=$SPIDER_TOKEN`,
        fileName: 'install.sh',
        controlsUrl: this.controlsUrl,
      };
    if (query.format === 'values')
      return {
        format: 'values',
        content: `controller:\n  id: ${id}\nnamespace: ${ns}\n`,
        fileName: 'values.yaml',
        controlsUrl: this.controlsUrl,
      };
    return {
      format: 'manifest',
      content: 'apiVersion: v1\nkind: Namespace\n',
      fileName: 'spider-agent.yaml',
      controlsUrl: this.controlsUrl,
    };
  }
  async listWorkloads(id: string, query: WorkloadQuery = {}) {
    await this.enter('listWorkloads', [id, query]);
    let items = this.workloads.get(id) ?? [];
    if (query.namespace)
      items = items.filter(w => w.namespace === query.namespace);
    if (query.q) items = items.filter(w => w.name.includes(query.q!));
    return { items, truncated: this.workloadsTruncated };
  }
  async listNamespaces(id: string) {
    await this.enter('listNamespaces', [id]);
    return (
      this.namespaces.get(id) ?? { items: ['payments', 'checkout'], all: true }
    );
  }
  async getShares(id: string) {
    await this.enter('getShares', [id]);
    return { items: this.shares.get(id) ?? [] };
  }
  async putShares(id: string, items: Grant[]) {
    await this.enter('putShares', [id, items]);
    this.shares.set(id, items);
    return { items };
  }
  async listWhisperers() {
    await this.enter('listWhisperers', []);
    return { items: [...this.whisperers] };
  }
  async getWhisperer(id: string) {
    await this.enter('getWhisperer', [id]);
    const w = this.whisperers.find(x => x.id === id);
    if (!w) throw await httpError(404, 'not found', 'NotFoundError');
    return w;
  }
  async createWhisperer(req: CreateWhispererRequest) {
    await this.enter('createWhisperer', [req]);
    const w = makeWhisperer({
      ...req,
      description: req.description ?? '',
      image: req.image ?? null,
      captureFilter: req.captureFilter ?? '',
      timeToLive: req.timeToLive ?? null,
      env: req.env ?? {},
    });
    this.whisperers.push(w);
    return w;
  }
  async updateWhisperer(id: string, req: UpdateWhispererRequest) {
    await this.enter('updateWhisperer', [id, req]);
    const w = this.whisperers.find(x => x.id === id)!;
    Object.assign(w, req);
    return w;
  }
  async deleteWhisperer(id: string) {
    await this.enter('deleteWhisperer', [id]);
    this.whisperers = this.whisperers.filter(w => w.id !== id);
  }
  async listAttachments(query: AttachmentQuery = {}) {
    await this.enter('listAttachments', [query]);
    const statuses =
      query.status === undefined
        ? undefined
        : ([] as string[]).concat(query.status);
    const all = this.attachments.filter(
      a =>
        (!query.controllerId || a.controllerId === query.controllerId) &&
        (!query.whispererId || a.whispererId === query.whispererId) &&
        (!query.namespace || a.target.namespace === query.namespace) &&
        (!statuses || statuses.includes(a.status)),
    );
    const start = query.cursor ? Number(query.cursor) : 0;
    const limit = query.limit ?? 100;
    const items = all.slice(start, start + limit);
    return {
      items,
      totalCount: all.length,
      ...(start + limit < all.length
        ? { nextCursor: String(start + limit) }
        : {}),
    };
  }
  async getAttachment(id: string) {
    await this.enter('getAttachment', [id]);
    const a = this.attachments.find(x => x.id === id);
    if (!a) throw await httpError(404, 'not found', 'NotFoundError');
    return a;
  }
  async createAttachment(req: CreateAttachmentRequest) {
    await this.enter('createAttachment', [req]);
    const w = this.whisperers.find(x => x.id === req.whispererId);
    const ttl = w?.timeToLive ? parseDuration(w.timeToLive) : undefined;
    const a = makeAttachment({
      controllerId: req.controllerId,
      whispererId: req.whispererId,
      whispererName: w?.name ?? 'whisperer',
      target: req.target,
      status: 'pending',
      instances: [],
      expiresAt: ttl ? new Date(Date.now() + ttl).toISOString() : null,
    });
    this.attachments.push(a);
    return a;
  }
  async detach(id: string) {
    await this.enter('detach', [id]);
    const a = this.attachments.find(x => x.id === id)!;
    a.status = 'detaching';
    return { ...a };
  }
  async listEntityWorkloads(entityRef: string) {
    await this.enter('listEntityWorkloads', [entityRef]);
    return { items: this.entityWorkloads };
  }

  private trafficPage(
    ids: string[],
    query: TrafficPageQuery,
  ): TrafficListResponse {
    const strip = (e: StoredExchange) => ({
      ...e,
      request: { ...e.request, body: null },
      response: e.response ? { ...e.response, body: null } : null,
    });
    if (query.after !== undefined) {
      // The live tail: stored after that exchange (`exchanges` is in stored order),
      // oldest stored first, no cursor; as the API, not with `cursor`.
      if (query.cursor) throw new Error('after and cursor together');
      const from = this.exchanges.findIndex(e => e.id === query.after);
      if (from < 0) throw new Error(`after: no exchange ${query.after}`);
      return {
        items: this.exchanges
          .slice(from + 1)
          .filter(e => ids.includes(e.attachmentId) && matches(e, query))
          .slice(0, query.limit ?? 100)
          .map(strip),
        coverage: this.coverage,
      };
    }
    const all = this.exchanges
      .filter(e => ids.includes(e.attachmentId) && matches(e, query))
      .sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1));
    const start = query.cursor ? Number(query.cursor) : 0;
    const limit = query.limit ?? 100;
    const items = all.slice(start, start + limit).map(strip);
    return {
      items,
      coverage: this.coverage,
      ...(start + limit < all.length
        ? { nextCursor: String(start + limit) }
        : {}),
    };
  }
  async listTraffic(attachmentId: string, query: TrafficPageQuery = {}) {
    await this.enter('listTraffic', [attachmentId, query]);
    return this.trafficPage([attachmentId], query);
  }
  async listEntityTraffic(entityRef: string, query: TrafficPageQuery = {}) {
    await this.enter('listEntityTraffic', [entityRef, query]);
    const ids =
      this.entityAttachments.get(entityRef) ?? this.attachments.map(a => a.id);
    return this.trafficPage(ids, query);
  }
  async getExchange(exchangeId: string) {
    await this.enter('getExchange', [exchangeId]);
    const e = this.exchanges.find(x => x.id === exchangeId);
    if (!e)
      throw await httpError(
        404,
        `Exchange ${exchangeId} not found`,
        'NotFoundError',
      );
    return e;
  }
  async downloadTrafficHar(
    attachmentId: string,
    query: TrafficFilterQuery & { limit?: number } = {},
  ) {
    await this.enter('downloadTrafficHar', [attachmentId, query]);
    const entries = this.exchanges.filter(
      e => e.attachmentId === attachmentId && matches(e, query),
    );
    return new Blob(
      [
        JSON.stringify({
          log: {
            version: '1.2',
            entries: entries.map(e => ({ startedDateTime: e.startedAt })),
          },
        }),
      ],
      {
        type: 'application/json',
      },
    );
  }
  async getTrafficMap(attachmentId: string, query: TrafficMapQuery = {}) {
    await this.enter('getTrafficMap', [attachmentId, query]);
    const m = this.maps.get(attachmentId);
    if (m) return m;
    const a = this.attachments.find(x => x.id === attachmentId);
    return {
      workload: a?.target ?? {
        namespace: 'payments',
        kind: 'Deployment' as const,
        name: 'payments',
      },
      entityRef: null,
      since: query.since ?? new Date(Date.now() - 3600_000).toISOString(),
      until: query.until ?? new Date().toISOString(),
      peers: [],
    };
  }
}
