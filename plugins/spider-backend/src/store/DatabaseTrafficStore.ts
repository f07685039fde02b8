import { Knex } from 'knex';
import { InputError } from '@backstage/errors';
import {
  CaptureStats,
  CapturedBody,
  CapturedExchange,
  RelayStats,
  StoredExchange,
  TrafficCoverage,
  TrafficFlow,
  WorkloadKind,
  WorkloadRef,
} from '@spider/backstage-plugin-spider-common';
import { planRetention } from '../traffic/planRetention';
import {
  RetentionLimits,
  RetentionResult,
  TrafficBatch,
  TrafficFilter,
  TrafficPage,
  TrafficPeerAggregate,
  TrafficStore,
} from './TrafficStore';
import { msOrNull } from './time';

const EXCHANGES = 'spider_traffic_exchanges';
const FLOWS = 'spider_traffic_flows';
const STATS = 'spider_traffic_stats';

/**
 * Rows per INSERT. Knex writes SQLite's multi-row insert as a compound SELECT, which
 * SQLite caps at 500 terms. PostgreSQL gets the rows as one JSON array per column
 * (below), so a whole message (at most maxExchangesPerBatch) is one statement.
 */
const INSERT_CHUNK = { sqlite: 400, postgres: 2000 };
/**
 * Columns of an exchange row as toRow writes them, with their PostgreSQL types, in one
 * order for the column-wise insert.
 */
const ROW_COLUMNS = {
  controller_id: 'text',
  attachment_id: 'text',
  namespace: 'text',
  pod: 'text',
  container: 'text',
  source_id: 'text',
  started_at: 'bigint',
  stored_at: 'bigint',
  direction: 'text',
  protocol: 'text',
  method: 'text',
  path: 'text',
  authority: 'text',
  status: 'integer',
  error: 'text',
  duration_ms: 'float8',
  client_ip: 'text',
  client_port: 'integer',
  client_name: 'text',
  server_ip: 'text',
  server_port: 'integer',
  server_name: 'text',
  peer_ip: 'text',
  peer_name: 'text',
  request_size: 'bigint',
  response_size: 'bigint',
  search_text: 'text',
  search_head: 'text',
  exchange_json: 'text',
  bodies_json: 'text',
  row_bytes: 'integer',
  body_bytes: 'integer',
} as const satisfies Record<keyof ReturnType<typeof toRow>, string>;
/** Rows per page when streaming with bodies (HAR). */
const STREAM_PAGE = 500;
/** Durations sampled, newest first, for the map's percentiles. */
const PERCENTILE_SAMPLE = 50_000;
/** Rows touched per statement by retention, so no statement holds locks for long. */
const RETENTION_CHUNK = 2000;
/** Attachment ids per IN list. */
const ID_CHUNK = 500;
/**
 * Longest search text (bytes) kept in `search_head`, which the attachment's time index
 * carries so `q` is tested on index entries (migration 20261202400000): a PostgreSQL
 * B-tree entry must stay under 2.7 kB.
 */
const SEARCH_HEAD_MAX_BYTES = 1024;
/** Per-row bytes besides the JSON columns (ids, numbers, indexes), for the size limit. */
const ROW_OVERHEAD_BYTES = 300;

/** The listing's order: newest first, the insertion sequence breaking ties. */
const NEWEST_FIRST = [
  { column: 'started_at', order: 'desc' as const },
  { column: 'id', order: 'desc' as const },
];

const LIST_COLUMNS = [
  'id',
  'controller_id',
  'attachment_id',
  'namespace',
  'pod',
  'container',
  'started_at',
  'stored_at',
  'exchange_json',
];

/**
 * SQL for "an error": no response, a status of 400 or more, or a capture error. The
 * partial index spider_traffic_exchanges_errors is defined on this exact text.
 */
const ERROR_SQL = '(status IS NULL OR status >= 400 OR error IS NOT NULL)';
/** The status class (2 for 2xx, 0 without a response): the expression of spider_traffic_exchanges_status_class. */
const STATUS_CLASS_SQL = '(COALESCE(status, 0) / 100)';

interface ExchangeRow {
  id: number | string;
  controller_id: string;
  attachment_id: string;
  namespace: string;
  pod: string;
  container: string;
  started_at: number | string;
  stored_at: number | string;
  exchange_json: string;
  bodies_json?: string | null;
}

/** The Knex implementation of TrafficStore, for SQLite and PostgreSQL. */
export class DatabaseTrafficStore implements TrafficStore {
  constructor(private readonly db: Knex) {}

