import {
  kubeconfigPaths,
  mergeKubeconfigs,
  resolveContext,
} from './kubeconfigMerge';

const cluster = (name: string, server: string) => ({
  name,
  cluster: { server },
});

describe('mergeKubeconfigs (kubectl rules)', () => {
  it.each([
    {
      what: 'first file to define a name wins',
      files: [
        { clusters: [cluster('c', 'https://first')] },
        {
          clusters: [cluster('c', 'https://second'), cluster('d', 'https://d')],
        },
      ],
      expect: { c: 'https://first', d: 'https://d' },
    },
    {
      what: 'an empty file changes nothing',
      files: [null, { clusters: [cluster('c', 'https://only')] }],
      expect: { c: 'https://only' },
    },
  ])('$what', ({ files, expect: servers }) => {
    const m = mergeKubeconfigs(
      files.map((doc, i) => ({ path: `/k/${i}/config`, doc })),
    );
    expect(
      Object.fromEntries([...m.clusters].map(([n, o]) => [n, o.value.server])),
    ).toEqual(servers);
  });

  it.each([
    { docs: [{}, { 'current-context': 'b' }], want: 'b', file: '/k/1/config' },
    {
      docs: [{ 'current-context': 'a' }, { 'current-context': 'b' }],
      want: 'a',
      file: '/k/0/config',
    },
    { docs: [{ 'current-context': '' }, {}], want: undefined, file: undefined },
  ])(
    'current-context from the first file that sets one: $want',
    ({ docs, want, file }) => {
      const m = mergeKubeconfigs(
        docs.map((doc, i) => ({ path: `/k/${i}/config`, doc })),
      );
      expect([m.currentContext, m.currentContextFile]).toEqual([want, file]);
    },
  );

  it('remembers the defining file of each entry, for relative paths', () => {
    const m = mergeKubeconfigs([
      {
        path: '/a/config',
        doc: { users: [{ name: 'u', user: { token: 'x' } }] },
      },
      {
        path: '/b/config',
        doc: {
          clusters: [cluster('c', 'https://b')],
          users: [{ name: 'u', user: { token: 'loses' } }],
          contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
          'current-context': 'x',
        },
      },
    ]);
    const ctx = resolveContext(m);
    expect([ctx.cluster.dir, ctx.user?.dir, ctx.user?.value.token]).toEqual([
      '/b',
      '/a',
      'x',
    ]);
  });

  it.each([
    [
      {
        contexts: [{ name: 'x', context: { cluster: 'nope' } }],
        'current-context': 'x',
      },
      /names cluster "nope", which no file defines/,
    ],
    [
      {
        clusters: [cluster('c', 'https://c')],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'ghost' } }],
        'current-context': 'x',
      },
      /names user "ghost"/,
    ],
    [{}, /no current-context/],
  ])('says what is missing (%#)', (doc, message) => {
    expect(() =>
      resolveContext(mergeKubeconfigs([{ path: '/k/config', doc }])),
    ).toThrow(message);
  });

  it.each([
    ['clusters: not a list', { clusters: 'x' }, /"clusters" must be a list/],
    ['entry without a name', { users: [{ user: {} }] }, /has no name/],
    ['not a mapping', ['x'], /not a kubeconfig/],
  ])('rejects %s', (_what, doc, message) => {
    expect(() => mergeKubeconfigs([{ path: '/k/config', doc }])).toThrow(
      message,
    );
  });

  it('splits a KUBECONFIG value as kubectl does', () => {
    expect(kubeconfigPaths('/a::/b:/a:')).toEqual(['/a', '/b']);
    expect(kubeconfigPaths('')).toEqual([]);
  });
});
