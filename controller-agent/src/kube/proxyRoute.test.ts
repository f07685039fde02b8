import { noProxyMatches, proxyFor } from './proxyRoute';

describe('proxyFor', () => {
  const api = new URL('https://api.example.com:6443');
  it.each([
    [
      'proxy-url wins over the environment',
      api,
      'http://p:3128',
      { HTTPS_PROXY: 'http://env:1' },
      'http://p:3128/',
    ],
    [
      'proxy-url is used even for loopback',
      new URL('https://127.0.0.1:6443'),
      'http://p:3128',
      {},
      'http://p:3128/',
    ],
    [
      'HTTPS_PROXY without scheme',
      api,
      undefined,
      { HTTPS_PROXY: 'env:8080' },
      'http://env:8080/',
    ],
    [
      'lower-case https_proxy',
      api,
      undefined,
      { https_proxy: 'https://env:8443' },
      'https://env:8443/',
    ],
    [
      'HTTP_PROXY is not used for https',
      api,
      undefined,
      { HTTP_PROXY: 'http://env:1' },
      undefined,
    ],
    [
      'loopback never through the environment proxy',
      new URL('https://127.0.0.1:6443'),
      undefined,
      { HTTPS_PROXY: 'http://env:1' },
      undefined,
    ],
    [
      'localhost neither',
      new URL('https://localhost:6443'),
      undefined,
      { HTTPS_PROXY: 'http://env:1' },
      undefined,
    ],
    [
      'NO_PROXY domain',
      api,
      undefined,
      { HTTPS_PROXY: 'http://env:1', NO_PROXY: 'example.com' },
      undefined,
    ],
    [
      'NO_PROXY other domain',
      api,
      undefined,
      { HTTPS_PROXY: 'http://env:1', NO_PROXY: 'example.org' },
      'http://env:1/',
    ],
  ])('%s', (_what, server, proxyUrl, env, want) => {
    expect(proxyFor(server, proxyUrl, env)?.href).toBe(want);
  });

  it.each([
    ['socks5://p:1080', /only http and https proxies/],
    ['::not a url', /is not a URL/],
  ])('rejects %s', (value, message) => {
    expect(() => proxyFor(new URL('https://k'), value, {})).toThrow(message);
  });
});

describe('noProxyMatches', () => {
  it.each([
    ['*', 'anything.io', '443', true],
    ['example.com', 'example.com', '443', true],
    ['example.com', 'api.example.com', '443', true],
    ['.example.com', 'api.example.com', '443', true],
    ['example.com', 'badexample.com', '443', false],
    ['api.example.com:6443', 'api.example.com', '6443', true],
    ['api.example.com:6443', 'api.example.com', '443', false],
    ['10.0.0.0/8', '10.1.2.3', '443', true],
    ['10.0.0.0/8', '11.1.2.3', '443', false],
    ['fd00::/8', 'fd12::1', '443', true],
    ['10.1.2.3', '10.1.2.3', '443', true],
    [' a.io , 10.1.2.3 ', '10.1.2.3', '443', true],
    ['', 'a.io', '443', false],
  ])('%j matches %s:%s → %s', (noProxy, host, port, want) => {
    expect(noProxyMatches(noProxy, host, port)).toBe(want);
  });
});
