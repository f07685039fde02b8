import YAML from 'yaml';
import {
  AGENT_CHART_DEFAULTS,
  AGENT_ENV,
  AGENT_NAMESPACED_RBAC_RULES,
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
const RESTRICTED_LABEL = 'pod-security.kubernetes.io/enforce';

/**
 * The Secret the install command creates for the token (the chart reads it through
 * controls.existingSecret). Not the chart's own `<release>-token`: an upgrade of a release
 * that once rendered that Secret would delete it.
 */
export const INSTALL_TOKEN_SECRET = `${AGENT_DEFAULT_RELEASE}-controls-token`;

/** Splits "a, b,c" into valid, unique names (the caller validates each). */
export function splitNamespaces(list: string | undefined): string[] {
  if (!list) return [];
  return [
    ...new Set(
      list
        .split(',')
        .map(s => s.trim())
        .filter(Boolean),
    ),
  ];
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Renders install instructions for a Controller. The token is never in them: it is shown
 * once at creation or rotation. The commands never put it on a command line or in shell
 * history either: kubectl reads it from stdin into a Secret, and helm is given only the
 * Secret's name.
 */
export function renderInstall(
  settings: InstallSettings,
  req: InstallRequest,
): {
  format: InstallRequest['format'];
  content: string;
  fileName: string;
  controlsUrl: string;
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
      ? {
          image: {
            ...(settings.image.repository
              ? { repository: settings.image.repository }
              : {}),
            ...(settings.image.tag ? { tag: settings.image.tag } : {}),
          },
        }
      : {}),
  };
  if (req.format === 'values') {
    const doc = new YAML.Document(withImage);
    doc.commentBefore = ` Helm values for the Spider controller agent of Controller "${req.controllerName}".\n Set controls.token to the agent token shown when the Controller was created or its\n token rotated, or put it in a Secret and name it in controls.existingSecret.`;
    return {
      format: 'values',
      content: doc.toString(),
      fileName: 'spider-agent-values.yaml',
      controlsUrl: settings.controlsUrl,
    };
  }
  if (req.format === 'command') {
    const sets = [
      `--set-string controls.url=${shellQuote(settings.controlsUrl)}`,
      `--set-string controls.existingSecret.name=${INSTALL_TOKEN_SECRET}`,
      ...req.include.map(
        (ns, i) => `--set-string namespaces.include[${i}]=${ns}`,
      ),
      ...req.exclude.map(
        (ns, i) => `--set-string namespaces.exclude[${i}]=${ns}`,
      ),
      ...(settings.whispererImage
        ? [
            `--set-string whisperer.image=${shellQuote(
              settings.whispererImage,
            )}`,
          ]
        : []),
      ...(settings.image?.repository
        ? [
            `--set-string image.repository=${shellQuote(
              settings.image.repository,
            )}`,
          ]
        : []),
      ...(settings.image?.tag
        ? [`--set-string image.tag=${shellQuote(settings.image.tag)}`]
        : []),
    ];
    const helm = [
      `helm upgrade --install ${AGENT_DEFAULT_RELEASE} ${settings.chart}`,
      ...(settings.chartVersion ? [`--version ${settings.chartVersion}`] : []),
      `--namespace ${namespace} --create-namespace`,
      ...sets,
    ].join(' ');
    // create … --dry-run=client | apply: the same commands install, re-install and take a
    // rotated token.
    const content = [
      `kubectl create namespace ${namespace} --dry-run=client -o yaml | kubectl apply -f -`,
      '# The namespace holds only the agent (which never acts in it): PodSecurity restricted.',
      `kubectl label namespace ${namespace} ${RESTRICTED_LABEL}=restricted --overwrite`,
      '# Paste the agent token, then press Enter and Ctrl-D: kubectl reads it from stdin,',
      '# so it is in no command line and no shell history.',
      `kubectl --namespace ${namespace} create secret generic ${INSTALL_TOKEN_SECRET} --from-file=token=/dev/stdin --dry-run=client -o yaml | kubectl apply -f -`,
      helm,
      '',
    ].join('\n');
    return {
      format: 'command',
      content,
      fileName: 'install-spider-agent.sh',
      controlsUrl: settings.controlsUrl,
    };
  }
  return {
    format: 'manifest',
    content: renderManifest(settings, req, namespace),
    fileName: 'spider-agent.yaml',
    controlsUrl: settings.controlsUrl,
  };
}

