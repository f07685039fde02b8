import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, VersionApi } from '@kubernetes/client-node';
import { ControlPlane, planeStatus, startPlane } from './ControlPlane';
import { KubeFixtures } from './KubeFixtures';

jest.setTimeout(240_000);

function pidsOf(plane: ControlPlane): Array<{ name: string; pid: number }> {
  return readFileSync(join(plane.statePath!, 'pids'), 'utf8')
    .trim()
    .split('\n')
    .map(line => {
      const [name, pid] = line.split(' ');
      return { name, pid: Number(pid) };
    });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const describeLocal = process.env.SPIDER_TEST_KUBECONFIG ? describe.skip : describe;

describeLocal('control plane: the plane script', () => {
  const started: ControlPlane[] = [];

  afterAll(async () => {
    await Promise.all(started.map(p => p.stop()));
  }, 120_000);

  it('runs two planes side by side on different ports; down stops exactly their processes and removes their state', async () => {
    const [a, b] = await Promise.all([startPlane(), startPlane()]);
    started.push(a, b);
    expect(a.port).not.toBe(b.port);
    expect(a.statePath).not.toBe(b.statePath);

    for (const plane of [a, b]) {
      expect(await planeStatus(plane)).toMatch(/apiserver https:\/\/127\.0\.0\.1:\d+ ready; 3 Ready nodes/);
      const names = pidsOf(plane).map(p => p.name);
      expect(names).toEqual(
        expect.arrayContaining(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok']),
      );
      const version = await plane.kubeConfig.makeApiClient(VersionApi).getCode();
      expect(version.gitVersion).toMatch(/^v1\.34\./);
    }

    // Separate clusters: a namespace made in A does not exist in B.
    const ka = new KubeFixtures(a.kubeConfig);
    const ns = await ka.createNamespace('only-in-a');
    const coreB = b.kubeConfig.makeApiClient(CoreV1Api);
    await expect(coreB.readNamespace({ name: ns })).rejects.toMatchObject({ code: 404 });
    expect(a.kubeConfig.getCurrentCluster()!.server).toBe(`https://127.0.0.1:${a.port}`);

    // Down A: its processes (and only they) stop, its state goes; B keeps running.
    const pidsA = pidsOf(a);
    const pidsB = pidsOf(b);
    await a.stop();
    for (const { name, pid } of pidsA) expect({ name, alive: alive(pid) }).toEqual({ name, alive: false });
    expect(existsSync(a.statePath!)).toBe(false);
    for (const { name, pid } of pidsB) expect({ name, alive: alive(pid) }).toEqual({ name, alive: true });
    expect((await coreB.listNode()).items.length).toBeGreaterThanOrEqual(3);

    await b.stop();
    for (const { pid } of pidsB) expect(alive(pid)).toBe(false);
    expect(existsSync(b.statePath!)).toBe(false);
  });
});
