import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import { NotFoundError } from '@backstage/errors';
import {
  CreateWhispererRequest,
  UpdateWhispererRequest,
  Whisperer,
} from '@spider/backstage-plugin-spider-common';
import { iso } from './time';
import { deleteTrafficOfAttachments } from './DatabaseTrafficStore';

function toWhisperer(row: any): Whisperer {
  return {
    id: row.id,
    name: row.name,
    description: row.description ?? '',
    image: row.image ?? null,
    captureFilter: row.capture_filter ?? '',
    timeToLive: row.time_to_live ?? null,
    env: JSON.parse(row.env_json || '{}'),
    owner: row.owner,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/** Whisperers (capture configurations); {@link DatabaseWhisperersStore} keeps them in Knex. */
export interface WhisperersStore {
  create(input: CreateWhispererRequest, owner: string): Promise<Whisperer>;
  get(id: string): Promise<Whisperer | undefined>;
  /** 404 (NotFoundError) when there is none. */
  getOrThrow(id: string): Promise<Whisperer>;
  /** All, by name. */
  list(): Promise<Whisperer[]>;
  /** Changes the given fields; 404 when there is none. */
  update(id: string, patch: UpdateWhispererRequest): Promise<Whisperer>;
  /** Deletes the Whisperer and the traffic its (ended) attachments captured. */
  delete(id: string): Promise<boolean>;
}

export class DatabaseWhisperersStore implements WhisperersStore {
  constructor(private readonly db: Knex) {}

  async create(
    input: CreateWhispererRequest,
    owner: string,
  ): Promise<Whisperer> {
    const now = Date.now();
    const id = randomUUID();
    await this.db('spider_whisperers').insert({
      id,
      name: input.name,
      description: input.description ?? '',
      image: input.image ?? null,
      capture_filter: input.captureFilter ?? '',
      time_to_live: input.timeToLive ?? null,
      env_json: JSON.stringify(input.env ?? {}),
      owner,
      created_at: now,
      updated_at: now,
    });
    return (await this.get(id))!;
  }

  async get(id: string): Promise<Whisperer | undefined> {
    const row = await this.db('spider_whisperers').where({ id }).first();
    return row ? toWhisperer(row) : undefined;
  }

  async getOrThrow(id: string): Promise<Whisperer> {
    const w = await this.get(id);
    if (!w) throw new NotFoundError(`No Whisperer with id ${id}`);
    return w;
  }

  async list(): Promise<Whisperer[]> {
    const rows = await this.db('spider_whisperers').orderBy('name', 'asc');
    return rows.map(toWhisperer);
  }

  async update(id: string, patch: UpdateWhispererRequest): Promise<Whisperer> {
    const changes: Record<string, unknown> = { updated_at: Date.now() };
    if (patch.name !== undefined) changes.name = patch.name;
    if (patch.description !== undefined)
      changes.description = patch.description;
    if (patch.image !== undefined) changes.image = patch.image;
    if (patch.captureFilter !== undefined)
      changes.capture_filter = patch.captureFilter;
    if (patch.timeToLive !== undefined) changes.time_to_live = patch.timeToLive;
    if (patch.env !== undefined) changes.env_json = JSON.stringify(patch.env);
    const n = await this.db('spider_whisperers').where({ id }).update(changes);
    if (!n) throw new NotFoundError(`No Whisperer with id ${id}`);
    return (await this.get(id))!;
  }

  /** Deletes the Whisperer and the traffic its (ended) attachments captured. */
  async delete(id: string): Promise<boolean> {
    return this.db.transaction(async tx => {
      await deleteTrafficOfAttachments(
        tx,
        tx('spider_attachments').select('id').where({ whisperer_id: id }),
      );
      return (await tx('spider_whisperers').where({ id }).delete()) > 0;
    });
  }
}
