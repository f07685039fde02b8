import { KubeConfig } from '@kubernetes/client-node';
import { AGENT_ENV } from '@spider/backstage-plugin-spider-common';
import { ControlPlane, ensurePlane } from '../cluster/ControlPlane';
import { startControls } from '../controls/startControls';
import {
  agentServiceAccountKubeconfig,
  AgentProcess,
  apis,
  createDeployment,
  ensureNamespace,
  startAgentProcess,
  until,
} from './agentFixtures';

/**
 * What the cluster admin forbids, the agent refuses before touching a pod (issue 13):
 * an image outside the chart's whisperers.allowedImages, and any target in the agent's
 * own namespace. The portal here is configured to let the image through, as a careless
 * or compromised portal would, so only the agent stands in the way. Real plane, real
 * Controls service, the agent on its least-privilege ServiceAccount token.
 */
jest.setTimeout(10 * 60_000);

const OWNER = 'user:default/owner';
const RUN = Date.now().toString(36).slice(-5);
const NS = `image-allow-${RUN}`;
const AGENT_NS = `image-allow-agent-${RUN}`;
const FORBIDDEN = 'evil.example/spider/whisperer:0.1.0';

describe('the agent refuses what its admin forbids (real agent, real plane)', () => {
  let plane: ControlPlane;
  let admin: KubeConfig;
  let controls: Awaited<ReturnType<typeof startControls>>;
  let seed: { controllerId: string; token: string; whispererId: string };
  let evilId: string;
  let agent: AgentProcess;
  const user = () => controls.as(OWNER);

  async function attach(namespace: string, name: string, whispererId: string) {
    const res = await user().post('/attachments', {
      controllerId: seed.controllerId,
      whispererId,
      target: { namespace, kind: 'Deployment', name },
    });
    if (res.status !== 201)
      throw new Error(
        `attach ${name}: ${res.status} ${JSON.stringify(res.body)}`,
      );
    return res.body.id as string;
  }

  /** Ephemeral container images of every live pod of `app`. */
  async function ephemeralImages(namespace: string, app: string) {
    const list = await apis(admin).core.listNamespacedPod({
      namespace,
      labelSelector: `app=${app}`,
    });
    return list.items
      .filter(p => !p.metadata?.deletionTimestamp)
      .map(p => (p.spec?.ephemeralContainers ?? []).map(c => c.image));
  }

  /** Waits until every instance of the attachment carries `reason` (the positive signal). */
  async function instancesSay(id: string, pods: number, reason: string) {
    return until(
      `${pods} instances of ${id} saying ${reason}`,
      async () => {
        const got = (await user().get(`/attachments/${id}`)).body;
        return got.instances?.length === pods &&
          got.instances.every((i: any) => i.reason === reason)
          ? got
          : undefined;
      },
      90_000,
    );
  }

  beforeAll(async () => {
    plane = await ensurePlane();
    admin = plane.kubeConfig;
    controls = await startControls({
      // Under `spider.` (startControls puts it there).
      config: {
        whisperers: {
          allowedImages: ['spider/whisperer:*', 'evil.example/*'],
        },
      },
    });
    seed = await controls.seed(OWNER, {
      name: 'http',
      captureFilter: 'tcp port 80',
    });
    const evil = await user().post('/whisperers', {
      name: 'evil',
      image: FORBIDDEN,
      captureFilter: 'tcp',
    });
    if (evil.status !== 201)
      throw new Error(
        `create Whisperer: ${evil.status} ${JSON.stringify(evil.body)}`,
      );
    evilId = evil.body.id;
    const agentKubeconfig = await agentServiceAccountKubeconfig(admin);
    await ensureNamespace(admin, NS);
    await ensureNamespace(admin, AGENT_NS);
    agent = startAgentProcess({
      [AGENT_ENV.controlsUrl]: controls.controlsUrl,
      [AGENT_ENV.token]: seed.token,
      KUBECONFIG: agentKubeconfig,
      [AGENT_ENV.httpPort]: '0',
      [AGENT_ENV.dnsPort]: '0',
      [AGENT_ENV.endpointPort]: '0',
      [AGENT_ENV.podIp]: '127.0.0.1',
      [AGENT_ENV.podNamespace]: AGENT_NS,
      [AGENT_ENV.namespacesInclude]: `${NS},${AGENT_NS}`,
      // The chart default: the project's whisperer image only.
    });
    await agent.waitForLog(l => l.msg === 'caches synced');
    await agent.waitForLog(l => l.msg === 'welcome from the Controls service');
  });

  afterAll(async () => {
    await agent?.stop();
    for (const name of [NS, AGENT_NS]) {
      await apis(admin)
        ?.core.deleteNamespace({ name })
        .catch(() => {});
    }
    await controls?.close();
    await plane?.stop();
  });

  it('does not patch a pod for an image outside whisperers.allowedImages, and says ImageNotAllowed', async () => {
    await createDeployment(admin, NS, 'web', 2);
    const evil = await attach(NS, 'web', evilId);
    const refused = await instancesSay(evil, 2, 'ImageNotAllowed');
    expect(refused.instances[0].message).toContain(
      `The image "${FORBIDDEN}" of Whisperer "evil" is not one this cluster's admin allows (spider/whisperer:*`,
    );
    // An allowed Whisperer on the same pods is injected: the agent did act on these pods,
    // and the forbidden image is still in none of them.
    const good = await attach(NS, 'web', seed.whispererId);
    const images = await until(
      'the allowed whisperer in both pods',
      async () => {
        const m = await ephemeralImages(NS, 'web');
        return m.length === 2 && m.every(i => i.length === 1) ? m : undefined;
      },
      90_000,
    );
    expect(images).toEqual([
      ['spider/whisperer:0.1.0'],
      ['spider/whisperer:0.1.0'],
    ]);
    // The pods carry it before the agent's next status report says so: wait for the report.
    const reported = await until(
      'both instances of the allowed attachment reported',
      async () => {
        const got = (await user().get(`/attachments/${good}`)).body;
        return got.instances?.length === 2 ? got : undefined;
      },
      90_000,
    );
    expect(reported.instances.map((i: any) => i.reason)).not.toContain(
      'ImageNotAllowed',
    );
    expect(
      (await instancesSay(evil, 2, 'ImageNotAllowed')).instances,
    ).toHaveLength(2);
  });

  it('reports its allow-list in the status the portal shows', async () => {
    const status = await until(
      'a status report with the allow-list',
      async () => {
        const res = await user().get(
          `/controllers/${seed.controllerId}/status`,
        );
        return res.body.status?.allowedImages ? res.body.status : undefined;
      },
      90_000,
    );
    expect(status.allowedImages).toEqual([
      'spider/whisperer:*',
      'spider/whisperer:0.1.0',
    ]);
  });

  it("never injects into the agent's own namespace, and says AgentNamespace", async () => {
    await createDeployment(admin, AGENT_NS, 'neighbour', 1);
    const id = await attach(AGENT_NS, 'neighbour', seed.whispererId);
    const refused = await instancesSay(id, 1, 'AgentNamespace');
    expect(refused.instances[0].message).toMatch(
      /is where the agent itself runs/,
    );
    expect(await ephemeralImages(AGENT_NS, 'neighbour')).toEqual([[]]);
  });
});
