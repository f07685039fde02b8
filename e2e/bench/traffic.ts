/*
 * bench:traffic — captured traffic through one Controls service process on PostgreSQL.
 *   1. sustained ingest through one agent socket: exchanges/s as fast as it takes them
 *      (goal ≥ 5,000/s), then paced at 5,000/s: p99 latency from the agent sending a
 *      message to its exchanges being queryable (goal < 2 s)
 *   2. GET /attachments/:id/traffic p99 with 1,000,000 stored exchanges and a filter
 *      (goal < 150 ms)
 *   3. HAR export of 10,000 exchanges: time and the backend's peak RSS (it streams)
 * Needs PostgreSQL: SPIDER_BENCH_PG or BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING
 * (a server URL; the bench creates and drops its own database).
 * Usage: yarn bench:traffic [ingestExchanges=200000] [storedExchanges=1000000] [pacedExchanges=100000]
 * Prints `uptime` before and after and a table: figure, goal, ratio, PASS/FAIL.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import knexFactory, { Knex } from 'knex';
import { CapturedExchange } from '@spider/backstage-plugin-spider-common';
// eslint-disable-next-line @backstage/no-forbidden-package-imports -- e2e drives the backend's own test helpers
import { TestAgent } from '@spider/backstage-plugin-spider-backend/src/__testUtils__/TestAgent';
import { BenchServer, startBenchServer } from './BenchServer';

const INGEST = Number(process.argv[2] ?? 200_000);
const STORED = Number(process.argv[3] ?? 1_000_000);
const PER_MESSAGE = 500;
const HAR_ENTRIES = 10_000;

/** The nearest-rank percentile: of 100 values, p99 is the 99th (the second slowest). */
function pct(values: number[], p: number) {
  const s = [...values].sort((a, b) => a - b);
  return s[
    Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))
  ];
}
const ms = (n: number) => `${n.toFixed(1)} ms`;
const load = () =>
  os
    .loadavg()
    .map(n => n.toFixed(2))
    .join(' ');

/** A realistic inbound API call: a dozen headers, small JSON bodies. */
function exchange(seq: number, startedAt: string): CapturedExchange {
  let status = 200;
  if (seq % 50 === 0) status = 503;
  else if (seq % 7 === 0) status = 404;
  return {
    id: `bench.${seq}`,
    attachmentId: '',
    container: '',
    pod: '',
    namespace: '',
    protocol: 'http/1.1',
    direction: seq % 4 === 0 ? 'outbound' : 'inbound',
    startedAt,
    durationMs: 1 + (seq % 200),
    client: {
      ip: `10.1.${seq % 16}.${seq % 250}`,
      port: 30000 + (seq % 30000),
      name: `client-${seq % 16}.shop.pod.cluster.local`,
    },
    server: {
      ip: '10.1.0.5',
      port: 8080,
      name: 'web-0.shop.pod.cluster.local',
    },
    request: {
      method: seq % 3 === 0 ? 'POST' : 'GET',
      path: `/api/orders/${seq}?expand=items&page=${seq % 10}`,
      authority: 'web.shop.svc:8080',
      headers: [
        ['host', 'web.shop.svc:8080'],
        ['user-agent', 'checkout/1.4.2 (+node)'],
        ['accept', 'application/json'],
        ['authorization', '[redacted]'],
        ['x-request-id', `8f9c2a1e-${seq}`],
        [
          'traceparent',
          `00-4bf92f3577b34da6a3ce929d0e0e${(seq % 9999)
            .toString()
            .padStart(4, '0')}-00f067aa0ba902b7-01`,
        ],
        ['content-type', 'application/json'],
      ],
      bodySize: 64,
      body: {
        encoding: 'utf8',
        text: `{"order":${seq},"items":[{"sku":"A-1","qty":2}],"note":"bench"}`,
        truncated: false,
      },
    },
    response: {
      status,
      headers: [
        ['content-type', 'application/json'],
        ['content-length', '120'],
        ['date', 'Tue, 01 Dec 2026 10:00:00 GMT'],
        ['server', 'envoy'],
      ],
      trailers: [],
      bodySize: 120,
      body: {
        encoding: 'utf8',
        text: `{"id":${seq},"state":"confirmed","total":{"currency":"EUR","amount":4999},"links":{"self":"/api/orders/${seq}"}}`,
        truncated: false,
      },
    },
    grpc: null,
    error: null,
  };
}

const INGEST_GOAL = 5000;
/** Exchanges of the paced phase (20 s at the goal rate). */
const PACED = Number(process.argv[4] ?? 100_000);

