import {
  canonicalIp,
  ipFromReverseName,
  parseIpv6,
  reverseNameOf,
  addressBytes,
} from './reverse';

describe('reverse names', () => {
  it('round-trips IPv4 and IPv6 through their reverse names', () => {
    for (const ip of [
      '10.244.1.7',
      '0.0.0.0',
      '255.255.255.255',
      'fd00:10:244::1:7',
      '::1',
      '2001:db8::',
      '1:2:3:4:5:6:7:8',
    ]) {
      expect(ipFromReverseName(reverseNameOf(ip)!)).toBe(ip);
    }
    expect(reverseNameOf('10.244.1.7')).toBe('7.1.244.10.in-addr.arpa');
  });

  it('rejects partial, non-canonical and foreign names', () => {
    expect(ipFromReverseName('244.10.in-addr.arpa')).toBeUndefined();
    expect(ipFromReverseName('07.1.244.10.in-addr.arpa')).toBeUndefined();
    expect(ipFromReverseName('256.1.244.10.in-addr.arpa')).toBeUndefined();
    expect(ipFromReverseName('example.org')).toBeUndefined();
    expect(ipFromReverseName('g.0.ip6.arpa')).toBeUndefined();
  });

  it('writes IPv6 the RFC 5952 way (what Kubernetes reports)', () => {
    expect(canonicalIp('FD00:0010:0244:0000:0000:0000:0001:0007')).toBe(
      'fd00:10:244::1:7',
    );
    expect(canonicalIp('1:0:0:2:0:0:0:3')).toBe('1:0:0:2::3');
    expect(canonicalIp('1:0:2:3:4:5:6:7')).toBe('1:0:2:3:4:5:6:7'); // one zero group stays
    expect(canonicalIp('::ffff:1.2.3.4')).toBe('::ffff:102:304');
    expect(canonicalIp('1.2.3')).toBeUndefined();
    expect(parseIpv6('1::2::3')).toBeUndefined();
    expect(parseIpv6('1:2:3:4:5:6:7:8:9')).toBeUndefined();
  });

  it('gives address bytes for A and AAAA', () => {
    expect(addressBytes('10.0.0.5')).toEqual(Buffer.from([10, 0, 0, 5]));
    expect(addressBytes('::1')!.length).toBe(16);
    expect(addressBytes('nope')).toBeUndefined();
  });
});
