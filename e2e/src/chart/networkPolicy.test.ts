import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { renderAgentValues } from '@spider/backstage-plugin-spider-common';
import { ensureNamespace } from '../agent/agentFixtures';
import { ControlPlane, ensurePlane } from '../cluster/ControlPlane';
import { helmBinary, template } from './helmChart';

/**
 * The chart's NetworkPolicy: rendered by helm (who may reach which port of the agent's
 * pod), then created in the real control plane, whose API server validates and stores
 * it. The plane has no network plugin, so nothing enforces it there: what this proves is
 * that the object is valid and selects the agent's pod, not that packets are dropped.
 */
jest.setTimeout(10 * 60_000);

const URL = 'https://portal.example.com/api/spider';
const RUN = Date.now().toString(36).slice(-5);
const values = (extra: object = {}) => ({
  ...renderAgentValues({ controlsUrl: URL, token: 't' }),
  ...extra,
});
const MONITORING = [
  {
    namespaceSelector: {
      matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' },
    },
    podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
  },
];

describe('agent chart NetworkPolicy', () => {
  let helm: string;
  beforeAll(async () => {
    helm = await helmBinary();
  }, 60 * 60_000);

  const policies = async (extra: object = {}) =>
    (await template(helm, values(extra))).filter(
      o => o.kind === 'NetworkPolicy',
    );

  it('is on by default: DNS and the endpoint from pods in any namespace, nothing else', async () => {
    const objects = await template(helm, values());
    const [policy] = objects.filter(o => o.kind === 'NetworkPolicy');
    const deployment = objects.find(o => o.kind === 'Deployment');
    expect(policy.metadata.name).toBe('spider-agent');
    // It selects exactly the agent's pods.
    expect(policy.spec.podSelector.matchLabels).toEqual(
      deployment.spec.selector.matchLabels,
    );
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    expect(policy.spec.ingress).toEqual([
      {
        from: [{ namespaceSelector: {} }],
        ports: [
          { protocol: 'UDP', port: 5353 },
          { protocol: 'TCP', port: 5353 },
          { protocol: 'TCP', port: 8081 },
        ],
      },
    ]);
    // The metrics port (8080) is in no rule: no one may reach it.
    const open = policy.spec.ingress.flatMap((r: any) =>
      r.ports.map((p: any) => p.port),
    );
    expect(open).not.toContain(8080);
  });

  it('opens metrics to the configured peers only, on the configured ports', async () => {
    const [policy] = await policies({
      dns: { port: 5454 },
      endpoint: { port: 9091 },
      httpPort: 9090,
      networkPolicy: { enabled: true, metrics: { from: MONITORING } },
    });
    expect(policy.spec.ingress).toEqual([
      {
        from: [{ namespaceSelector: {} }],
        ports: [
          { protocol: 'UDP', port: 5454 },
          { protocol: 'TCP', port: 5454 },
          { protocol: 'TCP', port: 9091 },
        ],
      },
      { from: MONITORING, ports: [{ protocol: 'TCP', port: 9090 }] },
    ]);
  });

  it('can be turned off', async () => {
    expect(await policies({ networkPolicy: { enabled: false } })).toEqual([]);
  });

  it.each([
    ['a peer with an ipBlock', [{ ipBlock: { cidr: '0.0.0.0/0' } }]],
    ['an empty peer (everyone)', [{}]],
    [
      'a bad operator',
      [{ podSelector: { matchExpressions: [{ key: 'a', operator: 'Is' }] } }],
    ],
  ])('refuses %s for metrics.from', async (_label, from) => {
    await expect(
      template(helm, values({ networkPolicy: { metrics: { from } } })),
    ).rejects.toThrow(/networkPolicy\/metrics\/from/);
  });

  describe('in the real control plane', () => {
    let plane: ControlPlane;
    const NS = `spider-netpol-${RUN}`;
    /**
     * kubectl, not client-node: client-node's serializer drops a peer that is only
     * `namespaceSelector: {}` (and with it the `from` list), which would turn "pods in
     * any namespace" into "anyone" and hide exactly what this test checks.
     */
    const kubectl = (args: string[], input?: string) =>
      new Promise<{ code: number; out: string; err: string }>(resolve => {
        const child = execFile(
          plane.binDir ? join(plane.binDir, 'kubectl') : 'kubectl',
          ['--kubeconfig', plane.kubeconfigPath, ...args],
          { timeout: 60_000 },
          (e, out, err) =>
            resolve({ code: e ? (e as any).code ?? 1 : 0, out, err }),
        );
        child.stdin?.end(input ?? '');
      });
    beforeAll(async () => {
      plane = await ensurePlane();
      await ensureNamespace(plane.kubeConfig, NS);
    }, 60 * 60_000);
    afterAll(async () => {
      await plane?.kubeConfig
        .makeApiClient(CoreV1Api)
        .deleteNamespace({ name: NS })
        .catch(() => undefined);
    });

    it('is created as rendered (default and with metrics peers), and read back unchanged', async () => {
      for (const [name, extra] of [
        ['spider-agent', {}],
        [
          'spider-agent-metrics',
          {
            fullnameOverride: 'spider-agent-metrics',
            networkPolicy: { enabled: true, metrics: { from: MONITORING } },
          },
        ],
      ] as const) {
        const [policy] = await policies(extra);
        const created = await kubectl(
          ['create', '-n', NS, '-f', '-', '-o', 'json'],
          JSON.stringify(policy),
        );
        expect(created.err).toBe('');
        expect(JSON.parse(created.out).metadata.name).toBe(name);
        const read = await kubectl([
          'get',
          '-n',
          NS,
          'networkpolicy',
          name,
          '-o',
          'json',
        ]);
        // The API server kept every rule as rendered.
        expect(JSON.parse(read.out).spec).toEqual(policy.spec);
      }
      const list = await kubectl([
        'get',
        '-n',
        NS,
        'networkpolicy',
        '-o',
        'jsonpath={.items[*].metadata.name}',
      ]);
      expect(list.out.split(' ').sort()).toEqual([
        'spider-agent',
        'spider-agent-metrics',
      ]);
    });

    it('the API server refuses a broken one (so the create above is a real check)', async () => {
      const [policy] = await policies();
      const broken = structuredClone(policy);
      broken.metadata.name = 'spider-agent-broken';
      broken.spec.ingress[0].ports[0].protocol = 'ICMP';
      const r = await kubectl(
        ['create', '-n', NS, '-f', '-'],
        JSON.stringify(broken),
      );
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(/Unsupported value: "ICMP"/);
      const read = await kubectl([
        'get',
        '-n',
        NS,
        'networkpolicy',
        'spider-agent-broken',
      ]);
      expect(read.err).toMatch(/NotFound/);
    });
  });
});
