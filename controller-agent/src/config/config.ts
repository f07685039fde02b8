import { readFileSync } from 'node:fs';
import {
  AGENT_ENV,
  DEFAULT_ALLOWED_WHISPERER_IMAGES,
  ImagePattern,
  insecureControlsUrl,
  imageSchema,
  parseImagePatterns,
  parseImageReference,
  isDns1123Label,
  NamespaceScope,
} from '@spider/backstage-plugin-spider-common';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface HostAlias {
  ip: string;
  hostnames: string[];
}

export interface AgentConfig {
  /** Base URL of the Controls service, e.g. https://portal.example.com/api/spider */
  controlsUrl: string;
  /** Returns the current token (re-read from the file on each connect, so rotation works). */
  token: () => string;
  tokenFile: string | null;
  scope: NamespaceScope;
  resyncSeconds: number;
  whispererImage: string;
  logLevel: LogLevel;
  /**
   * Address the DNS proxy, the whisperer endpoint and /metrics bind to; null: each
   * listener's default (all interfaces). See `bindAddressFor`.
   */
  bindAddress: string | null;
  /** /metrics, /healthz, /readyz. 0 picks a free port. */
  httpPort: number;
  dnsPort: number;
  endpointPort: number;
  hostAliases: HostAlias[];
  /** DNS upstreams (`ip`, `ip:port`); empty = the nameservers of /etc/resolv.conf. */
  dnsUpstreams: string[];
  /** DNS UDP worker threads beside the main thread (each costs about 14 MB of RSS). */
  dnsUdpWorkers: number;
  /** The agent's own pod (set by the chart from the downward API); null when run outside a pod. */
  pod: { name: string | null; namespace: string | null; ip: string | null };
  /** A kubeconfig file; null uses in-cluster config or $KUBECONFIG / ~/.kube/config. */
  kubeconfig: string | null;
  /**
   * The agent's Service name (`<svc>.<ns>.svc`, set by the chart). Whisperers are given
   * this address, which outlives the agent pod, instead of the pod IP.
   */
  serviceHost: string | null;
  /** Bytes of traffic held for the Controls service while it is away or slow (oldest dropped beyond). */
  trafficBufferBytes: number;
  /** Whether a Whisperer may ask for the target container's process namespace (admin decision). */
  allowProcessAccess: boolean;
  /**
   * Images the agent may inject (chart value whisperers.allowedImages), the default
   * whisperer image always among them: checked before any PATCH.
   */
  allowedImages: ImagePattern[];
}

/** Start-up refused: each problem names the setting (env and flag) and why. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `invalid configuration:\n${problems.map(p => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

export const DEFAULTS = {
  resyncSeconds: 60,
  whispererImage: 'spider/whisperer:0.1.0',
  logLevel: 'info' as LogLevel,
  httpPort: 8080,
  dnsPort: 5353,
  endpointPort: 8081,
  /** docs/dns.md "Threads": no worker by default (its RSS, for no qps on two cores). */
  dnsUdpWorkers: 0,
  trafficBufferBytes: 64 * 1024 * 1024,
  allowProcessAccess: false,
};

/** The relay buffer must hold at least a few protocol messages (1.5 MiB each) to make progress. */
export const TRAFFIC_BUFFER_BOUNDS = {
  min: 4 * 1024 * 1024,
  max: 4 * 1024 * 1024 * 1024,
};

type Setting = keyof typeof AGENT_ENV | 'kubeconfig';

/** Flags mirror the env names: SPIDER_RESYNC_SECONDS ↔ --resync-seconds. */
export function flagFor(setting: Setting): string {
  if (setting === 'kubeconfig') return '--kubeconfig';
  return `--${AGENT_ENV[setting]
    .replace(/^SPIDER_/, '')
    .toLowerCase()
    .replace(/_/g, '-')}`;
}

function label(setting: Setting): string {
  return setting === 'kubeconfig'
    ? 'KUBECONFIG (--kubeconfig)'
    : `${AGENT_ENV[setting]} (${flagFor(setting)})`;
}

export const USAGE = `Usage: spider-controller-agent [flags]

Every flag can also be given as an environment variable; flags win.
${(Object.keys(AGENT_ENV) as Setting[])
  .map(
    s => `  ${flagFor(s).padEnd(24)} ${AGENT_ENV[s as keyof typeof AGENT_ENV]}`,
  )
  .join('\n')}
  --kubeconfig             KUBECONFIG
  --help                   this text`;

