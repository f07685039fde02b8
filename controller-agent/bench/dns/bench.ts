/**
 * `yarn bench:dns` — PTR-from-cache throughput and latency of the agent's DNS server
 * against CoreDNS serving the same names from a hosts file (and against a plain dns2
 * server, the floor the agent's fast path replaced), all under dnsperf on this machine.
 *
 *   --pods 10000      pods (PTR names) served
 *   --seconds 10      length of each dnsperf run
 *   --rate 10000      queries/s of the latency run (p99 is measured there)
 *   --impls ceiling,agent:0,agent,coredns,dns2   (`agent:N`: the agent with N UDP worker
 *                     threads; `agent-fast[:N]`: the agent with its Go UDP fast path,
 *                     N sockets (default 1); `fastpath-hosts[:N]`: the fast path alone,
 *                     its memo loaded from CoreDNS's hosts file; `ceiling`: ceiling.c, a
 *                     responder that does nothing else, so its qps is what dnsperf can
 *                     drive on this machine)
 *   --port-base 15300 servers bind 127.0.0.1:<base+1>, <base+2>, ... in turn
 *   --agent-node-flags '...'  node flags of the agent's process (default: the image's,
 *                     from the Dockerfile's ENTRYPOINT)
 *
 * Two runs per server: unlimited rate (throughput: qps), then a fixed rate with
 * per-query latencies (p50/p99/max). Prints a table and the agent/CoreDNS ratios.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { benchPods, hostsFile, queryFile } from './fixture';
import { reverseNameOf } from '../../src/dns/reverse';
import { encodeName } from '../../src/dns/wire';
import { imageNodeFlags } from '../nodeFlags';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const PODS = Number(arg('pods', '10000'));
const SECONDS = Number(arg('seconds', '10'));
const RATE = Number(arg('rate', '10000'));
const IMPLS = arg('impls', 'ceiling,agent:0,agent,coredns,dns2').split(',');
const PORT_BASE = Number(arg('port-base', '15300'));
// The agent runs with its image's node flags unless told otherwise (--agent-node-flags '').
const AGENT_NODE_FLAGS = process.argv.includes('--agent-node-flags')
  ? arg('agent-node-flags', '').split(/\s+/).filter(Boolean)
  : imageNodeFlags();
if (
  !Number.isInteger(PORT_BASE) ||
  PORT_BASE < 1 ||
  PORT_BASE + IMPLS.length > 65535
)
  throw new Error(
    '--port-base must leave room for one port per impl (1..65535)',
  );

const here = __dirname;

interface Result {
  impl: string;
  qps: number;
  avgMs: number;
  lostPct: number;
  /** Server CPU (all threads) per answered query in the throughput run, and cores used. */
  cpuUsPerQuery: number;
  cores: number;
  rateQps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  rateLostPct: number;
}

function probe(port: number): Promise<boolean> {
  const q = Buffer.concat([
    Buffer.from('abcd01000001000000000000', 'hex'),
    encodeName(reverseNameOf('10.244.0.0')!),
    Buffer.from([0, 12, 0, 1]),
  ]);
  return new Promise(resolve => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      resolve(false);
    }, 300);
    s.on('message', () => {
      clearTimeout(t);
      s.close();
      resolve(true);
    });
    s.send(q, port, '127.0.0.1');
  });
}

async function waitReady(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await probe(port)) return;
    await new Promise(r => setTimeout(r, 200));
  }
  throw new Error(`server on ${port} did not answer`);
}

function dnsperf(args: string[]): string {
  return execFileSync('dnsperf', args, {
    maxBuffer: 512 * 1024 * 1024,
    encoding: 'utf8',
  });
}

function num(text: string, re: RegExp): number {
  const m = re.exec(text);
  return m ? Number(m[1]) : NaN;
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[
    Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))
  ];
}

/**
 * CPU seconds (user + system, all threads) the process and its live children (the
 * agent's fast path helper) have used so far.
 */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  let sum = (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (USER_HZ 100)
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    let children = '';
    try {
      children = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    for (const child of children.split(' ').filter(Boolean))
      sum += cpuSeconds(Number(child));
  }
  return sum;
}

