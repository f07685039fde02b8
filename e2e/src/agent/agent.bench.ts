import { execFile, execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import {
  AGENT_ENV,
  whispererContainerName,
} from '@spider/backstage-plugin-spider-common';
import { ensurePlane } from '../cluster/ControlPlane';
import { startControls } from '../controls/startControls';
import {
  agentServiceAccountKubeconfig,
  apis,
  createDeployment,
  ensureNamespace,
  REPO_ROOT,
  startAgentProcess,
  until,
} from './agentFixtures';

/**
 * `yarn bench:agent`: the controller agent's figures on a real control plane with a real
 * Controls service. Sizes: BENCH_PODS (100), BENCH_LARGE_PODS (0; 1000 adds the attach
 * table for a 1,000-pod Deployment, on kwok nodes the run adds and removes),
 * BENCH_KUBECTL_SAMPLE (100: the kubectl loop of a larger Deployment runs on that many
 * pods and is scaled up, said so in the table), BENCH_MEM_PODS (10000; 0 skips the memory
 * part, which runs alone with `-t memory`), BENCH_MEM_WORKLOADS (1000), BENCH_MEM_FASTPATH
 * (the DNS fast path binary, `off` for none), BENCH_REPLACE (20). BENCH_CONTROLS_PORT fixes the
 * Controls service's port; BENCH_AGENT_BUNDLE runs a bundle built elsewhere (an older
 * commit's, to compare in the same conditions). Run through jest only because the
 * Controls service test backend needs it; this is a benchmark, not a test.
 */
jest.setTimeout(90 * 60_000);

const N = Number(process.env.BENCH_PODS ?? 100);
const MEM_PODS = Number(process.env.BENCH_MEM_PODS ?? 10_000);
const MEM_WORKLOADS = Number(process.env.BENCH_MEM_WORKLOADS ?? 1000);
const REPLACE = Number(process.env.BENCH_REPLACE ?? 20);
const LARGE = Number(process.env.BENCH_LARGE_PODS ?? 0);
const KUBECTL_SAMPLE = Number(process.env.BENCH_KUBECTL_SAMPLE ?? 100);
/**
 * The memory part's namespace, kept after the run (and its kwok nodes), and reused by the
 * next run with the same name: the 10,000 pods are created once (slow on a loaded
 * machine) and a quiet run only restarts the agent on them. Unset: a fresh one, removed.
 */
const MEM_NAMESPACE = process.env.BENCH_MEM_NAMESPACE;
/** Extra node flags for the attach part's agent (e.g. `--cpu-prof --cpu-prof-dir=DIR`). */
const AGENT_NODE_ARGS = (process.env.BENCH_AGENT_NODE_ARGS ?? '')
  .split(' ')
  .filter(Boolean);
const OWNER = 'user:default/owner';

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[
    Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))
  ];
}
const execFileAsync = promisify(execFile);
const fmt = (ms: number) => `${Math.round(ms)} ms`;
const out = (line: string) => process.stdout.write(`${line}\n`);

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN; // gone between the listing and the read
  }
}

/** The child processes of `pid` (every thread's), recursively. */
function descendantsOf(pid: number): number[] {
  const found: number[] = [];
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return found;
  }
  for (const t of tasks) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const c of text.split(/\s+/).filter(Boolean).map(Number))
      found.push(c, ...descendantsOf(c));
  }
  return found;
}

/**
 * The pod's memory as RSS: the agent's Node process plus its children (the DNS fast
 * path), each part apart. A child not running counts 0, said by `children: 0`.
 */
function treeRss(pid: number): {
  agent: number;
  children: number;
  count: number;
  sum: number;
} {
  const agent = rssOf(pid);
  const kids = descendantsOf(pid)
    .map(rssOf)
    .filter(n => !Number.isNaN(n));
  const children = kids.reduce((a, b) => a + b, 0);
  return { agent, children, count: kids.length, sum: agent + children };
}

/** A PTR query for the reverse name of IPv4 `ip`, id `id`. */
function ptrQuery(ip: string, id: number): Buffer {
  const labels = [...ip.split('.').reverse(), 'in-addr', 'arpa'];
  const name = Buffer.concat([
    ...labels.map(l =>
      Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]),
    ),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id & 0xffff, 0);
  head.writeUInt16BE(0x0100, 2); // RD
  head.writeUInt16BE(1, 4);
  return Buffer.concat([head, name, Buffer.from([0, 12, 0, 1])]);
}

/**
 * Asks the agent's DNS port the PTR name of every IP once, `window` in flight, as a
 * cluster's resolvers would after a restart (so the answer memos hold every name).
 * Returns how many got a NOERROR answer with one record.
 */
async function askEveryPtr(
  port: number,
  ips: string[],
  window = 100,
): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>(r => sock.bind(0, '127.0.0.1', () => r()));
  const waiting = new Map<number, () => void>();
  let answered = 0;
  sock.on('message', msg => {
    const id = msg.readUInt16BE(0);
    const done = waiting.get(id);
    if (!done) return;
    if ((msg[3] & 0x0f) === 0 && msg.readUInt16BE(6) === 1) answered++;
    done();
  });
  let next = 0;
  const one = (i: number) =>
    new Promise<void>(resolve => {
      const id = i & 0xffff;
      const t = setTimeout(() => {
        waiting.delete(id);
        resolve();
      }, 2000);
      waiting.set(id, () => {
        clearTimeout(t);
        waiting.delete(id);
        resolve();
      });
      sock.send(ptrQuery(ips[i], id), port, '127.0.0.1');
    });
  await Promise.all(
    Array.from({ length: Math.min(window, ips.length) }, async () => {
      for (let i = next++; i < ips.length; i = next++) await one(i);
    }),
  );
  sock.close();
  return answered;
}