const uptime = () => {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average ${load()}`;
  }
};

interface Row {
  figure: string;
  value: number;
  goal?: number;
  higherIsBetter?: boolean;
  unit: string;
}

/** Side by side: figure, goal, ratio (how far inside the goal; ≥ 1 passes), verdict. */
function printTable(rows: Row[]) {
  const fmt = (n: number, unit: string) =>
    `${n >= 100 ? n.toFixed(0) : n.toFixed(1)}${unit}`;
  const lines = rows.map(r => {
    let ratio: number | undefined;
    if (r.goal !== undefined && r.higherIsBetter) ratio = r.value / r.goal;
    else if (r.goal !== undefined) ratio = r.goal / Math.max(r.value, 1e-9);
    let verdict = 'info';
    if (ratio !== undefined) verdict = ratio >= 1 ? 'PASS' : 'FAIL';
    let shown = '—';
    if (ratio !== undefined)
      shown = ratio > 100 ? '> 100x' : `${ratio.toFixed(2)}x`;
    return [
      r.figure,
      fmt(r.value, r.unit),
      r.goal === undefined
        ? '—'
        : `${r.higherIsBetter ? '≥' : '<'} ${fmt(r.goal, r.unit)}`,
      shown,
      verdict,
    ];
  });
  const head = ['figure', 'measured', 'goal', 'ratio', 'verdict'];
  const widths = head.map((h, i) =>
    Math.max(h.length, ...lines.map(l => l[i].length)),
  );
  const line = (cells: string[]) =>
    cells.map((c, i) => c.padEnd(widths[i])).join(' | ');
  console.log(`\n${line(head)}\n${widths.map(w => '-'.repeat(w)).join('-|-')}`);
  for (const l of lines) console.log(line(l));
  console.log('');
}

async function main() {
  console.log(`uptime at start: ${uptime()}`);
  const serverUrl =
    process.env.SPIDER_BENCH_PG ??
    process.env.BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING;
  if (!serverUrl) {
    throw new Error(
      'bench:traffic needs PostgreSQL: set SPIDER_BENCH_PG (or BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING) to a server URL, e.g. postgresql://postgres@127.0.0.1:5432',
    );
  }
  const dbName = `spider_bench_traffic_${Date.now()}`;
  const admin = knexFactory({ client: 'pg', connection: serverUrl });
  await admin.raw(`CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(serverUrl);
  dbUrl.pathname = `/${dbName}`;
  const db: Knex = knexFactory({
    client: 'pg',
    connection: dbUrl.toString(),
    pool: { min: 1, max: 4 },
  });

  let server: BenchServer | undefined;
  try {
    const bench = await startBenchServer({
      ...process.env,
      SPIDER_BENCH_PG: dbUrl.toString(),
    });
    server = bench;
    const { api, rss } = bench;

    const c = await api.post('/controllers', { name: 'bench' });
    const w = await api.post('/whisperers', { name: 'bench' });
    const agent = new TestAgent({
      url: bench.agentUrl,
      token: c.body.token,
      features: ['traffic'],
      workloads: [
        {
          namespace: 'shop',
          kind: 'Deployment',
          name: 'web',
          labels: {},
          replicas: 1,
          pods: 1,
        },
      ],
      podsPerWorkload: 1,
    });
    await agent.connect();
    const a = await api.post('/attachments', {
      controllerId: c.body.id,
      whispererId: w.body.id,
      target: { namespace: 'shop', kind: 'Deployment', name: 'web' },
    });
    if (a.status !== 201)
      throw new Error(`attach failed: ${a.status} ${JSON.stringify(a.body)}`);
    const attachmentId: string = a.body.id;
    await agent.waitFor(() => agent.desired.has(attachmentId), 'attach');
    const instance = {
      attachmentId,
      namespace: 'shop',
      pod: 'web-0',
      container: 'spider-bench',
    };
    console.log(`load average at start: ${load()}`);
    const rows: Row[] = [];

    // 1. Ingest. First as fast as the socket takes them (the backend pauses its read side
    // when it falls behind): the sustained rate. Then paced at the goal rate: the latency
    // from the agent sending a message to its exchanges being queryable at that rate (a
    // flood measures only how deep the buffers are). A poller sees what is queryable.
    const sentAt = new Map<number, number>();
    const ingest = async (
      fromMessage: number,
      count: number,
      rate?: number,
    ) => {
      const latencies: number[] = [];
      const messages = Math.ceil(count / PER_MESSAGE);
      const last = fromMessage + messages - 1;
      let visible = fromMessage - 1;
      let done = false;
      const poller = (async () => {
        while (!done) {
          const row = await db('spider_traffic_exchanges')
            .where({ attachment_id: attachmentId })
            .max({ id: 'id' })
            .first();
          if (row?.id) {
            const top = await db('spider_traffic_exchanges')
              .where({ id: row.id })
              .first('source_id');
            const seq = Math.floor(
              Number(String(top.source_id).split('.')[1]) / PER_MESSAGE,
            );
            const now = performance.now();
            for (let m = visible + 1; m <= seq; m++)
              latencies.push(now - sentAt.get(m)!);
            visible = Math.max(visible, seq);
            if (visible === last) done = true;
          }
          await new Promise(r => setTimeout(r, 20));
        }
      })();
      const t0 = performance.now();
      for (let i = 0; i < messages; i++) {
        const m = fromMessage + i;
        if (rate) {
          const due = t0 + (i * PER_MESSAGE * 1000) / rate;
          while (performance.now() < due)
            await new Promise(r => setTimeout(r, 1));
        }
        const startedAt = new Date().toISOString();
        const exchanges = Array.from(
          { length: Math.min(PER_MESSAGE, count - i * PER_MESSAGE) },
          (_, j) => exchange(m * PER_MESSAGE + j, startedAt),
        );
        while ((agent.ws?.bufferedAmount ?? 0) > 4 * 1024 * 1024)
          await new Promise(r => setTimeout(r, 2));
        sentAt.set(m, performance.now());
        agent.sendTraffic(instance, { exchanges });
        // Let the socket drain between messages as a real relay does.
        await new Promise(r => setImmediate(r));
      }
      const sendSeconds = (performance.now() - t0) / 1000;
      await Promise.race([poller, new Promise(r => setTimeout(r, 300_000))]);
      done = true;
      const seconds = (performance.now() - t0) / 1000;
      if (agent.closeCode !== undefined)
        throw new Error(
          `the agent socket closed: ${agent.closeCode} ${agent.closeReason}`,
        );
      if (latencies.length < messages)
        throw new Error(
          `only ${latencies.length} of ${messages} messages became queryable in 300 s`,
        );
      return { seconds, sendSeconds, latencies, messages };
    };
    const flood = await ingest(0, INGEST);
    const rate = INGEST / flood.seconds;
    console.log(
      `ingest through one agent socket into PostgreSQL, as fast as it takes them: ${INGEST} exchanges in ${flood.seconds.toFixed(
        1,
      )} s (sent in ${flood.sendSeconds.toFixed(1)} s) = ${rate.toFixed(
        0,
      )} exchanges/s (goal ≥ ${INGEST_GOAL}); latency with full buffers p50 ${ms(
        pct(flood.latencies, 50),
      )}, p99 ${ms(pct(flood.latencies, 99))}`,
    );
    const paced = await ingest(flood.messages, PACED, INGEST_GOAL);
    const pacedRate = PACED / paced.seconds;
    console.log(
      `ingest paced at ${INGEST_GOAL}/s: ${PACED} exchanges, ${pacedRate.toFixed(
        0,
      )} exchanges/s; agent-to-queryable latency per message p50 ${ms(
        pct(paced.latencies, 50),
      )}, p99 ${ms(pct(paced.latencies, 99))} (goal p99 < 2 s)`,
    );
    rows.push(
      {
        figure: 'ingest, one agent socket, PostgreSQL (exchanges/s)',
        value: rate,
        goal: INGEST_GOAL,
        higherIsBetter: true,
        unit: '/s',
      },
      {
        figure: `agent-to-queryable p99 at ${INGEST_GOAL}/s (ms)`,
        value: pct(paced.latencies, 99),
        goal: 2000,
        unit: ' ms',
      },
    );
    console.log(`load average after ingest: ${load()}`);

    // 2. Listing with STORED rows: fill the rest in SQL (the same row shape the store writes).
    const have = Number(
      (await db('spider_traffic_exchanges').count({ n: '*' }).first())!.n,
    );
    const template = await db('spider_traffic_exchanges')
      .where({ attachment_id: attachmentId })
      .first();
    const fillStart = performance.now();
    const step = 100_000;
    for (let from = have; from < STORED; from += step) {
      const to = Math.min(STORED, from + step) - 1;
      await db.raw(
        `INSERT INTO spider_traffic_exchanges (controller_id, attachment_id, namespace, pod, container, source_id, started_at, stored_at,
           direction, protocol, method, path, authority, status, error, duration_ms, client_ip, client_port, client_name, server_ip,
           server_port, server_name, peer_ip, peer_name, request_size, response_size, search_text, search_head, exchange_json, bodies_json, row_bytes, body_bytes)
         SELECT controller_id, attachment_id, namespace, 'web-' || (g % 3), container, 'fill.' || g, ? - (g * 20)::bigint, stored_at,
           direction, protocol, CASE WHEN g % 3 = 0 THEN 'POST' ELSE 'GET' END, '/api/orders/' || g, authority,
           CASE WHEN g % 50 = 0 THEN 503 WHEN g % 7 = 0 THEN 404 ELSE 200 END, error, duration_ms, client_ip, client_port,
           client_name, server_ip, server_port, server_name, peer_ip, peer_name, request_size, response_size,
           '/api/orders/' || g || E'\\n' || search_text, '/api/orders/' || g || E'\\n' || search_text, exchange_json, bodies_json, row_bytes, body_bytes
         FROM spider_traffic_exchanges, generate_series(?::bigint, ?::bigint) AS g WHERE id = ?`,
        [Date.now() - 3_600_000, from, to, template.id],
      );
    }
    // What autovacuum does to a table that grew (its insert threshold is 20 % of the
    // table): statistics and the visibility map, without which an index-only scan still
    // visits the heap. The bulk fill would otherwise be measured in the minute before it.
    await db.raw('VACUUM (ANALYZE) spider_traffic_exchanges');
    console.log(
      `filled to ${STORED} stored exchanges in ${(
        (performance.now() - fillStart) /
        1000
      ).toFixed(1)} s`,
    );
    const cases = [
      'status=5xx',
      'method=POST&status=404',
      'instance=web-1&status=error',
      'q=orders%2F12',
    ];
    for (const filter of cases) {
      const times: number[] = [];
      let cursor = '';
      for (let i = 0; i < 100; i++) {
        const t = performance.now();
        const r = await api.get(
          `/attachments/${attachmentId}/traffic?${filter}&limit=100${
            i % 2 && cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''
          }`,
        );
        times.push(performance.now() - t);
        if (r.status !== 200)
          throw new Error(`list failed: ${r.status} ${JSON.stringify(r.body)}`);
        cursor = r.body.nextCursor ?? '';
      }
      // Which requests were slow (their place in the 100: even ones ask a first page, odd
      // ones the page after it), so a tail can be told from a cold start.
      const slowest = times
        .map((t, i) => ({ t, i }))
        .sort((x, y) => y.t - x.t)
        .slice(0, 3)
        .map(({ t, i }) => `#${i} ${ms(t)}`)
        .join(', ');
      console.log(
        `GET /attachments/:id/traffic?${filter}&limit=100 with ${STORED} stored: p50 ${ms(
          pct(times, 50),
        )}, p99 ${ms(pct(times, 99))} (goal p99 < 150 ms); slowest ${slowest}`,
      );
      rows.push({
        figure: `GET traffic?${filter} p99, ${STORED} stored (ms)`,
        value: pct(times, 99),
        goal: 150,
        unit: ' ms',
      });
    }

    // 3. HAR of 10,000 exchanges, with the backend's RSS sampled while it streams.
    bench.gc();
    const rssBefore = await rss();
    let peak = rssBefore;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await rss());
        await new Promise(r => setTimeout(r, 25));
      }
    })();
    const th = performance.now();
    const har = await api
      .get(`/attachments/${attachmentId}/traffic.har?limit=${HAR_ENTRIES}`)
      .buffer(true)
      .parse((res, cb) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => (bytes += d.length));
        res.on('end', () => cb(null, bytes));
      });
    const harSeconds = (performance.now() - th) / 1000;
    sampling = false;
    await sampler;
    if (har.status !== 200) throw new Error(`HAR export failed: ${har.status}`);
    console.log(
      `HAR export of ${HAR_ENTRIES} exchanges: ${harSeconds.toFixed(2)} s, ${(
        Number(har.body) / 1e6
      ).toFixed(1)} MB; backend RSS ${(rssBefore / 1e6).toFixed(
        0,
      )} MB before, peak ${(peak / 1e6).toFixed(0)} MB during`,
    );
    const harBytes = Number(har.body);
    rows.push(
      {
        figure: `HAR export of ${HAR_ENTRIES} (s)`,
        value: harSeconds,
        unit: ' s',
      },
      {
        // No goal: RSS also holds garbage not yet collected. Compare it with the document.
        figure: `HAR backend RSS growth (MB; the document is ${(
          harBytes / 1e6
        ).toFixed(0)} MB)`,
        value: (peak - rssBefore) / 1e6,
        unit: ' MB',
      },
    );
    console.log(
      `load average at the end: ${load()} (${os.cpus().length} cores)`,
    );
    printTable(rows);
    console.log(`uptime at the end: ${uptime()}`);
    agent.close();
  } finally {
    await server?.stop();
    await db.destroy();
    // SPIDER_BENCH_KEEP_DB=1 keeps the filled database, to EXPLAIN its queries afterwards.
    if (process.env.SPIDER_BENCH_KEEP_DB === '1')
      console.log(`kept the database ${dbName}`);
    else
      await admin
        .raw(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
        .catch(() => {});
    await admin.destroy();
  }
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
