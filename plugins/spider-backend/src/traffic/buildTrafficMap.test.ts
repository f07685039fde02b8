import { Workload } from '@spider/backstage-plugin-spider-common';
import { TrafficPeerAggregate } from '../store/TrafficStore';
import {
  buildTrafficMap,
  CatalogEntityAnnotations,
  entityRefFor,
  labelMatchesName,
  parsePeerName,
  peerNamespaces,
  resolvedWorkloads,
} from './buildTrafficMap';

const agg = (over: Partial<TrafficPeerAggregate>): TrafficPeerAggregate => ({
  role: 'caller',
  peerIp: '10.0.0.1',
  peerName: null,
  calls: 10,
  errors: 0,
  p50Ms: 5,
  p99Ms: 20,
  bytes: 1000,
  flowBytes: 0,
  ...over,
});

const wl = (
  namespace: string,
  kind: Workload['kind'],
  name: string,
  labels: Record<string, string> = {},
): Workload => ({
  namespace,
  kind,
  name,
  labels,
  replicas: 1,
  pods: 1,
});

const since = new Date('2026-12-01T10:00:00Z');
const until = new Date('2026-12-01T10:10:00Z');

describe('parsePeerName', () => {
  it.each([
    [
      'web-7d9f8c6b5-x2x9q.web.deployment.shop.pod.cluster.local',
      {
        type: 'pod',
        pod: 'web-7d9f8c6b5-x2x9q',
        namespace: 'shop',
        workload: { kind: 'Deployment', label: 'web' },
      },
    ],
    [
      'db-0.db.statefulset.shop.pod.cluster.local.',
      {
        type: 'pod',
        pod: 'db-0',
        namespace: 'shop',
        workload: { kind: 'StatefulSet', label: 'db' },
      },
    ],
    [
      'job-x.nightly.cronjob.ops.pod.k8s.example.org',
      {
        type: 'pod',
        pod: 'job-x',
        namespace: 'ops',
        workload: { kind: 'CronJob', label: 'nightly' },
      },
    ],
    [
      'lonely.shop.pod.cluster.local',
      { type: 'pod', pod: 'lonely', namespace: 'shop', workload: null },
    ],
    [
      'api.team-b.svc.cluster.local',
      { type: 'service', service: 'api', namespace: 'team-b' },
    ],
    [
      'API.Team-B.SVC.cluster.local',
      { type: 'service', service: 'api', namespace: 'team-b' },
    ],
  ])('reads %s', (name, expected) => {
    expect(parsePeerName(name)).toEqual(expected);
  });

  it.each([
    'api.stripe.com',
    'localhost',
    'a.b.widget.ns.pod.cluster.local',
    'x.pod.local',
    '',
  ])('knows %p is no cluster name', name => {
    expect(parsePeerName(name)).toBeUndefined();
  });
});

describe('labelMatchesName', () => {
  it('undoes what the agent does to a name', () => {
    expect(labelMatchesName('web', 'web')).toBe(true);
    expect(labelMatchesName('web-v2', 'web.v2')).toBe(true);
    expect(labelMatchesName('web', 'web2')).toBe(false);
    const long = `${'a'.repeat(60)}.${'b'.repeat(20)}`;
    expect(labelMatchesName(`${'a'.repeat(54)}-0123abcd`, long)).toBe(true);
    expect(labelMatchesName(`${'a'.repeat(54)}-0123abcd`, 'a'.repeat(54))).toBe(
      false,
    );
  });
});

