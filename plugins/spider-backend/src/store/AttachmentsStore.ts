import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import { ConflictError, InputError, NotFoundError } from '@backstage/errors';
import {
  Attachment,
  AttachmentStatus,
  DesiredAttachment,
  InstancesMessage,
  Whisperer,
  WhispererInstance,
  WorkloadKind,
  WorkloadRef,
} from '@spider/backstage-plugin-spider-common';
import { iso, isoOrNull, msOrNull } from './time';
import type { NamespaceAccess } from '../access/namespaceAccess';

/** The columns a DesiredAttachment is made of. */
const DESIRED_COLUMNS = [
  'id',
  'whisperer_json',
  'target_namespace',
  'target_kind',
  'target_name',
  'expires_at',
];

/** Statuses in which the agent keeps whisperers in pods ('failed' may recover). */
export const DESIRED_STATUSES: AttachmentStatus[] = [
  'pending',
  'active',
  'failed',
];

/** Which attachments a caller may see on one Controller. */
export interface AttachmentScope {
  controllerId: string;
  access: NamespaceAccess;
}

export interface AttachmentFilter {
  scopes: AttachmentScope[];
  whispererId?: string;
  statuses?: AttachmentStatus[];
  entityRef?: string;
  namespace?: string;
  limit: number;
  cursor?: string;
}

type WhispererSnapshot = Pick<
  Whisperer,
  'id' | 'name' | 'image' | 'captureFilter' | 'env'
>;

function encodeCursor(createdAt: number, id: string) {
  return Buffer.from(`${createdAt}:${id}`).toString('base64url');
}
function decodeCursor(cursor: string): { createdAt: number; id: string } {
  const m = /^(\d{1,16}):([0-9a-f-]{36})$/.exec(
    Buffer.from(cursor, 'base64url').toString('utf8'),
  );
  if (!m) throw new InputError('cursor is not one this API returned');
  return { createdAt: Number(m[1]), id: m[2] };
}

function toInstance(row: any): WhispererInstance {
  return {
    pod: row.pod,
    container: row.container,
    node: row.node ?? null,
    podIp: row.pod_ip ?? null,
    state: row.state,
    reason: row.reason ?? null,
    message: row.message ?? null,
    startedAt: row.started_at ?? null,
    finishedAt: row.finished_at ?? null,
    exitCode: row.exit_code ?? null,
    generation: Number(row.generation ?? 0),
  };
}

function toAttachment(row: any, instances: WhispererInstance[]): Attachment {
  return {
    id: row.id,
    controllerId: row.controller_id,
    whispererId: row.whisperer_id,
    whispererName: row.whisperer_name,
    target: {
      namespace: row.target_namespace,
      kind: row.target_kind as WorkloadKind,
      name: row.target_name,
    },
    createdBy: row.created_by,
    createdAt: iso(row.created_at),
    expiresAt: isoOrNull(row.expires_at),
    status: row.status,
    message: row.message ?? null,
    detachedAt: isoOrNull(row.detached_at),
    detachedBy: row.detached_by ?? null,
    detachReason: row.detach_reason ?? null,
    instances,
  };
}

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return (
    err?.code === '23505' ||
    err?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    /UNIQUE constraint failed/i.test(err?.message ?? '')
  );
}

/** Most live (desired-set) attachments per Controller and per creating user. */
export interface AttachmentLimits {
  perController: number;
  perUser: number;
}

/** A create refused by AttachmentLimits; nothing was written. */
export class AttachmentLimitError extends Error {
  name = 'AttachmentLimitError';
  constructor(readonly scope: 'controller' | 'user', readonly limit: number) {
    super(`${scope} already has ${limit} live attachments`);
  }
}

/** What {@link AttachmentsStore.create} writes. */
export interface CreateAttachmentInput {
  controllerId: string;
  whisperer: WhispererSnapshot;
  target: WorkloadRef;
  entityRef?: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number | null;
  limits?: AttachmentLimits;
}

/**
 * Attachments, their whisperer instances and the desired set each agent enforces (every
 * change bumps the Controller's revision); {@link DatabaseAttachmentsStore} keeps them in
 * Knex.
 */
