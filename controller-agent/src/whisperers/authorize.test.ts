import { MemoryPodDirectory, pod } from '../testUtils/MemoryPodDirectory';
import { authorize } from './authorize';
import { InstanceSecrets, presentedSecret } from './instanceSecret';

describe('authorize', () => {
  const secrets = InstanceSecrets.fromToken('spd_test-token');
  const dir = new MemoryPodDirectory()
    .setPod(
      pod('10.244.1.7', 'web-1', 'shop', null, ['spider-att1'], { uid: 'u1' }),
    )
    .setPod(
      pod('fd00::7', 'web-2', 'shop', null, ['spider-att1'], { uid: 'u2' }),
    )
    .setPod(
      pod('10.0.0.4', 'node-agent', 'kube-system', null, ['spider-att1'], {
        uid: 'u3',
        hostNetwork: true,
      }),
    );
  const call = (
    remoteAddress: string | undefined,
    container: string,
    secret: string | undefined,
  ) => authorize(dir, secrets, { remoteAddress, container, secret });

  it('trusts a pod calling about a whisperer container it carries, with its secret', () => {
    const s1 = secrets.secretFor('u1', 'spider-att1');
    expect(call('10.244.1.7', 'spider-att1', s1)).toMatchObject({
      ok: true,
      pod: { name: 'web-1' },
    });
    expect(call('::ffff:10.244.1.7', 'spider-att1', s1)).toMatchObject({
      ok: true,
    });
    expect(
      call(
        'FD00:0:0::7',
        'spider-att1',
        secrets.secretFor('u2', 'spider-att1'),
      ),
    ).toMatchObject({ ok: true, pod: { name: 'web-2' } });
  });

  it('refuses unknown callers and containers of other pods', () => {
    const s1 = secrets.secretFor('u1', 'spider-att1');
    expect(call('10.244.1.8', 'spider-att1', s1)).toEqual({
      ok: false,
      reason: 'unknown caller',
    });
    expect(call(undefined, 'spider-att1', s1)).toEqual({
      ok: false,
      reason: 'unknown caller',
    });
    expect(
      call('10.244.1.7', 'spider-att2', secrets.secretFor('u1', 'spider-att2')),
    ).toEqual({ ok: false, reason: 'container not in caller pod' });
  });

  it('refuses the right pod without its secret, or with another instance’s', () => {
    expect(call('10.244.1.7', 'spider-att1', undefined)).toEqual({
      ok: false,
      reason: 'missing instance secret',
    });
    for (const wrong of [
      'x',
      secrets.secretFor('u2', 'spider-att1'), // the same container in another pod
      secrets.secretFor('u1', 'spider-att1-1'), // another generation
      InstanceSecrets.fromToken('another-token').secretFor('u1', 'spider-att1'),
      `${secrets.secretFor('u1', 'spider-att1')}x`,
    ]) {
      expect(call('10.244.1.7', 'spider-att1', wrong)).toEqual({
        ok: false,
        reason: 'wrong instance secret',
      });
    }
  });

  it('never trusts a hostNetwork pod, even with the right secret', () => {
    expect(
      call('10.0.0.4', 'spider-att1', secrets.secretFor('u3', 'spider-att1')),
    ).toEqual({ ok: false, reason: 'host network pod' });
  });
});

describe('InstanceSecrets', () => {
  it('is a pure function of the token, pod UID and container', () => {
    const a = InstanceSecrets.fromToken('spd_t');
    const b = InstanceSecrets.fromToken('spd_t');
    expect(a.secretFor('u', 'spider-x')).toBe(b.secretFor('u', 'spider-x'));
    expect(a.secretFor('u', 'spider-x')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.secretFor('u', 'spider-x')).not.toBe(a.secretFor('v', 'spider-x'));
    expect(a.secretFor('u', 'spider-x')).not.toContain('spd_t');
    expect(InstanceSecrets.random().secretFor('u', 'spider-x')).not.toBe(
      InstanceSecrets.random().secretFor('u', 'spider-x'),
    );
  });

  it('reads the secret from Authorization: Bearer or X-Spider-Instance-Secret', () => {
    expect(presentedSecret({ authorization: 'Bearer abc' })).toBe('abc');
    expect(presentedSecret({ authorization: 'bearer abc ' })).toBe('abc');
    expect(presentedSecret({ authorization: 'Basic abc' })).toBeUndefined();
    expect(presentedSecret({ 'x-spider-instance-secret': 'abc' })).toBe('abc');
    expect(presentedSecret({})).toBeUndefined();
  });
});
