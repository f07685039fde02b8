import { pod } from '../testUtils/MemoryPodDirectory';
import {
  checkZone,
  parsePodPtrName,
  podPtrName,
  servicePtrName,
  toLabel,
} from './ptrNames';
import { encodeName } from './wire';

describe('PTR names', () => {
  it('names a workload pod with workload, kind and namespace, and reads back', () => {
    const name = podPtrName(
      pod('10.0.0.1', 'web-7d9f8-abcde', 'shop', {
        kind: 'StatefulSet',
        name: 'db',
      }),
      'cluster.local',
    );
    expect(name).toBe('web-7d9f8-abcde.db.statefulset.shop.pod.cluster.local');
    expect(parsePodPtrName(name, 'cluster.local')).toEqual({
      pod: 'web-7d9f8-abcde',
      namespace: 'shop',
      workload: { kind: 'statefulset', name: 'db' },
    });
  });

  it('names a bare pod and a Service', () => {
    const bare = podPtrName(
      pod('10.0.0.1', 'debug', 'ops', null),
      'cluster.local',
    );
    expect(bare).toBe('debug.ops.pod.cluster.local');
    expect(parsePodPtrName(bare, 'cluster.local')).toEqual({
      pod: 'debug',
      namespace: 'ops',
      workload: null,
    });
    expect(
      servicePtrName({ name: 'api', namespace: 'shop' }, 'cluster.local'),
    ).toBe('api.shop.svc.cluster.local');
  });

  it('keeps every part one label, even for dotted or 253-character names', () => {
    expect(toLabel('a.b.c')).toBe('a-b-c');
    const long = `${'x'.repeat(100)}.${'y'.repeat(150)}`;
    const label = toLabel(long);
    expect(label.length).toBeLessThanOrEqual(63);
    expect(label).not.toBe(toLabel(`${'x'.repeat(100)}.${'y'.repeat(149)}z`));
    const name = podPtrName(
      pod('10.0.0.1', long, 'n'.repeat(63), {
        kind: 'StatefulSet',
        name: long,
      }),
      checkZone('a'.repeat(45)),
    );
    expect(() => encodeName(name)).not.toThrow();
  });

  it('validates the zone', () => {
    expect(checkZone('Cluster.Local.')).toBe('cluster.local');
    expect(() => checkZone('bad_zone')).toThrow();
    expect(() => checkZone('a'.repeat(46))).toThrow();
  });
});