export interface AttachmentsStore {
  /**
   * A pending attachment, with the Controller's new revision. 409 (ConflictError) when
   * the Whisperer is already live on that workload through that Controller;
   * AttachmentLimitError when `limits` are reached (nothing is written either way).
   */
  create(input: CreateAttachmentInput): Promise<{
    attachment: Attachment;
    revision: number;
    /** What the agent is sent for it (as desiredOne would read it). */
    desired: DesiredAttachment;
  }>;
  /** One, with its instances. */
  get(id: string): Promise<Attachment | undefined>;
  /** 404 (NotFoundError) when there is none. */
  getOrThrow(id: string): Promise<Attachment>;
  /** Newest first, filtered in SQL by the caller's scopes, paged by an opaque cursor. */
  list(
    filter: AttachmentFilter,
  ): Promise<{ items: Attachment[]; nextCursor?: string; totalCount: number }>;
  /** The full desired set an agent must enforce (pending, active, failed). */
  desiredFor(controllerId: string): Promise<DesiredAttachment[]>;
  /** The ids of desiredFor's set, without reading the whisperers. */
  desiredIdsFor(controllerId: string): Promise<string[]>;
  desiredOne(id: string): Promise<DesiredAttachment | undefined>;
  /** Of `ids` (any number), those still desired, each as desiredFor gives it. */
  desiredMany(ids: string[]): Promise<DesiredAttachment[]>;
  /**
   * Ends an attachment (detach by a user); an attachment already ended is returned as it
   * is (`changed` false). 404 when there is none.
   */
  detach(
    id: string,
    by: string,
    reason: string,
    agentConnected: boolean,
  ): Promise<{ attachment: Attachment; changed: boolean; revision?: number }>;
  /** Live attachments whose expiry has passed, at most `limit`. */
  dueForExpiry(
    now: number,
    limit?: number,
  ): Promise<Array<{ id: string; controllerId: string }>>;
  /** The Controller's new revision, or undefined when it had already ended. */
  expire(
    id: string,
    controllerId: string,
    now: number,
  ): Promise<number | undefined>;
  /** Next expiry among live attachments, null when none expires. */
  nextExpiry(): Promise<number | null>;
  /** Applies an agent's instance report to its own attachments; the ids it changed. */
  applyAgentReport(
    controllerId: string,
    report: InstancesMessage['attachments'],
  ): Promise<string[]>;
  /** Live attachments per Controller (Controllers without any are absent). */
  countLiveByController(ids: string[]): Promise<Map<string, number>>;
  /** Of `ids`, every one of the Controller's that `access` covers (no page cap). */
  visibleIds(
    controllerId: string,
    access: NamespaceAccess,
    ids: string[],
  ): Promise<Set<string>>;
  countLiveByWhisperer(whispererId: string): Promise<number>;
}

export class DatabaseAttachmentsStore implements AttachmentsStore {
  constructor(private readonly db: Knex) {}

  /**
   * Creates a pending attachment and bumps the Controller's desired-set revision. With
   * `limits`, refuses (AttachmentLimitError) when the Controller or the user already has
   * that many live attachments, race-free: concurrent creates wait on the user's advisory
   * lock (PostgreSQL) and on the Controller's row, which the revision bump locks before
   * counting; SQLite runs one writer at a time. Live = pending, active or failed (the
   * desired set); detaching, detached and expired do not count.
   */
  async create(input: CreateAttachmentInput): Promise<{
    attachment: Attachment;
    revision: number;
    desired: DesiredAttachment;
  }> {
    const id = randomUUID();
    const row = attachmentRow(id, input);
    try {
      const revision = await this.db.transaction(async tx => {
        if (input.limits && isPostgres(tx))
          await tx.raw('select pg_advisory_xact_lock(hashtext(?))', [
            `spider_attachments:${input.createdBy}`,
          ]);
        // The bump comes first: its row lock holds concurrent creates on this Controller
        // until commit, so the counts below see them.
        const bumped = await bumpRevision(tx, input.controllerId);
        if (input.limits) await checkLimits(tx, input, input.limits);
        await tx('spider_attachments').insert(row);
        return bumped;
      });
      return {
        attachment: (await this.get(id))!,
        revision,
        desired: toDesired(row),
      };
    } catch (e) {
      if (isUniqueViolation(e)) {
        throw new ConflictError(
          `Whisperer "${input.whisperer.name}" is already attached to ${input.target.kind} ${input.target.namespace}/${input.target.name} through this Controller; detach it first`,
        );
      }
      throw e;
    }
  }

