import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { dirname } from 'node:path';
import {
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { AGENT_ENV } from '@spider/backstage-plugin-spider-common';
import YAML from 'yaml';
import { ControlPlane, ensurePlane } from '../cluster/ControlPlane';
import { startControls } from '../controls/startControls';
import {
  AgentProcess,
  apis,
  createDeployment,
  ensureNamespace,
  startAgentProcess,
  until,
  whisperersByPod,
} from '../agent/agentFixtures';
import {
  dig,
  httpFrom,
  withTokenOnStdin,
  instanceSecretOf,
  serviceAccountKubeconfig,
  statusOf,
} from './clients';
import { CHART_DIR, runHelm, valuesFile } from './helmChart';
import { startTestResolver } from './testResolver';

/**
 * The chart against the real control plane and a real Controls service: installed with
 * exactly what the portal renders, then the agent runs as a host process with a token of
 * the chart's ServiceAccount (proving its RBAC is enough), answers dig, serves a whisperer
 * stand-in, and a scoped install is refused outside its namespaces.
 */
jest.setTimeout(15 * 60_000);

const OWNER = 'user:default/owner';
const RUN = Date.now().toString(36).slice(-5);
const AGENT_NS = `spider-chart-${RUN}`;
const SCOPED_NS = `spider-scoped-${RUN}`;
const APP_NS = `chart-app-${RUN}`;
const OTHER_NS = `chart-other-${RUN}`;
const RESTRICTED = { 'pod-security.kubernetes.io/enforce': 'restricted' };
// Loopback addresses playing pod IPs for the whisperer stand-ins.
const STAND_IN = '127.0.0.2';
const STRANGER = '127.0.0.3';
const EXPIRING = '127.0.0.4';

function bash(
  script: string,
  env: Record<string, string>,
): Promise<{ code: number; out: string }> {
  return new Promise(res => {
    execFile(
      'bash',
      ['-c', script],
      { env: { ...process.env, ...env }, timeout: 180_000 },
      (err, stdout, stderr) =>
        res({
          code: err ? (err as any).code ?? 1 : 0,
          out: `${stdout}${stderr}`,
        }),
    );
  });
}

describe('agent chart installed in the real control plane', () => {
  let plane: ControlPlane;
  let admin: KubeConfig;
  let controls: Awaited<ReturnType<typeof startControls>>;
  let seed: { controllerId: string; token: string; whispererId: string };
  let resolver: Awaited<ReturnType<typeof startTestResolver>>;
  let agent: AgentProcess;
  let ports: { dns: number; endpoint: number };
  let helmEnv: Record<string, string>;
  const user = () => controls.as(OWNER);

  async function install(query: string) {
    const res = await user().get(
      `/controllers/${seed.controllerId}/install?${query}`,
    );
    expect(res.status).toBe(200);
    return res.body.content as string;
  }

  async function setPodIp(namespace: string, name: string, ip: string) {
    await apis(admin).core.patchNamespacedPodStatus(
      { name, namespace, body: { status: { podIP: ip, podIPs: [{ ip }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  beforeAll(async () => {
    plane = await ensurePlane();
    admin = plane.kubeConfig;
    controls = await startControls({
      config: { install: { chart: CHART_DIR } },
    });
    seed = await controls.seed(OWNER, {
      name: 'http',
      captureFilter: 'tcp port 80',
    });
    // AGENT_NS is created by the rendered commands, which label it restricted.
    await ensureNamespace(admin, SCOPED_NS, RESTRICTED);
    for (const ns of [APP_NS, OTHER_NS]) await ensureNamespace(admin, ns);
    resolver = await startTestResolver({
      'public.example.org': '93.184.216.34',
    });
    helmEnv = {
      PATH: `${dirname(plane.helmBinary)}:${process.env.PATH}`,
      KUBECONFIG: plane.kubeconfigPath,
      HELM_CACHE_HOME: `/tmp/spider-helm-${RUN}/cache`,
      HELM_CONFIG_HOME: `/tmp/spider-helm-${RUN}/config`,
      HELM_DATA_HOME: `/tmp/spider-helm-${RUN}/data`,
    };
  }, 60 * 60_000);

  afterAll(async () => {
    await agent?.stop();
    for (const ns of [AGENT_NS, SCOPED_NS])
      await bash(
        `helm uninstall spider-agent --namespace ${ns}`,
        helmEnv ?? {},
      ).catch(() => {});
    for (const ns of [AGENT_NS, SCOPED_NS, APP_NS, OTHER_NS])
      await apis(admin)
        .core.deleteNamespace({ name: ns })
        .catch(() => {});
    await resolver?.close();
    await controls?.close();
    await plane?.stop();
  }, 120_000);

  it('installs with the commands the portal renders (token on stdin, never on a command line); the agent pod is admitted under PodSecurity restricted', async () => {
    const command = await install(`format=command&namespace=${AGENT_NS}`);
    expect(command).not.toContain('controls.token');
    expect(command).not.toContain('SPIDER_AGENT_TOKEN');
    expect(command).toMatch(
      /--from-file=token=\/dev\/stdin .*\nhelm upgrade --install spider-agent .*--set-string controls\.existingSecret\.name=spider-agent-controls-token/,
    );
    const r = await bash(withTokenOnStdin(command), {
      ...helmEnv,
      SPIDER_AGENT_TOKEN: seed.token,
    });
    expect(r.out).toMatch(/STATUS: deployed/);
    expect(r.code).toBe(0);
    const ns = await apis(admin).core.readNamespace({ name: AGENT_NS });
    expect(ns.metadata?.labels).toMatchObject(RESTRICTED);
    // The token reached the Secret the chart reads, and the chart made no Secret of its own.
    const secret = await apis(admin).core.readNamespacedSecret({
      name: 'spider-agent-controls-token',
      namespace: AGENT_NS,
    });
    expect(
      Buffer.from(secret.data!.token, 'base64').toString('utf8').trim(),
    ).toBe(seed.token);
    expect(
      await statusOf(
        apis(admin).core.readNamespacedSecret({
          name: 'spider-agent-token',
          namespace: AGENT_NS,
        }),
      ),
    ).toBe(404);
    // kwok runs no containers, but the pod exists only if admission (PodSecurity
    // "restricted" on this namespace) accepted its spec.
    const pods = await until('the agent pod', async () => {
      const list = await apis(admin).core.listNamespacedPod({
        namespace: AGENT_NS,
        labelSelector: 'app.kubernetes.io/instance=spider-agent',
      });
      return list.items.length === 1 &&
        list.items[0].status?.phase === 'Running'
        ? list.items
        : undefined;
    });
    expect(pods[0].spec?.serviceAccountName).toBe('spider-agent');
    const svc = await apis(admin).core.readNamespacedService({
      name: 'spider-agent',
      namespace: AGENT_NS,
    });
    expect(
      svc.spec?.ports
        ?.filter(p => p.port === 53)
        .map(p => p.protocol)
        .sort(),
    ).toEqual(['TCP', 'UDP']);
  });

  it("runs the agent with the chart ServiceAccount's token: it attaches to a Deployment", async () => {
    const { path } = await serviceAccountKubeconfig(
      admin,
      AGENT_NS,
      'spider-agent',
    );
    agent = startAgentProcess({
      [AGENT_ENV.controlsUrl]: controls.controlsUrl,
      [AGENT_ENV.token]: seed.token,
      KUBECONFIG: path,
      [AGENT_ENV.httpPort]: '0',
      [AGENT_ENV.dnsPort]: '0',
      [AGENT_ENV.endpointPort]: '0',
      [AGENT_ENV.podIp]: '127.0.0.1',
      [AGENT_ENV.hostAliases]: JSON.stringify([
        { ip: '10.0.0.5', hostnames: ['db.internal'] },
      ]),
      [AGENT_ENV.dnsUpstreams]: `127.0.0.1:${resolver.port}`,
    });
    const started = await agent.waitForLog(l => l.msg === 'agent started');
    ports = { dns: started.ports.dns, endpoint: started.ports.endpoint };
    await agent.waitForLog(l => l.msg === 'caches synced');
    await agent.waitForLog(l => l.msg === 'welcome from the Controls service');
    // Nothing the agent did was refused by the API server.
    expect(
      agent.logs.filter(l => /forbidden|\b403\b/i.test(JSON.stringify(l))),
    ).toEqual([]);

    await createDeployment(admin, APP_NS, 'web', 2);
    const res = await user().post('/attachments', {
      controllerId: seed.controllerId,
      whispererId: seed.whispererId,
      target: { namespace: APP_NS, kind: 'Deployment', name: 'web' },
    });
    expect(res.status).toBe(201);
    await until(
      'a whisperer in each web pod',
      async () => {
        const m = await whisperersByPod(admin, APP_NS, 'app=web');
        return m.size === 2 && [...m.values()].every(c => c.length === 1);
      },
      90_000,
    );
    await until(
      'attachment active',
      async () =>
        (await user().get(`/attachments/${res.body.id}`)).body.status ===
        'active',
    );
  });

  it('answers dig: PTR names pods and Services, aliases resolve, other names are forwarded', async () => {
    const pods = (
      await apis(admin).core.listNamespacedPod({
        namespace: APP_NS,
        labelSelector: 'app=web',
      })
    ).items;
    for (const p of pods) {
      expect(await dig(ports.dns, ['-x', p.status!.podIP!])).toEqual([
        `${p.metadata!.name}.web.deployment.${APP_NS}.pod.cluster.local.`,
      ]);
    }
    expect(
      await dig(ports.dns, ['+tcp', '-x', pods[0].status!.podIP!]),
    ).toEqual([
      `${pods[0].metadata!.name}.web.deployment.${APP_NS}.pod.cluster.local.`,
    ]);

    const svc = await apis(admin).core.createNamespacedService({
      namespace: APP_NS,
      body: {
        metadata: { name: 'web' },
        spec: { selector: { app: 'web' }, ports: [{ port: 80 }] },
      },
    });
    const clusterIp = svc.spec!.clusterIP!;
    await until(
      'Service PTR',
      async () =>
        (await dig(ports.dns, ['-x', clusterIp]))[0] ===
        `web.${APP_NS}.svc.cluster.local.`,
      5000,
      100,
    );

    expect(await dig(ports.dns, ['db.internal', 'A'])).toEqual(['10.0.0.5']);
    expect(await dig(ports.dns, ['public.example.org', 'A'])).toEqual([
      '93.184.216.34',
    ]);
    expect(resolver.asked).toContain('public.example.org');
    expect(resolver.asked).not.toContain('db.internal');
  });

  // How fast is a benchmark's question (bench:agent); here: the names follow the pods,
  // with the delay printed.
  it('follows pods as their IP appears and goes', async () => {
    const known = new Set(
      (
        await apis(admin).core.listNamespacedPod({
          namespace: APP_NS,
          labelSelector: 'app=web',
        })
      ).items.map(p => p.metadata!.name),
    );
    await apis(admin).apps.patchNamespacedDeploymentScale(
      { name: 'web', namespace: APP_NS, body: { spec: { replicas: 3 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const fresh = await until(
      'a new pod with an IP',
      async () => {
        const items = (
          await apis(admin).core.listNamespacedPod({
            namespace: APP_NS,
            labelSelector: 'app=web',
          })
        ).items;
        return items.find(p => !known.has(p.metadata!.name) && p.status?.podIP);
      },
      60_000,
      50,
    );
    const seenAt = Date.now();
    const ip = fresh.status!.podIP!;
    await until(
      'PTR of the new pod',
      async () =>
        (
          await dig(ports.dns, ['-x', ip])
        )[0]?.startsWith(`${fresh.metadata!.name}.`),
      30_000,
      50,
    );
    console.log(`PTR of a new pod after ${Date.now() - seenAt} ms`);
    expect((await dig(ports.dns, ['-x', ip]))[0]).toMatch(
      new RegExp(
        `^${fresh.metadata!.name}\\.(web\\.deployment\\.)?${APP_NS}\\.pod\\.`,
      ),
    );

    await apis(admin).core.deleteNamespacedPod({
      name: fresh.metadata!.name!,
      namespace: APP_NS,
      gracePeriodSeconds: 0,
    });
    await until(
      'the pod gone from the API',
      async () =>
        statusOf(
          apis(admin).core.readNamespacedPod({
            name: fresh.metadata!.name!,
            namespace: APP_NS,
          }),
        ).then(s => s === 404),
      30_000,
      50,
    );
    const goneAt = Date.now();
    // The IP may be reused by the replacement pod: it must just stop naming the deleted one.
    await until(
      'PTR no longer naming the deleted pod',
      async () =>
        !(
          await dig(ports.dns, ['-x', ip])
        ).some(n => n.startsWith(`${fresh.metadata!.name}.`)),
      30_000,
      50,
    );
    console.log(`PTR of a deleted pod gone after ${Date.now() - goneAt} ms`);
    expect(
      (await dig(ports.dns, ['-x', ip])).filter(n =>
        n.startsWith(`${fresh.metadata!.name}.`),
      ),
    ).toEqual([]);
  });

  it('keeps serving after garbage over UDP and TCP', async () => {
    const sock = dgram.createSocket('udp4');
    for (let i = 0; i < 500; i++) {
      const junk = Buffer.from(
        Array.from({ length: Math.floor(Math.random() * 600) }, () =>
          Math.floor(Math.random() * 256),
        ),
      );
      sock.send(junk, ports.dns, '127.0.0.1');
    }
    sock.send(Buffer.alloc(20_000, 0xff), ports.dns, '127.0.0.1');
    await new Promise(r => setTimeout(r, 300));
    sock.close();
    await new Promise<void>(resolve => {
      const s = net.connect(ports.dns, '127.0.0.1', () =>
        s.end(Buffer.from([0xff, 0xff, 1, 2, 3])),
      );
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
    expect(agent.child.exitCode).toBeNull();
    expect(await dig(ports.dns, ['db.internal', 'A'])).toEqual(['10.0.0.5']);
  });

  it('serves a whisperer stand-in from its pod IP with its secret: config, stop on detach; refuses another address or no secret', async () => {
    const byPod = await whisperersByPod(admin, APP_NS, 'app=web');
    const [podName, [container]] = [...byPod.entries()].find(
      ([, c]) => c.length === 1,
    )!;
    await setPodIp(APP_NS, podName, STAND_IN);
    // What the injected container was given, read from the pod as the kubelet would.
    const secret = await instanceSecretOf(admin, APP_NS, podName, container);
    const config = await until(
      'the agent to trust the stand-in',
      async () => {
        const r = await httpFrom(
          STAND_IN,
          ports.endpoint,
          'GET',
          `/v1/whisperers/${container}`,
          secret,
        );
        return r.status === 200 ? r.json : undefined;
      },
      10_000,
      100,
    );
    expect(config).toMatchObject({
      container,
      pod: { namespace: APP_NS, name: podName },
      captureFilter: 'tcp port 80',
      stop: false,
    });
    // Only what a whisperer needs: not the target, nor the Whisperer's image and env.
    expect(config).not.toHaveProperty('whisperer');
    expect(config).not.toHaveProperty('target');

    // The right pod IP without the secret, or with a made-up one: refused, nothing changes.
    for (const wrong of [undefined, `${secret.slice(0, -2)}xx`]) {
      for (const path of ['', '/stop?wait=0']) {
        const g = await httpFrom(
          STAND_IN,
          ports.endpoint,
          'GET',
          `/v1/whisperers/${container}${path}`,
          wrong,
        );
        expect(g).toEqual({
          status: 403,
          json: {
            error: wrong
              ? 'forbidden: wrong instance secret'
              : 'forbidden: missing instance secret',
          },
        });
      }
    }

    expect(
      (
        await httpFrom(
          STRANGER,
          ports.endpoint,
          'GET',
          `/v1/whisperers/${container}`,
        )
      ).status,
    ).toBe(403);
    expect(
      (
        await httpFrom(
          STRANGER,
          ports.endpoint,
          'GET',
          `/v1/whisperers/${container}/stop?wait=0`,
        )
      ).status,
    ).toBe(403);

    const poll = httpFrom(
      STAND_IN,
      ports.endpoint,
      'GET',
      `/v1/whisperers/${container}/stop?wait=60`,
      secret,
    );
    await new Promise(r => setTimeout(r, 300));
    const attachmentId = config.attachmentId;
    const detachedAt = Date.now();
    expect(
      (await user().delete(`/attachments/${attachmentId}`)).status,
    ).toBeLessThan(300);
    const stop = await poll;
    expect(stop).toEqual({
      status: 200,
      json: { stop: true, reason: 'detached' },
    });
    expect(Date.now() - detachedAt).toBeLessThan(5000);
  });

  it('tells a whisperer stand-in to stop when its attachment expires', async () => {
    const w = await user().post('/whisperers', {
      name: `short-${RUN}`,
      captureFilter: 'udp',
      timeToLive: 'PT6S',
    });
    expect(w.status).toBe(201);
    await createDeployment(admin, APP_NS, 'brief', 1);
    const a = await user().post('/attachments', {
      controllerId: seed.controllerId,
      whispererId: w.body.id,
      target: { namespace: APP_NS, kind: 'Deployment', name: 'brief' },
    });
    expect(a.status).toBe(201);
    const [podName, [container]] = await until(
      'a whisperer in the brief pod',
      async () => {
        const m = await whisperersByPod(admin, APP_NS, 'app=brief');
        return [...m.entries()].find(([, c]) => c.length === 1);
      },
      60_000,
    );
    await setPodIp(APP_NS, podName, EXPIRING);
    const secret = await instanceSecretOf(admin, APP_NS, podName, container);
    await until(
      'the agent to trust the stand-in',
      async () =>
        (
          await httpFrom(
            EXPIRING,
            ports.endpoint,
            'GET',
            `/v1/whisperers/${container}`,
            secret,
          )
        ).status === 200,
      10_000,
      100,
    );
    const stop = await until(
      'a stop answer',
      async () => {
        const r = await httpFrom(
          EXPIRING,
          ports.endpoint,
          'GET',
          `/v1/whisperers/${container}/stop?wait=20`,
          secret,
        );
        return r.json?.stop ? r : undefined;
      },
      60_000,
      0,
    );
    expect(stop.json).toEqual({ stop: true, reason: 'expired' });
  });

  it('a scoped install (values.yaml from the portal) cannot read or patch outside its namespaces', async () => {
    const values = YAML.parse(
      await install(`format=values&namespace=${SCOPED_NS}&include=${APP_NS}`),
    );
    expect(values.namespaces.include).toEqual([APP_NS]);
    const r = await runHelm(plane.helmBinary, [
      'upgrade',
      '--install',
      'spider-agent',
      CHART_DIR,
      '--namespace',
      SCOPED_NS,
      '--kubeconfig',
      plane.kubeconfigPath,
      '-f',
      valuesFile(values),
      '--set-string',
      `controls.token=${seed.token}`,
    ]);
    expect({ code: r.code, err: r.stderr }).toMatchObject({ code: 0 });
    const { kc } = await serviceAccountKubeconfig(
      admin,
      SCOPED_NS,
      'spider-agent',
    );
    const sa = apis(kc);
    // Inside its namespace: what the agent needs.
    expect(
      await statusOf(sa.core.listNamespacedPod({ namespace: APP_NS })),
    ).toBe(200);
    expect(
      await statusOf(sa.apps.listNamespacedDeployment({ namespace: APP_NS })),
    ).toBe(200);
    const anyPod = (
      await apis(admin).core.listNamespacedPod({ namespace: APP_NS })
    ).items[0].metadata!.name!;
    const probe = {
      spec: {
        ephemeralContainers: [{ name: `rbac-probe-${RUN}`, image: 'x/y:1' }],
      },
    };
    const sm = setHeaderOptions(
      'Content-Type',
      PatchStrategy.StrategicMergePatch,
    );
    expect(
      await statusOf(
        sa.core.patchNamespacedPodEphemeralcontainers(
          { name: anyPod, namespace: APP_NS, body: probe, dryRun: 'All' },
          sm,
        ),
      ),
    ).toBe(200);
    // Outside it: 403 from the API server.
    await createDeployment(admin, OTHER_NS, 'outside', 1);
    const outsidePod = await until(
      'a pod outside the scope',
      async () =>
        (
          await apis(admin).core.listNamespacedPod({ namespace: OTHER_NS })
        ).items[0]?.metadata?.name,
    );
    expect(
      await statusOf(sa.core.listNamespacedPod({ namespace: OTHER_NS })),
    ).toBe(403);
    expect(
      await statusOf(
        sa.core.readNamespacedPod({ name: outsidePod, namespace: OTHER_NS }),
      ),
    ).toBe(403);
    expect(
      await statusOf(sa.apps.listNamespacedDeployment({ namespace: OTHER_NS })),
    ).toBe(403);
    expect(
      await statusOf(
        sa.core.patchNamespacedPodEphemeralcontainers(
          { name: outsidePod, namespace: OTHER_NS, body: probe, dryRun: 'All' },
          sm,
        ),
      ),
    ).toBe(403);
    expect(await statusOf(sa.core.listPodForAllNamespaces())).toBe(403);
    expect(await statusOf(sa.core.listNamespace())).toBe(403);
    expect(
      await statusOf(sa.core.listNamespacedPod({ namespace: AGENT_NS })),
    ).toBe(403);

    // And that is enough for an agent scoped the same way: it syncs without a single 403.
    const scopedSeed = await controls.seed(OWNER, { name: `scoped-${RUN}` });
    const { path } = await serviceAccountKubeconfig(
      admin,
      SCOPED_NS,
      'spider-agent',
    );
    const scoped = startAgentProcess({
      [AGENT_ENV.controlsUrl]: controls.controlsUrl,
      [AGENT_ENV.token]: scopedSeed.token,
      [AGENT_ENV.namespacesInclude]: APP_NS,
      KUBECONFIG: path,
      [AGENT_ENV.httpPort]: '0',
      [AGENT_ENV.dnsPort]: '0',
      [AGENT_ENV.endpointPort]: '0',
      [AGENT_ENV.podIp]: '127.0.0.1',
    });
    try {
      await scoped.waitForLog(l => l.msg === 'caches synced');
      await scoped.waitForLog(
        l => l.msg === 'welcome from the Controls service',
      );
      expect(
        scoped.logs.filter(l => /forbidden|\b403\b/i.test(JSON.stringify(l))),
      ).toEqual([]);
    } finally {
      await scoped.stop();
    }
  });
});
