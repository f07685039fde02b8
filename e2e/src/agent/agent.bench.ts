import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
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
 * Controls service. Sizes: BENCH_PODS (100), BENCH_MEM_PODS (10000), BENCH_MEM_WORKLOADS
 * (1000), BENCH_REPLACE (20). Run through jest only because the Controls service test
 * backend needs it; this is a benchmark, not a test.
 */
jest.setTimeout(90 * 60_000);

const N = Number(process.env.BENCH_PODS ?? 100);
const MEM_PODS = Number(process.env.BENCH_MEM_PODS ?? 10_000);
const MEM_WORKLOADS = Number(process.env.BENCH_MEM_WORKLOADS ?? 1000);
const REPLACE = Number(process.env.BENCH_REPLACE ?? 20);
const OWNER = 'user:default/owner';

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[
    Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))
  ];
}
const fmt = (ms: number) => `${Math.round(ms)} ms`;
const out = (line: string) => process.stdout.write(`${line}\n`);

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(
    readFileSync(`/proc/${pid}/status`, 'utf8'),
  );
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Records, per pod, when it was first seen Running and when it first carried `container`. */
async function recordPods(
  kc: KubeConfig,
  namespace: string,
  container: string,
) {
  const seen = new Map<
    string,
    { added: number; running?: number; injected?: number; uid: string }
  >();
  const watch = new Watch(kc);
  const ctl = await watch.watch(
    `/api/v1/namespaces/${namespace}/pods`,
    {},
    (type, obj: any) => {
      const now = performance.now();
      const name = obj.metadata.name;
      if (type === 'DELETED') return;
      let r = seen.get(name);
      if (!r || r.uid !== obj.metadata.uid)
        seen.set(name, (r = { added: now, uid: obj.metadata.uid }));
      if (!r.running && obj.status?.phase === 'Running') r.running = now;
      if (
        !r.injected &&
        (obj.spec.ephemeralContainers ?? []).some(
          (c: any) => c.name === container,
        )
      )
        r.injected = now;
    },
    () => {},
  );
  return { seen, stop: () => ctl.abort() };
}