  async insertBatch(
    batch: TrafficBatch,
  ): Promise<{ inserted: number; latest: string | null }> {
    const now = Date.now();
    const rows = batch.exchanges.map(e => toRow(batch, e, now));
    const sqlite = isSqlite(this.db);
    const chunk = sqlite ? INSERT_CHUNK.sqlite : INSERT_CHUNK.postgres;
    return this.db.transaction(async tx => {
      let inserted = 0;
      let latestMs: number | null = null;
      for (let i = 0; i < rows.length; i += chunk) {
        const part = rows.slice(i, i + chunk);
        const returned: Array<{ started_at: number | string }> = sqlite
          ? await tx(EXCHANGES)
              .insert(part)
              .onConflict(['attachment_id', 'pod', 'container', 'source_id'])
              .ignore()
              .returning(['started_at'])
          : await insertFromColumns(tx, part);
        inserted += returned.length;
        for (const r of returned) {
          const ms = Number(r.started_at);
          if (latestMs === null || ms > latestMs) latestMs = ms;
        }
      }
      await this.applyFlowsAndStats(tx, batch, now);
      return {
        inserted,
        latest: latestMs === null ? null : new Date(latestMs).toISOString(),
      };
    });
  }

  /**
   * Flows add up and stats replace, so a replayed message must not be applied twice: a
   * message whose (agentRun, seq) is not newer than the instance's last one adds nothing
   * but its (idempotent) exchanges.
   */
  private async applyFlowsAndStats(
    tx: Knex.Transaction,
    batch: TrafficBatch,
    now: number,
  ) {
    const key = {
      attachment_id: batch.attachmentId,
      pod: batch.pod,
      container: batch.container,
    };
    const attachmentKey = {
      attachment_id: batch.attachmentId,
      pod: '',
      container: '',
    };
    await tx(STATS)
      .insert({
        ...attachmentKey,
        controller_id: batch.controllerId,
        updated_at: now,
      })
      .onConflict(['attachment_id', 'pod', 'container'])
      .ignore();
    const previous = await tx(STATS).where(key).first('agent_run', 'last_seq');
    const replay =
      batch.agentRun !== undefined &&
      batch.seq !== undefined &&
      previous?.agent_run === batch.agentRun &&
      msOrNull(previous?.last_seq) !== null &&
      batch.seq <= Number(previous.last_seq);
    if (replay) return;

    const flows = aggregateFlows(batch);
    for (let i = 0; i < flows.length; i += INSERT_CHUNK.sqlite) {
      await tx(FLOWS)
        .insert(flows.slice(i, i + INSERT_CHUNK.sqlite))
        .onConflict([
          'attachment_id',
          'pod',
          'container',
          'minute',
          'direction',
          'client_ip',
          'server_ip',
          'server_port',
        ])
        .merge({
          bytes_to_server: tx.raw(
            `${FLOWS}.bytes_to_server + excluded.bytes_to_server`,
          ),
          bytes_to_client: tx.raw(
            `${FLOWS}.bytes_to_client + excluded.bytes_to_client`,
          ),
          connections: tx.raw(`${FLOWS}.connections + excluded.connections`),
          client_name: tx.raw(
            `COALESCE(excluded.client_name, ${FLOWS}.client_name)`,
          ),
          server_name: tx.raw(
            `COALESCE(excluded.server_name, ${FLOWS}.server_name)`,
          ),
        });
    }

    const update: Record<string, unknown> = {
      controller_id: batch.controllerId,
      relay_json: JSON.stringify(batch.relay),
      agent_run: batch.agentRun ?? null,
      last_seq: batch.seq ?? null,
      updated_at: now,
    };
    if (batch.stats) update.stats_json = JSON.stringify(batch.stats);
    await tx(STATS)
      .insert({ ...key, stats_json: null, ...update })
      .onConflict(['attachment_id', 'pod', 'container'])
      .merge(Object.keys(update));
  }

  async list(
    filter: TrafficFilter,
    page: TrafficPage,
  ): Promise<{ items: StoredExchange[]; nextCursor?: string }> {
    if (page.after !== undefined) {
      const query = this.db(EXCHANGES).select(LIST_COLUMNS);
      applyFilter(query, filter);
      return this.tail(query, page);
    }
    const rows: ExchangeRow[] = await this.newestFirst(
      LIST_COLUMNS,
      filter,
      page.cursor ? decodeCursor(page.cursor) : undefined,
      page.limit + 1,
    );
    const more = rows.length > page.limit;
    const shown = more ? rows.slice(0, page.limit) : rows;
    const targets = await this.targets(shown.map(r => r.attachment_id));
    const items = shown.map(r => fromRow(r, targets, false));
    const last = shown[shown.length - 1];
    return more && last ? { items, nextCursor: encodeCursor(last) } : { items };
  }

