import { MemoryPodDirectory, pod } from '../testUtils/MemoryPodDirectory';
import { authorize } from './authorize';

describe('authorize', () => {
  const dir = new MemoryPodDirectory()
    .setPod(pod('10.244.1.7', 'web-1', 'shop', null, ['spider-att1']))
    .setPod(pod('fd00::7', 'web-2', 'shop', null, ['spider-att1']));

  it('trusts a pod calling about a whisperer container it carries', () => {
    expect(authorize(dir, '10.244.1.7', 'spider-att1')).toMatchObject({
      ok: true,
      pod: { name: 'web-1' },
    });
    expect(authorize(dir, '::ffff:10.244.1.7', 'spider-att1')).toMatchObject({
      ok: true,
    });
    expect(authorize(dir, 'FD00:0:0::7', 'spider-att1')).toMatchObject({
      ok: true,
      pod: { name: 'web-2' },
    });
  });

  it('refuses unknown callers and containers of other pods', () => {
    expect(authorize(dir, '10.244.1.8', 'spider-att1')).toEqual({
      ok: false,
      reason: 'unknown caller',
    });
    expect(authorize(dir, undefined, 'spider-att1')).toEqual({
      ok: false,
      reason: 'unknown caller',
    });
    expect(authorize(dir, '10.244.1.7', 'spider-att2')).toEqual({
      ok: false,
      reason: 'container not in caller pod',
    });
  });
});
