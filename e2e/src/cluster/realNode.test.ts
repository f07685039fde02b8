import { ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoordinationV1Api } from '@kubernetes/client-node';
import {
  ControlPlane,
  ensurePlane,
  importImages,
  REAL_NODE_SELECTOR,
  REAL_NODE_TOLERATION,
  RealNode,
  startPlane,
} from './ControlPlane';
import { KubeFixtures, waitFor } from './KubeFixtures';
import { BUSYBOX_IMAGE, buildBusyboxImage } from './RealNodeImage';

const exec = promisify(execFile);

// containerd, network namespaces, cgroups and mounts need root.
const ROOT = process.getuid?.() === 0;
const describeAsRoot = ROOT ? describe : describe.skip;
const AS_ROOT = ROOT
  ? ''
  : ' [skipped: needs root (containerd, netns, cgroups, mounts)]';

const onRealNode = {
  nodeSelector: { ...REAL_NODE_SELECTOR },
  tolerations: [{ ...REAL_NODE_TOLERATION }],
};

function busyboxPod(command: string[], httpPort?: number) {
  return {
    ...onRealNode,
    containers: [
      {
        name: 'app',
        image: BUSYBOX_IMAGE,
        imagePullPolicy: 'Never',
        command,
        // Probed by the kubelet, from the node's namespace to the pod's IP.
        ...(httpPort
          ? {
              readinessProbe: {
                httpGet: { path: '/', port: httpPort as never },
                periodSeconds: 1,
              },
            }
          : {}),
      },
    ],
    terminationGracePeriodSeconds: 0,
  };
}

async function run(file: string, args: string[], timeout = 60_000) {
  const { stdout } = await exec(file, args, { timeout, maxBuffer: 16 << 20 });
  return stdout;
}

let imageArchive: Promise<string> | undefined;
/** The test image, built once per test file. */
const testImage = () => (imageArchive ??= buildBusyboxImage());