  /**
   * One page of the filtered rows, newest first, before `cursor`. On PostgreSQL a `q`
   * finds the page's ids first, on index entries where it can (see `searchIds`), then
   * reads just those rows.
   */
  private newestFirst(
    columns: string[],
    filter: TrafficFilter,
    cursor: { startedAt: number; id: number } | undefined,
    limit: number,
  ): Knex.QueryBuilder {
    if (filter.q && !isSqlite(this.db)) {
      return this.db(EXCHANGES)
        .select(columns)
        .whereIn('id', this.searchIds(filter, filter.q, cursor, limit))
        .orderBy(NEWEST_FIRST);
    }
    const query = this.db(EXCHANGES).select(columns);
    applyFilter(query, filter);
    if (cursor)
      query.whereRaw('(started_at, id) < (?, ?)', [
        cursor.startedAt,
        cursor.id,
      ]);
    return query.orderBy(NEWEST_FIRST).limit(limit);
  }

  /**
   * Ids of a `q` page on PostgreSQL, newest first: rows with a search head are tested on
   * the entries of the time index that carries it (an index-only scan: a rare needle no
   * longer reads every wide row it passes), rows without one (a long text, or stored
   * before the head existed) on their full text through the partial index that lists
   * them. The two ordered branches are merged and cut to the page.
   */
  private searchIds(
    filter: TrafficFilter,
    q: string,
    cursor: { startedAt: number; id: number } | undefined,
    limit: number,
  ): Knex.QueryBuilder {
    const pattern = likePattern(q);
    const branch = (column: 'search_head' | 'search_text') => {
      const query = this.db(EXCHANGES).select('id', 'started_at');
      applyFilter(query, { ...filter, q: undefined });
      if (column === 'search_text') query.whereNull('search_head');
      query.whereRaw(`${column} LIKE ? ESCAPE '\\'`, [pattern]);
      if (cursor)
        query.whereRaw('(started_at, id) < (?, ?)', [
          cursor.startedAt,
          cursor.id,
        ]);
      return query.orderBy(NEWEST_FIRST).limit(limit);
    };
    return this.db
      .select('id')
      .from(
        this.db.raw('(? UNION ALL ?) AS found', [
          branch('search_head'),
          branch('search_text'),
        ]),
      )
      .orderBy(NEWEST_FIRST)
      .limit(limit);
  }

  /**
   * The live tail: rows stored after `page.after`, in id order. An id is taken when a row
   * is inserted and one agent socket stores its messages one after another, so a row of
   * an attachment can not commit after a later one and be skipped.
   */
  private async tail(
    query: Knex.QueryBuilder,
    page: TrafficPage,
  ): Promise<{ items: StoredExchange[] }> {
    if (page.cursor)
      throw new InputError(
        'after and cursor do not go together: after pages by itself (pass the last item id)',
      );
    if (!/^[0-9]{1,18}$/.test(page.after ?? ''))
      throw new InputError(
        'after must be an exchange id as returned by the API',
      );
    const rows: ExchangeRow[] = await query
      .where('id', '>', Number(page.after))
      .orderBy('id', 'asc')
      .limit(page.limit);
    const targets = await this.targets(rows.map(r => r.attachment_id));
    return { items: rows.map(r => fromRow(r, targets, false)) };
  }

  async get(exchangeId: string): Promise<StoredExchange | undefined> {
    if (!/^[0-9]{1,18}$/.test(exchangeId)) return undefined;
    const row: ExchangeRow | undefined = await this.db(EXCHANGES)
      .where({ id: Number(exchangeId) })
      .first([...LIST_COLUMNS, 'bodies_json']);
    if (!row) return undefined;
    return fromRow(row, await this.targets([row.attachment_id]), true);
  }

  async *stream(
    filter: TrafficFilter,
    limit: number,
  ): AsyncIterable<StoredExchange> {
    let left = limit;
    let cursor: { startedAt: number; id: number } | undefined;
    const targets = await this.targets(filter.attachmentIds);
    while (left > 0) {
      const want = Math.min(STREAM_PAGE, left);
      const rows: ExchangeRow[] = await this.newestFirst(
        [...LIST_COLUMNS, 'bodies_json'],
        filter,
        cursor,
        want,
      );
      for (const r of rows) yield fromRow(r, targets, true);
      left -= rows.length;
      const last = rows[rows.length - 1];
      if (!last || rows.length < want) return;
      cursor = { startedAt: Number(last.started_at), id: Number(last.id) };
    }
  }

