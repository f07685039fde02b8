import { KubeConfig, setHeaderOptions } from '@kubernetes/client-node';
import { AGENT_ENV } from '@spider/backstage-plugin-spider-common';
import { ControlPlane, ensurePlane } from '../cluster/ControlPlane';
import { startControls } from '../controls/startControls';
import {
  agentServiceAccountKubeconfig,
  AgentProcess,
  apis,
  createCronJob,
  createDaemonSet,
  createDeployment,
  createPod,
  createStatefulSet,
  ensureNamespace,
  startAgentProcess,
  until,
  whisperersByPod,
} from './agentFixtures';

/**
 * The controller agent end to end: a real control plane, a real Controls service, and
 * the agent as a host process with its own least-privilege ServiceAccount token.
 */
jest.setTimeout(15 * 60_000);

const OWNER = 'user:default/owner';
// Fresh namespaces per run, so a reused plane never sees leftovers.
const RUN = Date.now().toString(36).slice(-5);
const NS = `agent-e2e-${RUN}`;
const LOCKED = `agent-e2e-locked-${RUN}`;

describe('controller agent (real plane, real Controls service)', () => {
  let plane: ControlPlane;
  let admin: KubeConfig;
  let controls: Awaited<ReturnType<typeof startControls>>;
  let seed: { controllerId: string; token: string; whispererId: string };
  let agentKubeconfig: string;
  let agent: AgentProcess;
  const user = () => controls.as(OWNER);

  const agentEnv = () => ({
    [AGENT_ENV.controlsUrl]: controls.controlsUrl,
    [AGENT_ENV.token]: seed.token,
    KUBECONFIG: agentKubeconfig,
    [AGENT_ENV.httpPort]: '0',
    [AGENT_ENV.dnsPort]: '0',
    [AGENT_ENV.endpointPort]: '0',
    [AGENT_ENV.resyncSeconds]: '10',
    [AGENT_ENV.podIp]: '127.0.0.1',
  });

  async function attach(
    kind: string,
    name: string,
    namespace = NS,
    whispererId = seed.whispererId,
  ) {
    const res = await user().post('/attachments', {
      controllerId: seed.controllerId,
      whispererId,
      target: { namespace, kind, name },
    });
    if (res.status !== 201)
      throw new Error(
        `attach ${kind}/${name}: ${res.status} ${JSON.stringify(res.body)}`,
      );
    return res.body.id as string;
  }
  const attachment = async (id: string) =>
    (await user().get(`/attachments/${id}`)).body;

  /** Every live pod of `app` carries exactly one whisperer; returns the pod count. */
  async function eachPodHasOne(app: string, count: number, namespace = NS) {
    return until(
      `${count} pods of ${app} with exactly one whisperer`,
      async () => {
        const m = await whisperersByPod(admin, namespace, `app=${app}`);
        return m.size === count && [...m.values()].every(c => c.length === 1)
          ? m
          : undefined;
      },
      90_000,
    );
  }

  async function allContainerCounts(): Promise<Record<string, number>> {
    const pods = await apis(admin).core.listNamespacedPod({ namespace: NS });
    return Object.fromEntries(
      pods.items.map(p => [
        p.metadata!.name!,
        (p.spec?.ephemeralContainers ?? []).length,
      ]),
    );
  }

  async function scale(name: string, replicas: number) {
    await apis(admin).apps.patchNamespacedDeploymentScale(
      { name, namespace: NS, body: { spec: { replicas } } },
      // merge patch on the scale subresource
      setHeaderOptions('Content-Type', 'application/merge-patch+json'),
    );
  }

  beforeAll(async () => {
    plane = await ensurePlane();
    admin = plane.kubeConfig;
    controls = await startControls();
    seed = await controls.seed(OWNER, {
      name: 'http',
      captureFilter: 'tcp port 80',
    });
    agentKubeconfig = await agentServiceAccountKubeconfig(admin);
    await ensureNamespace(admin, NS);
    await ensureNamespace(admin, LOCKED, {
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    agent = startAgentProcess(agentEnv());
    await agent.waitForLog(l => l.msg === 'caches synced');
    await agent.waitForLog(l => l.msg === 'welcome from the Controls service');
  });

  afterAll(async () => {
    await agent?.stop();
    await controls?.close();
    await plane?.stop();
  });

  let webAttachment: string;

  it('attaches to every pod of a 5-replica Deployment, follows scale-up and pod replacement', async () => {
    await createDeployment(admin, NS, 'web', 5);
    await until('5 running web pods', async () => {
      const pods = await apis(admin).core.listNamespacedPod({
        namespace: NS,
        labelSelector: 'app=web',
      });
      return pods.items.filter(p => p.status?.phase === 'Running').length === 5;
    });
    webAttachment = await attach('Deployment', 'web');
    await eachPodHasOne('web', 5);
    await until('attachment active with 5 instances', async () => {
      const a = await attachment(webAttachment);
      return (
        a.status === 'active' &&
        a.instances.length === 5 &&
        a.instances.every((i: any) => i.state === 'running')
      );
    });

    await scale('web', 8);
    await eachPodHasOne('web', 8);

    const victim = [...(await whisperersByPod(admin, NS, 'app=web')).keys()][0];
    await apis(admin).core.deleteNamespacedPod({
      name: victim,
      namespace: NS,
      gracePeriodSeconds: 0,
    });
    const after = await eachPodHasOne('web', 8);
    expect(after.has(victim)).toBe(false);
  });

  it('attaches to a StatefulSet, a DaemonSet, a CronJob run and a bare Pod', async () => {
    await createStatefulSet(admin, NS, 'db', 2);
    await createDaemonSet(admin, NS, 'node-agent');
    await createCronJob(admin, NS, 'nightly');
    await createPod(admin, NS, 'lonely');
    await attach('StatefulSet', 'db');
    await attach('DaemonSet', 'node-agent');
    await attach('CronJob', 'nightly');
    await attach('Pod', 'lonely');
    await eachPodHasOne('db', 2);
    // DaemonSet pods land on schedulable nodes only: a tainted real node takes none.
    const nodes = (await apis(admin).core.listNode()).items.filter(
      n =>
        !(n.spec?.taints ?? []).some(
          t => t.effect === 'NoSchedule' || t.effect === 'NoExecute',
        ),
    ).length;
    await eachPodHasOne('node-agent', nodes);
    await eachPodHasOne('lonely', 1);
    // The CronJob runs every minute: its next run's pod gets a whisperer as it starts.
    const cronPods = await until(
      'a CronJob pod with exactly one whisperer',
      async () => {
        const m = await whisperersByPod(admin, NS, 'app=nightly');
        return m.size > 0 && [...m.values()].every(c => c.length === 1)
          ? m
          : undefined;
      },
      150_000,
      1000,
    );
    expect([...cronPods.values()].map(c => c.length)).toEqual(
      [...cronPods.keys()].map(() => 1),
    );
  });

  it('restarting the agent adds no duplicate', async () => {
    const before = await allContainerCounts();
    expect(Object.values(before).every(n => n <= 1)).toBe(true);
    expect(await agent.stop()).toBe(0);
    agent = startAgentProcess(agentEnv());
    await agent.waitForLog(l => l.msg === 'welcome from the Controls service');
    // Two resync periods: every attachment re-planned against the live pods at least twice.
    await new Promise(r => setTimeout(r, 21_000));
    const after = await allContainerCounts();
    // Every pod keeps its count; a pod new since (a CronJob run meanwhile) has one.
    const expected = Object.fromEntries(
      Object.keys(after).map(pod => [pod, pod in before ? before[pod] : 1]),
    );
    expect(after).toEqual(expected);
  });

  it('keeps enforcing the desired set, expiries included, while the backend is down', async () => {
    // A second whisperer with a short TTL, attached to its own Deployment.
    const short = await user().post('/whisperers', {
      name: 'short',
      timeToLive: 'PT20S',
    });
    expect(short.status).toBe(201);
    await createDeployment(admin, NS, 'brief', 1);
    const briefAttachment = await attach(
      'Deployment',
      'brief',
      NS,
      short.body.id,
    );
    await eachPodHasOne('brief', 1);

    await controls.stop();
    const downAt = Date.now();
    await scale('web', 10);
    await eachPodHasOne('web', 10);
    await agent.waitForLog(
      l =>
        l.msg === 'attachment expired; telling its whisperers to stop' &&
        l.attachmentId === briefAttachment,
      30_000,
    );
    await scale('brief', 3);
    await until(
      '3 brief pods',
      async () => (await whisperersByPod(admin, NS, 'app=brief')).size === 3,
    );
    await new Promise(r =>
      setTimeout(r, Math.max(0, 30_000 - (Date.now() - downAt))),
    );
    const brief = await whisperersByPod(admin, NS, 'app=brief');
    expect([...brief.values()].map(c => c.length).sort()).toEqual([0, 0, 1]);

    await controls.start();
    await until(
      'the backend shows what the agent did meanwhile',
      async () => {
        const web = await attachment(webAttachment);
        const b = await attachment(briefAttachment);
        return (
          web.status === 'active' &&
          web.instances.length === 10 &&
          b.status === 'expired'
        );
      },
      60_000,
    );
  });

  it('detach tells whisperers to stop and new pods of the workload get none', async () => {
    expect(
      (await user().delete(`/attachments/${webAttachment}`)).status,
    ).toBeLessThan(300);
    await agent.waitForLog(
      l => l.msg === 'detach' && l.attachmentId === webAttachment,
      30_000,
    );
    await until(
      'instances stopping or terminated',
      async () => {
        const a = await attachment(webAttachment);
        return (
          a.status === 'detached' &&
          a.instances.every((i: any) => i.reason === 'Detached') &&
          a
        );
      },
      30_000,
    );
    await scale('web', 12);
    await until(
      '12 web pods',
      async () => (await whisperersByPod(admin, NS, 'app=web')).size === 12,
    );
    await new Promise(r => setTimeout(r, 3000));
    const m = await whisperersByPod(admin, NS, 'app=web');
    expect([...m.values()].filter(c => c.length === 0)).toHaveLength(2);
    expect([...m.values()].every(c => c.length <= 1)).toBe(true);
  });

  it('says PodSecurity when the namespace enforces restricted', async () => {
    await apis(admin).apps.createNamespacedDeployment({
      namespace: LOCKED,
      body: {
        metadata: { name: 'secure' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'secure' } },
          template: {
            metadata: { labels: { app: 'secure' } },
            spec: {
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 1000,
                seccompProfile: { type: 'RuntimeDefault' },
              },
              containers: [
                {
                  name: 'app',
                  image: 'registry.invalid/app:1',
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    capabilities: { drop: ['ALL'] },
                  },
                },
              ],
            },
          },
        },
      },
    });
    const id = await attach('Deployment', 'secure', LOCKED);
    const a = await until(
      'a PodSecurity failure on the attachment',
      async () => {
        const got = await attachment(id);
        return (
          got.instances.length === 1 &&
          got.instances[0].reason === 'PodSecurityRejected' &&
          got
        );
      },
      60_000,
    );
    expect(a.instances[0].message).toMatch(/PodSecurity/);
    expect(a.status).toBe('failed');
    const m = await whisperersByPod(admin, LOCKED, 'app=secure');
    expect([...m.values()]).toEqual([[]]);
  });
});
