import { ClusterCache } from './ClusterCache';
import { leanPod, leanService, leanWorkload } from './lean';
import {
  InventoryTracker,
  inventoryOf,
  listWorkloads,
  snapshotMessages,
} from './inventory';

const podObj = (
  name: string,
  owner: { kind: string; name: string } | null,
  extra: any = {},
) => ({
  metadata: {
    name,
    namespace: extra.ns ?? 'shop',
    uid: `u-${name}`,
    ownerReferences: owner ? [{ ...owner, controller: true }] : [],
  },
  spec: {
    containers: [{ name: 'app' }],
    ephemeralContainers: extra.ephemeral ?? [],
  },
  status: { phase: extra.phase ?? 'Running', podIP: extra.ip },
});
const wlObj = (
  name: string,
  owner?: { kind: string; name: string },
  ns = 'shop',
) => ({
  metadata: {
    name,
    namespace: ns,
    uid: `u-${name}`,
    labels: { app: name },
    ownerReferences: owner ? [{ ...owner, controller: true }] : [],
  },
  spec: { replicas: 2 },
});

function filled(scope = { include: '*' as const, exclude: ['kube-system'] }) {
  const cache = new ClusterCache(scope);
  cache.replace('Deployment', null, [
    leanWorkload('Deployment', wlObj('web')),
    leanWorkload('Deployment', wlObj('sys', undefined, 'kube-system')),
  ]);
  cache.replace('ReplicaSet', null, [
    leanWorkload(
      'ReplicaSet',
      wlObj('web-1', { kind: 'Deployment', name: 'web' }),
    ),
  ]);
  cache.replace('Pod', null, [
    leanPod(
      podObj(
        'web-1-a',
        { kind: 'ReplicaSet', name: 'web-1' },
        { ip: '10.0.0.1', ephemeral: [{ name: 'spider-x' }] },
      ),
    ),
    leanPod(
      podObj(
        'web-1-b',
        { kind: 'ReplicaSet', name: 'web-1' },
        { ip: '10.0.0.2' },
      ),
    ),
    leanPod(podObj('bare', null, { ip: '10.0.0.3' })),
    leanPod(podObj('done', null, { ip: '10.0.0.4', phase: 'Succeeded' })),
  ]);
  cache.replace('Service', null, [
    leanService({
      metadata: { name: 'web', namespace: 'shop' },
      spec: { clusterIP: '10.96.0.10' },
    }),
  ]);
  return cache;
}

describe('ClusterCache', () => {
  it('resolves pods of targets and drops out-of-scope namespaces', () => {
    const cache = filled();
    expect(
      cache
        .podsOf({ namespace: 'shop', kind: 'Deployment', name: 'web' })
        .map(p => p.name)
        .sort(),
    ).toEqual(['web-1-a', 'web-1-b']);
    expect(cache.counts()).toMatchObject({
      Pod: 4,
      Deployment: 1,
      ReplicaSet: 1,
      Service: 1,
    });
  });

  it('answers the PodDirectory by IP, skipping finished pods', () => {
    const cache = filled();
    expect(cache.podByIp('10.0.0.1')).toEqual({
      namespace: 'shop',
      name: 'web-1-a',
      uid: 'u-web-1-a',
      ip: '10.0.0.1',
      hostNetwork: false,
      node: null,
      workload: { kind: 'Deployment', name: 'web' },
      ephemeralContainers: ['spider-x'],
    });
    expect(cache.podByIp('10.0.0.4')).toBeUndefined();
    expect(cache.serviceByIp('10.96.0.10')).toEqual({
      namespace: 'shop',
      name: 'web',
    });
  });

  it('a relist removes what disappeared and emits the affected targets', () => {
    const cache = filled();
    const seen: string[] = [];
    cache.onTargets(ts => seen.push(...ts.map(t => `${t.kind}/${t.name}`)));
    cache.replace('Pod', null, [
      leanPod(
        podObj(
          'web-1-a',
          { kind: 'ReplicaSet', name: 'web-1' },
          { ip: '10.0.0.1' },
        ),
      ),
    ]);
    expect(cache.counts().Pod).toBe(1);
    expect(cache.podByIp('10.0.0.2')).toBeUndefined();
    expect(seen).toEqual(
      expect.arrayContaining([
        'Deployment/web',
        'ReplicaSet/web-1',
        'Pod/web-1-b',
        'Pod/bare',
      ]),
    );
  });

  it('a per-namespace relist leaves other namespaces alone', () => {
    const cache = new ClusterCache({ include: ['a', 'b'], exclude: [] });
    cache.replace('Pod', 'a', [leanPod(podObj('p', null, { ns: 'a' }))]);
    cache.replace('Pod', 'b', [leanPod(podObj('q', null, { ns: 'b' }))]);
    cache.replace('Pod', 'a', []);
    expect([...cache.allPods()].map(p => p.name)).toEqual(['q']);
  });

  it('maps a pod seen before its ReplicaSet once the ReplicaSet arrives', () => {
    const cache = new ClusterCache({ include: '*', exclude: [] });
    cache.apply(
      'Pod',
      'ADDED',
      leanPod(podObj('x-1-a', { kind: 'ReplicaSet', name: 'x-1' })),
    );
    expect(
      cache.podsOf({ namespace: 'shop', kind: 'Deployment', name: 'x' }),
    ).toHaveLength(0);
    cache.apply(
      'ReplicaSet',
      'ADDED',
      leanWorkload(
        'ReplicaSet',
        wlObj('x-1', { kind: 'Deployment', name: 'x' }),
      ),
    );
    expect(
      cache.podsOf({ namespace: 'shop', kind: 'Deployment', name: 'x' }),
    ).toHaveLength(1);
  });
});