describe('buildTrafficMap', () => {
  const inventory = [
    wl('shop', 'Deployment', 'web', {
      'backstage.io/kubernetes-id': 'storefront',
    }),
    wl('shop', 'Deployment', 'web.v2', { app: 'web2' }),
    wl('team-b', 'Deployment', 'api', {
      'backstage.io/kubernetes-id': 'payments',
      tier: 'api',
    }),
    wl('team-b', 'StatefulSet', 'db', { tier: 'db' }),
    wl('shop', 'Pod', 'lonely'),
  ];
  const entities: CatalogEntityAnnotations[] = [
    {
      entityRef: 'component:default/storefront',
      annotations: { 'backstage.io/kubernetes-id': 'storefront' },
    },
    {
      entityRef: 'component:default/payments',
      annotations: {
        'backstage.io/kubernetes-id': 'payments',
        'backstage.io/kubernetes-namespace': 'team-b',
      },
    },
    {
      entityRef: 'resource:default/orders-db',
      annotations: { 'backstage.io/kubernetes-label-selector': 'tier in (db)' },
    },
    {
      entityRef: 'component:default/unrelated',
      annotations: { 'backstage.io/kubernetes-id': 'other' },
    },
  ];

  it('names each peer by pod, resolves workload and entity, and merges the pods of one workload', () => {
    const peers = buildTrafficMap({
      aggregates: [
        agg({
          peerIp: '10.0.0.1',
          peerName: 'web-1.web.deployment.shop.pod.cluster.local',
          calls: 30,
          errors: 3,
          p50Ms: 4,
          p99Ms: 50,
          bytes: 3000,
        }),
        agg({
          peerIp: '10.0.0.2',
          peerName: 'web-2.web.deployment.shop.pod.cluster.local',
          calls: 10,
          errors: 1,
          p50Ms: 10,
          p99Ms: 80,
          bytes: 1000,
        }),
        agg({
          role: 'callee',
          peerIp: '10.96.0.10',
          peerName: 'api.team-b.svc.cluster.local',
          calls: 20,
          p50Ms: 7,
          p99Ms: 9,
        }),
        agg({
          role: 'callee',
          peerIp: '10.0.1.9',
          peerName: 'db-0.db.statefulset.team-b.pod.cluster.local',
          calls: 5,
          flowBytes: 777,
        }),
        agg({
          role: 'callee',
          peerIp: '203.0.113.9',
          peerName: 'api.stripe.com',
          calls: 2,
        }),
        agg({
          role: 'callee',
          peerIp: '198.51.100.1',
          peerName: null,
          calls: 0,
          p50Ms: null,
          p99Ms: null,
          bytes: 0,
          flowBytes: 5000,
        }),
      ],
      inventory,
      entities,
      since,
      until,
    });
    expect(peers.map(p => [p.role, p.key])).toEqual([
      ['caller', 'shop/Deployment/web'],
      ['callee', 'team-b/Deployment/api'],
      ['callee', 'team-b/StatefulSet/db'],
      ['callee', '203.0.113.9'],
      ['callee', '198.51.100.1'],
    ]);
    const [web, api, db, stripe, unnamed] = peers;
    expect(web).toEqual({
      key: 'shop/Deployment/web',
      role: 'caller',
      ips: ['10.0.0.1', '10.0.0.2'],
      name: 'web',
      pod: null,
      workload: { namespace: 'shop', kind: 'Deployment', name: 'web' },
      entityRef: 'component:default/storefront',
      calls: 40,
      errors: 4,
      p50Ms: 4,
      p99Ms: 80,
      bytes: 4000,
      callsPerMinute: 4,
      flowBytes: 0,
    });
    expect(api).toMatchObject({
      name: 'api',
      pod: null,
      workload: { kind: 'Deployment', name: 'api' },
      entityRef: 'component:default/payments',
      callsPerMinute: 2,
    });
    expect(db).toMatchObject({
      name: 'db-0',
      pod: { namespace: 'team-b', name: 'db-0' },
      entityRef: 'resource:default/orders-db',
      flowBytes: 777,
    });
    expect(stripe).toMatchObject({
      name: 'api.stripe.com',
      pod: null,
      workload: null,
      entityRef: null,
    });
    expect(unnamed).toMatchObject({
      name: '198.51.100.1',
      workload: null,
      calls: 0,
      p50Ms: null,
      p99Ms: null,
      flowBytes: 5000,
    });
  });

  it('finds workloads whose names the agent shortened, and keeps PTR names it cannot find', () => {
    const peers = buildTrafficMap({
      aggregates: [
        agg({
          peerIp: '10.0.0.3',
          peerName: 'web-v2-abc.web-v2.deployment.shop.pod.cluster.local',
        }),
        agg({
          peerIp: '10.0.0.4',
          peerName: 'ghost-1.ghost.deployment.shop.pod.cluster.local',
        }),
        agg({ peerIp: '10.0.0.5', peerName: 'lonely.shop.pod.cluster.local' }),
        agg({
          peerIp: '10.96.0.11',
          peerName: 'nothing.shop.svc.cluster.local',
        }),
      ],
      inventory,
      entities,
      since,
      until,
    });
    const byIp = new Map(peers.map(p => [p.ips[0], p]));
    expect(byIp.get('10.0.0.3')).toMatchObject({
      workload: { name: 'web.v2' },
      pod: { name: 'web-v2-abc' },
      name: 'web-v2-abc',
      entityRef: null,
    });
    expect(byIp.get('10.0.0.4')).toMatchObject({
      workload: { namespace: 'shop', kind: 'Deployment', name: 'ghost' },
      entityRef: null,
    });
    expect(byIp.get('10.0.0.5')).toMatchObject({
      key: 'shop/Pod/lonely',
      workload: { kind: 'Pod', name: 'lonely' },
    });
    expect(byIp.get('10.96.0.11')).toMatchObject({
      key: '10.96.0.11',
      workload: null,
      name: 'nothing.shop.svc.cluster.local',
    });
  });

  it('keeps callers and callees of the same workload apart', () => {
    const name = 'web-1.web.deployment.shop.pod.cluster.local';
    const peers = buildTrafficMap({
      aggregates: [
        agg({ peerName: name }),
        agg({ role: 'callee', peerName: name, calls: 3 }),
      ],
      inventory,
      entities,
      since,
      until,
    });
    expect(peers.map(p => [p.role, p.calls])).toEqual([
      ['caller', 10],
      ['callee', 3],
    ]);
    expect(peers.every(p => p.pod?.name === 'web-1')).toBe(true);
  });

  it('tells the caller which namespaces and workloads to look up', () => {
    const aggregates = [
      agg({ peerName: 'web-1.web.deployment.shop.pod.cluster.local' }),
      agg({ peerName: 'api.team-b.svc.cluster.local' }),
      agg({ peerName: 'api.stripe.com' }),
    ];
    expect(peerNamespaces(aggregates)).toEqual(['shop', 'team-b']);
    expect(
      resolvedWorkloads(aggregates, inventory)
        .map(w => w.name)
        .sort(),
    ).toEqual(['api', 'web']);
  });
});

describe('entityRefFor', () => {
  it('applies the entity annotations exactly as the entity → workloads lookup does', () => {
    const api = wl('team-b', 'Deployment', 'api', {
      'backstage.io/kubernetes-id': 'payments',
    });
    expect(
      entityRefFor(api, [
        {
          entityRef: 'component:default/p',
          annotations: {
            'backstage.io/kubernetes-id': 'payments',
            'backstage.io/kubernetes-namespace': 'team-a',
          },
        },
      ]),
    ).toBeNull();
    expect(
      entityRefFor(api, [
        {
          entityRef: 'component:default/z',
          annotations: { 'backstage.io/kubernetes-id': 'payments' },
        },
        {
          entityRef: 'component:default/a',
          annotations: {
            'backstage.io/kubernetes-label-selector':
              'backstage.io/kubernetes-id=payments',
          },
        },
      ]),
    ).toBe('component:default/a');
    expect(entityRefFor(null, [])).toBeNull();
  });
});