  async coverage(attachmentIds: string[]): Promise<TrafficCoverage> {
    const rows: Array<Record<string, any>> = [];
    for (const ids of chunks(attachmentIds, ID_CHUNK)) {
      rows.push(
        ...(await this.db(STATS)
          .whereIn('attachment_id', ids)
          .orderBy(['attachment_id', 'pod', 'container'])),
      );
    }
    const totals = {
      packets: 0,
      kernelDrops: 0,
      exchanges: 0,
      sampled: 0,
      dropped: 0,
      parseErrors: 0,
      relayDropped: 0,
      expired: 0,
    };
    let rateLimited = 0;
    const instances: TrafficCoverage['instances'] = [];
    for (const r of rows) {
      totals.expired += Number(r.expired ?? 0);
      if (r.pod === '' && r.container === '') continue;
      const stats: CaptureStats | null = r.stats_json
        ? JSON.parse(r.stats_json)
        : null;
      const relay: RelayStats | null = r.relay_json
        ? JSON.parse(r.relay_json)
        : null;
      if (stats) {
        totals.packets += stats.packets;
        totals.kernelDrops += stats.kernelDrops;
        totals.exchanges += stats.exchanges;
        totals.sampled += stats.sampled;
        totals.dropped += stats.dropped;
        totals.parseErrors += stats.parseErrors;
      }
      if (relay) {
        totals.relayDropped += relay.droppedExchanges;
        rateLimited += relay.rateLimited;
      }
      instances.push({
        pod: r.pod,
        container: r.container,
        stats,
        relay,
        updatedAt: new Date(Number(r.updated_at)).toISOString(),
      });
    }
    const complete =
      totals.kernelDrops === 0 &&
      totals.sampled === 0 &&
      totals.dropped === 0 &&
      totals.relayDropped === 0 &&
      rateLimited === 0 &&
      totals.expired === 0;
    return { instances, totals, complete };
  }

