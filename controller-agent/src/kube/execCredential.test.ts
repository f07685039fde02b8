import {
  credentialFresh,
  ExecConfig,
  execInfo,
  parseExecCredential,
  readExecConfig,
} from './execCredential';

const V1 = 'client.authentication.k8s.io/v1';
const V1BETA1 = 'client.authentication.k8s.io/v1beta1';
const config = (over: Partial<ExecConfig> = {}): ExecConfig =>
  readExecConfig(
    { apiVersion: V1, command: 'plugin', interactiveMode: 'Never', ...over },
    'kc',
    '/kc',
  );

describe('readExecConfig', () => {
  it.each([
    [
      { apiVersion: V1, command: 'aws', interactiveMode: 'Never' },
      { command: 'aws', interactiveMode: 'Never', args: [], env: [] },
    ],
    [
      { apiVersion: V1BETA1, command: './bin/get-token', args: ['a'] },
      {
        command: '/kc/bin/get-token',
        interactiveMode: 'IfAvailable',
        args: ['a'],
      },
    ],
    [
      {
        apiVersion: V1BETA1,
        command: '/abs/tool',
        env: [{ name: 'A', value: '1' }],
        provideClusterInfo: true,
      },
      {
        command: '/abs/tool',
        env: [{ name: 'A', value: '1' }],
        provideClusterInfo: true,
      },
    ],
  ])('reads %j', (raw, want) => {
    expect(readExecConfig(raw, 'kc', '/kc')).toMatchObject(want);
  });

  it.each([
    [{ command: 'x' }, /apiVersion must be one of/],
    [
      { apiVersion: 'client.authentication.k8s.io/v1alpha1', command: 'x' },
      /apiVersion must be one of/,
    ],
    [{ apiVersion: V1, command: 'x' }, /interactiveMode is required/],
    [
      { apiVersion: V1, command: 'x', interactiveMode: 'Always' },
      /has no terminal/,
    ],
    [
      { apiVersion: V1, command: 'x', interactiveMode: 'Sometimes' },
      /interactiveMode must be/,
    ],
    [{ apiVersion: V1BETA1 }, /command is required/],
    [{ apiVersion: V1BETA1, command: 'x', args: [1] }, /args must be/],
    [
      { apiVersion: V1BETA1, command: 'x', env: [{ name: 'A' }] },
      /env must be/,
    ],
  ])('rejects %j', (raw, message) => {
    expect(() => readExecConfig(raw, 'kc', '/kc')).toThrow(message);
  });
});

describe('execInfo', () => {
  it('is never interactive and carries the cluster only when asked', () => {
    const cluster = { server: 'https://k', 'tls-server-name': 'api' };
    expect(JSON.parse(execInfo(config(), cluster))).toEqual({
      apiVersion: V1,
      kind: 'ExecCredential',
      spec: { interactive: false },
    });
    expect(
      JSON.parse(execInfo(config({ provideClusterInfo: true } as any), cluster))
        .spec.cluster,
    ).toEqual(cluster);
  });
});

describe('parseExecCredential', () => {
  const answer = (status: unknown, apiVersion = V1, kind = 'ExecCredential') =>
    JSON.stringify({ apiVersion, kind, status });

  it.each([
    [answer({ token: 't' }), { token: 't', expiresAt: undefined }],
    [
      answer({ token: 't', expirationTimestamp: '2026-12-01T10:00:00Z' }),
      { token: 't', expiresAt: Date.parse('2026-12-01T10:00:00Z') },
    ],
  ])('reads %s', (stdout, want) => {
    expect(parseExecCredential(stdout, config())).toEqual(want);
  });

  it('reads a client certificate pair as PEM', () => {
    const c = parseExecCredential(
      answer({ clientCertificateData: 'CERT', clientKeyData: 'KEY' }),
      config(),
    );
    expect([c.cert?.toString(), c.key?.toString(), c.token]).toEqual([
      'CERT',
      'KEY',
      undefined,
    ]);
  });

  it.each([
    ['not json', /printed no JSON/],
    [answer({ token: 't' }, V1, 'Secret'), /kind "Secret"/],
    [
      answer({ token: 't' }, V1BETA1),
      /configured for .*v1 but printed .*v1beta1/,
    ],
    [answer(undefined), /without status/],
    [answer({}), /neither a token nor a client certificate/],
    [answer({ token: '' }), /non-empty string/],
    [answer({ clientCertificateData: 'C' }), /come together/],
    [
      answer({ token: 't', expirationTimestamp: 'tomorrow' }),
      /not an RFC 3339/,
    ],
  ])('rejects %s', (stdout, message) => {
    expect(() => parseExecCredential(stdout, config())).toThrow(message);
  });
});

describe('credentialFresh', () => {
  const now = Date.parse('2026-12-01T10:00:00Z');
  it.each([
    ['none cached', undefined, false],
    ['no expiry: until a 401', { token: 't' }, true],
    ['expires later', { token: 't', expiresAt: now + 1 }, true],
    ['expires now', { token: 't', expiresAt: now }, false],
    ['expired', { token: 't', expiresAt: now - 1000 }, false],
  ])('%s', (_what, cred, fresh) => {
    expect(credentialFresh(cred, now)).toBe(fresh);
  });
});
