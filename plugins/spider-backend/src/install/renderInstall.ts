import YAML from 'yaml';
import {
  AGENT_RBAC_RULES,
  AGENT_CHART_NAME,
  AGENT_DEFAULT_NAMESPACE,
  AGENT_DEFAULT_RELEASE,
  renderAgentValues,
} from '@spider/backstage-plugin-spider-common';

export interface InstallSettings {
  /** URL agents dial: the Controls service base URL as seen from the cluster. */
  controlsUrl: string;
  chart: string;
  chartVersion?: string;
  image?: { repository?: string; tag?: string };
  whispererImage?: string;
}

export interface InstallRequest {
  controllerName: string;
  format: 'command' | 'values' | 'manifest';
  namespace?: string;
  include: string[];
  exclude: string[];
}

const TOKEN_PLACEHOLDER = '${SPIDER_AGENT_TOKEN}';

/** Splits "a, b,c" into valid, unique names (the caller validates each). */
export function splitNamespaces(list: string | undefined): string[] {
  if (!list) return [];
  return [...new Set(list.split(',').map(s => s.trim()).filter(Boolean))];
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Renders install instructions for a Controller. The token is never in them: it is shown
 * once at creation or rotation; the command reads it from $SPIDER_AGENT_TOKEN.
 */
export function renderInstall(settings: InstallSettings, req: InstallRequest): {
  format: string;
  content: string;
  fileName: string;
} {
  const namespace = req.namespace ?? AGENT_DEFAULT_NAMESPACE;
  const values = renderAgentValues({
    controlsUrl: settings.controlsUrl,
    include: req.include,
    exclude: req.exclude,
    whispererImage: settings.whispererImage,
  });
  const withImage = {
    ...values,
    ...(settings.image?.repository || settings.image?.tag
      ? { image: { ...(settings.image.repository ? { repository: settings.image.repository } : {}), ...(settings.image.tag ? { tag: settings.image.tag } : {}) } }
      : {}),
  };
  if (req.format === 'values') {
    const doc = new YAML.Document(withImage);
    doc.commentBefore = ` Helm values for the Spider controller agent of Controller "${req.controllerName}".\n Set controls.token to the agent token shown when the Controller was created or its\n token rotated, or put it in a Secret and name it in controls.existingSecret.`;
    return { format: 'values', content: doc.toString(), fileName: 'spider-agent-values.yaml' };
  }
  if (req.format === 'command') {
    const sets = [
      `--set-string controls.url=${shellQuote(settings.controlsUrl)}`,
      `--set-string controls.token="${TOKEN_PLACEHOLDER}"`,
      ...req.include.map((ns, i) => `--set-string namespaces.include[${i}]=${ns}`),
      ...req.exclude.map((ns, i) => `--set-string namespaces.exclude[${i}]=${ns}`),
      ...(settings.whispererImage ? [`--set-string whisperer.image=${shellQuote(settings.whispererImage)}`] : []),
      ...(settings.image?.repository ? [`--set-string image.repository=${shellQuote(settings.image.repository)}`] : []),
      ...(settings.image?.tag ? [`--set-string image.tag=${shellQuote(settings.image.tag)}`] : []),
    ];
    const content = [
      `helm upgrade --install ${AGENT_DEFAULT_RELEASE} ${settings.chart}`,
      ...(settings.chartVersion ? [`--version ${settings.chartVersion}`] : []),
      `--namespace ${namespace} --create-namespace`,
      ...sets,
    ].join(' ');
    return { format: 'command', content, fileName: 'install-spider-agent.sh' };
  }
  return {
    format: 'manifest',
    content: renderManifest(settings, req, namespace),
    fileName: 'spider-agent.yaml',
  };
}

/** Plain manifests for clusters without Helm; mirrors the chart's templates. */
function renderManifest(settings: InstallSettings, req: InstallRequest, namespace: string): string {
  const labels = {
    'app.kubernetes.io/name': AGENT_CHART_NAME,
    'app.kubernetes.io/instance': AGENT_DEFAULT_RELEASE,
    'app.kubernetes.io/component': 'controller-agent',
    'app.kubernetes.io/part-of': 'spider',
  };
  const name = AGENT_DEFAULT_RELEASE;
  const image = `${settings.image?.repository ?? 'spider/controller-agent'}:${settings.image?.tag ?? 'latest'}`;
  const scoped = req.include.length > 0;
  const rules = agentRules(scoped);
  const docs: unknown[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace, labels } },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `${name}-token`, namespace, labels },
      type: 'Opaque',
      stringData: { token: TOKEN_PLACEHOLDER },
    },
  ];
  if (!scoped) {
    docs.push(
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name, labels }, rules },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name, labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
        subjects: [{ kind: 'ServiceAccount', name, namespace }],
      },
    );
  } else {
    for (const ns of req.include) {
      docs.push(
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace: ns, labels }, rules },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name, namespace: ns, labels },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
          subjects: [{ kind: 'ServiceAccount', name, namespace }],
        },
      );
    }
  }
  docs.push(
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: { 'app.kubernetes.io/name': AGENT_CHART_NAME, 'app.kubernetes.io/instance': AGENT_DEFAULT_RELEASE } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: name,
            securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'agent',
                image,
                env: [
                  { name: 'SPIDER_CONTROLS_URL', value: settings.controlsUrl },
                  { name: 'SPIDER_TOKEN', valueFrom: { secretKeyRef: { name: `${name}-token`, key: 'token' } } },
                  { name: 'SPIDER_NAMESPACES', value: req.include.join(',') },
                  { name: 'SPIDER_NAMESPACES_EXCLUDE', value: req.exclude.join(',') },
                  { name: 'SPIDER_POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'SPIDER_POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                  { name: 'SPIDER_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                  ...(settings.whispererImage ? [{ name: 'SPIDER_WHISPERER_IMAGE', value: settings.whispererImage }] : []),
                ],
                ports: [
                  { name: 'http', containerPort: 8080 },
                  { name: 'dns-udp', containerPort: 5353, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 5353, protocol: 'TCP' },
                  { name: 'whisperers', containerPort: 8081 },
                ],
                readinessProbe: { httpGet: { path: '/readyz', port: 'http' } },
                livenessProbe: { httpGet: { path: '/healthz', port: 'http' } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace, labels },
      spec: {
        selector: { 'app.kubernetes.io/name': AGENT_CHART_NAME, 'app.kubernetes.io/instance': AGENT_DEFAULT_RELEASE },
        ports: [
          { name: 'dns-udp', port: 53, targetPort: 'dns-udp', protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, targetPort: 'dns-tcp', protocol: 'TCP' },
          { name: 'whisperers', port: 8081, targetPort: 'whisperers' },
        ],
      },
    },
  );
  return docs.map(d => YAML.stringify(d)).join('---\n').replaceAll(`'${TOKEN_PLACEHOLDER}'`, TOKEN_PLACEHOLDER);
}

function agentRules(scoped: boolean) {
  return AGENT_RBAC_RULES.map(r => ({
    apiGroups: [...r.apiGroups],
    // A namespaced Role cannot grant access to cluster-scoped namespaces.
    resources: (r.resources as readonly string[]).filter(x => !scoped || x !== 'namespaces'),
    verbs: [...r.verbs],
  })).filter(r => r.resources.length > 0);
}