describe('agent benchmark', () => {
  it('prints attach, re-injection, kubectl-debug-loop and memory figures', async () => {
    const plane = await ensurePlane();
    const admin = plane.kubeConfig;
    const controls = await startControls();
    const run = Date.now().toString(36).slice(-5);
    const ns = `bench-${run}`;
    let agent: ReturnType<typeof startAgentProcess> | undefined;
    try {
      const seed = await controls.seed(OWNER, { name: 'bench' });
      const kubeconfig = await agentServiceAccountKubeconfig(admin);
      await ensureNamespace(admin, ns);
      await createDeployment(admin, ns, 'target', N);
      await until(
        `${N} running pods`,
        async () => {
          const pods = await apis(admin).core.listNamespacedPod({
            namespace: ns,
          });
          return (
            pods.items.filter(p => p.status?.phase === 'Running').length === N
          );
        },
        10 * 60_000,
        1000,
      );

      // The bundle is what the image runs (tsx alone adds ~100 MB of RSS).
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
          [AGENT_ENV.logLevel]: 'info',
        },
        { bundle: true },
      );
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

      // 1. Attach latency: POST → every pod carries the whisperer.
      const res0 = await controls.as(OWNER).post('/attachments', {
        controllerId: seed.controllerId,
        whispererId: seed.whispererId,
        target: { namespace: ns, kind: 'Deployment', name: 'target' },
      });
      const container = whispererContainerName(res0.body.id);
      const rec = await recordPods(admin, ns, container);
      await new Promise(r => setTimeout(r, 500)); // the watch's initial ADDED events
      // A second attachment measures from its own POST (the first warmed nothing up on the agent's side that matters).
      await controls.as(OWNER).delete(`/attachments/${res0.body.id}`);
      rec.stop();
      const w2 = await controls
        .as(OWNER)
        .post('/whisperers', { name: 'bench-2' });
      const t0Wall = performance.now();
      const postedAt = Date.now();
      const res = await controls.as(OWNER).post('/attachments', {
        controllerId: seed.controllerId,
        whispererId: w2.body.id,
        target: { namespace: ns, kind: 'Deployment', name: 'target' },
      });
      const name2 = whispererContainerName(res.body.id);
      const rec2 = await recordPods(admin, ns, name2);
      await until(
        `all ${N} pods injected`,
        async () => [...rec2.seen.values()].filter(r => r.injected).length >= N,
        5 * 60_000,
        50,
      );
      const attachLat = [...rec2.seen.values()]
        .filter(r => r.injected)
        .map(r => r.injected! - t0Wall);
      const attachAll = Math.max(...attachLat);
      const attachLog = await agent
        .waitForLog(
          l => l.msg === 'attach' && l.attachmentId === res.body.id,
          5000,
        )
        .catch(() => undefined);
      const toAgentMs = attachLog ? Date.parse(attachLog.time) - postedAt : NaN;

      // 2. Re-injection latency: delete pods; each replacement from Running to whisperer.
      const victims = [...rec2.seen.keys()].slice(0, REPLACE);
      await Promise.all(
        victims.map(name =>
          apis(admin).core.deleteNamespacedPod({
            name,
            namespace: ns,
            gracePeriodSeconds: 0,
          }),
        ),
      );
      await until(
        'replacements injected',
        async () => {
          const fresh = [...rec2.seen.entries()].filter(
            ([n, r]) =>
              !victims.includes(n) &&
              r.added > t0Wall + attachAll &&
              r.injected,
          );
          return fresh.length >= REPLACE;
        },
        5 * 60_000,
        100,
      );
      const replaced = [...rec2.seen.entries()].filter(
        ([n, r]) =>
          !victims.includes(n) && r.added > t0Wall + attachAll && r.injected,
      );
      const fromRunning = replaced.map(
        ([, r]) => r.injected! - (r.running ?? r.added),
      );
      const fromCreated = replaced.map(([, r]) => r.injected! - r.added);
      // The figures below cover every pod they claim to.
      expect(attachLat.length).toBeGreaterThanOrEqual(N);
      expect(replaced.length).toBeGreaterThanOrEqual(REPLACE);
      rec2.stop();

      // 3. `kubectl debug`-equivalent loop over the same pods: for each, a fresh client
      //    (kubectl is a new process per pod), GET the pod, PATCH its ephemeralcontainers.
      const pods = (
        await apis(admin).core.listNamespacedPod({ namespace: ns })
      ).items
        .map(p => p.metadata!.name!)
        .slice(0, N);
      const k0 = performance.now();
      for (const [i, pod] of pods.entries()) {
        const kc = new KubeConfig();
        kc.loadFromFile(plane.kubeconfigPath);
        const core = kc.makeApiClient(CoreV1Api);
        await core.readNamespacedPod({ name: pod, namespace: ns });
        await core.patchNamespacedPodEphemeralcontainers(
          {
            name: pod,
            namespace: ns,
            body: {
              spec: {
                ephemeralContainers: [
                  {
                    name: `debugger-${i}`,
                    image: 'busybox:1',
                    targetContainerName: 'app',
                    stdin: true,
                    tty: true,
                  },
                ],
              },
            },
          },
          setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
        );
      }
      const kubectlTotal = performance.now() - k0;

      // 4. Memory while watching MEM_PODS pods in MEM_WORKLOADS workloads.
      const memNs = `bench-mem-${run}`;
      await ensureNamespace(admin, memNs);
      const per = Math.ceil(MEM_PODS / MEM_WORKLOADS);
      const rssBefore = rssOf(agent.child.pid!);
      for (let i = 0; i < MEM_WORKLOADS; i += 20) {
        await Promise.all(
          Array.from({ length: Math.min(20, MEM_WORKLOADS - i) }, (_, j) =>
            createDeployment(admin, memNs, `w${i + j}`, per),
          ),
        );
      }
      const memStart = Date.now();
      let lastCount = 0;
      await until(
        `${MEM_PODS} pods exist`,
        async () => {
          const list = await apis(admin).core.listNamespacedPod({
            namespace: memNs,
            limit: 1,
          });
          const remaining = list.metadata?.remainingItemCount ?? 0;
          lastCount = list.items.length + remaining;
          return lastCount >= MEM_PODS;
        },
        40 * 60_000,
        5000,
      ).catch(e =>
        out(
          `memory scale not reached: ${lastCount} pods after ${Math.round(
            (Date.now() - memStart) / 1000,
          )} s (${(e as Error).message})`,
        ),
      );
      // Let the agent settle (GC, caches up to date), then sample RSS a few times.
      await new Promise(r => setTimeout(r, 20_000));
      const rssSamples: number[] = [];
      for (let i = 0; i < 5; i++) {
        rssSamples.push(rssOf(agent.child.pid!));
        await new Promise(r => setTimeout(r, 1000));
      }
      const status = (
        await controls.as(OWNER).get(`/controllers/${seed.controllerId}/status`)
      ).body;

      const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;
      out('');
      out(
        '=== controller agent benchmark (real plane, real Controls service, agent as host process) ===',
      );
      out(
        `attach latency, POST → whisperer in pod spec, N=${N}: p50 ${fmt(
          pct(attachLat, 50),
        )}, p99 ${fmt(pct(attachLat, 99))}, all ${fmt(attachAll)}`,
      );
      out(
        `  of which POST → attach message logged by the agent: ${fmt(
          toAgentMs,
        )}`,
      );
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
        `kubectl-debug-equivalent loop over ${
          pods.length
        } pods (fresh client, GET + PATCH each, sequential): ${fmt(
          kubectlTotal,
        )} total, ${fmt(kubectlTotal / pods.length)} per pod`,
      );
      out(
        `ratio kubectl loop / agent (all ${N} pods): ${(
          kubectlTotal / attachAll
        ).toFixed(1)}x`,
      );
      out(
        `agent RSS: ${mb(rssBefore)} before; ${mb(
          Math.max(...rssSamples),
        )} max while watching ${lastCount} pods in ${MEM_WORKLOADS} Deployments (goal ≤ 150 MB); watched per kind: ${JSON.stringify(
          status?.status?.watched ?? {},
        )}`,
      );
      out('');
    } finally {
      await agent?.stop();
      await controls.close();
      await apis(admin)
        .core.deleteNamespace({ name: ns })
        .catch(() => {});
      await apis(admin)
        .core.deleteNamespace({ name: `bench-mem-${run}` })
        .catch(() => {});
      await plane.stop();
    }
  });
});
