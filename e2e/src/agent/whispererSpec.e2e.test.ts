import http from 'node:http';
import {
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
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
 * What the real agent puts into pods (issues 9 and 13): the injected whisperer container's
 * security context, process access only when the Whisperer asks and the admin allows, and
 * the traffic endpoint answering a whisperer in its pod. Real plane, real Controls
 * service, the agent as a host process on its least-privilege ServiceAccount token.
 */
jest.setTimeout(10 * 60_000);

const OWNER = 'user:default/owner';
const RUN = Date.now().toString(36).slice(-5);
const NS = `whisperer-spec-${RUN}`;
// Pods are played by loopback addresses: the stand-in whisperer calls from its pod's IP.
const POD_IP = '127.0.0.2';
const STRANGER = '127.0.0.3';

const LEAST_PRIVILEGE = {
  capabilities: { drop: ['ALL'], add: ['NET_RAW'] },
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: false,
  runAsUser: 0,
  seccompProfile: { type: 'RuntimeDefault' },
};

function post(
  port: number,
  path: string,
  body: string,
  localAddress: string,
  instanceSecret?: string,
): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path,
        localAddress,
        agent: false,
        headers: {
          'Content-Type': 'application/json',
          ...(instanceSecret
            ? { Authorization: `Bearer ${instanceSecret}` }
            : {}),
        },
      },
      res => {
        let text = '';
        res.on('data', c => (text += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            json: text ? JSON.parse(text) : null,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find(l => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

describe('the injected whisperer container (real agent, real plane)', () => {
  let plane: ControlPlane;
  let admin: KubeConfig;
  let controls: Awaited<ReturnType<typeof startControls>>;
  let seed: { controllerId: string; token: string; whispererId: string };
  let curiousId: string;
  let agentKubeconfig: string;
  let agent: AgentProcess;
  let ports: { http: number; endpoint: number };
  const user = () => controls.as(OWNER);

  const agentEnv = (extra: Record<string, string> = {}) => ({
    [AGENT_ENV.controlsUrl]: controls.controlsUrl,
    [AGENT_ENV.token]: seed.token,
    KUBECONFIG: agentKubeconfig,
    [AGENT_ENV.httpPort]: '0',
    [AGENT_ENV.dnsPort]: '0',
    [AGENT_ENV.endpointPort]: '0',
    [AGENT_ENV.podIp]: '127.0.0.1',
    [AGENT_ENV.namespacesInclude]: NS,
    ...extra,
  });

  async function startAgent(extra: Record<string, string> = {}) {
    agent = startAgentProcess(agentEnv(extra));
    const started = await agent.waitForLog(l => l.msg === 'agent started');
    ports = { http: started.ports.http, endpoint: started.ports.endpoint };
    await agent.waitForLog(l => l.msg === 'caches synced');
    await agent.waitForLog(l => l.msg === 'welcome from the Controls service');
  }

  async function attach(name: string, whispererId: string) {
    const res = await user().post('/attachments', {
      controllerId: seed.controllerId,
      whispererId,
      target: { namespace: NS, kind: 'Deployment', name },
    });
    if (res.status !== 201)
      throw new Error(
        `attach ${name}: ${res.status} ${JSON.stringify(res.body)}`,
      );
    return res.body.id as string;
  }

  /** The spider-* ephemeral containers of every pod of `app`, once each pod has one. */
  async function injected(app: string, pods: number) {
    return until(
      `${pods} pods of ${app} with one whisperer`,
      async () => {
        const list = await apis(admin).core.listNamespacedPod({
          namespace: NS,
          labelSelector: `app=${app}`,
        });
        const live = list.items.filter(p => !p.metadata?.deletionTimestamp);
        const containers = live.map(p =>
          (p.spec?.ephemeralContainers ?? []).filter(c =>
            c.name.startsWith('spider-'),
          ),
        );
        return live.length === pods && containers.every(c => c.length === 1)
          ? live.map((p, i) => ({ pod: p, container: containers[i][0] }))
          : undefined;
      },
      90_000,
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
    const curious = await user().post('/whisperers', {
      name: 'curious',
      captureFilter: 'tcp',
      env: { SPIDER_PROCESS_ACCESS: 'true' },
    });
    if (curious.status !== 201)
      throw new Error(
        `create Whisperer: ${curious.status} ${JSON.stringify(curious.body)}`,
      );
    curiousId = curious.body.id;
    agentKubeconfig = await agentServiceAccountKubeconfig(admin);
    await ensureNamespace(admin, NS);
    await startAgent();
  });

  afterAll(async () => {
    await agent?.stop();
    await apis(admin)
      ?.core.deleteNamespace({ name: NS })
      .catch(() => {});
    await controls?.close();
    await plane?.stop();
  });

  it('injects NET_RAW only, no escalation, read-only root, RuntimeDefault seccomp, and no targetContainerName', async () => {
    await createDeployment(admin, NS, 'plain', 2);
    await attach('plain', seed.whispererId);
    const found = await injected('plain', 2);
    for (const { container } of found) {
      expect(container.securityContext).toEqual(LEAST_PRIVILEGE);
      expect(container.targetContainerName).toBeUndefined();
      expect(container.image).toBe('spider/whisperer:0.1.0');
    }
  });

  it('ignores a process-access request the admin did not allow, and says so on the instances', async () => {
    await createDeployment(admin, NS, 'curious', 1);
    const id = await attach('curious', curiousId);
    const [{ container }] = await injected('curious', 1);
    expect(container.targetContainerName).toBeUndefined();
    expect(container.securityContext).toEqual(LEAST_PRIVILEGE);
    const a = await until(
      'an instance saying why',
      async () => {
        const got = (await user().get(`/attachments/${id}`)).body;
        return got.instances?.length === 1 && got.instances[0].message && got;
      },
      60_000,
    );
    expect(a.instances[0].message).toMatch(
      /asks for process access \(SPIDER_PROCESS_ACCESS=true\), but this agent does not allow it/,
    );
  });

  it('takes traffic from the whisperer in its pod only, checked against the instance', async () => {
    const [{ pod, container }] = await injected('plain', 2);
    const name = pod.metadata!.name!;
    await apis(admin).core.patchNamespacedPodStatus(
      {
        name,
        namespace: NS,
        body: { status: { podIP: POD_IP, podIPs: [{ ip: POD_IP }] } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const attachmentId = container.env!.find(
      e => e.name === 'SPIDER_ATTACHMENT_ID',
    )!.value!;
    const exchange = (over: Record<string, unknown> = {}) => ({
      id: `e2e.${Math.random().toString(36).slice(2, 8)}`,
      attachmentId,
      container: container.name,
      pod: name,
      namespace: NS,
      protocol: 'http/1.1',
      direction: 'inbound',
      startedAt: new Date().toISOString(),
      durationMs: 2,
      client: { ip: '10.0.0.9', port: 40000, name: null },
      server: { ip: POD_IP, port: 80, name: null },
      request: {
        method: 'GET',
        path: '/',
        authority: 'plain',
        headers: [],
        bodySize: 0,
        body: null,
      },
      response: {
        status: 200,
        headers: [],
        trailers: [],
        bodySize: 0,
        body: null,
      },
      grpc: null,
      error: null,
      ...over,
    });
    const secret = container.env!.find(
      e => e.name === 'SPIDER_INSTANCE_SECRET',
    )!.value!;
    const path = `/v1/whisperers/${container.name}/traffic`;
    const batch = (x: unknown) =>
      JSON.stringify({ exchanges: [x], flows: [], stats: null });
    // The agent's cache learns the new pod IP from its watch.
    const accepted = await until(
      '202 from the agent',
      async () => {
        const r = await post(
          ports.endpoint,
          path,
          batch(exchange()),
          POD_IP,
          secret,
        );
        return r.status === 202 && r;
      },
      30_000,
    );
    expect(accepted.json).toEqual({ accepted: 1 });
    // The secret alone does not do from another address, nor the address without it.
    expect(
      (await post(ports.endpoint, path, batch(exchange()), STRANGER, secret))
        .status,
    ).toBe(403);
    expect(
      (await post(ports.endpoint, path, batch(exchange()), POD_IP)).status,
    ).toBe(403);
    const foreign = await post(
      ports.endpoint,
      path,
      batch(exchange({ namespace: 'kube-system' })),
      POD_IP,
      secret,
    );
    expect(foreign.status).toBe(400);
    expect(foreign.json.error).toMatch(/^exchanges\[0\]\.namespace: must be/);
    expect(
      await metric(
        ports.http,
        'spider_whisperer_endpoint_traffic_batches_total',
      ),
    ).toBe(1);
    expect(
      await metric(ports.http, 'spider_agent_traffic_exchanges_queued_total'),
    ).toBe(1);
  });

  it('grants process access when the admin allows it, with the same security context', async () => {
    expect(await agent.stop()).toBe(0);
    await startAgent({ [AGENT_ENV.allowProcessAccess]: 'true' });
    await createDeployment(admin, NS, 'granted', 1);
    await attach('granted', curiousId);
    const [{ container }] = await injected('granted', 1);
    expect(container.targetContainerName).toBe('app');
    expect(container.securityContext).toEqual(LEAST_PRIVILEGE);
  });
});
