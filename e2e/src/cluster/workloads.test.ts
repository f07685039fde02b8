import { ControlPlane, ensurePlane, planeStatus } from './ControlPlane';
import { KubeFixtures, podSummary } from './KubeFixtures';

// The machine is slow (2 cores shared); a first plane start may also build binaries.
jest.setTimeout(180_000);

describe('control plane: workloads', () => {
  let plane: ControlPlane;
  let k: KubeFixtures;
  let ns: string;

  beforeAll(async () => {
    plane = await ensurePlane();
    k = new KubeFixtures(plane.kubeConfig, {
      kubeconfigPath: plane.kubeconfigPath,
      helmBinary: plane.helmBinary,
    });
    ns = await k.createNamespace('workloads');
    // Create the CronJob first: the controller runs it at the next minute boundary,
    // which then overlaps with the other tests.
    await k.createCronJob(ns, 'tick', { schedule: '* * * * *' });
  }, 45 * 60_000);

  afterAll(async () => {
    await k?.cleanup();
    await plane?.stop();
  }, 120_000);

  afterEach(async () => {
    const state = expect.getState();
    if (plane && state.assertionCalls !== state.numPassingAsserts) {
      // eslint-disable-next-line no-console
      console.log(await planeStatus(plane));
    }
  });

  it('runs a 3-replica Deployment as 3 Running pods with distinct IPs, scales to 5 and replaces a deleted pod', async () => {
    await k.createDeployment(ns, 'web', { replicas: 3 });
    const three = await k.waitForRunningPods(ns, 'app=web', 3);
    const ips = three.map(p => p.status!.podIP!);
    expect(new Set(ips).size).toBe(3);
    for (const pod of three) expect(pod.spec?.nodeName).toMatch(/^kwok-node-/);
    await k.waitForDeploymentAvailable(ns, 'web');

    await k.scaleDeployment(ns, 'web', 5);
    const five = await k.waitForRunningPods(ns, 'app=web', 5);
    const before = new Set(three.map(p => p.metadata!.name!));
    const added = five.filter(p => !before.has(p.metadata!.name!));
    expect(added).toHaveLength(2);
    expect(new Set(five.map(p => p.status!.podIP!)).size).toBe(5);

    const victim = five[0].metadata!.name!;
    await k.deletePod(ns, victim);
    const after = await k.waitForRunningPods(ns, 'app=web', 5);
    const names = after.map(p => p.metadata!.name!);
    expect(names).not.toContain(victim);
    expect(
      after.filter(p => !five.some(f => f.metadata!.name === p.metadata!.name)),
    ).toHaveLength(1);
    expect(new Set(after.map(p => p.status!.podIP!)).size).toBe(5);
  });

  it('runs a StatefulSet, a DaemonSet on every node and a bare Pod', async () => {
    await k.createStatefulSet(ns, 'db', { replicas: 2 });
    await k.createDaemonSet(ns, 'node-agent');
    await k.createPod(ns, 'bare');

    const db = await k.waitForRunningPods(ns, 'app=db', 2);
    expect(db.map(p => p.metadata!.name).sort()).toEqual(['db-0', 'db-1']);
    await k.waitForStatefulSetReady(ns, 'db');

    const nodes = (await k.core.listNode()).items.filter(
      n => n.metadata?.annotations?.['kwok.x-k8s.io/node'] === 'fake',
    );
    expect(nodes.length).toBeGreaterThanOrEqual(3);
    const ds = await k.waitForDaemonSetReady(ns, 'node-agent');
    expect(ds.status?.numberReady).toBe(nodes.length);
    const dsPods = await k.waitForRunningPods(
      ns,
      'app=node-agent',
      nodes.length,
    );
    expect(new Set(dsPods.map(p => p.spec!.nodeName)).size).toBe(nodes.length);

    const bare = await k.waitForPodRunning(ns, 'bare');
    expect(bare.metadata?.ownerReferences ?? []).toHaveLength(0);
    expect(podSummary(bare).ip).toBeTruthy();
  });

  it('runs a CronJob on schedule: the controller creates a Job, the Job a pod that completes', async () => {
    const job = await k.waitForCronJobRun(ns, 'tick', {
      timeoutMs: 150_000,
      intervalMs: 1000,
    });
    expect(job.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'CronJob',
      name: 'tick',
    });
    const pods = await k.listPods(ns, `job-name=${job.metadata!.name}`);
    expect(pods.length).toBeGreaterThanOrEqual(1);
    expect(pods.some(p => p.status?.phase === 'Succeeded')).toBe(true);
    const cron = await k.batch.readNamespacedCronJob({
      name: 'tick',
      namespace: ns,
    });
    expect(cron.status?.lastScheduleTime).toBeTruthy();
  }, 200_000);
});
