import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import {
  AgentStatus,
  NamespaceScope,
} from '@spider/backstage-plugin-spider-common';
import { NotFoundError } from '@backstage/errors';
import { isoOrNull, iso, msOrNull } from './time';
import { deleteTrafficOfAttachments } from './DatabaseTrafficStore';

/** How long after its last heartbeat a socket still counts as connected. */
export const CONNECTED_GRACE_MS = 15_000;

export interface ControllerRecord {
  id: string;
  name: string;
  description: string;
  owner: string;
  createdAt: string;
  updatedAt: string;
  revision: number;
  sessionId: string | null;
  lastSeenAt: string | null;
  connected: boolean;
  agentVersion: string | null;
  clusterVersion: string | null;
  scope: NamespaceScope | null;
  status: AgentStatus | null;
}

/** Agent tokens: 256 random bits, shown once, stored as a SHA-256 hash. */
export function newAgentToken(): { token: string; hash: string } {
  const token = `spd_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashAgentToken(token) };
}

export function hashAgentToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function toRecord(row: any, now: number): ControllerRecord {
  const lastSeen = msOrNull(row.last_seen_at);
  return {
    id: row.id,
    name: row.name,
    description: row.description ?? '',
    owner: row.owner,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    revision: msOrNull(row.revision) ?? 0,
    sessionId: row.session_id ?? null,
    lastSeenAt: isoOrNull(row.last_seen_at),
    connected:
      !!row.session_id &&
      lastSeen !== null &&
      now - lastSeen <= CONNECTED_GRACE_MS,
    agentVersion: row.agent_version ?? null,
    clusterVersion: row.cluster_version ?? null,
    scope: row.scope_json ? JSON.parse(row.scope_json) : null,
    status: row.status_json ? JSON.parse(row.status_json) : null,
  };
}

const LIST_COLUMNS = [
  'id',
  'name',
  'description',
  'owner',
  'created_at',
  'updated_at',
  'revision',
  'session_id',
  'last_seen_at',
  'agent_version',
  'cluster_version',
  'scope_json',
];

/**
 * Registered Controllers, their agent token hashes and connection state;
 * {@link DatabaseControllersStore} keeps them in Knex.
 */
/** What an agent's hello tells about it, kept on its Controller. */
export interface AgentHelloFacts {
  agentVersion: string;
  clusterVersion: string | null;
  scope: NamespaceScope;
}

export interface ControllersStore {
  /** Registers a Controller; the token is returned once and only its hash is kept. */
  create(input: {
    name: string;
    description?: string;
    owner: string;
  }): Promise<{ controller: ControllerRecord; token: string }>;
  /** `withStatus` also reads the agent's last status report (large). */
  get(
    id: string,
    opts?: { withStatus?: boolean },
  ): Promise<ControllerRecord | undefined>;
  /** 404 (NotFoundError) when there is none. */
  getOrThrow(id: string): Promise<ControllerRecord>;
  /** By name, filtered in SQL by the caller's permission conditions. */
  list(filter?: (qb: Knex.QueryBuilder) => void): Promise<ControllerRecord[]>;
  getMany(ids: string[]): Promise<ControllerRecord[]>;
  /** Changes the given fields; 404 when there is none. */
  update(
    id: string,
    patch: { name?: string; description?: string },
  ): Promise<ControllerRecord>;
  /** Deletes the Controller with its attachments, their traffic, shares and inventory. */
  delete(id: string): Promise<boolean>;
  /** A new token; the old one stops matching. 404 when there is none. */
  rotateToken(
    id: string,
  ): Promise<{ controller: ControllerRecord; token: string }>;
  findIdByTokenHash(hash: string): Promise<string | undefined>;
  /** Revision and token hash of Controllers held by this replica, to detect changes. */
  syncState(
    ids: string[],
  ): Promise<Map<string, { revision: number; tokenHash: string }>>;
  markConnected(
    id: string,
    sessionId: string,
    hello: AgentHelloFacts,
  ): Promise<void>;
  /** Heartbeat for every socket this replica holds. */
  touch(sessionIdsByController: Map<string, string>): Promise<void>;
  /** Only when `sessionId` is still the Controller's session (a newer one stays). */
  markDisconnected(id: string, sessionId: string): Promise<void>;
  saveStatus(id: string, status: AgentStatus): Promise<void>;
}

export class DatabaseControllersStore implements ControllersStore {
  constructor(private readonly db: Knex) {}

  async create(input: {
    name: string;
    description?: string;
    owner: string;
  }): Promise<{ controller: ControllerRecord; token: string }> {
    const now = Date.now();
    const id = randomUUID();
    const { token, hash } = newAgentToken();
    await this.db('spider_controllers').insert({
      id,
      name: input.name,
      description: input.description ?? '',
      owner: input.owner,
      token_hash: hash,
      token_rotated_at: now,
      revision: 0,
      created_at: now,
      updated_at: now,
    });
    return { controller: (await this.get(id))!, token };
  }

  async get(
    id: string,
    opts: { withStatus?: boolean } = {},
  ): Promise<ControllerRecord | undefined> {
    const row = await this.db('spider_controllers')
      .select(opts.withStatus ? [...LIST_COLUMNS, 'status_json'] : LIST_COLUMNS)
      .where({ id })
      .first();
    return row ? toRecord(row, Date.now()) : undefined;
  }

  async getOrThrow(id: string): Promise<ControllerRecord> {
    const c = await this.get(id);
    if (!c) throw new NotFoundError(`No Controller with id ${id}`);
    return c;
  }

  /** Lists Controllers, filtered in SQL by the caller's permission conditions. */
  async list(
    filter?: (qb: Knex.QueryBuilder) => void,
  ): Promise<ControllerRecord[]> {
    const qb = this.db('spider_controllers')
      .select(LIST_COLUMNS)
      .orderBy('name', 'asc');
    if (filter) qb.where(filter);
    const now = Date.now();
    return (await qb).map(r => toRecord(r, now));
  }

  async getMany(ids: string[]): Promise<ControllerRecord[]> {
    if (ids.length === 0) return [];
    const now = Date.now();
    const rows = await this.db('spider_controllers')
      .select(LIST_COLUMNS)
      .whereIn('id', ids);
    return rows.map(r => toRecord(r, now));
  }

  async update(
    id: string,
    patch: { name?: string; description?: string },
  ): Promise<ControllerRecord> {
    const changed = await this.db('spider_controllers')
      .where({ id })
      .update({
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.description !== undefined
          ? { description: patch.description }
          : {}),
        updated_at: Date.now(),
      });
    if (!changed) throw new NotFoundError(`No Controller with id ${id}`);
    return (await this.get(id))!;
  }

  async delete(id: string): Promise<boolean> {
    return this.db.transaction(async tx => {
      // SQLite enforces foreign keys only when asked; clear children explicitly.
      const attachmentIds = tx('spider_attachments')
        .select('id')
        .where({ controller_id: id });
      await deleteTrafficOfAttachments(tx, attachmentIds);
      await tx('spider_instances')
        .whereIn('attachment_id', attachmentIds)
        .delete();
      await tx('spider_attachments').where({ controller_id: id }).delete();
      await tx('spider_shares').where({ controller_id: id }).delete();
      await tx('spider_inventory').where({ controller_id: id }).delete();
      return (await tx('spider_controllers').where({ id }).delete()) > 0;
    });
  }

  async rotateToken(
    id: string,
  ): Promise<{ controller: ControllerRecord; token: string }> {
    const { token, hash } = newAgentToken();
    const now = Date.now();
    const changed = await this.db('spider_controllers')
      .where({ id })
      .update({ token_hash: hash, token_rotated_at: now, updated_at: now });
    if (!changed) throw new NotFoundError(`No Controller with id ${id}`);
    return { controller: (await this.get(id))!, token };
  }

  async findIdByTokenHash(hash: string): Promise<string | undefined> {
    const row = await this.db('spider_controllers')
      .select('id')
      .where({ token_hash: hash })
      .first();
    return row?.id;
  }

  /** Revision and token hash of Controllers held by this replica, to detect changes. */
  async syncState(
    ids: string[],
  ): Promise<Map<string, { revision: number; tokenHash: string }>> {
    const out = new Map<string, { revision: number; tokenHash: string }>();
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db('spider_controllers')
        .select('id', 'revision', 'token_hash')
        .whereIn('id', ids.slice(i, i + 500));
      for (const r of rows) {
        out.set(r.id, {
          revision: msOrNull(r.revision) ?? 0,
          tokenHash: r.token_hash,
        });
      }
    }
    return out;
  }

  async markConnected(
    id: string,
    sessionId: string,
    hello: AgentHelloFacts,
  ): Promise<void> {
    await this.db('spider_controllers')
      .where({ id })
      .update({
        session_id: sessionId,
        last_seen_at: Date.now(),
        agent_version: hello.agentVersion,
        cluster_version: hello.clusterVersion,
        scope_json: JSON.stringify(hello.scope),
      });
  }

  /** Heartbeat for every socket this replica holds, in one statement. */
  async touch(sessionIdsByController: Map<string, string>): Promise<void> {
    const now = Date.now();
    const ids = [...sessionIdsByController.keys()];
    for (let i = 0; i < ids.length; i += 500) {
      await this.db('spider_controllers')
        .whereIn('id', ids.slice(i, i + 500))
        .update({ last_seen_at: now });
    }
  }

  async markDisconnected(id: string, sessionId: string): Promise<void> {
    await this.db('spider_controllers')
      .where({ id, session_id: sessionId })
      .update({ session_id: null, last_seen_at: Date.now() });
  }

  async saveStatus(id: string, status: AgentStatus): Promise<void> {
    const now = Date.now();
    await this.db('spider_controllers')
      .where({ id })
      .update({
        status_json: JSON.stringify(status),
        status_at: now,
        last_seen_at: now,
      });
  }
}