/** Parses `--name value` and `--name=value` pairs. Unknown flags are errors. */
export function parseFlags(argv: string[]): {
  values: Partial<Record<Setting, string>>;
  problems: string[];
  help: boolean;
} {
  const byFlag = new Map<string, Setting>();
  for (const s of [...Object.keys(AGENT_ENV), 'kubeconfig'] as Setting[]) {
    byFlag.set(flagFor(s), s);
  }
  const values: Partial<Record<Setting, string>> = {};
  const problems: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const setting = byFlag.get(flag);
    if (!setting) {
      problems.push(`unknown argument "${arg}" (see --help)`);
      continue;
    }
    if (eq > 0) {
      values[setting] = arg.slice(eq + 1);
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
      values[setting] = argv[++i];
    } else {
      problems.push(`${flag} needs a value`);
    }
  }
  return { values, problems, help };
}

function parseList(text: string): string[] {
  return text
    .split(/[,\s]+/)
    .map(s => s.trim())
    .filter(Boolean);
}

function parseInteger(
  setting: Setting,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
  problems: string[],
): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw.trim());
  if (!Number.isInteger(n) || n < min || n > max) {
    problems.push(
      `${label(
        setting,
      )}: must be a whole number from ${min} to ${max}, got "${raw}"`,
    );
    return fallback;
  }
  return n;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
function isIp(text: string): boolean {
  return (
    IPV4.test(text) || (/^[0-9a-fA-F:]+$/.test(text) && text.includes(':'))
  );
}