/**
 * Records, per pod, when it was first seen, first seen Running, and when each ephemeral
 * container first appeared in its spec (so it can start before the attachment, whose
 * container name is known only from the POST's answer, exists). The watch is restarted
 * on any error or end; a watch without a resourceVersion starts with every current pod
 * (ADDED), so each restart is a relist and nothing is missed.
 */
async function recordPods(kc: KubeConfig, namespace: string) {
  const seen = new Map<
    string,
    {
      added: number;
      running?: number;
      containers: Map<string, number>;
      uid: string;
    }
  >();
  const watch = new Watch(kc);
  let ctl: AbortController | undefined;
  let stopped = false;
  let restarts = 0;
  const onEvent = (type: string, obj: any) => {
    const now = performance.now();
    const name = obj?.metadata?.name;
    // An ERROR event (410 Gone, say) carries a Status, not a pod: the watch is over;
    // restart it, which relists (a 1,000-pod run once died here on `undefined`).
    if (type === 'ERROR' || typeof name !== 'string') {
      const old = ctl;
      restart();
      old?.abort();
      return;
    }
    if (type === 'DELETED') return;
    let r = seen.get(name);
    if (!r || r.uid !== obj.metadata.uid)
      seen.set(
        name,
        (r = { added: now, uid: obj.metadata.uid, containers: new Map() }),
      );
    if (!r.running && obj.status?.phase === 'Running') r.running = now;
    for (const c of obj.spec.ephemeralContainers ?? [])
      if (!r.containers.has(c.name)) r.containers.set(c.name, now);
  };
  // Each watch has its generation: the end of a watch already replaced (aborted after
  // an ERROR event) must not start a second one.
  let generation = 0;
  async function start(): Promise<void> {
    const mine = ++generation;
    try {
      ctl = await watch.watch(
        `/api/v1/namespaces/${namespace}/pods`,
        {},
        (type, obj) => {
          if (mine === generation) onEvent(type, obj);
        },
        () => {
          if (mine === generation) restart();
        },
      );
      if (stopped) ctl.abort();
    } catch {
      if (mine === generation) restart();
    }
  }
  function restart(): void {
    generation++;
    if (stopped) return;
    restarts++;
    setTimeout(() => void start(), 200);
  }
  await start();
  /** Pods of `prefix` (a Deployment's pods are named after it) carrying `container`, with when. */
  const injected = (container: string, prefix: string) =>
    [...seen.entries()]
      .filter(
        ([n, r]) => n.startsWith(`${prefix}-`) && r.containers.has(container),
      )
      .map(([n, r]) => ({ name: n, at: r.containers.get(container)!, rec: r }));
  return {
    seen,
    injected,
    restarts: () => restarts,
    stop: () => {
      stopped = true;
      ctl?.abort();
    },
  };
}
type Recorder = Awaited<ReturnType<typeof recordPods>>;

/** The kubectl the plane was built with (its cache), or undefined. */
function planeKubectl(): string | undefined {
  const root = join(homedir(), '.cache', 'spider', 'plane');
  if (!existsSync(root)) return undefined;
  return readdirSync(root)
    .map(d => join(root, d, 'bin', 'kubectl'))
    .find(f => existsSync(f));
}

/** Pods of `namespace` whose spec carries `container`, straight from the API. */
async function injectedPods(
  kc: KubeConfig,
  namespace: string,
  container: string,
): Promise<number> {
  const pods = await apis(kc).core.listNamespacedPod({ namespace });
  return pods.items.filter(p =>
    (p.spec?.ephemeralContainers ?? []).some(c => c.name === container),
  ).length;
}

/**
 * The minimal client of the physical limit, run as its own Node process (as the agent is:
 * not sharing the bench's event loop with the Controls service and the pod recorder):
 * raw HTTPS with one keep-alive agent, `limit` PATCHes in flight, nothing else. A dropped
 * connection (the loaded API server closes some) is sent again, as any client would; a
 * 422 Duplicate on that retry means the first one landed. Prints the wall time in ms.
 */