describeAsRoot(`the real node${AS_ROOT}`, () => {
  let plane: ControlPlane;
  let node: RealNode;
  let k: KubeFixtures;
  let kubectl: (...args: string[]) => Promise<string>;
  let ns: string;

  beforeAll(async () => {
    plane = await ensurePlane({ realNodes: 1 });
    if (!plane.realNode) {
      throw new Error(
        `the plane at ${plane.kubeconfigPath} has no real node (plane up --real-nodes 1)`,
      );
    }
    node = plane.realNode;
    k = new KubeFixtures(plane.kubeConfig, {
      kubeconfigPath: plane.kubeconfigPath,
      helmBinary: plane.helmBinary,
    });
    kubectl = (...args) =>
      run(join(plane.binDir!, 'kubectl'), [
        '--kubeconfig',
        plane.kubeconfigPath,
        ...args,
      ]);
    await importImages(plane, [await testImage()]);
    ns = await k.createNamespace('realnode');
  }, 45 * 60_000);

  afterAll(async () => {
    await k?.cleanup();
    await plane?.stop();
  }, 120_000);

  it('is Ready, labelled and tainted, runs containerd, and kwok leaves it alone', async () => {
    const n = await k.core.readNode({ name: node.name });
    expect(n.status?.conditions?.find(c => c.type === 'Ready')?.status).toBe(
      'True',
    );
    expect(n.metadata?.labels?.['spider.dev/node-kind']).toBe('real');
    expect(n.metadata?.annotations?.['kwok.x-k8s.io/node']).toBeUndefined();
    expect(n.spec?.taints).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          key: 'spider.dev/real-node',
          effect: 'NoSchedule',
        }),
      ]),
    );
    expect(n.status?.nodeInfo?.containerRuntimeVersion).toMatch(
      /^containerd:\/\/1\.6\./,
    );
    expect(n.status?.nodeInfo?.kubeletVersion).toBe('v1.34.4');
    expect(n.status?.addresses).toEqual(
      expect.arrayContaining([{ type: 'InternalIP', address: node.ip }]),
    );
    // The kubelet writes this node's status; kwok (which manages only nodes annotated
    // kwok.x-k8s.io/node=fake) never does.
    const managers = (n.metadata?.managedFields ?? []).map(f => f.manager);
    expect(managers).toContain('kubelet');
    expect(managers.filter(m => /kwok/i.test(m ?? ''))).toEqual([]);
    const lease = await plane.kubeConfig
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: node.name, namespace: 'kube-node-lease' });
    expect(lease.spec?.holderIdentity).toBe(node.name);
    expect((lease.metadata?.managedFields ?? []).map(f => f.manager)).toContain(
      'kubelet',
    );
  });

  it(
    'runs a pod from a locally built image that serves HTTP to another pod through a ClusterIP Service and by DNS name',
    async () => {
      await k.createDeployment(ns, 'web', {
        podSpec: {
          ...busyboxPod(
            [
              'sh',
              '-c',
              'mkdir -p /tmp/www && echo "hello from $(hostname)" > /tmp/www/index.html && exec httpd -f -v -p 8080 -h /tmp/www',
            ],
            8080,
          ),
        },
      });
      await k.core.createNamespacedService({
        namespace: ns,
        body: {
          metadata: { name: 'web' },
          spec: {
            selector: { app: 'web' },
            ports: [{ port: 80, targetPort: 8080 as never }],
          },
        },
      });
      await k.createPod(ns, 'client', {
        podSpec: busyboxPod([
          'sh',
          '-c',
          'echo client started; exec sleep 3600',
        ]),
      });
      const [web] = await k.waitForRunningPods(ns, 'app=web', 1, {
        timeoutMs: 90_000,
      });
      const client = await k.waitForPodRunning(ns, 'client', {
        timeoutMs: 90_000,
      });
      for (const pod of [web, client]) {
        expect(pod.spec?.nodeName).toBe(node.name);
        expect(inCidr(pod.status!.podIP!, node.podCidr)).toBe(true);
      }
      // Not kwok's fake "running": the container really started, with a container id.
      expect(client.status?.containerStatuses?.[0]?.containerID).toMatch(
        /^containerd:\/\//,
      );

      const svc = await k.core.readNamespacedService({
        name: 'web',
        namespace: ns,
      });
      const clusterIp = svc.spec!.clusterIP!;
      const hello = `hello from ${web.metadata!.name}`;
      // An HTTP/1.0 GET from the client pod with busybox nc (Debian's static busybox
      // wget crashes; nc resolves names through the pod's resolv.conf like any client).
      const fetchFromClient = (host: string, port: number) =>
        waitFor(
          `client pod fetching http://${host}:${port}/`,
          async () => {
            const out = await kubectl(
              'exec',
              '-n',
              ns,
              'client',
              '--',
              'sh',
              '-c',
              `printf 'GET / HTTP/1.0\\r\\nHost: ${host}\\r\\n\\r\\n' | nc -w 5 ${host} ${port}`,
            ).catch(e => String(e));
            return { done: out.includes(hello), value: out, lastSeen: out };
          },
          { timeoutMs: 60_000, intervalMs: 1000 },
        );
      // Through kube-proxy's ClusterIP rules, then by name through CoreDNS.
      expect(await fetchFromClient(clusterIp, 80)).toMatch(
        new RegExp(`^HTTP/1\\.[01] 200[^]*${hello}`),
      );
      expect(
        await fetchFromClient(`web.${ns}.svc.cluster.local`, 80),
      ).toContain(hello);
      expect(await fetchFromClient('web', 80)).toContain(hello); // the pod's search path

      const lookup = await kubectl(
        'exec',
        '-n',
        ns,
        'client',
        '--',
        'nslookup',
        `web.${ns}.svc.cluster.local`,
        node.dnsIp,
      );
      expect(lookup).toContain(clusterIp);

      // The apiserver through the kubernetes Service, as in-cluster clients reach it:
      // its TLS port answers a plain HTTP request with a 400 saying so.
      const api = await kubectl(
        'exec',
        '-n',
        ns,
        'client',
        '--',
        'sh',
        '-c',
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 kubernetes.default 443",
      );
      expect(api).toContain('Client sent an HTTP request to an HTTPS server');

      // A server on the host (as the portal is, for the agent) at the host's address on
      // the pods' side.
      const host = createServer((_req, res) => res.end('hello from the host'));
      await new Promise<void>(r => host.listen(0, '0.0.0.0', r));
      try {
        const port = (host.address() as AddressInfo).port;
        const fromHost = await kubectl(
          'exec',
          '-n',
          ns,
          'client',
          '--',
          'sh',
          '-c',
          `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${node.hostIp} ${port}`,
        );
        expect(fromHost).toContain('hello from the host');
      } finally {
        host.close();
      }

      // Logs come from the kubelet (apiserver -> node IP, InternalIP).
      expect(await kubectl('logs', '-n', ns, 'client')).toContain(
        'client started',
      );

      // The host reaches the pod directly (the route into the node's namespace), and the
      // ClusterIP from the node's network namespace.
      expect(
        await run('curl', [
          '-sS',
          '--max-time',
          '5',
          `http://${web.status!.podIP}:8080/`,
        ]),
      ).toContain(hello);
      expect(
        await run('nsenter', [
          `--net=/run/netns/${node.netns}`,
          'curl',
          '-sS',
          '--max-time',
          '5',
          `http://${clusterIp}/`,
        ]),
      ).toContain(hello);
    },
    5 * 60_000,
  );

  it(
    'starts an ephemeral container in a pod on the real node (state running)',
    async () => {
      await k.createPod(ns, 'target', {
        podSpec: busyboxPod(['sh', '-c', 'exec sleep 3600']),
      });
      await k.waitForPodRunning(ns, 'target', { timeoutMs: 90_000 });
      await k.addEphemeralContainer(ns, 'target', {
        name: 'debugger',
        image: BUSYBOX_IMAGE,
        imagePullPolicy: 'Never',
        command: ['sh', '-c', 'exec sleep 3600'],
        targetContainerName: 'app',
      });
      const status = await k.waitForEphemeralContainerRunning(
        ns,
        'target',
        'debugger',
        {
          timeoutMs: 90_000,
        },
      );
      expect(status).toBeTruthy();
      const pod = await k.core.readNamespacedPod({
        name: 'target',
        namespace: ns,
      });
      const ec = pod.status?.ephemeralContainerStatuses?.find(
        c => c.name === 'debugger',
      );
      expect(ec?.state?.running?.startedAt).toBeTruthy();
      expect(ec?.containerID).toMatch(/^containerd:\/\//);
      // It shares the target's process namespace: it sees the target's sleep.
      const ps = await kubectl(
        'exec',
        '-n',
        ns,
        'target',
        '-c',
        'debugger',
        '--',
        'cat',
        '/proc/1/cmdline',
      );
      expect(ps).toContain('sleep');
    },
    5 * 60_000,
  );

  it('keeps pods without the toleration off the real node', async () => {
    await k.createPod(ns, 'plain', {});
    const pod = await k.waitForPodRunning(ns, 'plain', { timeoutMs: 60_000 });
    expect(pod.spec?.nodeName).not.toBe(node.name);
  });
});