describe('inventory', () => {
  it('lists targetable workloads with pod counts', () => {
    const cache = filled();
    const inv = inventoryOf(cache.allWorkloads(), cache.allPods(), cache);
    expect(inv.map(w => `${w.kind}/${w.name}:${w.pods}`)).toEqual([
      'Deployment/web:2',
      'Pod/bare:1',
      'Pod/done:1',
    ]);
  });

  it('chunks snapshots and sends only changes as deltas', () => {
    const items = Array.from({ length: 4500 }, (_, i) => ({
      namespace: 'n',
      kind: 'Pod' as const,
      name: `p${i}`,
      labels: {},
      replicas: null,
      pods: 1,
    }));
    const snap = snapshotMessages(items);
    expect(snap.map(m => m.upserts.length)).toEqual([2000, 2000, 500]);
    expect([snap[0].first, snap[2].last, snap[1].first, snap[1].last]).toEqual([
      true,
      true,
      undefined,
      undefined,
    ]);
    expect(snapshotMessages([])).toEqual([
      {
        type: 'inventory',
        mode: 'snapshot',
        upserts: [],
        removed: [],
        first: true,
        last: true,
      },
    ]);
    const t = new InventoryTracker();
    t.reset(items.slice(0, 3));
    expect(t.delta(items.slice(0, 3))).toEqual([]);
    const changed = [{ ...items[0], pods: 0 }, items[1], items[3]];
    expect(t.delta(changed)).toEqual([
      {
        type: 'inventory',
        mode: 'delta',
        upserts: [changed[0], items[3]],
        removed: [{ namespace: 'n', kind: 'Pod', name: 'p2' }],
      },
    ]);
  });

  it('answers listWorkloads within the granted namespaces only', () => {
    const items = [
      {
        namespace: 'a',
        kind: 'Deployment' as const,
        name: 'web',
        labels: {},
        replicas: 1,
        pods: 1,
      },
      {
        namespace: 'b',
        kind: 'Deployment' as const,
        name: 'web-b',
        labels: {},
        replicas: 1,
        pods: 1,
      },
      {
        namespace: 'b',
        kind: 'StatefulSet' as const,
        name: 'db',
        labels: {},
        replicas: 1,
        pods: 1,
      },
    ];
    expect(
      listWorkloads(items, { namespaces: ['a'] }).items.map(w => w.name),
    ).toEqual(['web']);
    expect(
      listWorkloads(items, { namespaces: '*', kind: 'StatefulSet' }).items.map(
        w => w.name,
      ),
    ).toEqual(['db']);
    expect(
      listWorkloads(items, { namespaces: ['a'], namespace: 'b' }).items,
    ).toEqual([]);
    expect(
      listWorkloads(items, { namespaces: '*', q: 'WEB', limit: 1 }),
    ).toEqual({ items: [items[0]], truncated: true });
  });
});