const LIMIT_CLIENT = `
const https = require('node:https');
const { server, ca, token, namespace, pods, limit, prefix } = JSON.parse(process.env.LIMIT_JOB);
const agent = new https.Agent({ keepAlive: true, ca, maxSockets: limit });
const url = new URL(server);
function patch(i) {
  const body = JSON.stringify({ spec: { ephemeralContainers: [{ name: prefix + '-' + i, image: 'busybox:1' }] } });
  return new Promise((resolve, reject) => {
    const req = https.request({
      agent, host: url.hostname, port: url.port, method: 'PATCH',
      path: '/api/v1/namespaces/' + namespace + '/pods/' + pods[i] + '/ephemeralcontainers',
      headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/strategic-merge-patch+json', 'Content-Length': Buffer.byteLength(body), Accept: 'application/json' },
    }, res => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
    req.end(body);
  });
}
(async () => {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, pods.length) }, async () => {
    for (let i = next++; i < pods.length; i = next++) {
      for (let attempt = 1; ; attempt++) {
        let status;
        try { status = await patch(i); } catch (e) { if (attempt >= 5) throw e; continue; }
        if (status < 300 || (status === 422 && attempt > 1)) break;
        if (status !== 409 && status !== 429 && status < 500) throw new Error('PATCH ' + pods[i] + ': ' + status);
        if (attempt >= 5) throw new Error('PATCH ' + pods[i] + ': ' + status + ' ' + attempt + ' times');
      }
    }
  }));
  process.stdout.write(String(performance.now() - t0));
  agent.destroy();
})().catch(e => { console.error(String(e)); process.exit(1); });
`;

/** The physical limit: {@link LIMIT_CLIENT} PATCHing every pod, `limit` at a time; its wall time. */
async function patchAll(
  kc: KubeConfig,
  namespace: string,
  pods: string[],
  limit: number,
  prefix: string,
): Promise<number> {
  const cluster = kc.getCurrentCluster()!;
  const user = kc.getCurrentUser()!;
  const ca =
    cluster.caData !== undefined
      ? Buffer.from(cluster.caData, 'base64').toString('utf8')
      : readFileSync(cluster.caFile!, 'utf8');
  const job = {
    server: cluster.server,
    ca,
    token: user.token,
    namespace,
    pods,
    limit,
    prefix,
  };
  const { stdout } = await execFileAsync(
    process.execPath,
    ['-e', LIMIT_CLIENT],
    {
      env: { ...process.env, LIMIT_JOB: JSON.stringify(job) },
      maxBuffer: 1024 * 1024,
    },
  );
  return Number(stdout);
}

/** Pods the Ready nodes can still take (allocatable pods minus the pods bound to them). */
async function podRoom(kc: KubeConfig): Promise<number> {
  const nodes = (await apis(kc).core.listNode()).items.filter(n =>
    n.status?.conditions?.some(c => c.type === 'Ready' && c.status === 'True'),
  );
  const pods = await apis(kc).core.listPodForAllNamespaces({
    fieldSelector: 'spec.nodeName!=',
  });
  const cap = nodes.reduce(
    (sum, n) => sum + Number(n.status?.allocatable?.pods ?? 0),
    0,
  );
  return cap - pods.items.length;
}

/**
 * Adds kwok nodes (the plane's kwok manages every Node annotated kwok.x-k8s.io/node=fake)
 * until `pods` more pods fit; returns their names, for removal at the end.
 */
async function addKwokNodes(
  kc: KubeConfig,
  pods: number,
  run: string,
): Promise<string[]> {
  const room = await podRoom(kc);
  const perNode = 250;
  const count = Math.max(0, Math.ceil((pods - room) / perNode));
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `bench-kwok-${run}-${i}`;
    names.push(name);
    await apis(kc).core.createNode({
      body: {
        metadata: {
          name,
          annotations: {
            'kwok.x-k8s.io/node': 'fake',
            'node.alpha.kubernetes.io/ttl': '0',
          },
          labels: { type: 'kwok', 'kubernetes.io/hostname': name },
        },
        spec: {
          podCIDR: `10.250.${i}.0/24`,
          podCIDRs: [`10.250.${i}.0/24`],
        },
        status: {
          allocatable: { cpu: '64', memory: '256Gi', pods: String(perNode) },
          capacity: { cpu: '64', memory: '256Gi', pods: String(perNode) },
        },
      },
    });
  }
  if (count)
    await until(
      `${count} added kwok nodes Ready`,
      async () => (await podRoom(kc)) >= pods,
      120_000,
      1000,
    );
  return names;
}

interface AttachFigures {
  n: number;
  attachLat: number[];
  attachAll: number;
  /** POST → the agent's last PATCH answered, from its own log. */
  patchedAll: number;
  toAgentMs: number;
  limits: Array<{ concurrency: number; ms: number }>;
  best: { concurrency: number; ms: number };
  kubectl: string | undefined;
  kubectlPods: number;
  kubectlTotal: number;
  /** The loop's time for every pod: measured, or scaled up from `kubectlPods`. */
  kubectlAll: number;
  attachmentId: string;
  container: string;
}

