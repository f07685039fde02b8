import {
  AGENT_ENV,
  AGENT_NAMESPACED_RBAC_RULES,
  AGENT_RBAC_RULES,
  AgentChartValues,
  renderAgentValues,
} from '@spider/backstage-plugin-spider-common';
import {
  CHART_DIR,
  helmBinary,
  runHelm,
  template,
  valuesFile,
} from './helmChart';

/**
 * The agent's Helm chart, rendered by helm itself: schema, RBAC equal to the shared
 * rules, a pod that PodSecurity `restricted` admits, and the portal's values accepted as
 * they are. (chart.install.test.ts installs it into the real control plane.)
 */
jest.setTimeout(10 * 60_000);

const URL = 'https://portal.example.com/api/spider';
const plain = (rules: readonly any[]) =>
  rules.map(r => ({
    apiGroups: [...r.apiGroups],
    resources: [...r.resources],
    verbs: [...r.verbs],
  }));
const byKind = (objects: any[], kind: string) =>
  objects.filter(o => o.kind === kind);

describe('controller-agent chart', () => {
  let helm: string;
  beforeAll(async () => {
    helm = await helmBinary();
  }, 60 * 60_000);

  it('passes helm lint --strict', async () => {
    const r = await runHelm(helm, [
      'lint',
      '--strict',
      CHART_DIR,
      '-f',
      valuesFile(renderAgentValues({ controlsUrl: URL, token: 't0k3n' })),
    ]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('cluster-wide: one ClusterRole with exactly AGENT_RBAC_RULES, bound to the agent ServiceAccount', async () => {
    const objects = await template(
      helm,
      renderAgentValues({ controlsUrl: URL, token: 't0k3n' }),
    );
    const [role] = byKind(objects, 'ClusterRole');
    expect(byKind(objects, 'ClusterRole')).toHaveLength(1);
    expect(role.rules).toEqual(plain(AGENT_RBAC_RULES));
    expect(byKind(objects, 'Role')).toHaveLength(0);
    const [binding] = byKind(objects, 'ClusterRoleBinding');
    expect(binding.roleRef).toMatchObject({
      kind: 'ClusterRole',
      name: role.metadata.name,
    });
    expect(binding.subjects).toEqual([
      {
        kind: 'ServiceAccount',
        name: 'spider-agent',
        namespace: 'spider-system',
      },
    ]);
  });

  it('scoped: a Role and RoleBinding per included namespace (minus excluded) with AGENT_NAMESPACED_RBAC_RULES, nothing cluster-wide', async () => {
    const objects = await template(
      helm,
      renderAgentValues({
        controlsUrl: URL,
        token: 't',
        include: ['shop', 'pay', 'ops'],
        exclude: ['ops'],
      }),
    );
    expect(byKind(objects, 'ClusterRole')).toHaveLength(0);
    expect(byKind(objects, 'ClusterRoleBinding')).toHaveLength(0);
    const roles = byKind(objects, 'Role');
    expect(roles.map(r => r.metadata.namespace).sort()).toEqual([
      'pay',
      'shop',
    ]);
    for (const r of roles)
      expect(r.rules).toEqual(plain(AGENT_NAMESPACED_RBAC_RULES));
    const bindings = byKind(objects, 'RoleBinding');
    expect(bindings.map(b => b.metadata.namespace).sort()).toEqual([
      'pay',
      'shop',
    ]);
    for (const b of bindings) {
      expect(b.roleRef).toMatchObject({
        kind: 'Role',
        name: 'spider-system-spider-agent',
      });
      expect(b.metadata.name).toBe('spider-system-spider-agent');
      expect(b.subjects).toEqual([
        {
          kind: 'ServiceAccount',
          name: 'spider-agent',
          namespace: 'spider-system',
        },
      ]);
    }
    // The namespaced rules are the shared ones minus what a Role cannot grant.
    expect(plain(AGENT_NAMESPACED_RBAC_RULES)).toEqual(
      plain(AGENT_RBAC_RULES)
        .map(r => ({
          ...r,
          resources: r.resources.filter(x => x !== 'namespaces'),
        }))
        .filter(r => r.resources.length),
    );
  });

  it('renders a pod PodSecurity "restricted" admits, with probes and the agent env from AGENT_ENV', async () => {
    const objects = await template(
      helm,
      renderAgentValues({ controlsUrl: URL, token: 't' }),
    );
    const [deployment] = byKind(objects, 'Deployment');
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.hostNetwork).toBeUndefined();
    const [c] = pod.containers;
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    const known = new Set(Object.values(AGENT_ENV));
    const names = c.env.map((e: any) => e.name);
    expect(names.filter((n: string) => !known.has(n as any))).toEqual([]);
    // Everything the agent reads is set, the token through the mounted Secret file; the
    // bind address is left unset: in a pod the agent binds all interfaces by itself.
    expect(names.sort()).toEqual(
      [...known]
        .filter(n => n !== AGENT_ENV.token && n !== AGENT_ENV.bindAddress)
        .sort(),
    );
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
    expect(env).toMatchObject({
      SPIDER_CONTROLS_URL: URL,
      SPIDER_NAMESPACES: '*',
      SPIDER_DNS_PORT: '5353',
      SPIDER_TOKEN_FILE: '/var/run/spider/token/token',
      SPIDER_SERVICE_HOST: 'spider-agent.spider-system.svc',
    });
    expect(
      pod.volumes.find((v: any) => v.name === 'token').secret.secretName,
    ).toBe('spider-agent-token');
    const [secret] = byKind(objects, 'Secret');
    expect(secret.stringData).toEqual({ token: 't' });
  });

  it('serves DNS on 53 (UDP and TCP) through the Service, mapped to the unprivileged container port', async () => {
    const objects = await template(helm, {
      ...renderAgentValues({ controlsUrl: URL, token: 't' }),
      dns: { port: 5454 },
      endpoint: { port: 9091 },
    });
    const [svc] = byKind(objects, 'Service');
    const ports = Object.fromEntries(
      svc.spec.ports.map((p: any) => [p.name, p]),
    );
    expect(ports['dns-udp']).toMatchObject({
      port: 53,
      protocol: 'UDP',
      targetPort: 'dns-udp',
    });
    expect(ports['dns-tcp']).toMatchObject({
      port: 53,
      protocol: 'TCP',
      targetPort: 'dns-tcp',
    });
    expect(ports.endpoint).toMatchObject({
      port: 9091,
      targetPort: 'endpoint',
    });
    const [c] = byKind(objects, 'Deployment')[0].spec.template.spec.containers;
    expect(c.ports).toEqual(
      expect.arrayContaining([
        { name: 'dns-udp', containerPort: 5454, protocol: 'UDP' },
        { name: 'dns-tcp', containerPort: 5454, protocol: 'TCP' },
        { name: 'endpoint', containerPort: 9091, protocol: 'TCP' },
      ]),
    );
  });

  it('passes dns.udpWorkers to the agent (default 0: no worker thread)', async () => {
    const envOf = async (values: object) => {
      const objects = await template(helm, {
        ...renderAgentValues({ controlsUrl: URL, token: 't' }),
        ...values,
      });
      const [c] = byKind(objects, 'Deployment')[0].spec.template.spec
        .containers;
      return Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
    };
    expect((await envOf({}))[AGENT_ENV.dnsUdpWorkers]).toBe('0');
    expect(
      (await envOf({ dns: { port: 5353, udpWorkers: 2 } }))[
        AGENT_ENV.dnsUdpWorkers
      ],
    ).toBe('2');
  });

  it('accepts every value AgentChartValues names (so the portal and the chart agree on names)', async () => {
    const full: AgentChartValues = {
      controls: {
        url: URL,
        token: '',
        existingSecret: { name: 'agent-token', key: 'tok' },
      },
      namespaces: { include: ['shop'], exclude: [] },
      whisperer: { image: 'registry.example.com/spider/whisperer:1.2.3' },
      image: {
        repository: 'registry.example.com/spider/controller-agent',
        tag: '0.1.0',
        pullPolicy: 'Always',
      },
      dns: { port: 5353, udpWorkers: 1 },
      endpoint: { port: 8081 },
      hostAliases: [
        { ip: '10.0.0.5', hostnames: ['db.internal'] },
        { ip: 'fd00::5', hostnames: ['db6.internal'] },
      ],
      resyncPeriodSeconds: 30,
      logLevel: 'debug',
      resources: { requests: { cpu: '100m' } },
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [
        { key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' },
      ],
    };
    const objects = await template(helm, full);
    const pod = byKind(objects, 'Deployment')[0].spec.template.spec;
    expect(byKind(objects, 'Secret')).toHaveLength(0); // the existing one is used
    expect(pod.volumes[0].secret).toEqual({
      secretName: 'agent-token',
      items: [{ key: 'tok', path: 'tok' }],
    });
    expect(pod.nodeSelector).toEqual(full.nodeSelector);
    expect(pod.tolerations).toEqual(full.tolerations);
    const env = Object.fromEntries(
      pod.containers[0].env.map((e: any) => [e.name, e.value]),
    );
    expect(JSON.parse(env.SPIDER_HOST_ALIASES)).toEqual(full.hostAliases);
    expect(env).toMatchObject({
      SPIDER_NAMESPACES: 'shop',
      SPIDER_LOG_LEVEL: 'debug',
      SPIDER_RESYNC_SECONDS: '30',
      SPIDER_TOKEN_FILE: '/var/run/spider/token/tok',
    });
  });

  it.each([
    [
      'a misspelt value',
      { controls: { url: URL, token: 't' }, namespace: { include: ['x'] } },
      /additional properties 'namespace'/,
    ],
    [
      'a URL that is not http(s)/ws(s)',
      { controls: { url: 'ftp://x', token: 't' } },
      /controls\/url/,
    ],
    [
      'an invalid namespace',
      {
        controls: { url: URL, token: 't' },
        namespaces: { include: ['Bad_NS'] },
      },
      /namespaces\/include/,
    ],
    [
      'a port out of range',
      { controls: { url: URL, token: 't' }, dns: { port: 70000 } },
      /dns\/port/,
    ],
    [
      'more than 8 DNS UDP workers',
      { controls: { url: URL, token: 't' }, dns: { udpWorkers: 9 } },
      /dns\/udpWorkers/,
    ],
    [
      'a host alias without IP',
      {
        controls: { url: URL, token: 't' },
        hostAliases: [{ hostnames: ['x'] }],
      },
      /hostAliases/,
    ],
    [
      'no token and no existing Secret',
      { controls: { url: URL } },
      /controls.token is required/,
    ],
    [
      'no Controls URL',
      { controls: { url: '', token: 't' } },
      /controls.url is required/,
    ],
    [
      'every included namespace excluded',
      {
        controls: { url: URL, token: 't' },
        namespaces: { include: ['a'], exclude: ['a'] },
      },
      /no access/,
    ],
  ])('refuses %s', async (_what, values, message) => {
    await expect(template(helm, values)).rejects.toThrow(message);
  });
});
