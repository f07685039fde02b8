import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig, V1Pod } from '@kubernetes/client-node';
import {
  ControlPlane,
  ensurePlane,
  REAL_NODE_SELECTOR,
  REAL_NODE_TOLERATION,
  RealNode,
} from '../cluster/ControlPlane';
import { startControls } from '../controls/startControls';
import { apis, ensureNamespace, until } from '../agent/agentFixtures';
import { REPO_ROOT } from '../paths';

const exec = promisify(execFile);

/**
 * Nothing faked: the real node runs the demo shop from images built here, the agent runs
 * there as a pod installed with exactly the command and values the portal's Install tab
 * renders (from the packaged chart), the kubelet starts the whisperer the agent injects,
 * checkout's real calls to payments are captured and listed by the REST API; detach and
 * TTL expiry end the whisperer with exit code 0, the latter with no user action.
 */
jest.setTimeout(20 * 60_000);

const ROOT = process.getuid?.() === 0;
const describeAsRoot = ROOT ? describe : describe.skip;
const OWNER = 'user:default/owner';
const RUN = Date.now().toString(36).slice(-5);
const AGENT_NS = `spider-real-${RUN}`;
const SHOP = 'shop';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '0.0.0.0', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

describeAsRoot('the traffic chain on the real node', () => {
  let plane: ControlPlane;
  let node: RealNode;
  let admin: KubeConfig;
  let controls: Awaited<ReturnType<typeof startControls>>;
  let controllerId: string;
  let token: string;
  let attachmentId: string;
  const user = () => controls.as(OWNER);
  const kubectl = (...args: string[]) =>
    exec(
      join(plane.binDir!, 'kubectl'),
      ['--kubeconfig', plane.kubeconfigPath, ...args],
      { maxBuffer: 16 << 20 },
    );

  async function whispererStatus(pod: string, prefix: string) {
    const p: V1Pod = await apis(admin).core.readNamespacedPod({
      name: pod,
      namespace: SHOP,
    });
    const name = p.spec?.ephemeralContainers?.find(c =>
      c.name.startsWith(prefix),
    )?.name;
    return {
      container: p.spec?.ephemeralContainers?.find(c => c.name === name),
      status: p.status?.ephemeralContainerStatuses?.find(s => s.name === name),
    };
  }

  /** What a failed wait needs to be understood: listed traffic, whisperer and agent logs. */
  async function diagnostics(pod: string, container: string): Promise<string> {
    const out: string[] = [];
    const res = await user().get(
      `/attachments/${attachmentId}/traffic?limit=500`,
    );
    const counts: Record<string, number> = {};
    for (const x of res.body.items ?? [])
      counts[`${x.protocol} ${x.direction}`] =
        (counts[`${x.protocol} ${x.direction}`] ?? 0) + 1;
    out.push(
      `listed: ${JSON.stringify(counts)} coverage: ${JSON.stringify(
        res.body.coverage?.totals,
      )}`,
    );
    for (const [what, args] of [
      ['whisperer', ['-n', SHOP, 'logs', pod, '-c', container, '--tail=40']],
      [
        'agent',
        ['-n', AGENT_NS, 'logs', 'deployment/spider-agent', '--tail=40'],
      ],
      ['checkout', ['-n', SHOP, 'logs', 'deployment/checkout', '--tail=10']],
    ] as const) {
      out.push(
        `--- ${what}:\n${await kubectl(...args).then(
          r => r.stdout,
          err => String(err),
        )}`,
      );
    }
    return out.join('\n');
  }

  async function attach(whispererId: string) {
    const res = await user().post('/attachments', {
      controllerId,
      whispererId,
      target: { namespace: SHOP, kind: 'Deployment', name: 'payments' },
    });
    expect(res.status).toBe(201);
    return res.body.id as string;
  }

  beforeAll(async () => {
    plane = await ensurePlane({ realNodes: 1 });
    if (!plane.realNode)
      throw new Error(
        `the plane at ${plane.kubeconfigPath} has no real node (plane up --real-nodes 1)`,
      );
    node = plane.realNode;
    admin = plane.kubeConfig;

    // Every image the product needs, built here and imported into the node's containerd.
    await exec(
      join(REPO_ROOT, 'images', 'build.sh'),
      ['--import', node.containerdSocket],
      { maxBuffer: 64 << 20, timeout: 15 * 60_000 },
    );
    const chartDir = mkdtempSync(join(tmpdir(), 'spider-chart-'));
    const { stdout: packaged } = await exec(join(plane.binDir!, 'helm'), [
      'package',
      join(REPO_ROOT, 'controller-agent', 'chart'),
      '--destination',
      chartDir,
    ]);
    const chart = packaged.trim().split(' ').pop()!;

    // The Controls service as pods on the node reach it: the host's address on the node's link.
    const port = await freePort();
    controls = await startControls({
      port,
      listenHost: '0.0.0.0',
      config: {
        agents: { externalUrl: `http://${node.hostIp}:${port}/api/spider` },
        install: {
          chart,
          image: { repository: 'spider/controller-agent', tag: '0.1.0' },
        },
      },
    });
    const c = await user().post('/controllers', { name: `real-node-${RUN}` });
    controllerId = c.body.id;
    token = c.body.token;

    // The demo shop on the real node (its manifests select the node and tolerate its taint).
    await kubectl(
      'apply',
      '-f',
      join(REPO_ROOT, 'demo/manifests/namespace.yaml'),
      '-f',
      join(REPO_ROOT, 'demo/manifests/payments.yaml'),
      '-f',
      join(REPO_ROOT, 'demo/manifests/checkout.yaml'),
    );

    // The portal's install renders no scheduling hints (a real cluster needs none); in this
    // shared test cluster the agent's namespace sends its pods to the real node, as a
    // cluster admin would with the PodNodeSelector and PodTolerationRestriction plugins.
    await ensureNamespace(admin, AGENT_NS);
    await apis(admin).core.patchNamespace({
      name: AGENT_NS,
      body: [
        {
          op: 'add',
          path: '/metadata/annotations',
          value: {
            'scheduler.alpha.kubernetes.io/node-selector': Object.entries(
              REAL_NODE_SELECTOR,
            )
              .map(([k, v]) => `${k}=${v}`)
              .join(','),
            'scheduler.alpha.kubernetes.io/defaultTolerations': JSON.stringify([
              REAL_NODE_TOLERATION,
            ]),
          },
        },
      ],
    });

    const command = (
      await user().get(
        `/controllers/${controllerId}/install?format=command&namespace=${AGENT_NS}`,
      )
    ).body.content as string;
    const values = (
      await user().get(
        `/controllers/${controllerId}/install?format=values&namespace=${AGENT_NS}`,
      )
    ).body.content as string;
    if (!command.includes(chart))
      throw new Error(
        `the Install tab renders another chart than ${chart}: ${command}`,
      );
    const dir = mkdtempSync(join(tmpdir(), 'spider-install-'));
    writeFileSync(join(dir, 'values.yaml'), values);
    // The token pasted on stdin, as the Install tab says (it reads no environment).
    await exec(
      'bash',
      ['-c', `printf '%s\\n' "$SPIDER_AGENT_TOKEN" | {\n${command}\n}`],
      {
        cwd: dir,
        env: {
          ...process.env,
          PATH: `${plane.binDir}:${process.env.PATH}`,
          KUBECONFIG: plane.kubeconfigPath,
          SPIDER_AGENT_TOKEN: token,
          HELM_CONFIG_HOME: join(dir, 'helm'),
          HELM_CACHE_HOME: join(dir, 'helm-cache'),
          HELM_DATA_HOME: join(dir, 'helm-data'),
        },
        timeout: 120_000,
      },
    );
    await kubectl(
      '-n',
      SHOP,
      'rollout',
      'status',
      'deployment/payments',
      '--timeout=300s',
    );
    await kubectl(
      '-n',
      SHOP,
      'rollout',
      'status',
      'deployment/checkout',
      '--timeout=300s',
    );
    await kubectl(
      '-n',
      AGENT_NS,
      'rollout',
      'status',
      'deployment/spider-agent',
      '--timeout=300s',
    );
    // The commands labelled the agent's namespace restricted, and the agent runs under it.
    const enforce = (await apis(admin).core.readNamespace({ name: AGENT_NS }))
      .metadata?.labels?.['pod-security.kubernetes.io/enforce'];
    if (enforce !== 'restricted')
      throw new Error(
        `the install commands left ${AGENT_NS} with PodSecurity enforce=${enforce}, not restricted`,
      );
    await until(
      'the in-cluster agent connected',
      async () =>
        (await user().get(`/controllers/${controllerId}`)).body.connected ===
        true,
      120_000,
      1000,
    );
  });

  afterAll(async () => {
    if (plane) {
      await kubectl('delete', 'namespace', AGENT_NS, '--wait=false').catch(
        () => undefined,
      );
      await kubectl('delete', 'namespace', SHOP, '--wait=false').catch(
        () => undefined,
      );
    }
    await controls?.close();
    await plane?.stop();
  });

  it('runs the agent on the real node, with its chart ServiceAccount', async () => {
    const pods = await apis(admin).core.listNamespacedPod({
      namespace: AGENT_NS,
    });
    const agentPod = pods.items.find(p => p.status?.phase === 'Running');
    expect(agentPod?.spec?.nodeName).toBe(node.name);
    expect(agentPod?.spec?.serviceAccountName).toMatch(/spider-agent/);
  });

  let firstPod: string;

  it('captures checkout calling payments, listed by the REST API with the injected container running as specified', async () => {
    // No capture filter: everything, and still none of the whisperer's own calls to the agent.
    const w = await user().post('/whisperers', {
      name: `shop-${RUN}`,
      captureFilter: '',
    });
    attachmentId = await attach(w.body.id);
    await until(
      'both payments pods run a whisperer',
      async () => {
        const a = (await user().get(`/attachments/${attachmentId}`)).body;
        return a.instances?.length === 2 &&
          a.instances.every((i: any) => i.state === 'running')
          ? a
          : undefined;
      },
      180_000,
      1000,
    );
    const pods = await apis(admin).core.listNamespacedPod({
      namespace: SHOP,
      labelSelector: 'app.kubernetes.io/name=payments',
    });
    firstPod = pods.items[0].metadata!.name!;
    const { container, status } = await whispererStatus(firstPod, 'spider-');
    expect(status?.state?.running).toBeDefined();
    expect(container?.image).toBe('spider/whisperer:0.1.0');
    expect(container?.targetContainerName).toBeUndefined();
    expect(container?.securityContext).toMatchObject({
      capabilities: { drop: ['ALL'], add: ['NET_RAW'] },
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });

    const items = await until(
      'HTTP/1.1 and gRPC exchanges from checkout',
      async () => {
        const res = await user().get(
          `/attachments/${attachmentId}/traffic?limit=500`,
        );
        const list: any[] = res.body.items ?? [];
        return list.some(e => e.protocol === 'http/1.1') &&
          list.some(e => e.protocol === 'grpc')
          ? list
          : undefined;
      },
      180_000,
      2000,
    ).catch(async e => {
      throw new Error(
        `${e}\n${await diagnostics(firstPod, container?.name ?? '')}`,
      );
    });
    expect(
      items.filter(e => e.request.path.startsWith('/v1/whisperers/')),
    ).toEqual([]);
    for (const e of items.filter(x => /checkout/.test(x.client.name ?? ''))) {
      expect(e.direction).toBe('inbound');
      expect(e.namespace).toBe(SHOP);
    }
    const grpc = items.find(e => e.protocol === 'grpc');
    expect(grpc.grpc.service).toMatch(/\S/);
    // Peers are named through the agent's DNS proxy: checkout's pods.
    expect(items.some(e => /checkout/.test(e.client.name ?? ''))).toBe(true);
    const map = (await user().get(`/attachments/${attachmentId}/map`)).body;
    expect(
      map.peers.some(
        (p: any) => p.role === 'caller' && p.workload?.name === 'checkout',
      ),
    ).toBe(true);
  });

  it('detach ends every whisperer process: terminated, exit code 0', async () => {
    expect(
      (await user().delete(`/attachments/${attachmentId}`)).status,
    ).toBeLessThan(300);
    await until(
      'the whisperer container terminated with 0',
      async () => {
        const { status } = await whispererStatus(firstPod, 'spider-');
        return status?.state?.terminated?.exitCode === 0;
      },
      120_000,
      1000,
    );
  });

  it('TTL expiry ends the whisperer with no user action', async () => {
    const w = await user().post('/whisperers', {
      name: `ttl-${RUN}`,
      captureFilter: 'tcp port 8080',
      timeToLive: 'PT30S',
    });
    const id = await attach(w.body.id);
    await until(
      'a whisperer of the TTL attachment runs',
      async () => {
        const a = (await user().get(`/attachments/${id}`)).body;
        return a.instances?.some((i: any) => i.state === 'running');
      },
      120_000,
      1000,
    );
    const running = (
      await user().get(`/attachments/${id}`)
    ).body.instances.find((i: any) => i.state === 'running');
    const ended = await until(
      'the attachment expired and its whisperer exited 0',
      async () => {
        const a = (await user().get(`/attachments/${id}`)).body;
        const p: V1Pod = await apis(admin).core.readNamespacedPod({
          name: running.pod,
          namespace: SHOP,
        });
        const s = p.status?.ephemeralContainerStatuses?.find(
          c => c.name === running.container,
        );
        return a.status === 'expired' && s?.state?.terminated?.exitCode === 0
          ? { status: a.status, exitCode: s.state.terminated.exitCode }
          : undefined;
      },
      120_000,
      1000,
    );
    expect(ended).toEqual({ status: 'expired', exitCode: 0 });
  });
});
