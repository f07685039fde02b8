import {
  matchEntityWorkloads,
  parseLabelSelector,
} from './matchEntityWorkloads';
import { Workload } from '@spider/backstage-plugin-spider-common';

const w = (
  name: string,
  namespace: string,
  labels: Record<string, string>,
): Workload => ({
  name,
  namespace,
  kind: 'Deployment',
  labels,
  replicas: 1,
  pods: 1,
});

describe('matchEntityWorkloads', () => {
  const workloads = [
    w('payments', 'team-a', {
      'backstage.io/kubernetes-id': 'payments',
      tier: 'web',
    }),
    w('payments', 'team-b', { 'backstage.io/kubernetes-id': 'payments' }),
    w('checkout', 'team-a', {
      'backstage.io/kubernetes-id': 'checkout',
      tier: 'api',
    }),
  ];

  it('matches the kubernetes-id label', () => {
    expect(
      matchEntityWorkloads(
        { 'backstage.io/kubernetes-id': 'payments' },
        workloads,
      ),
    ).toHaveLength(2);
  });
  it('narrows by the namespace annotation', () => {
    const r = matchEntityWorkloads(
      {
        'backstage.io/kubernetes-id': 'payments',
        'backstage.io/kubernetes-namespace': 'team-b',
      },
      workloads,
    );
    expect(r.map(x => x.namespace)).toEqual(['team-b']);
  });
  it('prefers the label selector', () => {
    const r = matchEntityWorkloads(
      {
        'backstage.io/kubernetes-id': 'payments',
        'backstage.io/kubernetes-label-selector': 'tier in (api)',
      },
      workloads,
    );
    expect(r.map(x => x.name)).toEqual(['checkout']);
  });
  it('finds nothing for an entity without annotations', () => {
    expect(matchEntityWorkloads({}, workloads)).toEqual([]);
  });
  it('refuses a malformed selector', () => {
    expect(parseLabelSelector('a=b,,c')).toBeUndefined();
    expect(parseLabelSelector('app=web, tier!=db, !legacy')).toHaveLength(3);
  });
});