/**
 * Plain manifests for clusters without Helm: what the chart renders with its defaults and
 * these values (names, RBAC, env, ports, probes, token file). e2e/src/chart checks the
 * two against each other with `helm template`, so they cannot drift apart unnoticed.
 */
function renderManifest(
  settings: InstallSettings,
  req: InstallRequest,
  namespace: string,
): string {
  const name = AGENT_DEFAULT_RELEASE;
  const rbacName = `${namespace}-${name}`;
  const selector = {
    'app.kubernetes.io/name': AGENT_CHART_NAME,
    'app.kubernetes.io/instance': AGENT_DEFAULT_RELEASE,
  };
  const labels = {
    ...selector,
    'app.kubernetes.io/managed-by': 'spider-portal',
  };
  const image = `${
    settings.image?.repository ?? AGENT_CHART_DEFAULTS.imageRepository
  }:${settings.image?.tag ?? AGENT_CHART_DEFAULTS.imageTag}`;
  const exclude = new Set(req.exclude);
  const scoped = [...new Set(req.include.filter(ns => !exclude.has(ns)))];
  const ports = AGENT_CHART_DEFAULTS;
  const docs: unknown[] = [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: namespace,
        labels: { [RESTRICTED_LABEL]: 'restricted' },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name, namespace, labels },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `${name}-token`, namespace, labels },
      type: 'Opaque',
      stringData: { token: TOKEN_PLACEHOLDER },
    },
  ];
  const subjects = [{ kind: 'ServiceAccount', name, namespace }];
  if (req.include.length === 0) {
    docs.push(
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: rbacName, labels },
        rules: rbacRules(AGENT_RBAC_RULES),
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: rbacName, labels },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: rbacName,
        },
        subjects,
      },
    );
  } else {
    for (const ns of scoped) {
      docs.push(
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: rbacName, namespace: ns, labels },
          rules: rbacRules(AGENT_NAMESPACED_RBAC_RULES),
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: rbacName, namespace: ns, labels },
          roleRef: {
            apiGroup: 'rbac.authorization.k8s.io',
            kind: 'Role',
            name: rbacName,
          },
          subjects,
        },
      );
    }
  }
  const env: Array<Record<string, unknown>> = [
    { name: AGENT_ENV.controlsUrl, value: settings.controlsUrl },
    { name: AGENT_ENV.tokenFile, value: '/var/run/spider/token/token' },
    {
      name: AGENT_ENV.namespacesInclude,
      value: req.include.length ? req.include.join(',') : '*',
    },
    { name: AGENT_ENV.namespacesExclude, value: req.exclude.join(',') },
    {
      name: AGENT_ENV.whispererImage,
      value: settings.whispererImage ?? AGENT_CHART_DEFAULTS.whispererImage,
    },
    {
      name: AGENT_ENV.resyncSeconds,
      value: String(AGENT_CHART_DEFAULTS.resyncPeriodSeconds),
    },
    { name: AGENT_ENV.logLevel, value: 'info' },
    { name: AGENT_ENV.httpPort, value: String(ports.httpPort) },
    { name: AGENT_ENV.dnsPort, value: String(ports.dnsPort) },
    { name: AGENT_ENV.endpointPort, value: String(ports.endpointPort) },
    { name: AGENT_ENV.hostAliases, value: '[]' },
    { name: AGENT_ENV.dnsUpstreams, value: '' },
    { name: AGENT_ENV.dnsUdpWorkers, value: '0' },
    {
      name: AGENT_ENV.trafficBufferBytes,
      value: String(AGENT_CHART_DEFAULTS.trafficBufferBytes),
    },
    {
      name: AGENT_ENV.allowProcessAccess,
      value: String(AGENT_CHART_DEFAULTS.allowProcessAccess),
    },
    {
      name: AGENT_ENV.allowedImages,
      value: AGENT_CHART_DEFAULTS.allowedImages.join(','),
    },
    { name: AGENT_ENV.serviceHost, value: `${name}.${namespace}.svc` },
    {
      name: AGENT_ENV.podName,
      valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
    },
    {
      name: AGENT_ENV.podNamespace,
      valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } },
    },
    {
      name: AGENT_ENV.podIp,
      valueFrom: { fieldRef: { fieldPath: 'status.podIP' } },
    },
  ];
  docs.push(
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace, labels },
      spec: {
        replicas: 1,
        strategy: { type: 'Recreate' },
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: selector },
          spec: {
            serviceAccountName: name,
            automountServiceAccountToken: true,
            enableServiceLinks: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65532,
              runAsGroup: 65532,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: 'agent',
                image,
                imagePullPolicy: 'IfNotPresent',
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  runAsNonRoot: true,
                  capabilities: { drop: ['ALL'] },
                },
                env,
                ports: [
                  {
                    name: 'http',
                    containerPort: ports.httpPort,
                    protocol: 'TCP',
                  },
                  {
                    name: 'dns-udp',
                    containerPort: ports.dnsPort,
                    protocol: 'UDP',
                  },
                  {
                    name: 'dns-tcp',
                    containerPort: ports.dnsPort,
                    protocol: 'TCP',
                  },
                  {
                    name: 'endpoint',
                    containerPort: ports.endpointPort,
                    protocol: 'TCP',
                  },
                ],
                livenessProbe: {
                  httpGet: { path: '/healthz', port: 'http' },
                  periodSeconds: 10,
                  failureThreshold: 3,
                },
                readinessProbe: {
                  httpGet: { path: '/readyz', port: 'http' },
                  periodSeconds: 5,
                  failureThreshold: 2,
                },
                startupProbe: {
                  httpGet: { path: '/healthz', port: 'http' },
                  periodSeconds: 2,
                  failureThreshold: 30,
                },
                resources: {
                  requests: { cpu: '50m', memory: '128Mi' },
                  limits: { memory: '512Mi' },
                },
                volumeMounts: [
                  {
                    name: 'token',
                    mountPath: '/var/run/spider/token',
                    readOnly: true,
                  },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              {
                name: 'token',
                secret: {
                  secretName: `${name}-token`,
                  items: [{ key: 'token', path: 'token' }],
                },
              },
              { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
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
        type: 'ClusterIP',
        selector,
        ports: [
          { name: 'dns-udp', protocol: 'UDP', port: 53, targetPort: 'dns-udp' },
          { name: 'dns-tcp', protocol: 'TCP', port: 53, targetPort: 'dns-tcp' },
          {
            name: 'endpoint',
            protocol: 'TCP',
            port: ports.endpointPort,
            targetPort: 'endpoint',
          },
          {
            name: 'http',
            protocol: 'TCP',
            port: ports.httpPort,
            targetPort: 'http',
          },
        ],
      },
    },
    {
      // The chart's networkPolicy (enabled by default): DNS and the whisperer endpoint
      // from pods in any namespace, nothing else (metrics peers are a chart value).
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name, namespace, labels },
      spec: {
        podSelector: { matchLabels: selector },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ namespaceSelector: {} }],
            ports: [
              { protocol: 'UDP', port: ports.dnsPort },
              { protocol: 'TCP', port: ports.dnsPort },
              { protocol: 'TCP', port: ports.endpointPort },
            ],
          },
        ],
      },
    },
  );
  return docs
    .map(d => YAML.stringify(d))
    .join('---\n')
    .replaceAll(`'${TOKEN_PLACEHOLDER}'`, TOKEN_PLACEHOLDER);
}

function rbacRules(
  rules: ReadonlyArray<{
    apiGroups: readonly string[];
    resources: readonly string[];
    verbs: readonly string[];
  }>,
) {
  return rules.map(r => ({
    apiGroups: [...r.apiGroups],
    resources: [...r.resources],
    verbs: [...r.verbs],
  }));
}
