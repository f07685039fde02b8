import { leanPod, leanService, leanWorkload } from './lean';

describe('lean objects', () => {
  const fullPod = {
    metadata: {
      name: 'web-1-a',
      namespace: 'ns',
      uid: 'u1',
      annotations: {
        'spider.io/target-container': 'sidecar',
        'kubernetes.io/config.mirror': 'x',
        big: 'x'.repeat(10000),
      },
      labels: { app: 'web' },
      ownerReferences: [
        { kind: 'Other', name: 'o', controller: false },
        { kind: 'ReplicaSet', name: 'web-1', controller: true },
      ],
      managedFields: [
        {
          manager: 'kube-controller-manager',
          fieldsV1: { big: 'x'.repeat(10000) },
        },
      ],
      deletionTimestamp: '2026-01-01T00:00:00Z',
    },
    spec: {
      nodeName: 'node-1',
      containers: [
        { name: 'app', image: 'a', env: [{ name: 'X', value: 'y' }] },
        { name: 'sidecar' },
      ],
      ephemeralContainers: [
        { name: 'debugger' },
        { name: 'spider-abc' },
        { name: 'spider-abc-1' },
      ],
    },
    status: {
      phase: 'Running',
      podIP: '10.0.0.7',
      ephemeralContainerStatuses: [
        {
          name: 'spider-abc',
          state: {
            terminated: {
              exitCode: 2,
              reason: 'Error',
              startedAt: 's',
              finishedAt: 'f',
            },
          },
        },
        { name: 'spider-abc-1', state: { running: { startedAt: 's1' } } },
      ],
    },
  };

  it("marks a hostNetwork pod (its IP is the node's: the endpoint never trusts it)", () => {
    expect(
      leanPod({ ...fullPod, spec: { ...fullPod.spec, hostNetwork: true } })
        .hostNetwork,
    ).toBe(true);
  });

  it('keeps only what the agent uses from a pod', () => {
    const p = leanPod(fullPod);
    expect(p).toEqual({
      uid: 'u1',
      namespace: 'ns',
      name: 'web-1-a',
      phase: 'Running',
      ip: '10.0.0.7',
      hostNetwork: false,
      node: 'node-1',
      owner: { kind: 'ReplicaSet', name: 'web-1' },
      deleting: true,
      mirror: true,
      targetContainer: 'sidecar',
      containers: ['app', 'sidecar'],
      ephemeral: ['debugger', 'spider-abc', 'spider-abc-1'],
      whisperers: [
        {
          name: 'spider-abc',
          state: 'terminated',
          exitCode: 2,
          reason: 'Error',
          startedAt: 's',
          finishedAt: 'f',
        },
        {
          name: 'spider-abc-1',
          state: 'running',
          exitCode: null,
          reason: null,
          startedAt: 's1',
          finishedAt: null,
        },
      ],
    });
    expect(JSON.stringify(p).length).toBeLessThan(600);
  });

  it('defaults a pod without status', () => {
    const p = leanPod({
      metadata: { name: 'x', namespace: 'n', uid: 'u' },
      spec: { containers: [{ name: 'c' }] },
    });
    expect(p).toMatchObject({
      phase: 'Pending',
      ip: null,
      node: null,
      owner: null,
      deleting: false,
      mirror: false,
      whisperers: [],
    });
  });

  it('keeps replicas and owner of workloads', () => {
    expect(
      leanWorkload('Deployment', {
        metadata: { name: 'd', namespace: 'n', uid: 'u', labels: { a: 'b' } },
        spec: { replicas: 5 },
      }),
    ).toEqual({
      kind: 'Deployment',
      uid: 'u',
      namespace: 'n',
      name: 'd',
      labels: { a: 'b' },
      replicas: 5,
      owner: null,
    });
    expect(
      leanWorkload('DaemonSet', {
        metadata: { name: 'd', namespace: 'n' },
        status: { desiredNumberScheduled: 3 },
      }).replicas,
    ).toBe(3);
    expect(
      leanWorkload('CronJob', { metadata: { name: 'c', namespace: 'n' } })
        .replicas,
    ).toBeNull();
    expect(
      leanWorkload('Job', {
        metadata: {
          name: 'j',
          namespace: 'n',
          ownerReferences: [{ kind: 'CronJob', name: 'c', controller: true }],
        },
      }).owner,
    ).toEqual({ kind: 'CronJob', name: 'c' });
  });

  it('collects service cluster IPs, ignoring headless', () => {
    expect(
      leanService({
        metadata: { name: 's', namespace: 'n' },
        spec: { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1', 'fd00::1'] },
      }).ips,
    ).toEqual(['10.96.0.1', 'fd00::1']);
    expect(
      leanService({
        metadata: { name: 's', namespace: 'n' },
        spec: { clusterIP: 'None' },
      }).ips,
    ).toEqual([]);
  });

  it("holds the parts a workload's pods repeat once (owner, container names), with the same values", () => {
    const pod = (name: string, rs: string) => ({
      metadata: {
        name,
        namespace: 'ns',
        uid: name,
        ownerReferences: [{ kind: 'ReplicaSet', name: rs, controller: true }],
      },
      spec: { containers: [{ name: 'app' }, { name: 'sidecar' }] },
      status: { phase: 'Running', podIP: '10.0.0.1' },
    });
    const a = leanPod(pod('web-1-a', 'web-1'));
    const b = leanPod(pod('web-1-b', 'web-1'));
    const c = leanPod(pod('api-1-a', 'api-1'));
    expect(a.owner).toEqual({ kind: 'ReplicaSet', name: 'web-1' });
    expect(b.owner).toBe(a.owner);
    expect(c.owner).toEqual({ kind: 'ReplicaSet', name: 'api-1' });
    expect(a.containers).toEqual(['app', 'sidecar']);
    expect(c.containers).toBe(a.containers);
    expect(a.ephemeral).toEqual([]);
    expect(a.whisperers).toEqual([]);
    // Shared, so frozen: a change in place would reach every pod holding it.
    expect(Object.isFrozen(a.containers)).toBe(true);
    expect(Object.isFrozen(a.owner)).toBe(true);
  });
});
