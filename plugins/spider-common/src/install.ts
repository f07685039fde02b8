import { DEFAULT_ALLOWED_WHISPERER_IMAGES } from './model/imageAllowList';

/**
 * The controller-agent chart's values, named once here: the portal renders them
 * (install command, values.yaml, manifests) and the chart's values.schema.json is
 * checked against them in CI, so the two cannot drift.
 */
export const AGENT_CHART_NAME = 'spider-controller-agent';
export const AGENT_DEFAULT_NAMESPACE = 'spider-system';
export const AGENT_DEFAULT_RELEASE = 'spider-agent';

export interface AgentChartValues {
  controls: {
    /** Base URL of the Controls service, e.g. https://portal.example.com/api/spider */
    url: string;
    /** The Controller's agent token (or use existingSecret). */
    token: string;
    existingSecret: { name: string; key: string };
  };
  namespaces: {
    /** Namespaces the agent acts in; empty = cluster-wide. */
    include: string[];
    exclude: string[];
  };
  whisperer: { image: string };
  /** What injected whisperers may do (admin decisions); absent = the chart defaults. */
  whisperers?: { allowProcessAccess: boolean; allowedImages?: string[] };
  /** The agent's traffic relay; absent = the chart defaults. */
  traffic?: { bufferBytes: number };
  image: { repository: string; tag: string; pullPolicy: string };
  dns: { port: number; udpWorkers?: number };
  endpoint: { port: number };
  hostAliases: Array<{ ip: string; hostnames: string[] }>;
  resyncPeriodSeconds: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  resources: Record<string, unknown>;
  nodeSelector: Record<string, string>;
  tolerations: unknown[];
}

/** Environment variable names the agent reads; the chart sets them from the values above. */
export const AGENT_ENV = {
  controlsUrl: 'SPIDER_CONTROLS_URL',
  token: 'SPIDER_TOKEN',
  tokenFile: 'SPIDER_TOKEN_FILE',
  namespacesInclude: 'SPIDER_NAMESPACES',
  namespacesExclude: 'SPIDER_NAMESPACES_EXCLUDE',
  whispererImage: 'SPIDER_WHISPERER_IMAGE',
  resyncSeconds: 'SPIDER_RESYNC_SECONDS',
  logLevel: 'SPIDER_LOG_LEVEL',
  httpPort: 'SPIDER_HTTP_PORT',
  dnsPort: 'SPIDER_DNS_PORT',
  endpointPort: 'SPIDER_ENDPOINT_PORT',
  hostAliases: 'SPIDER_HOST_ALIASES',
  /** DNS resolvers the agent forwards to (`ip`, `ip:port`, `[ipv6]:port`, comma-separated); default: /etc/resolv.conf. */
  dnsUpstreams: 'SPIDER_DNS_UPSTREAMS',
  /** UDP worker threads of the DNS proxy beside its main thread (0..8); chart value `dns.udpWorkers`. */
  dnsUdpWorkers: 'SPIDER_DNS_UDP_WORKERS',
  /**
   * DNS name of the agent's Service (`<name>.<namespace>.svc`), set by the chart: the
   * address whisperers should be given (it outlives the agent pod's IP); the Service
   * serves DNS on 53 and the whisperer endpoint on the endpoint port.
   */
  serviceHost: 'SPIDER_SERVICE_HOST',
  podName: 'SPIDER_POD_NAME',
  podNamespace: 'SPIDER_POD_NAMESPACE',
  podIp: 'SPIDER_POD_IP',
  /** Bytes of traffic the agent holds for the Controls service (relay buffer); oldest dropped beyond. */
  trafficBufferBytes: 'SPIDER_TRAFFIC_BUFFER_BYTES',
  /**
   * `true` lets a Whisperer that asks for process access (its env `SPIDER_PROCESS_ACCESS=true`)
   * share the target container's process namespace; chart value `whisperers.allowProcessAccess`.
   */
  allowProcessAccess: 'SPIDER_ALLOW_PROCESS_ACCESS',
  /**
   * Image patterns the agent may inject (comma-separated, see imageAllowList); chart value
   * `whisperers.allowedImages`. The default whisperer image is always allowed.
   */
  allowedImages: 'SPIDER_ALLOWED_IMAGES',
  /**
   * Address the DNS proxy, whisperer endpoint and metrics bind to. Unset: all interfaces
   * in a pod (or with SPIDER_POD_IP given), loopback for a host process.
   */
  bindAddress: 'SPIDER_BIND_ADDRESS',
} as const;

/**
 * Kubernetes API access the agent needs, and nothing more. The chart's ClusterRole or
 * per-namespace Roles carry exactly these rules.
 */
export const AGENT_RBAC_RULES = [
  {
    apiGroups: [''],
    resources: ['pods', 'services', 'namespaces'],
    verbs: ['get', 'list', 'watch'],
  },
  {
    apiGroups: [''],
    resources: ['pods/ephemeralcontainers'],
    verbs: ['patch'],
  },
  {
    apiGroups: ['apps'],
    resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'],
    verbs: ['get', 'list', 'watch'],
  },
  {
    apiGroups: ['batch'],
    resources: ['jobs', 'cronjobs'],
    verbs: ['get', 'list', 'watch'],
  },
] as const;

/**
 * The rules of a namespace-scoped install, carried by a Role in each included namespace:
 * AGENT_RBAC_RULES without `namespaces`. Namespaces are cluster-scoped, so a Role cannot
 * let the agent list or watch them; a scoped agent must not try (it would get 403).
 */
export const AGENT_NAMESPACED_RBAC_RULES = [
  {
    apiGroups: [''],
    resources: ['pods', 'services'],
    verbs: ['get', 'list', 'watch'],
  },
  ...AGENT_RBAC_RULES.slice(1),
] as const;

/** Values a portal renders for one Controller (the rest keep the chart defaults). */
export function renderAgentValues(input: {
  controlsUrl: string;
  token?: string;
  include?: string[];
  exclude?: string[];
  whispererImage?: string;
}): Pick<AgentChartValues, 'controls' | 'namespaces'> & {
  whisperer?: { image: string };
} {
  return {
    controls: {
      url: input.controlsUrl,
      token: input.token ?? '',
      existingSecret: { name: '', key: 'token' },
    },
    namespaces: { include: input.include ?? [], exclude: input.exclude ?? [] },
    ...(input.whispererImage
      ? { whisperer: { image: input.whispererImage } }
      : {}),
  };
}

/** The chart's default values that the portal's plain manifests repeat. */
export const AGENT_CHART_DEFAULTS = {
  imageRepository: 'spider/controller-agent',
  imageTag: '0.1.0',
  whispererImage: 'spider/whisperer:0.1.0',
  httpPort: 8080,
  dnsPort: 5353,
  endpointPort: 8081,
  resyncPeriodSeconds: 60,
  trafficBufferBytes: 64 * 1024 * 1024,
  allowProcessAccess: false,
  allowedImages: DEFAULT_ALLOWED_WHISPERER_IMAGES,
} as const;

/**
 * Whether an agent would reach the Controls service unencrypted: plain http:/ws: to
 * anything but this machine. The Install tab warns before the install, the agent when
 * it starts.
 */
export function insecureControlsUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'ws:') return false;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return !(host === 'localhost' || host === '::1' || /^127\./.test(host));
}