async function measure(
  impl: string,
  port: number,
  queries: string,
  pid: number,
): Promise<Result> {
  await waitReady(port);
  const base = [
    '-s',
    '127.0.0.1',
    '-p',
    String(port),
    '-d',
    queries,
    '-c',
    '4',
    '-T',
    '1',
  ];
  dnsperf([...base, '-l', '2', '-q', '200']); // warm-up (JIT, caches)
  const cpu0 = cpuSeconds(pid);
  const tp = dnsperf([...base, '-l', String(SECONDS), '-q', '200']);
  const cpu = cpuSeconds(pid) - cpu0;
  const completed = num(tp, /Queries completed:\s+(\d+)/);
  const lat = dnsperf([
    ...base,
    '-l',
    String(SECONDS),
    '-q',
    '200',
    '-Q',
    String(RATE),
    '-v',
  ]);
  const latencies = lat
    .split('\n')
    .filter(l => l.startsWith('> NOERROR'))
    .map(l => Number(l.trim().split(/\s+/).pop()) * 1000)
    .sort((a, b) => a - b);
  return {
    impl,
    qps: num(tp, /Queries per second:\s+([\d.]+)/),
    avgMs: num(tp, /Average Latency \(s\):\s+([\d.]+)/) * 1000,
    lostPct: num(tp, /Queries lost:\s+\d+ \(([\d.]+)%\)/),
    cpuUsPerQuery: (cpu / completed) * 1e6,
    cores: cpu / SECONDS,
    rateQps: num(lat, /Queries per second:\s+([\d.]+)/),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1],
    rateLostPct: num(lat, /Queries lost:\s+\d+ \(([\d.]+)%\)/),
  };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise(resolve => {
    if (child.exitCode !== null) {
      resolve();
      return;
    }
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

/** Compiles ceiling.c once into the bench cache (keyed by its content). */
function buildCeiling(): string {
  const src = path.join(here, 'ceiling.c');
  const hash = createHash('sha256')
    .update(fs.readFileSync(src))
    .digest('hex')
    .slice(0, 12);
  const dir = path.join(os.homedir(), '.cache', 'spider', 'bench');
  const bin = path.join(dir, `dns-ceiling-${hash}`);
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(dir, { recursive: true });
    execFileSync('cc', ['-O2', '-o', `${bin}.tmp`, src], { stdio: 'inherit' });
    fs.renameSync(`${bin}.tmp`, bin);
  }
  return bin;
}

/** The Go fast path (controller-agent/dnsfast), built once per source state. */
function buildFastPath(): string {
  return execFileSync(path.join(here, '..', '..', 'dnsfast', 'build.sh'), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average ${os.loadavg().join(' ')}`;
  }
}

async function main() {
  const startUptime = uptime();
  const startLoad = os
    .loadavg()
    .map(l => l.toFixed(1))
    .join(' ');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spider-bench-dns-'));
  const pods = benchPods(PODS);
  const queries = path.join(dir, 'queries.txt');
  fs.writeFileSync(queries, queryFile(pods));
  const results: Result[] = [];
  let port = PORT_BASE;
  for (const impl of IMPLS) {
    port++;
    let child: ChildProcess;
    if (impl === 'ceiling') {
      child = spawn(buildCeiling(), [String(port)], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    } else if (impl.startsWith('fastpath-hosts')) {
      // `fastpath-hosts[:N]`: the Go fast path alone (N SO_REUSEPORT sockets), its memo
      // loaded from the same hosts file CoreDNS serves, no agent behind it.
      const bin = buildFastPath();
      fs.writeFileSync(path.join(dir, 'hosts'), hostsFile(pods));
      child = spawn(
        bin,
        [
          '-listen',
          `127.0.0.1:${port}`,
          '-sockets',
          impl.split(':')[1] ?? '1',
          '-hosts',
          path.join(dir, 'hosts'),
        ],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
    } else if (impl === 'coredns') {
      const bin = execFileSync(path.join(here, '..', 'coredns', 'build.sh'), {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }).trim();
      fs.writeFileSync(path.join(dir, 'hosts'), hostsFile(pods));
      // hosts answers PTR for every entry; ttl like the agent's PTR TTL.
      fs.writeFileSync(
        path.join(dir, 'Corefile'),
        `.:${port} {\n  bind 127.0.0.1\n  hosts ${path.join(
          dir,
          'hosts',
        )} {\n    ttl 5\n    reload 0\n  }\n}\n`,
      );
      child = spawn(bin, ['-conf', path.join(dir, 'Corefile'), '-quiet'], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    } else {
      // `agent:N`: the agent with N UDP worker threads (plain `agent`: its default here);
      // `agent-fast:N`: the agent with the Go fast path on N sockets.
      const [name, workers] = impl.split(':');
      const fast = name === 'agent-fast';
      let threadArgs: string[] = [];
      if (fast)
        threadArgs = [
          '--fast-path',
          buildFastPath(),
          '--fast-sockets',
          workers ?? '1',
        ];
      else if (workers !== undefined) threadArgs = ['--workers', workers];
      child = spawn(
        process.execPath,
        [
          ...(name.startsWith('agent') ? AGENT_NODE_FLAGS : []),
          '--import',
          'tsx',
          path.join(here, 'serve.ts'),
          '--impl',
          fast ? 'agent' : name,
          '--port',
          String(port),
          '--pods',
          String(PODS),
          ...threadArgs,
        ],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      );
    }
    try {
      process.stderr.write(`bench:dns ${impl} on 127.0.0.1:${port} ...\n`);
      results.push(await measure(impl, port, queries, child.pid!));
    } finally {
      await stop(child);
    }
  }
  const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  const lines = [
    `PTR from cache, ${PODS} names, dnsperf -c 4 -q 200, ${SECONDS} s runs, agent node flags ${JSON.stringify(
      AGENT_NODE_FLAGS,
    )}, ${os.cpus().length} CPUs (${
      os.cpus()[0]?.model ?? '?'
    }), load average before ${startLoad}, after ${os
      .loadavg()
      .map(l => l.toFixed(1))
      .join(' ')}`,
    '',
    `| server | max qps | avg ms | lost % | CPU µs/query | cores used | p50 ms @${RATE} qps | p99 ms @${RATE} qps | max ms | lost % @${RATE} |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(
      r =>
        `| ${r.impl} | ${f(r.qps)} | ${f(r.avgMs, 2)} | ${f(
          r.lostPct,
          2,
        )} | ${f(r.cpuUsPerQuery, 1)} | ${f(r.cores, 2)} | ${f(
          r.p50Ms,
          3,
        )} | ${f(r.p99Ms, 3)} | ${f(r.maxMs, 2)} | ${f(r.rateLostPct, 2)} |`,
    ),
  ];
  const ceiling = results.find(r => r.impl === 'ceiling');
  if (ceiling) {
    lines.push(
      '',
      `ceiling (dnsperf against a responder that does nothing else, same cores): ${f(
        ceiling.qps,
      )} qps; each server's share of it:`,
      ...results
        .filter(r => r !== ceiling)
        .map(r => `  ${r.impl}: ${f((r.qps / ceiling.qps) * 100)} %`),
    );
  }
  const core = results.find(r => r.impl === 'coredns');
  if (core) {
    lines.push(
      '',
      `against CoreDNS, same run (goal: qps ≥ ×1.5, p99 ≤ ×1.00):`,
    );
    for (const r of results.filter(
      x => x.impl !== 'coredns' && x.impl !== 'ceiling',
    ))
      lines.push(
        `  ${r.impl}/CoreDNS: max qps ×${f(
          r.qps / core.qps,
          2,
        )}, p99 @${RATE} qps ×${f(r.p99Ms / core.p99Ms, 2)}, CPU per query ×${f(
          r.cpuUsPerQuery / core.cpuUsPerQuery,
          2,
        )}`,
      );
  }
  lines.push(`uptime before: ${startUptime}`, `uptime after:  ${uptime()}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  fs.writeFileSync(
    path.join(dir, 'results.json'),
    JSON.stringify(results, null, 2),
  );
  process.stderr.write(`raw results: ${path.join(dir, 'results.json')}\n`);
}

main().catch(e => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
