import type { LeanPod, LeanWorkload, OwnerRef } from './lean';
import {
  OwnerIndex,
  podsOfTarget,
  targetsOfPod,
  targetsOfWorkload,
  topWorkloadOf,
} from './owners';

function pod(name: string, owner: OwnerRef | null, namespace = 'ns'): LeanPod {
  return {
    uid: `uid-${name}`,
    namespace,
    name,
    phase: 'Running',
    ip: null,
    node: null,
    owner,
    deleting: false,
    mirror: false,
    targetContainer: null,
    containers: ['app'],
    ephemeral: [],
    whisperers: [],
  };
}
function wl(
  kind: LeanWorkload['kind'],
  name: string,
  owner: OwnerRef | null = null,
): LeanWorkload {
  return {
    kind,
    uid: `uid-${name}`,
    namespace: 'ns',
    name,
    labels: {},
    replicas: null,
    owner,
  };
}

function indexOf(workloads: LeanWorkload[], pods: LeanPod[]): OwnerIndex {
  const all = [
    ...workloads.map(w => ({ ...w, childKind: w.kind as string })),
    ...pods.map(p => ({ ...p, childKind: 'Pod' })),
  ];
  return {
    workload: (kind, ns, name) =>
      workloads.find(
        w => w.kind === kind && w.namespace === ns && w.name === name,
      ),
    pod: (ns, name) => pods.find(p => p.namespace === ns && p.name === name),
    children: (ns, owner, childKind) =>
      all
        .filter(
          o =>
            o.childKind === childKind &&
            o.namespace === ns &&
            o.owner?.kind === owner.kind &&
            o.owner?.name === owner.name,
        )
        .map(o => o.name),
  };
}

const workloads = [
  wl('Deployment', 'web'),
  wl('ReplicaSet', 'web-1', { kind: 'Deployment', name: 'web' }),
  wl('ReplicaSet', 'web-2', { kind: 'Deployment', name: 'web' }),
  wl('ReplicaSet', 'lonely'),
  wl('CronJob', 'nightly'),
  wl('Job', 'nightly-100', { kind: 'CronJob', name: 'nightly' }),
  wl('Job', 'once'),
  wl('StatefulSet', 'db'),
  wl('DaemonSet', 'agent'),
];
const pods = [
  pod('web-1-a', { kind: 'ReplicaSet', name: 'web-1' }),
  pod('web-2-a', { kind: 'ReplicaSet', name: 'web-2' }),
  pod('web-2-b', { kind: 'ReplicaSet', name: 'web-2' }),
  pod('lonely-a', { kind: 'ReplicaSet', name: 'lonely' }),
  pod('orphan-rs-a', { kind: 'ReplicaSet', name: 'not-seen-yet' }),
  pod('nightly-100-a', { kind: 'Job', name: 'nightly-100' }),
  pod('once-a', { kind: 'Job', name: 'once' }),
  pod('db-0', { kind: 'StatefulSet', name: 'db' }),
  pod('agent-x', { kind: 'DaemonSet', name: 'agent' }),
  pod('bare', null),
  pod('kube-apiserver-node1', { kind: 'Node', name: 'node1' }),
  pod('web-1-other-ns', { kind: 'ReplicaSet', name: 'web-1' }, 'other'),
];
const index = indexOf(workloads, pods);
const p = (name: string) => pods.find(x => x.name === name)!;

describe('topWorkloadOf', () => {
  it.each([
    ['web-1-a', { kind: 'Deployment', name: 'web' }],
    ['lonely-a', { kind: 'ReplicaSet', name: 'lonely' }],
    ['orphan-rs-a', { kind: 'ReplicaSet', name: 'not-seen-yet' }],
    ['nightly-100-a', { kind: 'CronJob', name: 'nightly' }],
    ['once-a', { kind: 'Job', name: 'once' }],
    ['db-0', { kind: 'StatefulSet', name: 'db' }],
    ['agent-x', { kind: 'DaemonSet', name: 'agent' }],
    ['bare', null],
    ['kube-apiserver-node1', null],
  ])('%s → %j', (name, expected) => {
    expect(topWorkloadOf(p(name), index)).toEqual(expected);
  });
});

describe('podsOfTarget', () => {
  const names = (kind: any, name: string, namespace = 'ns') =>
    podsOfTarget({ namespace, kind, name }, index)
      .map(x => x.name)
      .sort();
  it.each([
    ['Deployment', 'web', ['web-1-a', 'web-2-a', 'web-2-b']],
    ['ReplicaSet', 'web-2', ['web-2-a', 'web-2-b']],
    ['ReplicaSet', 'lonely', ['lonely-a']],
    ['CronJob', 'nightly', ['nightly-100-a']],
    ['Job', 'once', ['once-a']],
    ['StatefulSet', 'db', ['db-0']],
    ['DaemonSet', 'agent', ['agent-x']],
    ['Pod', 'bare', ['bare']],
    ['Pod', 'missing', []],
    ['Deployment', 'nope', []],
  ])('%s %s', (kind, name, expected) => {
    expect(names(kind, name)).toEqual(expected);
  });
  it('stays inside the namespace', () => {
    expect(names('ReplicaSet', 'web-1', 'other')).toEqual(['web-1-other-ns']);
  });
});

describe('targetsOfPod / targetsOfWorkload', () => {
  it('lists the pod, its direct and its top owner', () => {
    expect(targetsOfPod(p('web-1-a'), index)).toEqual([
      { namespace: 'ns', kind: 'Pod', name: 'web-1-a' },
      { namespace: 'ns', kind: 'ReplicaSet', name: 'web-1' },
      { namespace: 'ns', kind: 'Deployment', name: 'web' },
    ]);
    expect(targetsOfPod(p('db-0'), index)).toHaveLength(2);
    expect(targetsOfPod(p('kube-apiserver-node1'), index)).toHaveLength(1);
  });
  it('maps a ReplicaSet change to its Deployment too', () => {
    expect(targetsOfWorkload(workloads[1])).toEqual([
      { namespace: 'ns', kind: 'ReplicaSet', name: 'web-1' },
      { namespace: 'ns', kind: 'Deployment', name: 'web' },
    ]);
    expect(targetsOfWorkload(workloads[0])).toHaveLength(1);
  });
});