/**
 * Builds the agent's configuration from the environment and command-line flags (flags
 * win). Collects every problem and throws one ConfigError naming each setting and why.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  argv: string[],
  readFile: (path: string) => string = p => readFileSync(p, 'utf8'),
): AgentConfig {
  const flags = parseFlags(argv);
  const problems = [...flags.problems];
  const get = (s: Setting): string | undefined => {
    const v =
      flags.values[s] ??
      (s === 'kubeconfig' ? env.KUBECONFIG : env[AGENT_ENV[s]]);
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };

  // Controls URL
  let controlsUrl = get('controlsUrl');
  if (!controlsUrl) {
    problems.push(
      `${label(
        'controlsUrl',
      )}: missing; set it to the Controls service URL shown on the Controller's Install tab (e.g. https://portal.example.com/api/spider)`,
    );
  } else {
    try {
      const u = new URL(controlsUrl);
      if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) {
        problems.push(
          `${label(
            'controlsUrl',
          )}: must be an http(s) or ws(s) URL, got "${controlsUrl}"`,
        );
      }
      if (u.search || u.hash) {
        problems.push(
          `${label(
            'controlsUrl',
          )}: must not carry a query or fragment, got "${controlsUrl}"`,
        );
      }
      controlsUrl = controlsUrl.replace(/\/+$/, '');
    } catch {
      problems.push(`${label('controlsUrl')}: not a URL: "${controlsUrl}"`);
    }
  }

  // Token: exactly one of token / token file.
  const tokenValue = get('token');
  const tokenFile = get('tokenFile') ?? null;
  let token: () => string = () => tokenValue ?? '';
  if (tokenValue && tokenFile) {
    problems.push(
      `${label('token')} and ${label('tokenFile')}: set one of them, not both`,
    );
  } else if (tokenFile) {
    try {
      if (!readFile(tokenFile).trim()) {
        problems.push(
          `${label('tokenFile')}: the file "${tokenFile}" is empty`,
        );
      }
      // Re-read on every connect: a rotated Secret shows up without a restart.
      let last = '';
      token = () => {
        try {
          last = readFile(tokenFile).trim();
        } catch {
          // keep the last good token; the connect fails visibly if it is stale
        }
        return last;
      };
    } catch (e) {
      problems.push(
        `${label('tokenFile')}: cannot read "${tokenFile}": ${
          (e as Error).message
        }`,
      );
    }
  } else if (!tokenValue) {
    problems.push(
      `${label('token')} or ${label(
        'tokenFile',
      )}: missing; the agent needs its Controller's token (shown once when the Controller was created or its token rotated)`,
    );
  } else if (/\s/.test(tokenValue)) {
    problems.push(`${label('token')}: must not contain spaces`);
  }

  // Namespace scope.
  const includeRaw = get('namespacesInclude');
  const excludeRaw = get('namespacesExclude');
  const include =
    !includeRaw || includeRaw === '*' ? ('*' as const) : parseList(includeRaw);
  const exclude = excludeRaw ? parseList(excludeRaw) : [];
  for (const [setting, list] of [
    ['namespacesInclude', include === '*' ? [] : include],
    ['namespacesExclude', exclude],
  ] as const) {
    const bad = list.filter(n => !isDns1123Label(n));
    if (bad.length) {
      problems.push(
        `${label(setting)}: not namespace names: ${bad
          .map(b => `"${b}"`)
          .join(', ')} (comma-separated lower-case names, or "*" for all)`,
      );
    }
  }
  if (include !== '*' && include.length === 0) {
    problems.push(`${label('namespacesInclude')}: empty list; use "*" for all`);
  }

  const resyncSeconds = parseInteger(
    'resyncSeconds',
    get('resyncSeconds'),
    DEFAULTS.resyncSeconds,
    5,
    86_400,
    problems,
  );

  const whispererImage = get('whispererImage') ?? DEFAULTS.whispererImage;
  if (!imageSchema.safeParse(whispererImage).success) {
    problems.push(
      `${label(
        'whispererImage',
      )}: not an image reference: "${whispererImage}" (e.g. registry/repository:tag)`,
    );
  }

  const allowedRaw = get('allowedImages');
  const allowedTexts = allowedRaw
    ? parseList(allowedRaw)
    : [...DEFAULT_ALLOWED_WHISPERER_IMAGES];
  // The default image is the admin's own choice, so it is always allowed (exactly it).
  const defaultRef = parseImageReference(whispererImage);
  if (typeof defaultRef === 'string') {
    if (imageSchema.safeParse(whispererImage).success)
      problems.push(
        `${label('whispererImage')}: "${whispererImage}": ${defaultRef}`,
      );
  } else {
    allowedTexts.push(
      defaultRef.tag || defaultRef.digest
        ? whispererImage
        : `${whispererImage}:latest`,
    );
  }
  const allowed = parseImagePatterns(allowedTexts);
  for (const problem of allowed.problems) {
    problems.push(
      `${label(
        'allowedImages',
      )}: ${problem} (patterns such as registry.example/team/whisperer:*, registry.example/team/*, or a digest)`,
    );
  }

  const levelRaw = (get('logLevel') ?? DEFAULTS.logLevel).toLowerCase();
  if (!LOG_LEVELS.includes(levelRaw as LogLevel)) {
    problems.push(
      `${label('logLevel')}: must be one of ${LOG_LEVELS.join(
        ', ',
      )}, got "${levelRaw}"`,
    );
  }

  const httpPort = parseInteger(
    'httpPort',
    get('httpPort'),
    DEFAULTS.httpPort,
    0,
    65_535,
    problems,
  );
  const dnsPort = parseInteger(
    'dnsPort',
    get('dnsPort'),
    DEFAULTS.dnsPort,
    0,
    65_535,
    problems,
  );
  const endpointPort = parseInteger(
    'endpointPort',
    get('endpointPort'),
    DEFAULTS.endpointPort,
    0,
    65_535,
    problems,
  );
  const fixed = [
    ['httpPort', httpPort],
    ['endpointPort', endpointPort],
  ] as const;
  if (fixed[0][1] !== 0 && fixed[0][1] === fixed[1][1]) {
    problems.push(
      `${label('httpPort')} and ${label(
        'endpointPort',
      )}: both are ${httpPort}; they must differ`,
    );
  }

  let hostAliases: HostAlias[] = [];
  const aliasesRaw = get('hostAliases');
  if (aliasesRaw) {
    try {
      const parsed = JSON.parse(aliasesRaw);
      if (
        !Array.isArray(parsed) ||
        !parsed.every(
          a =>
            a &&
            typeof a.ip === 'string' &&
            isIp(a.ip) &&
            Array.isArray(a.hostnames) &&
            a.hostnames.every(
              (h: unknown) =>
                typeof h === 'string' && h.length > 0 && h.length <= 253,
            ),
        )
      ) {
        throw new Error('shape');
      }
      hostAliases = parsed.map(a => ({ ip: a.ip, hostnames: a.hostnames }));
    } catch {
      problems.push(
        `${label(
          'hostAliases',
        )}: must be JSON like [{"ip":"10.0.0.5","hostnames":["db.internal"]}]`,
      );
    }
  }

  const upstreamsRaw = get('dnsUpstreams');
  const dnsUpstreams = upstreamsRaw ? parseList(upstreamsRaw) : [];
  const badUpstreams = dnsUpstreams.filter(
    u => !/^(\[[0-9a-fA-F:]+\]|[0-9.]+)(:\d{1,5})?$|^[0-9a-fA-F:]+$/.test(u),
  );
  if (badUpstreams.length) {
    problems.push(
      `${label(
        'dnsUpstreams',
      )}: not "ip", "ip:port" or "[ipv6]:port": ${badUpstreams
        .map(b => `"${b}"`)
        .join(', ')}`,
    );
  }

  const dnsUdpWorkers = parseInteger(
    'dnsUdpWorkers',
    get('dnsUdpWorkers'),
    DEFAULTS.dnsUdpWorkers,
    0,
    8,
    problems,
  );

  const trafficBufferBytes = parseInteger(
    'trafficBufferBytes',
    get('trafficBufferBytes'),
    DEFAULTS.trafficBufferBytes,
    TRAFFIC_BUFFER_BOUNDS.min,
    TRAFFIC_BUFFER_BOUNDS.max,
    problems,
  );

  let allowProcessAccess = DEFAULTS.allowProcessAccess;
  const processRaw = get('allowProcessAccess')?.toLowerCase();
  if (processRaw === 'true') allowProcessAccess = true;
  else if (processRaw !== undefined && processRaw !== 'false') {
    problems.push(
      `${label(
        'allowProcessAccess',
      )}: must be "true" or "false", got "${processRaw}"`,
    );
  }

  const podIp = get('podIp') ?? null;
  if (podIp && !isIp(podIp)) {
    problems.push(`${label('podIp')}: not an IP address: "${podIp}"`);
  }

  const bindRaw = get('bindAddress');
  if (bindRaw && !isIp(bindRaw)) {
    problems.push(
      `${label(
        'bindAddress',
      )}: not an IP address: "${bindRaw}" (0.0.0.0 or :: for all interfaces, 127.0.0.1 for this machine only)`,
    );
  }
  const bindAddress = bindAddressFor({
    explicit: bindRaw ?? null,
    podIp,
    inCluster: Boolean(env.KUBERNETES_SERVICE_HOST),
  });

  if (problems.length) throw new ConfigError(problems);
  return {
    controlsUrl: controlsUrl!,
    token,
    tokenFile,
    scope: { include, exclude },
    resyncSeconds,
    whispererImage,
    logLevel: levelRaw as LogLevel,
    bindAddress,
    httpPort,
    dnsPort,
    endpointPort,
    hostAliases,
    dnsUpstreams,
    dnsUdpWorkers,
    pod: {
      name: get('podName') ?? null,
      namespace: get('podNamespace') ?? null,
      ip: podIp,
    },
    kubeconfig: get('kubeconfig') ?? null,
    serviceHost: get('serviceHost') ?? null,
    trafficBufferBytes,
    allowProcessAccess,
    allowedImages: allowed.patterns,
  };
}

/**
 * Where the agent's listeners bind. In a pod (Kubernetes sets KUBERNETES_SERVICE_HOST in
 * every container) whisperers in other pods must reach it: all interfaces, as before.
 * A host process (a laptop, a CI runner) binds loopback unless told otherwise: by
 * SPIDER_BIND_ADDRESS, or by SPIDER_POD_IP, the address it tells whisperers to call,
 * which must then be reachable. Otherwise its DNS proxy, endpoint and metrics would be
 * open to the whole network the host is on.
 */
export function bindAddressFor(input: {
  explicit: string | null;
  podIp: string | null;
  inCluster: boolean;
}): string | null {
  if (input.explicit) return input.explicit;
  if (input.inCluster || input.podIp) return null;
  return '127.0.0.1';
}

/**
 * A warning when the Controls URL is plain http:/ws: to anything but this machine: the
 * agent token and every desired attachment would cross the network unencrypted. Null
 * for https:/wss: and loopback.
 */
export function insecureControlsUrlWarning(url: string): string | null {
  if (!insecureControlsUrl(url)) return null;
  const u = new URL(url);
  return `${label('controlsUrl')} is ${u.protocol}//${
    u.host
  }: the agent token and the desired attachments travel unencrypted; use https:// (or wss://) unless this network is private to the cluster and the portal`;
}

/** The install's scope rule, shared with the backend's namespace grants. */
export { namespaceInScope } from '@spider/backstage-plugin-spider-common';