  async get(id: string): Promise<Attachment | undefined> {
    const row = await this.db('spider_attachments').where({ id }).first();
    if (!row) return undefined;
    const instances = await this.instancesOf([id]);
    return toAttachment(row, instances.get(id) ?? []);
  }

  async getOrThrow(id: string): Promise<Attachment> {
    const a = await this.get(id);
    if (!a) throw new NotFoundError(`No attachment with id ${id}`);
    return a;
  }

  async list(
    filter: AttachmentFilter,
  ): Promise<{ items: Attachment[]; nextCursor?: string; totalCount: number }> {
    if (filter.scopes.length === 0) return { items: [], totalCount: 0 };
    const base = () => {
      // Controllers seen in full collapse into one IN list; the rest get a clause each.
      const full = filter.scopes.filter(
        s => s.access.include === '*' && s.access.exclude.length === 0,
      );
      const partial = filter.scopes.filter(s => !full.includes(s));
      const qb = this.db('spider_attachments').where(outer => {
        if (full.length)
          outer.orWhereIn(
            'controller_id',
            full.map(s => s.controllerId),
          );
        for (const s of partial) {
          outer.orWhere(inner => {
            inner.where('controller_id', s.controllerId);
            if (s.access.include !== '*')
              inner.whereIn('target_namespace', s.access.include);
            if (s.access.exclude.length)
              inner.whereNotIn('target_namespace', s.access.exclude);
          });
        }
      });
      if (filter.whispererId) qb.where('whisperer_id', filter.whispererId);
      if (filter.statuses?.length) qb.whereIn('status', filter.statuses);
      if (filter.entityRef) qb.where('entity_ref', filter.entityRef);
      if (filter.namespace) qb.where('target_namespace', filter.namespace);
      return qb;
    };
    const countRow = await base().count({ n: '*' }).first();
    const page = base()
      .select('*')
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(filter.limit + 1);
    if (filter.cursor) {
      const c = decodeCursor(filter.cursor);
      page.where(q =>
        q
          .where('created_at', '<', c.createdAt)
          .orWhere(q2 =>
            q2.where('created_at', c.createdAt).andWhere('id', '<', c.id),
          ),
      );
    }
    const rows = await page;
    const more = rows.length > filter.limit;
    const pageRows = more ? rows.slice(0, filter.limit) : rows;
    const instances = await this.instancesOf(pageRows.map((r: any) => r.id));
    const last = pageRows[pageRows.length - 1];
    return {
      items: pageRows.map((r: any) =>
        toAttachment(r, instances.get(r.id) ?? []),
      ),
      nextCursor:
        more && last
          ? encodeCursor(msOrNull(last.created_at) ?? 0, last.id)
          : undefined,
      totalCount: Number((countRow as any)?.n ?? 0),
    };
  }