describe('agent benchmark', () => {
  it('prints attach (against the physical limit and a real kubectl loop), re-injection and POST-to-agent figures', async () => {
    const uptimeBefore = execFileSync('uptime', { encoding: 'utf8' }).trim();
    out(`uptime before: ${uptimeBefore}`);
    const plane = await ensurePlane();
    const admin = plane.kubeConfig;
    const controls = await startControls({
      port: process.env.BENCH_CONTROLS_PORT
        ? Number(process.env.BENCH_CONTROLS_PORT)
        : undefined,
    });
    const run = Date.now().toString(36).slice(-5);
    const ns = `bench-${run}`;
    const largeNs = `bench-large-${run}`;
    let agent: ReturnType<typeof startAgentProcess> | undefined;
    let addedNodes: string[] = [];
    const tables: string[] = [];
    try {
      const seed = await controls.seed(OWNER, { name: 'bench' });
      const kubeconfig = await agentServiceAccountKubeconfig(admin);
      await ensureNamespace(admin, ns);

      // The bundle is what the image runs (tsx alone adds ~100 MB of RSS).
      if (!process.env.BENCH_AGENT_BUNDLE)
        execFileSync(process.execPath, ['bundle.mjs'], {
          cwd: join(REPO_ROOT, 'controller-agent'),
        });
      agent = startAgentProcess(
        {
          [AGENT_ENV.controlsUrl]: controls.controlsUrl,
          [AGENT_ENV.token]: seed.token,
          KUBECONFIG: kubeconfig,
          [AGENT_ENV.httpPort]: '0',
          [AGENT_ENV.dnsPort]: '0',
          [AGENT_ENV.endpointPort]: '0',
          [AGENT_ENV.podIp]: '127.0.0.1',
          // debug: the agent logs each PATCH's answer ('whisperer in pod'), the figure
          // comparable to the limit's (its PATCHes answered, no watch in between).
          [AGENT_ENV.logLevel]: 'debug',
        },
        {
          bundle: process.env.BENCH_AGENT_BUNDLE ?? true,
          nodeArgs: AGENT_NODE_ARGS,
        },
      );
      const theAgent = agent;
      await until(
        'agent connected',
        async () => {
          const c = await controls
            .as(OWNER)
            .get(`/controllers/${seed.controllerId}`);
          return c.body.connected;
        },
        120_000,
      );
      // The agent's own account of failed PATCHes (retried, or held as rejections).
      const warnings = () =>
        theAgent.logs.filter(
          l =>
            l.msg === 'injection failed; retrying' ||
            l.msg === 'whisperer not injected',
        );

      /** Waits until every pod of `workload` carries `container`; on timeout says who stalled. */
      const waitInjected = async (
        rec: Recorder,
        namespace: string,
        workload: string,
        n: number,
        container: string,
        attachmentId: string,
        timeoutMs: number,
      ) =>
        until(
          `all ${n} pods of ${workload} injected`,
          async () => rec.injected(container, workload).length >= n,
          timeoutMs,
          50,
        ).catch(async e => {
          // Who stalled: the recorder (the API has them all) or the agent (its own view)?
          const viaApi = await injectedPods(admin, namespace, container).catch(
            () => NaN,
          );
          const attachment = await controls
            .as(OWNER)
            .get(`/attachments/${attachmentId}`)
            .catch(() => undefined);
          const status = await controls
            .as(OWNER)
            .get(`/controllers/${seed.controllerId}/status`)
            .catch(() => undefined);
          out(
            `TIMEOUT: recorder saw ${
              rec.injected(container, workload).length
            } injected (watch restarts ${rec.restarts()}), the API lists ${viaApi}`,
          );
          out(
            `agent's view of the attachment: ${JSON.stringify(
              attachment?.body,
            ).slice(0, 4000)}`,
          );
          out(
            `agent's injection warnings: ${JSON.stringify(
              warnings()
                .slice(-10)
                .map(l => ({
                  msg: l.msg,
                  pod: l.pod,
                  error: l.error ?? l.message,
                })),
            )}`,
          );
          out(
            `agent's status attachments: ${JSON.stringify(
              status?.body?.status?.attachments,
            ).slice(0, 4000)}`,
          );
          throw e;
        });

      /**
       * POST → every pod of a fresh `n`-pod Deployment carries the whisperer, then the
       * physical limit and the kubectl loop on the same pods. A first attachment warms
       * the agent up and is detached only once every pod carries it, so the measured one
       * does not queue behind its PATCHes.
       */
      const attachFigures = async (
        namespace: string,
        workload: string,
        n: number,
        rec: Recorder,
      ): Promise<AttachFigures> => {
        await createDeployment(admin, namespace, workload, n);
        await until(
          `${n} running pods`,
          async () => {
            const pods = await apis(admin).core.listNamespacedPod({
              namespace,
              labelSelector: `app=${workload}`,
            });
            return (
              pods.items.filter(p => p.status?.phase === 'Running').length >= n
            );
          },
          20 * 60_000,
          1000,
        );
        const timeoutMs = Math.max(5 * 60_000, n * 600);
        const target = { namespace, kind: 'Deployment', name: workload };
        const w0 = await controls
          .as(OWNER)
          .post('/whisperers', { name: `warm-${workload}` });
        const res0 = await controls.as(OWNER).post('/attachments', {
          controllerId: seed.controllerId,
          whispererId: w0.body.id,
          target,
        });
        await waitInjected(
          rec,
          namespace,
          workload,
          n,
          whispererContainerName(res0.body.id),
          res0.body.id,
          timeoutMs,
        );
        await controls.as(OWNER).delete(`/attachments/${res0.body.id}`);
        await new Promise(r => setTimeout(r, 2000));

        const w = await controls
          .as(OWNER)
          .post('/whisperers', { name: `bench-${workload}` });
        const t0 = performance.now();
        const postedAt = Date.now();
        const res = await controls.as(OWNER).post('/attachments', {
          controllerId: seed.controllerId,
          whispererId: w.body.id,
          target,
        });
        const container = whispererContainerName(res.body.id);
        await waitInjected(
          rec,
          namespace,
          workload,
          n,
          container,
          res.body.id,
          timeoutMs,
        );
        const attachLat = rec.injected(container, workload).map(r => r.at - t0);
        const attachAll = Math.max(...attachLat);
        const attachLog = await theAgent
          .waitForLog(
            l => l.msg === 'attach' && l.attachmentId === res.body.id,
            5000,
          )
          .catch(() => undefined);
        const toAgentMs = attachLog
          ? Date.parse(attachLog.time) - postedAt
          : NaN;
        const patchedAll =
          Math.max(
            ...theAgent.logs
              .filter(
                l =>
                  l.msg === 'whisperer in pod' &&
                  l.container === container &&
                  String(l.pod).startsWith(`${namespace}/${workload}-`),
              )
              .map(l => Date.parse(l.time)),
          ) - postedAt;
        out(
          `${workload} (${n} pods): agent POST → all carry the whisperer ${fmt(
            attachAll,
          )} (p50 ${fmt(
            pct(attachLat, 50),
          )}); POST → its last PATCH answered ${fmt(
            patchedAll,
          )}; POST → attach log ${fmt(toAgentMs)}`,
        );

        // The physical limit on this plane: one minimal client PATCHing an ephemeral
        // container into every pod, at its best concurrency (each tried once).
        const pods = (
          await apis(admin).core.listNamespacedPod({
            namespace,
            labelSelector: `app=${workload}`,
          })
        ).items
          .filter(p => !p.metadata?.deletionTimestamp)
          .map(p => p.metadata!.name!)
          .slice(0, n);
        const limits: Array<{ concurrency: number; ms: number }> = [];
        for (const concurrency of n > 100 ? [8, 32, 100, 200] : [8, 32, 100])
          limits.push({
            concurrency,
            ms: await patchAll(
              admin,
              namespace,
              pods,
              concurrency,
              `limit-c${concurrency}`,
            ),
          });
        const best = limits.reduce((a, b) => (b.ms < a.ms ? b : a));
        out(
          `${workload}: physical limit ${limits
            .map(l => `${fmt(l.ms)} at concurrency ${l.concurrency}`)
            .join(', ')}`,
        );

        // The real `kubectl debug --target` loop: one kubectl process per pod, in turn.
        const kubectl = planeKubectl();
        const sample = pods.slice(0, Math.min(pods.length, KUBECTL_SAMPLE));
        let kubectlTotal = NaN;
        if (kubectl) {
          const k0 = performance.now();
          for (const [i, pod] of sample.entries()) {
            execFileSync(
              kubectl,
              [
                '--kubeconfig',
                plane.kubeconfigPath,
                '-n',
                namespace,
                'debug',
                pod,
                '--image=busybox:1',
                '--target=app',
                `--container=debugger-${i}`,
                '--profile=general',
              ],
              { stdio: ['ignore', 'ignore', 'pipe'] },
            );
          }
          kubectlTotal = performance.now() - k0;
        }
        const kubectlAll = (kubectlTotal / sample.length) * pods.length;
        out(
          `${workload}: kubectl debug loop ${fmt(kubectlTotal)} for ${
            sample.length
          } pods (${fmt(kubectlTotal / sample.length)} per pod)`,
        );
        return {
          n,
          attachLat,
          attachAll,
          patchedAll,
          toAgentMs,
          limits,
          best,
          kubectl,
          kubectlPods: sample.length,
          kubectlTotal,
          kubectlAll,
          attachmentId: res.body.id,
          container,
        };
      };

      const table = (f: AttachFigures) => {
        const scaled = f.kubectlPods < f.n;
        const rows = [
          `| N=${f.n} pods | all injected | ratio | goal |`,
          '| --- | ---: | ---: | --- |',
          `| agent (POST → the recorder's watch shows the last pod carrying it) | ${fmt(
            f.attachAll,
          )} | | |`,
          `| agent (POST → its last PATCH answered, its log) | ${fmt(
            f.patchedAll,
          )} | agent/limit ×${(f.patchedAll / f.best.ms).toFixed(
            2,
          )} | ≤ ×1.25 |`,
          `| physical limit (best concurrency ${f.best.concurrency}) | ${fmt(
            f.best.ms,
          )} | agent/limit ×${(f.attachAll / f.best.ms).toFixed(
            2,
          )} | ≤ ×1.25 |`,
          `| kubectl debug loop${
            scaled ? ` (${f.kubectlPods} pods measured, scaled to ${f.n})` : ''
          } | ${fmt(f.kubectlAll)} | kubectl/agent ×${(
            f.kubectlAll / f.attachAll
          ).toFixed(1)} | ≥ ×15 |`,
        ];
        return rows.join('\n');
      };

      // 1. Attach, N pods: against the physical limit and the kubectl loop.
      const rec = await recordPods(admin, ns);
      const small = await attachFigures(ns, 'target', N, rec);
      tables.push(table(small));

      // 2. Re-injection latency: delete pods; each replacement from Running to whisperer.
      const doneAt = performance.now();
      const victims = rec
        .injected(small.container, 'target')
        .slice(0, REPLACE)
        .map(r => r.name);
      await Promise.all(
        victims.map(name =>
          apis(admin).core.deleteNamespacedPod({
            name,
            namespace: ns,
            gracePeriodSeconds: 0,
          }),
        ),
      );
      const replacedNow = () =>
        rec
          .injected(small.container, 'target')
          .filter(r => !victims.includes(r.name) && r.rec.added > doneAt);
      await until(
        'replacements injected',
        async () => replacedNow().length >= REPLACE,
        5 * 60_000,
        100,
      );
      const replaced = replacedNow();
      const fromRunning = replaced.map(
        r => r.at - (r.rec.running ?? r.rec.added),
      );
      const fromCreated = replaced.map(r => r.at - r.rec.added);
      // The figures below cover every pod they claim to.
      expect(small.attachLat.length).toBeGreaterThanOrEqual(N);
      expect(replaced.length).toBeGreaterThanOrEqual(REPLACE);
      rec.stop();

      // 3. POST → the agent's `attach` log, on a 1-pod Deployment, 20 attaches in turn.
      await createDeployment(admin, ns, 'probe', 1);
      const toAgent: number[] = [];
      const postAnswered: number[] = [];
      const getAnswered: number[] = [];
      for (let i = 0; i < 20; i++) {
        const w = await controls
          .as(OWNER)
          .post('/whisperers', { name: `bench-probe-${i}` });
        const at = Date.now();
        const a = await controls.as(OWNER).post('/attachments', {
          controllerId: seed.controllerId,
          whispererId: w.body.id,
          target: { namespace: ns, kind: 'Deployment', name: 'probe' },
        });
        postAnswered.push(Date.now() - at);
        // The same request pipeline (auth, permissions, database) without an attach.
        const g = Date.now();
        await controls.as(OWNER).get(`/controllers/${seed.controllerId}`);
        getAnswered.push(Date.now() - g);
        const log = await agent
          .waitForLog(
            l => l.msg === 'attach' && l.attachmentId === a.body.id,
            10_000,
          )
          .catch(() => undefined);
        if (log) toAgent.push(Date.parse(log.time) - at);
        await controls.as(OWNER).delete(`/attachments/${a.body.id}`);
      }
      out(
        `POST → agent attach log over ${toAgent.length} attaches: p50 ${fmt(
          pct(toAgent, 50),
        )}, p99 ${fmt(
          pct(toAgent, 99),
        )} (goal p99 < 100 ms); the POST answered after p50 ${fmt(
          pct(postAnswered, 50),
        )}, p99 ${fmt(
          pct(postAnswered, 99),
        )}; a GET of the Controller p50 ${fmt(pct(getAnswered, 50))}, p99 ${fmt(
          pct(getAnswered, 99),
        )}; each ${JSON.stringify(toAgent)}`,
      );

      // 4. Attach, LARGE pods (BENCH_LARGE_PODS), on kwok nodes added for them.
      let large: AttachFigures | undefined;
      if (LARGE > 0) {
        await ensureNamespace(admin, largeNs);
        addedNodes = await addKwokNodes(admin, LARGE, run);
        const recLarge = await recordPods(admin, largeNs);
        try {
          large = await attachFigures(largeNs, 'large', LARGE, recLarge);
          tables.push(table(large));
        } finally {
          recLarge.stop();
        }
      }

      out('');
      out(
        '=== controller agent benchmark (real plane, real Controls service, agent as host process) ===',
      );
      for (const f of [small, ...(large ? [large] : [])]) {
        out(
          `attach latency, POST → whisperer in pod spec, N=${f.n}: p50 ${fmt(
            pct(f.attachLat, 50),
          )}, p99 ${fmt(pct(f.attachLat, 99))}, all ${fmt(
            f.attachAll,
          )}; of which POST → attach message logged by the agent: ${fmt(
            f.toAgentMs,
          )}`,
        );
        out(
          `  physical limit, one client PATCHing ${f.n} pods: ${f.limits
            .map(l => `${fmt(l.ms)} at concurrency ${l.concurrency}`)
            .join(', ')}; best ${fmt(f.best.ms)}`,
        );
        out(
          `  real kubectl debug --target loop (${
            f.kubectl ?? 'no kubectl in the plane cache'
          }), one process per pod: ${fmt(f.kubectlTotal)} for ${
            f.kubectlPods
          } pods, ${fmt(f.kubectlTotal / f.kubectlPods)} per pod`,
        );
      }
      out(
        `re-injection after pod replacement (${
          replaced.length
        } pods): from Running p50 ${fmt(pct(fromRunning, 50))}, p99 ${fmt(
          pct(fromRunning, 99),
        )}; from creation p50 ${fmt(pct(fromCreated, 50))}, p99 ${fmt(
          pct(fromCreated, 99),
        )}`,
      );
      out(
        `POST → agent attach log over ${toAgent.length} attaches: p50 ${fmt(
          pct(toAgent, 50),
        )}, p99 ${fmt(
          pct(toAgent, 99),
        )} (goal p99 < 100 ms); the POST answered after p50 ${fmt(
          pct(postAnswered, 50),
        )}, p99 ${fmt(
          pct(postAnswered, 99),
        )}; a GET of the Controller p50 ${fmt(pct(getAnswered, 50))}, p99 ${fmt(
          pct(getAnswered, 99),
        )}`,
      );
      for (const t of tables) {
        out('');
        out(t);
      }
      out('');
      out(`agent injection warnings during the run: ${warnings().length}`);
      out(`uptime before: ${uptimeBefore}`);
      out(
        `uptime after:  ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`,
      );
      out('');
    } finally {
      await agent?.stop();
      await controls.close();
      for (const name of [ns, largeNs])
        await apis(admin)
          .core.deleteNamespace({ name })
          .catch(() => {});
      for (const name of addedNodes)
        await apis(admin)
          .core.deleteNode({ name })
          .catch(() => {});
      await plane.stop();
    }
  });

  // The memory part, on its own agent: `yarn bench:agent -t memory` runs it alone,
  // `-t attach` the rest; BENCH_MEM_PODS=0 skips it.
  it('prints the agent memory while it watches BENCH_MEM_PODS pods (RSS, watch cache bytes per pod)', async () => {
    if (!(MEM_PODS > 0 && MEM_WORKLOADS > 0)) return;
    const uptimeBefore = execFileSync('uptime', { encoding: 'utf8' }).trim();
    out(`uptime before: ${uptimeBefore}`);
    const plane = await ensurePlane();
    const admin = plane.kubeConfig;
    const controls = await startControls({
      port: process.env.BENCH_CONTROLS_PORT
        ? Number(process.env.BENCH_CONTROLS_PORT)
        : undefined,
    });
    const run = Date.now().toString(36).slice(-5);
    const memNs = MEM_NAMESPACE ?? `bench-mem-${run}`;
    let agent: ReturnType<typeof startAgentProcess> | undefined;
    let addedNodes: string[] = [];
    const tmp = mkdtempSync(join(tmpdir(), 'spider-bench-mem-'));
    try {
      const seed = await controls.seed(OWNER, { name: 'bench-mem' });
      const kubeconfig = await agentServiceAccountKubeconfig(admin);
      await ensureNamespace(admin, memNs);
      // Room for every pod on kwok nodes, so they run and get IPs as real ones would.
      addedNodes = await addKwokNodes(admin, MEM_PODS, `m${run}`);
      if (!process.env.BENCH_AGENT_BUNDLE)
        execFileSync(process.execPath, ['bundle.mjs'], {
          cwd: join(REPO_ROOT, 'controller-agent'),
        });
      // The node flags of the image (its Dockerfile's ENTRYPOINT): the process it runs.
      const entry = readFileSync(
        join(REPO_ROOT, 'controller-agent', 'Dockerfile'),
        'utf8',
      )
        .split('\n')
        .find(l => l.startsWith('ENTRYPOINT'))!;
      const nodeArgs: string[] = JSON.parse(
        entry.slice('ENTRYPOINT'.length),
      ).slice(1, -1);
      // The image runs the DNS UDP fast path beside the agent (a child process, docs/dns.md):
      // so does this agent. BENCH_MEM_FASTPATH: `off` for none, or a binary built
      // elsewhere (an older commit's); default this checkout's (dnsfast/build.sh).
      const fastPathBin =
        process.env.BENCH_MEM_FASTPATH ||
        execFileSync(
          join(REPO_ROOT, 'controller-agent', 'dnsfast', 'build.sh'),
          { encoding: 'utf8' },
        ).trim();
      // The agent as its image runs it (node flags of the ENTRYPOINT).
      const startMemoryAgent = () =>
        startAgentProcess(
          {
            [AGENT_ENV.controlsUrl]: controls.controlsUrl,
            [AGENT_ENV.token]: seed.token,
            KUBECONFIG: kubeconfig,
            [AGENT_ENV.httpPort]: '0',
            [AGENT_ENV.dnsPort]: '0',
            [AGENT_ENV.endpointPort]: '0',
            [AGENT_ENV.podIp]: '127.0.0.1',
            [AGENT_ENV.logLevel]: 'info',
            SPIDER_DNS_FASTPATH_BIN: fastPathBin,
          },
          { bundle: process.env.BENCH_AGENT_BUNDLE ?? true, nodeArgs },
        );
      agent = startMemoryAgent();
      const pid = agent.child.pid!;
      await agent.waitForLog(l => l.msg === 'caches synced', 300_000);
      const rssBefore = treeRss(pid);
      let peak = rssBefore.sum;
      const sampler = setInterval(() => {
        peak = Math.max(peak, treeRss(pid).sum);
      }, 1000);
      const per = Math.ceil(MEM_PODS / MEM_WORKLOADS);
      const t0 = Date.now();
      // A kept namespace (BENCH_MEM_NAMESPACE) already has some or all of them.
      const existing = new Set(
        (
          await apis(admin).apps.listNamespacedDeployment({ namespace: memNs })
        ).items.map(d => d.metadata!.name!),
      );
      const missing = Array.from(
        { length: MEM_WORKLOADS },
        (_, i) => `w${i}`,
      ).filter(name => !existing.has(name));
      for (let i = 0; i < missing.length; i += 20) {
        await Promise.all(
          missing
            .slice(i, i + 20)
            .map(name => createDeployment(admin, memNs, name, per)),
        );
      }
      let running = 0;
      await until(
        `${MEM_PODS} pods running`,
        async () => {
          // No `limit`: with a field selector the API server leaves remainingItemCount
          // out, so `limit: 1` counted 1 and the wait ran its full 40 minutes.
          const list = await apis(admin).core.listNamespacedPod({
            namespace: memNs,
            fieldSelector: 'status.phase=Running',
          });
          running = list.items.length;
          return running >= MEM_PODS;
        },
        40 * 60_000,
        5000,
      ).catch(e =>
        out(
          `memory scale not reached: ${running} pods running after ${Math.round(
            (Date.now() - t0) / 1000,
          )} s (${(e as Error).message})`,
        ),
      );
      const createdS = Math.round((Date.now() - t0) / 1000);
      const watchingPeak = peak;
      // A fresh start at full size: what a restarted agent (or a new replica) goes
      // through, listing every pod at once.
      await agent.stop();
      const restartedAt = Date.now();
      agent = startMemoryAgent();
      const pid2 = agent.child.pid!;
      let restartPeak = 0;
      const sampler2 = setInterval(() => {
        restartPeak = Math.max(restartPeak, treeRss(pid2).sum);
      }, 500);
      const synced = await agent.waitForLog(
        l => l.msg === 'caches synced',
        600_000,
      );
      // Every pod's PTR name asked twice over UDP (the first relayed and taught to the
      // fast path, the second answered by it): the DNS memos hold 10,000 names, as in a
      // cluster whose resolvers ask. Then let it settle and sample RSS a few times.
      const started = await agent.waitForLog(l => l.msg === 'agent started');
      const dnsPort = Number(started.ports.dns);
      const podIps = (
        await apis(admin).core.listNamespacedPod({ namespace: memNs })
      ).items
        .map(p => p.status?.podIP)
        .filter((ip): ip is string => !!ip && !ip.includes(':'));
      const ptrAnswered = [
        await askEveryPtr(dnsPort, podIps),
        await askEveryPtr(dnsPort, podIps),
      ];
      await new Promise(r => setTimeout(r, 30_000));
      const settled: Array<ReturnType<typeof treeRss>> = [];
      for (let i = 0; i < 5; i++) {
        settled.push(treeRss(pid2));
        await new Promise(r => setTimeout(r, 1000));
      }
      const top = settled.reduce((a, b) => (b.sum > a.sum ? b : a));
      clearInterval(sampler);
      clearInterval(sampler2);
      // The watch caches' heap, measured apart (the agent's watchers in a process of
      // their own, full GC before and after the lists).
      const adminFile = join(tmp, 'kubeconfig');
      writeFileSync(adminFile, admin.exportConfig(), { mode: 0o600 });
      const cache = JSON.parse(
        execFileSync(
          process.execPath,
          [
            '--expose-gc',
            '--import',
            'tsx',
            'bench/memory/cacheBytes.ts',
            '--kubeconfig',
            adminFile,
          ],
          { cwd: join(REPO_ROOT, 'controller-agent'), encoding: 'utf8' },
        ).trim(),
      );
      // The separate measurement saw every pod the plane runs (or the figure is not one).
      expect(cache.pods).toBeGreaterThanOrEqual(running);
      const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;
      out('');
      out(
        `=== agent memory: ${running} pods running in ${MEM_WORKLOADS} Deployments (created in ${createdS} s), agent node flags ${JSON.stringify(
          nodeArgs,
        )} ===`,
      );
      out(
        `DNS fast path: ${
          fastPathBin === 'off' ? 'off' : `${fastPathBin} (${top.count} child)`
        }; PTR of ${podIps.length} pod IPs asked twice over UDP: ${
          ptrAnswered[0]
        } and ${ptrAnswered[1]} answered`,
      );
      out('| pod RSS (agent + its children) | MB | goal |');
      out('| --- | ---: | --- |');
      out(
        `| synced, before the pods | ${mb(rssBefore.sum)} (agent ${mb(
          rssBefore.agent,
        )}, fast path ${mb(rssBefore.children)}) | |`,
      );
      out(
        `| peak while the pods were created${
          existing.size ? ` (${existing.size} Deployments there before)` : ''
        } | ${mb(watchingPeak)} | |`,
      );
      out(
        `| restarted at full size: peak while listing (synced after ${Math.round(
          (Date.parse(synced.time) - restartedAt) / 1000,
        )} s) | ${mb(restartPeak)} | |`,
      );
      out(
        `| restarted at full size, every PTR asked twice: settled (max of 5 samples) | **${mb(
          top.sum,
        )}** (agent ${mb(top.agent)}, fast path ${mb(
          top.children,
        )}) | ≤ 100 MB |`,
      );
      out(
        `watch caches (heap after full GC, measured apart): ${mb(
          cache.cacheBytes,
        )} for ${cache.pods} pods, ${cache.workloads} workloads, ${
          cache.services
        } services = ${cache.bytesPerPod} bytes per pod (workloads included)`,
      );
      out(
        `uptime after:  ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`,
      );
      out('');
    } finally {
      await agent?.stop();
      await controls.close();
      if (!MEM_NAMESPACE) {
        await apis(admin)
          .core.deleteNamespace({ name: memNs })
          .catch(() => {});
        for (const name of addedNodes)
          await apis(admin)
            .core.deleteNode({ name })
            .catch(() => {});
      }
      await plane.stop();
    }
  });
});