// ------------------------------------------------------------------ clean down

/** What a plane's real node may leave on the host, for the leak checks below. */
interface Footprint {
  processes: string[];
  mounts: string[];
  netns: boolean;
  link: boolean;
  route: boolean;
  cgroups: string[];
  rules: string[];
  logLinks: string[];
  shimSockets: string[];
  cniResults: string[];
  stateDir: boolean;
}

function cidrPrefix(cidr: string) {
  return `${cidr.split('.').slice(0, 3).join('.')}.`;
}

function inCidr(ip: string, cidr: string) {
  return ip.startsWith(cidrPrefix(cidr)); // the node's pod CIDR is a /24
}

/** The CNI plugins' result cache (libcni's default, host-wide). */
const CNI_RESULTS = '/var/lib/cni/results';

/** Rules in the host's own netfilter tables (iptables and nftables) naming this node. */
async function hostRules(node: RealNode): Promise<string[]> {
  const names = [
    node.uplink,
    node.podCidr,
    cidrPrefix(node.podCidr),
    node.hostIp,
  ];
  const dumps = await Promise.all([
    run('iptables-save', []).catch(() => ''),
    run('nft', ['list', 'ruleset']).catch(() => ''),
  ]);
  return dumps
    .join('\n')
    .split('\n')
    .filter(l => names.some(n => l.includes(n)));
}