  private async instancesOf(
    ids: string[],
  ): Promise<Map<string, WhispererInstance[]>> {
    const out = new Map<string, WhispererInstance[]>();
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db('spider_instances')
        .whereIn('attachment_id', ids.slice(i, i + 500))
        .orderBy(['pod', 'container']);
      for (const r of rows) {
        const list = out.get(r.attachment_id) ?? [];
        list.push(toInstance(r));
        out.set(r.attachment_id, list);
      }
    }
    return out;
  }

  /** The full desired set an agent must enforce. */
  async desiredFor(controllerId: string): Promise<DesiredAttachment[]> {
    const rows = await this.db('spider_attachments')
      .select(DESIRED_COLUMNS)
      .where({ controller_id: controllerId })
      .whereIn('status', DESIRED_STATUSES)
      .orderBy('created_at');
    return rows.map(toDesired);
  }

  async desiredIdsFor(controllerId: string): Promise<string[]> {
    const rows = await this.db('spider_attachments')
      .select('id')
      .where({ controller_id: controllerId })
      .whereIn('status', DESIRED_STATUSES)
      .orderBy('created_at');
    return rows.map((r: { id: string }) => r.id);
  }

  async desiredMany(ids: string[]): Promise<DesiredAttachment[]> {
    const out: DesiredAttachment[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db('spider_attachments')
        .select(DESIRED_COLUMNS)
        .whereIn('id', ids.slice(i, i + 500))
        .whereIn('status', DESIRED_STATUSES)
        .orderBy('created_at');
      out.push(...rows.map(toDesired));
    }
    return out;
  }

  async desiredOne(id: string): Promise<DesiredAttachment | undefined> {
    const row = await this.db('spider_attachments').where({ id }).first();
    return row ? toDesired(row) : undefined;
  }

  /**
   * Ends an attachment (detach by a user). Idempotent: an attachment already ended is
   * returned as it is. `agentConnected` decides between 'detaching' (the agent confirms)
   * and 'detached' (the agent drops it when it reconnects).
   */
  async detach(
    id: string,
    by: string,
    reason: string,
    agentConnected: boolean,
  ): Promise<{ attachment: Attachment; changed: boolean; revision?: number }> {
    const current = await this.getOrThrow(id);
    if (!DESIRED_STATUSES.includes(current.status)) {
      return { attachment: current, changed: false };
    }
    const status: AttachmentStatus =
      agentConnected && current.instances.length > 0 ? 'detaching' : 'detached';
    const revision = await this.db.transaction(async tx => {
      const n = await tx('spider_attachments')
        .where({ id })
        .whereIn('status', DESIRED_STATUSES)
        .update({
          status,
          detached_at: Date.now(),
          detached_by: by,
          detach_reason: reason,
        });
      if (!n) return undefined;
      return bumpRevision(tx, current.controllerId);
    });
    return {
      attachment: (await this.get(id))!,
      changed: revision !== undefined,
      revision,
    };
  }

  /** Live attachments whose expiry has passed. */
  async dueForExpiry(
    now: number,
    limit = 500,
  ): Promise<Array<{ id: string; controllerId: string }>> {
    const rows = await this.db('spider_attachments')
      .select('id', 'controller_id')
      .whereIn('status', DESIRED_STATUSES)
      .whereNotNull('expires_at')
      .where('expires_at', '<=', now)
      .limit(limit);
    return rows.map((r: any) => ({ id: r.id, controllerId: r.controller_id }));
  }

  /** Expires one attachment; false when another replica (or a detach) got there first. */
  async expire(
    id: string,
    controllerId: string,
    now: number,
  ): Promise<number | undefined> {
    return this.db.transaction(async tx => {
      const n = await tx('spider_attachments')
        .where({ id })
        .whereIn('status', DESIRED_STATUSES)
        .update({
          status: 'expired',
          detached_at: now,
          detached_by: 'system:spider/expiry',
          detach_reason: 'time to live ran out',
        });
      if (!n) return undefined;
      return bumpRevision(tx, controllerId);
    });
  }

  /** Next expiry among live attachments, to sleep precisely until then. */
  async nextExpiry(): Promise<number | null> {
    const row = await this.db('spider_attachments')
      .min({ at: 'expires_at' })
      .whereIn('status', DESIRED_STATUSES)
      .first();
    return msOrNull((row as any)?.at);
  }

  /**
   * Applies an agent's instance report. Only attachments of the reporting Controller are
   * touched: one agent cannot write another's state.
   */
  async applyAgentReport(
    controllerId: string,
    report: InstancesMessage['attachments'],
  ): Promise<string[]> {
    const ids = report.map(r => r.attachmentId);
    if (ids.length === 0) return [];
    const changed: string[] = [];
    await this.db.transaction(async tx => {
      const rows = await tx('spider_attachments')
        .select('id', 'status')
        .where({ controller_id: controllerId })
        .whereIn('id', ids);
      const known = new Map(
        rows.map((r: any) => [r.id, r.status as AttachmentStatus]),
      );
      for (const entry of report) {
        const status = known.get(entry.attachmentId);
        if (!status) continue;
        await tx('spider_instances')
          .where({ attachment_id: entry.attachmentId })
          .delete();
        for (let i = 0; i < entry.instances.length; i += 200) {
          await tx('spider_instances').insert(
            entry.instances.slice(i, i + 200).map(inst => ({
              attachment_id: entry.attachmentId,
              pod: inst.pod,
              container: inst.container,
              node: inst.node,
              pod_ip: inst.podIp,
              state: inst.state,
              reason: inst.reason,
              message: inst.message,
              started_at: inst.startedAt,
              finished_at: inst.finishedAt,
              exit_code: inst.exitCode,
              generation: inst.generation,
            })),
          );
        }
        const next = nextStatus(status, entry.phase);
        const update: Record<string, unknown> = { message: entry.message };
        if (next !== status) update.status = next;
        await tx('spider_attachments')
          .where({ id: entry.attachmentId })
          .update(update);
        changed.push(entry.attachmentId);
      }
    });
    return changed;
  }

  async countLiveByController(ids: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (ids.length === 0) return out;
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db('spider_attachments')
        .select('controller_id')
        .count({ n: '*' })
        .whereIn('controller_id', ids.slice(i, i + 500))
        .whereIn('status', DESIRED_STATUSES)
        .groupBy('controller_id');
      for (const r of rows as any[]) out.set(r.controller_id, Number(r.n));
    }
    return out;
  }

  /**
   * Of `ids`, those of Controller `controllerId` whose namespace `access` covers: every one,
   * however many (no page cap), so a status report is filtered, never truncated.
   */
  async visibleIds(
    controllerId: string,
    access: NamespaceAccess,
    ids: string[],
  ): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < ids.length; i += 500) {
      const qb = this.db('spider_attachments')
        .select('id')
        .where('controller_id', controllerId)
        .whereIn('id', ids.slice(i, i + 500));
      if (access.include !== '*')
        qb.whereIn('target_namespace', access.include);
      if (access.exclude.length)
        qb.whereNotIn('target_namespace', access.exclude);
      for (const r of (await qb) as Array<{ id: string }>) out.add(r.id);
    }
    return out;
  }

  async countLiveByWhisperer(whispererId: string): Promise<number> {
    const row = await this.db('spider_attachments')
      .count({ n: '*' })
      .where({ whisperer_id: whispererId })
      .whereIn('status', DESIRED_STATUSES)
      .first();
    return Number((row as any)?.n ?? 0);
  }
}