  async peers(filter: TrafficFilter): Promise<TrafficPeerAggregate[]> {
    const grouped = this.db(EXCHANGES)
      .select('direction', 'peer_ip')
      .max({ peer_name: 'peer_name' })
      .count({ calls: '*' })
      .select(
        this.db.raw(`SUM(CASE WHEN ${ERROR_SQL} THEN 1 ELSE 0 END) AS errors`),
      )
      .sum({ bytes: this.db.raw('request_size + response_size') })
      .groupBy('direction', 'peer_ip');
    applyFilter(grouped, filter);
    const sample = this.db(EXCHANGES)
      .select('direction', 'peer_ip', 'duration_ms')
      .orderBy([
        { column: 'started_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(PERCENTILE_SAMPLE);
    applyFilter(sample, filter);
    const [groups, durations, flows] = await Promise.all([
      grouped,
      sample,
      this.flowBytes(filter),
    ]);

    const byPeer = new Map<string, TrafficPeerAggregate>();
    const keyOf = (direction: string, ip: string) =>
      `${direction === 'inbound' ? 'caller' : 'callee'} ${ip}`;
    for (const g of groups as Array<Record<string, any>>) {
      byPeer.set(keyOf(g.direction, g.peer_ip), {
        role: g.direction === 'inbound' ? 'caller' : 'callee',
        peerIp: g.peer_ip,
        peerName: g.peer_name ?? null,
        calls: Number(g.calls),
        errors: Number(g.errors ?? 0),
        p50Ms: null,
        p99Ms: null,
        bytes: Number(g.bytes ?? 0),
        flowBytes: 0,
      });
    }
    const samples = new Map<string, number[]>();
    for (const d of durations as Array<Record<string, any>>) {
      const k = keyOf(d.direction, d.peer_ip);
      let list = samples.get(k);
      if (!list) samples.set(k, (list = []));
      list.push(Number(d.duration_ms));
    }
    for (const [k, list] of samples) {
      const peer = byPeer.get(k);
      if (!peer) continue;
      list.sort((a, b) => a - b);
      peer.p50Ms = percentile(list, 0.5);
      peer.p99Ms = percentile(list, 0.99);
    }
    for (const f of flows) {
      const k = keyOf(f.direction, f.ip);
      const peer = byPeer.get(k);
      if (peer) {
        peer.flowBytes += f.bytes;
        peer.peerName ??= f.name;
      } else {
        byPeer.set(k, {
          role: f.direction === 'inbound' ? 'caller' : 'callee',
          peerIp: f.ip,
          peerName: f.name,
          calls: 0,
          errors: 0,
          p50Ms: null,
          p99Ms: null,
          bytes: 0,
          flowBytes: f.bytes,
        });
      }
    }
    return [...byPeer.values()].sort(
      (a, b) =>
        b.calls - a.calls ||
        b.flowBytes - a.flowBytes ||
        a.peerIp.localeCompare(b.peerIp),
    );
  }

  /** Non-HTTP bytes per direction and peer IP within the filter's instance and window. */
  private async flowBytes(filter: TrafficFilter) {
    const query = this.db(FLOWS)
      .select('direction')
      .select(
        this.db.raw(
          `CASE WHEN direction = 'inbound' THEN client_ip ELSE server_ip END AS ip`,
        ),
      )
      .select(
        this.db.raw(
          `MAX(CASE WHEN direction = 'inbound' THEN client_name ELSE server_name END) AS name`,
        ),
      )
      .select(this.db.raw('SUM(bytes_to_server + bytes_to_client) AS bytes'))
      .whereIn('attachment_id', filter.attachmentIds)
      .groupBy(
        'direction',
        this.db.raw(
          `CASE WHEN direction = 'inbound' THEN client_ip ELSE server_ip END`,
        ),
      );
    applyInstance(query, filter.instance);
    if (filter.direction) query.where('direction', filter.direction);
    // A flow row covers a minute: it counts when its minute overlaps the window.
    if (filter.since)
      query.where('minute', '>', filter.since.getTime() - 60_000);
    if (filter.until) query.where('minute', '<=', filter.until.getTime());
    const rows: Array<Record<string, any>> = await query;
    return rows.map(r => ({
      direction: r.direction as string,
      ip: r.ip as string,
      name: (r.name ?? null) as string | null,
      bytes: Number(r.bytes ?? 0),
    }));
  }

  async deleteForAttachments(attachmentIds: string[]): Promise<number> {
    let deleted = 0;
    for (const ids of chunks([...new Set(attachmentIds)], ID_CHUNK)) {
      deleted += await this.db.transaction(async tx => {
        const n = await tx(EXCHANGES).whereIn('attachment_id', ids).delete();
        await tx(FLOWS).whereIn('attachment_id', ids).delete();
        await tx(STATS).whereIn('attachment_id', ids).delete();
        return n;
      });
    }
    return deleted;
  }

  async applyRetention(
    limits: RetentionLimits,
    now: Date,
  ): Promise<RetentionResult> {
    const result: RetentionResult = {
      deletedByAge: 0,
      deletedByRows: 0,
      deletedBySize: 0,
      bodiesDropped: 0,
    };
    const expired = new Map<string, number>();
    const count = (attachmentId: string, n: number) => {
      if (n > 0)
        expired.set(attachmentId, (expired.get(attachmentId) ?? 0) + n);
    };

    // Traffic stored by an agent while its attachment was being deleted has no owner left.
    const orphans: string[] = (
      await this.db(STATS)
        .distinct('attachment_id')
        .whereNotIn('attachment_id', this.db('spider_attachments').select('id'))
    ).map((r: any) => r.attachment_id);
    if (orphans.length > 0) await this.deleteForAttachments(orphans);

    // Age, per attachment, so each delete walks the (attachment, time) index.
    const cutoffMs = planRetention(limits, now, { attachments: [] }).cutoffMs;
    const known: string[] = (
      await this.db(STATS).distinct('attachment_id')
    ).map((r: any) => r.attachment_id);
    for (const attachmentId of known) {
      const n = await this.deleteInChunks(q =>
        q
          .where('attachment_id', attachmentId)
          .where('started_at', '<', cutoffMs),
      );
      count(attachmentId, n);
      result.deletedByAge += n;
    }
    await this.db(FLOWS)
      .where('minute', '<', cutoffMs - 60_000)
      .delete();

    const summary = await this.summarize();
    const plan = planRetention(limits, now, summary);
    for (const trim of plan.trims) {
      const boundary = await this.db(EXCHANGES)
        .where('attachment_id', trim.attachmentId)
        .orderBy([
          { column: 'started_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .offset(trim.keep)
        .first('started_at', 'id');
      if (!boundary) continue;
      const n = await this.deleteInChunks(q =>
        q
          .where('attachment_id', trim.attachmentId)
          .whereRaw('(started_at, id) <= (?, ?)', [
            Number(boundary.started_at),
            Number(boundary.id),
          ]),
      );
      count(trim.attachmentId, n);
      result.deletedByRows += n;
    }

    // Size: bodies of the oldest stored rows first, then the oldest rows themselves.
    let toFree = plan.dropBodyBytes;
    while (toFree > 0) {
      const rows: Array<{ id: number | string; body_bytes: number | string }> =
        await this.db(EXCHANGES)
          .select('id', 'body_bytes')
          .where('body_bytes', '>', 0)
          .orderBy('id')
          .limit(RETENTION_CHUNK);
      if (rows.length === 0) break;
      const ids: number[] = [];
      for (const r of rows) {
        if (toFree <= 0) break;
        ids.push(Number(r.id));
        toFree -= Number(r.body_bytes);
      }
      for (const part of chunks(ids, ID_CHUNK)) {
        await this.db(EXCHANGES)
          .whereIn('id', part)
          .update({
            bodies_json: null,
            row_bytes: this.db.raw('row_bytes - body_bytes'),
            body_bytes: 0,
          });
      }
      result.bodiesDropped += ids.length;
    }
    let rowBytesToFree = plan.deleteRowBytes;
    while (rowBytesToFree > 0) {
      const rows: Array<{
        id: number | string;
        attachment_id: string;
        row_bytes: number | string;
      }> = await this.db(EXCHANGES)
        .select('id', 'attachment_id', 'row_bytes')
        .orderBy('id')
        .limit(RETENTION_CHUNK);
      if (rows.length === 0) break;
      const ids: number[] = [];
      const per = new Map<string, number>();
      for (const r of rows) {
        if (rowBytesToFree <= 0) break;
        ids.push(Number(r.id));
        per.set(r.attachment_id, (per.get(r.attachment_id) ?? 0) + 1);
        rowBytesToFree -= Number(r.row_bytes);
      }
      for (const part of chunks(ids, ID_CHUNK))
        await this.db(EXCHANGES).whereIn('id', part).delete();
      for (const [attachmentId, n] of per) count(attachmentId, n);
      result.deletedBySize += ids.length;
    }

    for (const [attachmentId, n] of expired) {
      await this.db(STATS)
        .where({ attachment_id: attachmentId, pod: '', container: '' })
        .increment('expired', n);
    }
    return result;
  }

  /** Deletes the rows `where` selects, a chunk at a time; returns how many. */
  private async deleteInChunks(
    where: (q: Knex.QueryBuilder) => Knex.QueryBuilder,
  ): Promise<number> {
    let total = 0;
    for (;;) {
      const ids: number[] = (
        await where(this.db(EXCHANGES).select('id'))
          .orderBy('id')
          .limit(RETENTION_CHUNK)
      ).map((r: any) => Number(r.id));
      if (ids.length === 0) return total;
      for (const part of chunks(ids, ID_CHUNK))
        total += await this.db(EXCHANGES).whereIn('id', part).delete();
      if (ids.length < RETENTION_CHUNK) return total;
    }
  }

  private async summarize() {
    const rows: Array<Record<string, any>> = await this.db(EXCHANGES)
      .select('attachment_id')
      .count({ rows: '*' })
      .sum({ bytes: 'row_bytes' })
      .sum({ body_bytes: 'body_bytes' })
      .groupBy('attachment_id');
    return {
      attachments: rows.map(r => ({
        attachmentId: r.attachment_id as string,
        rows: Number(r.rows),
        bytes: Number(r.bytes ?? 0),
        bodyBytes: Number(r.body_bytes ?? 0),
      })),
    };
  }

  /** Workload of each attachment, for the exchanges' `target`. */
  private async targets(
    attachmentIds: string[],
  ): Promise<Map<string, WorkloadRef>> {
    const map = new Map<string, WorkloadRef>();
    for (const ids of chunks([...new Set(attachmentIds)], ID_CHUNK)) {
      const rows = await this.db('spider_attachments')
        .whereIn('id', ids)
        .select('id', 'target_namespace', 'target_kind', 'target_name');
      for (const r of rows) {
        map.set(r.id, {
          namespace: r.target_namespace,
          kind: r.target_kind as WorkloadKind,
          name: r.target_name,
        });
      }
    }
    return map;
  }
}

/**
 * Deletes the traffic of the attachments `attachmentIds` selects, inside the caller's
 * transaction: the stores that delete Controllers and Whisperers call it, so traffic
 * goes with its attachments in one place and one commit.
 */
export async function deleteTrafficOfAttachments(
  tx: Knex.Transaction,
  attachmentIds: Knex.QueryBuilder,
): Promise<void> {
  await tx(EXCHANGES).whereIn('attachment_id', attachmentIds.clone()).delete();
  await tx(FLOWS).whereIn('attachment_id', attachmentIds.clone()).delete();
  await tx(STATS).whereIn('attachment_id', attachmentIds.clone()).delete();
}

/**
 * PostgreSQL: the rows travel as one JSON array per column, which ROWS FROM zips back
 * into rows (each value cast to its column's type). A multi-row VALUES of 32 binds a row
 * costs PostgreSQL more to parse and plan than to insert (3-4x slower for 500 rows); one
 * JSON array of row objects through json_populate_recordset spent about as long taking
 * the objects apart as inserting (65 of 149 ms for 500 rows, EXPLAIN ANALYZE); text[]
 * parameters cost the backend 28-44 ms of escaping per 500 rows, these 16 ms
 * (JSON.stringify), for the same database time.
 */
async function insertFromColumns(
  tx: Knex.Transaction,
  rows: Array<ReturnType<typeof toRow>>,
): Promise<Array<{ started_at: number | string }>> {
  const columns = Object.keys(ROW_COLUMNS) as Array<keyof typeof ROW_COLUMNS>;
  const result = await tx.raw(
    `INSERT INTO ${EXCHANGES} (${columns.join(', ')})
     SELECT ${columns.map((c, i) => `c${i}::${ROW_COLUMNS[c]}`).join(', ')}
     FROM ROWS FROM (${columns
       .map(() => 'json_array_elements_text(?::json)')
       .join(', ')}) AS r(${columns.map((_, i) => `c${i}`).join(', ')})
     ON CONFLICT (attachment_id, pod, container, source_id) DO NOTHING
     RETURNING started_at`,
    columns.map(c => JSON.stringify(rows.map(r => r[c]))),
  );
  return result.rows;
}

function toRow(batch: TrafficBatch, e: CapturedExchange, now: number) {
  const startedMs = Date.parse(e.startedAt);
  const inbound = e.direction === 'inbound';
  const peer = inbound ? e.client : e.server;
  const requestBody = e.request.body;
  const responseBody = e.response?.body ?? null;
  const withoutBodies: CapturedExchange = {
    ...e,
    attachmentId: batch.attachmentId,
    namespace: batch.namespace,
    pod: batch.pod,
    container: batch.container,
    request: { ...e.request, body: null },
    response: e.response ? { ...e.response, body: null } : null,
  };
  const exchangeJson = JSON.stringify(withoutBodies);
  const bodiesJson =
    requestBody || responseBody
      ? JSON.stringify([requestBody, responseBody])
      : null;
  const bodyBytes = bodiesJson ? Buffer.byteLength(bodiesJson) : 0;
  const searchText = [
    e.request.path,
    e.request.authority,
    e.client.name ?? '',
    e.server.name ?? '',
  ]
    .join('\n')
    .toLowerCase();
  const searchBytes = Buffer.byteLength(searchText);
  const searchHead = searchBytes <= SEARCH_HEAD_MAX_BYTES ? searchText : null;
  return {
    controller_id: batch.controllerId,
    attachment_id: batch.attachmentId,
    namespace: batch.namespace,
    pod: batch.pod,
    container: batch.container,
    source_id: e.id,
    // An unparseable time sorts as "now" rather than failing the batch.
    started_at: Number.isFinite(startedMs) ? startedMs : now,
    stored_at: now,
    direction: e.direction,
    protocol: e.protocol,
    method: e.request.method,
    path: e.request.path,
    authority: e.request.authority,
    status: e.response?.status ?? null,
    error: e.error,
    duration_ms: e.durationMs,
    client_ip: e.client.ip,
    client_port: e.client.port,
    client_name: e.client.name,
    server_ip: e.server.ip,
    server_port: e.server.port,
    server_name: e.server.name,
    peer_ip: peer.ip,
    peer_name: peer.name,
    request_size: e.request.bodySize,
    response_size: e.response?.bodySize ?? 0,
    search_text: searchText,
    search_head: searchHead,
    exchange_json: exchangeJson,
    bodies_json: bodiesJson,
    row_bytes:
      ROW_OVERHEAD_BYTES +
      Buffer.byteLength(exchangeJson) +
      // The text and its head, each in the row and an index.
      searchBytes * (searchHead === null ? 2 : 4) +
      bodyBytes,
    body_bytes: bodyBytes,
  };
}

function fromRow(
  row: ExchangeRow,
  targets: Map<string, WorkloadRef>,
  withBodies: boolean,
): StoredExchange {
  const e = JSON.parse(row.exchange_json) as CapturedExchange;
  let bodies: [CapturedBody, CapturedBody] = [null, null];
  if (withBodies && row.bodies_json) bodies = JSON.parse(row.bodies_json);
  return {
    ...e,
    id: String(row.id),
    attachmentId: row.attachment_id,
    namespace: row.namespace,
    pod: row.pod,
    container: row.container,
    request: { ...e.request, body: bodies[0] },
    response: e.response ? { ...e.response, body: bodies[1] } : null,
    controllerId: row.controller_id,
    storedAt: new Date(Number(row.stored_at)).toISOString(),
    target: targets.get(row.attachment_id) ?? {
      namespace: row.namespace,
      kind: 'Pod',
      name: row.pod,
    },
  };
}

function applyInstance(query: Knex.QueryBuilder, instance: string | undefined) {
  if (!instance) return;
  const slash = instance.indexOf('/');
  if (slash < 0) query.where('pod', instance);
  else
    query.where({
      pod: instance.slice(0, slash),
      container: instance.slice(slash + 1),
    });
}

function applyFilter(query: Knex.QueryBuilder, filter: TrafficFilter) {
  if (filter.attachmentIds.length === 1)
    query.where('attachment_id', filter.attachmentIds[0]);
  else query.whereIn('attachment_id', filter.attachmentIds);
  applyInstance(query, filter.instance);
  if (filter.method) query.where('method', filter.method.toUpperCase());
  if (filter.status) {
    const s = filter.status;
    if (s === 'error') query.whereRaw(ERROR_SQL);
    else if (/^[1-5]xx$/.test(s)) {
      query.whereRaw(`${STATUS_CLASS_SQL} = ?`, [Number(s[0])]);
    } else {
      const status = Number(s);
      // The class first, for the index; the exact status then filters within it.
      query
        .whereRaw(`${STATUS_CLASS_SQL} = ?`, [Math.floor(status / 100)])
        .where('status', status);
    }
  }
  if (filter.q) {
    const needle = filter.q.toLowerCase();
    // PostgreSQL: a LIKE with its own characters taken literally (a trigram index can
    // serve it; strpos cannot use one). Pages of the listing and the HAR take searchIds.
    if (isSqlite(query)) query.whereRaw('instr(search_text, ?) > 0', [needle]);
    else
      query.whereRaw(`search_text LIKE ? ESCAPE '\\'`, [likePattern(needle)]);
  }
  if (filter.peer) {
    const peer = filter.peer;
    query.where(b => b.where('peer_ip', peer).orWhere('peer_name', peer));
  }
  if (filter.direction) query.where('direction', filter.direction);
  if (filter.since) query.where('started_at', '>=', filter.since.getTime());
  if (filter.until) query.where('started_at', '<=', filter.until.getTime());
}

/** `q` as a LIKE pattern (lower-cased, as the search text is) with LIKE's own characters literal. */
function likePattern(q: string): string {
  return `%${q.toLowerCase().replace(/[\\%_]/g, c => `\\${c}`)}%`;
}

function aggregateFlows(batch: TrafficBatch) {
  const byKey = new Map<string, Record<string, any>>();
  for (const f of batch.flows) {
    const minute = Math.floor(Date.parse(f.minute) / 60_000) * 60_000;
    if (!Number.isFinite(minute)) continue;
    const key = [
      minute,
      f.direction,
      f.client.ip,
      f.server.ip,
      f.server.port,
    ].join(' ');
    const row = byKey.get(key);
    if (row) addFlow(row, f);
    else {
      byKey.set(key, {
        attachment_id: batch.attachmentId,
        pod: batch.pod,
        container: batch.container,
        minute,
        direction: f.direction,
        client_ip: f.client.ip,
        server_ip: f.server.ip,
        server_port: f.server.port,
        client_name: f.client.name,
        server_name: f.server.name,
        bytes_to_server: f.bytesToServer,
        bytes_to_client: f.bytesToClient,
        connections: f.connections,
      });
    }
  }
  return [...byKey.values()];
}

function addFlow(row: Record<string, any>, f: TrafficFlow) {
  row.bytes_to_server += f.bytesToServer;
  row.bytes_to_client += f.bytesToClient;
  row.connections += f.connections;
  row.client_name ??= f.client.name;
  row.server_name ??= f.server.name;
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

function encodeCursor(row: ExchangeRow): string {
  return Buffer.from(`${Number(row.started_at)}:${Number(row.id)}`).toString(
    'base64url',
  );
}

function decodeCursor(cursor: string): { startedAt: number; id: number } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^(-?[0-9]{1,16}):([0-9]{1,18})$/.exec(text);
  if (!m)
    throw new InputError(
      'cursor is not valid: pass the nextCursor of a previous page',
    );
  return { startedAt: Number(m[1]), id: Number(m[2]) };
}

function isSqlite(db: Knex | Knex.QueryBuilder): boolean {
  const client = db.client.config.client;
  return client === 'better-sqlite3' || client === 'sqlite3';
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size)
    out.push(items.slice(i, i + size));
  return out;
}