/** Lines of the host's tables for Kubernetes and CNI chains (KUBE-*, CNI-*). */
async function hostKubeChains(): Promise<Set<string>> {
  const dumps = await Promise.all([
    run('iptables-save', []).catch(() => ''),
    run('nft', ['list', 'ruleset']).catch(() => ''),
  ]);
  return new Set(
    dumps
      .join('\n')
      .split('\n')
      .filter(l => /KUBE-|CNI-/.test(l)),
  );
}

async function footprint(
  node: RealNode,
  statePath: string,
  seen: Seen,
): Promise<Footprint> {
  const processes: string[] = [];
  for (const pid of readdirSync('/proc').filter(p => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(
        /\0/g,
        ' ',
      );
      if (cmd.includes(statePath) && Number(pid) !== process.pid)
        processes.push(`${pid} ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(l => l.includes(statePath) || l.includes(node.netns));
  const netns = (await run('ip', ['netns', 'list']))
    .split('\n')
    .some(l => l.split(' ')[0] === node.netns);
  const link =
    (await run('ip', ['-o', 'link', 'show'])).includes(`${node.uplink}@`) ||
    (await run('ip', ['-o', 'link', 'show'])).includes(` ${node.uplink}:`);
  const route = (await run('ip', ['-4', 'route', 'show'])).includes(
    node.podCidr,
  );
  const cgroups = readdirSync('/sys/fs/cgroup')
    .map(h => join('/sys/fs/cgroup', h, node.cgroup))
    .filter(d => existsSync(d));
  const logLinks = existsSync('/var/log/containers')
    ? readdirSync('/var/log/containers')
        .map(f => join('/var/log/containers', f))
        .filter(f => {
          try {
            return readlinkSync(f).startsWith(statePath);
          } catch {
            return false;
          }
        })
    : [];
  return {
    processes,
    mounts,
    netns,
    link,
    route,
    cgroups,
    rules: await hostRules(node),
    logLinks,
    shimSockets: seen.shimSockets.filter(s => existsSync(s)),
    cniResults: existsSync(CNI_RESULTS)
      ? readdirSync(CNI_RESULTS).filter(f =>
          seen.containerIds.some(id => f.includes(id)),
        )
      : [],
    stateDir: existsSync(statePath),
  };
}

const NOTHING: Footprint = {
  processes: [],
  mounts: [],
  netns: false,
  link: false,
  route: false,
  cgroups: [],
  rules: [],
  logLinks: [],
  shimSockets: [],
  cniResults: [],
  stateDir: false,
};

/** What a running node had, to look for after down. */
interface Seen {
  /** The shims' sockets (in /run/containerd/s). */
  shimSockets: string[];
  /** Container and sandbox ids. */
  containerIds: string[];
}

/** The shims' sockets and the container ids, from containerd's task bundles. */
function seenOn(node: RealNode): Seen {
  const tasks = join(
    node.containerdSocket,
    '..',
    'state',
    'io.containerd.runtime.v2.task',
    'k8s.io',
  );
  const ids = existsSync(tasks) ? readdirSync(tasks) : [];
  return {
    containerIds: ids,
    shimSockets: ids
      .map(id => join(tasks, id, 'address'))
      .filter(f => existsSync(f))
      .map(f =>
        readFileSync(f, 'utf8')
          .trim()
          .replace(/^unix:\/\//, ''),
      ),
  };
}

/** Starts a private real-node plane, runs a pod there, and returns what it left on the host. */
async function planeWithAPod(watchPid?: number) {
  const plane = await startPlane({ nodes: 1, realNodes: 1, watchPid });
  const node = plane.realNode!;
  const k = new KubeFixtures(plane.kubeConfig, {
    kubeconfigPath: plane.kubeconfigPath,
  });
  await importImages(plane, [await testImage()]);
  const ns = await k.createNamespace('leak');
  await k.createPod(ns, 'sleeper', {
    podSpec: busyboxPod(['sh', '-c', 'exec sleep 3600']),
  });
  await k.waitForPodRunning(ns, 'sleeper', { timeoutMs: 90_000 });
  // Proof the checks can see a running node: everything is there now.
  const seen = seenOn(node);
  const during = await footprint(node, plane.statePath!, seen);
  expect(during.netns).toBe(true);
  expect(during.link).toBe(true);
  expect(during.route).toBe(true);
  expect(during.mounts.length).toBeGreaterThan(3); // netns, shm, rootfs, volume mounts
  expect(during.cgroups.length).toBeGreaterThan(0);
  expect(during.processes.length).toBeGreaterThan(3); // containerd, kubelet, kube-proxy, shims
  expect(during.shimSockets.length).toBeGreaterThan(0);
  expect(during.cniResults.length).toBeGreaterThan(0);
  const nodeRules = await run('nsenter', [
    `--net=/run/netns/${node.netns}`,
    'iptables-save',
  ]);
  expect(nodeRules).toContain('KUBE-SERVICES');
  expect(nodeRules).toContain('KUBE-POSTROUTING');
  return { plane, node, seen };
}

/**
 * What the node left behind once down has had two minutes: its footprint (NOTHING when
 * clean) and any Kubernetes or CNI chain new in the host's own tables.
 */
async function leftovers(
  node: RealNode,
  statePath: string,
  seen: Seen,
  before: Set<string>,
) {
  // The watchdog polls its owner every 2 s; down then takes seconds (more on a busy host).
  const deadline = Date.now() + 120_000;
  let left = await footprint(node, statePath, seen);
  while (
    JSON.stringify(left) !== JSON.stringify(NOTHING) &&
    Date.now() < deadline
  ) {
    await new Promise(r => setTimeout(r, 1000));
    left = await footprint(node, statePath, seen);
  }
  const chains = await hostKubeChains();
  return { left, newChains: [...chains].filter(l => !before.has(l)) };
}

const CLEAN = { left: NOTHING, newChains: [] };

describeAsRoot(`a real-node plane going down${AS_ROOT}`, () => {
  let before: Set<string>;
  beforeAll(async () => {
    await testImage();
    before = await hostKubeChains();
  }, 10 * 60_000);

  it(
    'down stops every process and removes every mount, netns, link, cgroup and rule',
    async () => {
      const { plane, node, seen } = await planeWithAPod();
      await plane.stop();
      expect(await leftovers(node, plane.statePath!, seen, before)).toEqual(
        CLEAN,
      );
    },
    10 * 60_000,
  );

  it(
    '--watch-pid takes it down just as clean when its owner dies',
    async () => {
      let owner: ChildProcess | undefined = spawn('sleep', ['3600'], {
        stdio: 'ignore',
      });
      try {
        const { plane, node, seen } = await planeWithAPod(owner.pid);
        owner.kill('SIGKILL'); // the "crashed" test run
        owner = undefined;
        expect(await leftovers(node, plane.statePath!, seen, before)).toEqual(
          CLEAN,
        );
      } finally {
        owner?.kill('SIGKILL');
      }
    },
    10 * 60_000,
  );
});
