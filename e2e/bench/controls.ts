/*
 * bench:controls — how far one Controls service process goes.
 *   1. N agent sockets (protocol v1, hello + welcome) held by one backend process, its RSS
 *   2. attach-to-agent latency (POST /attachments → the agent holds it) p50/p99 under that load
 *   3. GET /attachments p99 with 10,000 rows (PostgreSQL when SPIDER_BENCH_PG is set)
 * Usage: yarn bench:controls [sockets=5000] [attaches=200] [rows=10000]
 *   SPIDER_BENCH_PROFILE=file.cpuprofile: the server's CPU profile of step 2 only
 *   (5,000 is the default spider.agents.maxConnections; rows=0 skips step 3)
 */
import { execFileSync } from 'node:child_process';
// eslint-disable-next-line @backstage/no-forbidden-package-imports -- e2e drives the backend's own test helpers
import { TestAgent } from '@spider/backstage-plugin-spider-backend/src/__testUtils__/TestAgent';
import { startBenchServer } from './BenchServer';

const SOCKETS = Number(process.argv[2] ?? 5000);
const ATTACHES = Number(process.argv[3] ?? 200);
const ROWS = Number(process.argv[4] ?? 10_000);

function pct(values: number[], p: number) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
const ms = (n: number) => `${n.toFixed(1)} ms`;

const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();

async function main() {
  console.log(`uptime before: ${uptime()}`);
  const server = await startBenchServer();
  const { api, rss } = server;

  try {
    const rssIdle = await rss();
    // 1. Many agents, one Controller each.
    const agents: TestAgent[] = [];
    const started = Date.now();
    const tokens: Array<{ id: string; token: string }> = [];
    for (let i = 0; i < SOCKETS; i++) {
      const c = await api.post('/controllers', { name: `bench-${i}` });
      tokens.push({ id: c.body.id, token: c.body.token });
    }
    server.gc();
    const rssBefore = await rss();
    for (let i = 0; i < SOCKETS; i += 50) {
      await Promise.all(
        tokens.slice(i, i + 50).map(async (t, j) => {
          const a = new TestAgent({
            url: server.agentUrl,
            token: t.token,
            podsPerWorkload: 1,
          });
          await a.connect();
          agents[i + j] = a;
        }),
      );
    }
    const connectSeconds = (Date.now() - started) / 1000;
    await new Promise(r => setTimeout(r, 3000));
    server.gc();
    const rssLoaded = await rss();
    console.log(
      `agent sockets held: ${
        agents.length
      } (connected in ${connectSeconds.toFixed(1)} s)`,
    );
    console.log(
      `backend RSS: at start ${(rssIdle / 1e6).toFixed(
        0,
      )} MB, with ${SOCKETS} Controllers registered ${(rssBefore / 1e6).toFixed(
        0,
      )} MB, with ${agents.length} sockets ${(rssLoaded / 1e6).toFixed(
        0,
      )} MB (goal < 1000 MB with 5,000 sockets, default V8 settings; sockets add ${(
        (rssLoaded - rssBefore) /
        1e3 /
        agents.length
      ).toFixed(0)} kB each)`,
    );

    // 2. Attach push latency under that load: POST /attachments → the `attach` frame
    // arriving at the agent's socket (stamped in the socket's own message listener, so
    // the test agent's handling is not counted), with every socket connected.
    const w = await api.post('/whisperers', { name: 'bench' });
    const lat: number[] = [];
    const post: number[] = [];
    const fallback = { viaSync: 0 };
    const profile = process.env.SPIDER_BENCH_PROFILE;
    if (profile) server.profileStart();
    const cpu0 = await server.cpu();
    for (let i = 0; i < ATTACHES; i++) {
      const k = Math.floor(Math.random() * agents.length);
      // The push, or (when the push was skipped) the sync loop's welcome carrying it.
      const arrived = new Map<string, number>();
      const stamp = (data: Buffer) => {
        const m = JSON.parse(data.toString());
        if (m.type === 'attach')
          arrived.set(m.attachment.id, performance.now());
        if (m.type === 'welcome' || m.type === 'desiredChunk')
          for (const a of m.attachments)
            if (!arrived.has(a.id)) {
              arrived.set(a.id, performance.now());
              fallback.viaSync += 1;
            }
      };
      agents[k].ws!.on('message', stamp);
      const t0 = performance.now();
      const res = await api.post('/attachments', {
        controllerId: tokens[k].id,
        whispererId: w.body.id,
        target: { namespace: 'bench', kind: 'Deployment', name: `w-${i}` },
      });
      if (res.status !== 201)
        throw new Error(`attach failed ${res.status} ${res.text}`);
      post.push(performance.now() - t0);
      await agents[k].waitFor(
        () => arrived.has(res.body.id),
        'the attach message',
        10_000,
      );
      agents[k].ws!.off('message', stamp);
      lat.push(arrived.get(res.body.id)! - t0);
    }
    const cpuPerAttach = ((await server.cpu()) - cpu0) / ATTACHES;
    if (profile) await server.profileStop(profile);
    const pushP99 = pct(lat, 99);
    console.log(
      `attach push over ${ATTACHES} with ${
        agents.length
      } sockets: POST → attach frame at the agent p50 ${ms(
        pct(lat, 50),
      )}, p99 ${ms(pushP99)}; POST answered p50 ${ms(pct(post, 50))}, p99 ${ms(
        pct(post, 99),
      )}; ${
        fallback.viaSync
      } reached the agent by the sync loop instead of a push; backend CPU ${ms(
        cpuPerAttach,
      )} per attach (user+system, its whole process: the sync loop and pings included)`,
    );
    console.table([
      {
        figure: `backend RSS, ${agents.length} sockets`,
        value: `${(rssLoaded / 1e6).toFixed(0)} MB`,
        goal: '< 1000 MB',
        ratio: (rssLoaded / 1e9).toFixed(2),
      },
      {
        figure: 'attach push p99 (POST → agent socket)',
        value: ms(pushP99),
        goal: '< 100 ms',
        ratio: (pushP99 / 100).toFixed(2),
      },
    ]);
    agents.forEach(a => a.close());

    console.log(`uptime after sockets and attaches: ${uptime()}`);
    if (!ROWS) return;

    // 3. Listing with 10,000 rows.
    const existing = ATTACHES;
    const c0 = tokens[0].id;
    const batch = 50;
    for (let i = existing; i < ROWS; i += batch) {
      await Promise.all(
        Array.from({ length: Math.min(batch, ROWS - i) }, (_, j) =>
          api.post('/attachments', {
            controllerId: c0,
            whispererId: w.body.id,
            target: {
              namespace: `ns-${(i + j) % 50}`,
              kind: 'Pod',
              name: `p-${i + j}`,
            },
          }),
        ),
      );
    }
    const list: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t0 = performance.now();
      const r = await api.get('/attachments?limit=100');
      if (r.status !== 200) throw new Error(`list failed ${r.status}`);
      list.push(performance.now() - t0);
    }
    const db = process.env.SPIDER_BENCH_PG ? 'PostgreSQL' : 'SQLite';
    console.log(
      `GET /attachments?limit=100 with ${ROWS} rows on ${db}: p50 ${ms(
        pct(list, 50),
      )}, p99 ${ms(pct(list, 99))}`,
    );
    console.log(`uptime after: ${uptime()}`);
  } finally {
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  err => {
    console.error(err);
    process.exit(1);
  },
);