/** Status after an agent report; ended attachments stay ended. */
export function nextStatus(
  current: AttachmentStatus,
  phase: 'active' | 'failed' | 'stopped' | 'expired',
): AttachmentStatus {
  if (current === 'detached' || current === 'expired') return current;
  if (current === 'detaching')
    return phase === 'stopped' || phase === 'expired'
      ? 'detached'
      : 'detaching';
  if (phase === 'active') return 'active';
  if (phase === 'failed') return 'failed';
  if (phase === 'expired') return 'expired';
  return current;
}

async function checkLimits(
  tx: Knex.Transaction,
  input: { controllerId: string; createdBy: string },
  limits: AttachmentLimits,
) {
  const live = async (where: Record<string, string>) => {
    const row = await tx('spider_attachments')
      .count({ n: '*' })
      .where(where)
      .whereIn('status', DESIRED_STATUSES)
      .first();
    return Number((row as any)?.n ?? 0);
  };
  if (
    (await live({ controller_id: input.controllerId })) >= limits.perController
  )
    throw new AttachmentLimitError('controller', limits.perController);
  if ((await live({ created_by: input.createdBy })) >= limits.perUser)
    throw new AttachmentLimitError('user', limits.perUser);
}

function isPostgres(db: Knex): boolean {
  const client = db.client.config.client;
  return client === 'pg' || client === 'postgres' || client === 'postgresql';
}

function attachmentRow(id: string, input: CreateAttachmentInput) {
  return {
    id,
    controller_id: input.controllerId,
    whisperer_id: input.whisperer.id,
    whisperer_name: input.whisperer.name,
    whisperer_json: JSON.stringify(input.whisperer),
    target_namespace: input.target.namespace,
    target_kind: input.target.kind,
    target_name: input.target.name,
    entity_ref: input.entityRef ?? null,
    created_by: input.createdBy,
    created_at: input.createdAt,
    expires_at: input.expiresAt,
    status: 'pending',
  };
}

function toDesired(row: any): DesiredAttachment {
  const w = JSON.parse(row.whisperer_json);
  return {
    id: row.id,
    target: {
      namespace: row.target_namespace,
      kind: row.target_kind,
      name: row.target_name,
    },
    whisperer: {
      id: w.id,
      name: w.name,
      image: w.image ?? null,
      captureFilter: w.captureFilter ?? '',
      env: w.env ?? {},
    },
    expiresAt: isoOrNull(row.expires_at),
  };
}

async function bumpRevision(
  tx: Knex.Transaction,
  controllerId: string,
): Promise<number> {
  await tx('spider_controllers')
    .where({ id: controllerId })
    .increment('revision', 1);
  const row = await tx('spider_controllers')
    .select('revision')
    .where({ id: controllerId })
    .first();
  return msOrNull(row?.revision) ?? 0;
}
