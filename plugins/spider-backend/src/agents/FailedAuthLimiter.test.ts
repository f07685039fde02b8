import { clientAddress, FailedAuthLimiter } from './FailedAuthLimiter';

describe('FailedAuthLimiter', () => {
  it('refuses a credential that keeps failing, and only that one', () => {
    const l = new FailedAuthLimiter({ perCredential: 3, perAddress: 100 });
    for (let i = 0; i < 3; i++) l.fail('10.0.0.1', 'stale');
    expect(l.isCredentialBlocked('stale')).toBe(true);
    expect(l.isCredentialBlocked('other')).toBe(false);
    expect(l.isAddressLimited('10.0.0.1')).toBe(false);
  });

  it('limits an address after many different failures, and forgets after the window', () => {
    const l = new FailedAuthLimiter({
      perCredential: 5,
      perAddress: 10,
      windowMs: 1000,
    });
    for (let i = 0; i < 10; i++) l.fail('10.0.0.1', `guess-${i}`, 0);
    expect(l.isAddressLimited('10.0.0.1', 500)).toBe(true);
    expect(l.isAddressLimited('10.0.0.2', 500)).toBe(false);
    expect(l.isAddressLimited('10.0.0.1', 1501)).toBe(false);
  });

  it('stays bounded in memory under a flood of distinct keys', () => {
    const l = new FailedAuthLimiter({ maxKeys: 100 });
    for (let i = 0; i < 10_000; i++)
      l.fail(`10.0.${i >> 8}.${i & 255}`, `c${i}`, 0);
    expect((l as any).byAddress.size).toBeLessThanOrEqual(101);
    expect((l as any).byCredential.size).toBeLessThanOrEqual(101);
  });
});

describe('clientAddress', () => {
  const trust = { header: 'x-forwarded-for', proxies: ['10.1.1.1'] };
  it.each([
    [
      'ignores the header without configuration',
      '10.1.1.1',
      { 'x-forwarded-for': '1.2.3.4' },
      { proxies: [] },
      '10.1.1.1',
    ],
    [
      'ignores the header from an untrusted peer',
      '10.9.9.9',
      { 'x-forwarded-for': '1.2.3.4' },
      trust,
      '10.9.9.9',
    ],
    [
      'takes the right-most untrusted hop from a trusted proxy',
      '10.1.1.1',
      { 'x-forwarded-for': '6.6.6.6, 1.2.3.4' },
      trust,
      '1.2.3.4',
    ],
    [
      'skips trusted hops',
      '10.1.1.1',
      { 'x-forwarded-for': '1.2.3.4, 10.1.1.1' },
      trust,
      '1.2.3.4',
    ],
    [
      'falls back to the peer when the header is missing',
      '10.1.1.1',
      {},
      trust,
      '10.1.1.1',
    ],
    [
      'normalises IPv4-mapped addresses',
      '::ffff:10.1.1.1',
      { 'x-forwarded-for': '1.2.3.4' },
      trust,
      '1.2.3.4',
    ],
  ])('%s', (_name, peer, headers, t, expected) => {
    expect(clientAddress(peer, headers as any, t as any)).toBe(expected);
  });
});
