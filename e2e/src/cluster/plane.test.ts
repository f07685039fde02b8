import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CoreV1Api, VersionApi } from '@kubernetes/client-node';
import {
  ControlPlane,
  findSharedPlane,
  planeStatus,
  startPlane,
} from './ControlPlane';
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

/** True if the process exists and has not exited (an exited, not yet reaped zombie counts as stopped). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(
      stat.lastIndexOf(')') + 2,
      stat.lastIndexOf(')') + 3,
    );
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

// Starts planes of its own, so it needs the plane's binaries: skipped only when the
// tests run against a foreign cluster (SPIDER_TEST_KUBECONFIG not made by `plane up`).
const foreign =
  process.env.SPIDER_TEST_KUBECONFIG &&
  !existsSync(
    join(dirname(process.env.SPIDER_TEST_KUBECONFIG), '.spider-plane'),
  );
const describeLocal = foreign ? describe.skip : describe;

describeLocal('control plane: the plane script', () => {
  const started: ControlPlane[] = [];

  afterAll(async () => {
    await Promise.all(started.map(p => p.stop()));
  }, 120_000);

  it('runs two planes side by side on different ports; down stops exactly their processes and removes their state', async () => {
    // With a shared plane (CI), it is the second one; otherwise start two. Starting
    // two more on a busy 2-core CI machine would only slow the other tests down.
    const shared = findSharedPlane();
    let a: ControlPlane;
    let b: ControlPlane;
    if (shared?.source === 'reused') {
      a = await startPlane();
      b = shared;
      started.push(a);
    } else {
      [a, b] = await Promise.all([startPlane(), startPlane()]);
      started.push(a, b);
    }
    expect(a.port).not.toBe(b.port);
    expect(a.statePath).not.toBe(b.statePath);

    for (const plane of [a, b]) {
      // 3 kwok nodes, plus the real node when the shared plane has one.
      const ready =
        /apiserver https:\/\/127\.0\.0\.1:\d+ ready; (\d+) Ready nodes/.exec(
          await planeStatus(plane),
        );
      expect(Number(ready?.[1])).toBe(3 + (plane.realNode ? 1 : 0));
      const names = pidsOf(plane).map(p => p.name);
      expect(names).toEqual(
        expect.arrayContaining([
          'etcd',
          'kube-apiserver',
          'kube-controller-manager',
          'kube-scheduler',
          'kwok',
        ]),
      );
      const version = await plane.kubeConfig
        .makeApiClient(VersionApi)
        .getCode();
      expect(version.gitVersion).toMatch(/^v1\.34\./);
    }

    // Separate clusters: a namespace made in A does not exist in B.
    const ka = new KubeFixtures(a.kubeConfig);
    const ns = await ka.createNamespace('only-in-a');
    const coreB = b.kubeConfig.makeApiClient(CoreV1Api);
    await expect(coreB.readNamespace({ name: ns })).rejects.toMatchObject({
      code: 404,
    });
    expect(a.kubeConfig.getCurrentCluster()!.server).toBe(
      `https://127.0.0.1:${a.port}`,
    );

    // Down A: its processes (and only they) stop, its state goes; B keeps running.
    const pidsA = pidsOf(a);
    const pidsB = pidsOf(b);
    await a.stop();
    for (const { name, pid } of pidsA)
      expect({ name, alive: alive(pid) }).toEqual({ name, alive: false });
    expect(existsSync(a.statePath!)).toBe(false);
    for (const { name, pid } of pidsB)
      expect({ name, alive: alive(pid) }).toEqual({ name, alive: true });
    expect((await coreB.listNode()).items.length).toBeGreaterThanOrEqual(3);

    // Down B too when this test started it; a reused plane stays up for the other tests.
    const stopB = b.source === 'started';
    if (stopB) await b.stop();
    expect(pidsB.map(({ name, pid }) => ({ name, alive: alive(pid) }))).toEqual(
      pidsB.map(({ name }) => ({ name, alive: !stopB })),
    );
    expect(existsSync(b.statePath!)).toBe(!stopB);
  });
});
