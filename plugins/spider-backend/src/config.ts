import { Config, readDurationFromConfig } from '@backstage/config';
import { DiscoveryService } from '@backstage/backend-plugin-api';
import { durationToMilliseconds, HumanDuration } from '@backstage/types';
import { InstallSettings } from './install/renderInstall';
import { RetentionLimits } from './store/TrafficStore';

export interface TrafficSettings {
  retention: RetentionLimits;
  retentionCheckInterval: HumanDuration;
}

export interface SpiderSettings {
  maxTimeToLiveMs?: number;
  /** `spider.attachments.maxPerController` / `maxPerUser`: live attachments allowed. */
  attachmentLimits: { perController: number; perUser: number };
  expiryCheckIntervalMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
  trustedProxy: { header?: string; proxies: string[] };
  install: InstallSettings;
  traffic: TrafficSettings;
}

/**
 * Live attachments allowed by default. Every live attachment of a Controller is in its
 * agent's desired set (sent on each connect) and may put a whisperer into every pod of
 * a workload; a thousand per cluster is far past what people watch at once, and a
 * hundred per user stops a script run amok without getting in anyone's way.
 */
export const DEFAULT_ATTACHMENT_LIMITS = {
  perController: 1000,
  perUser: 100,
} as const;

/** Reads `spider.*`, failing start-up with a message that names the bad key. */
export async function readSpiderConfig(
  config: Config,
  discovery: DiscoveryService,
): Promise<SpiderSettings> {
  const maxTimeToLive = config.has('spider.attachments.maxTimeToLive')
    ? readDuration(config, 'spider.attachments.maxTimeToLive', { hours: 8 })
    : undefined;
  const maxTimeToLiveMs =
    maxTimeToLive && durationToMilliseconds(maxTimeToLive);
  if (maxTimeToLiveMs !== undefined && !(maxTimeToLiveMs > 0)) {
    throw new Error(
      'spider.attachments.maxTimeToLive must be longer than zero, such as PT8H',
    );
  }
  const externalUrl =
    config.getOptionalString('spider.agents.externalUrl') ??
    (await discovery.getExternalBaseUrl('spider'));
  return {
    maxTimeToLiveMs,
    expiryCheckIntervalMs:
      config.getOptionalNumber('spider.attachments.expiryCheckIntervalMs') ??
      1000,
    attachmentLimits: {
      perController: readPositive(
        config,
        'spider.attachments.maxPerController',
        DEFAULT_ATTACHMENT_LIMITS.perController,
      ),
      perUser: readPositive(
        config,
        'spider.attachments.maxPerUser',
        DEFAULT_ATTACHMENT_LIMITS.perUser,
      ),
    },
    requestTimeoutMs:
      config.getOptionalNumber('spider.agents.requestTimeoutMs') ?? 10_000,
    maxConnections:
      config.getOptionalNumber('spider.agents.maxConnections') ?? 5000,
    trustedProxy: {
      header: config.getOptionalString('spider.agents.trustedProxyHeader'),
      proxies:
        config.getOptionalStringArray('spider.agents.trustedProxies') ?? [],
    },
    traffic: readTrafficConfig(config),
    install: {
      controlsUrl: externalUrl,
      chart:
        config.getOptionalString('spider.install.chart') ??
        'spider/spider-controller-agent',
      chartVersion: config.getOptionalString('spider.install.chartVersion'),
      image: {
        repository: config.getOptionalString('spider.install.image.repository'),
        tag: config.getOptionalString('spider.install.image.tag'),
      },
      whispererImage: config.getOptionalString('spider.install.whispererImage'),
    },
  };
}

function readDuration(
  config: Config,
  key: string,
  fallback: HumanDuration,
): HumanDuration {
  if (!config.has(key)) return fallback;
  try {
    return readDurationFromConfig(config, { key });
  } catch (e) {
    throw new Error(
      `${key} must be an ISO-8601 duration such as P1D or PT5M, or a HumanDuration object: ${e}`,
    );
  }
}

function readPositive(config: Config, key: string, fallback: number): number {
  const value = config.getOptionalNumber(key);
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(
      `${key} must be a whole number of at least 1, got ${value}`,
    );
  }
  return value;
}

/** `spider.traffic.*`: how much captured traffic is kept, and how often that is enforced. */
export function readTrafficConfig(config: Config): TrafficSettings {
  const maxAgeMs = durationToMilliseconds(
    readDuration(config, 'spider.traffic.retention', { days: 1 }),
  );
  if (!(maxAgeMs > 0))
    throw new Error('spider.traffic.retention must be longer than zero');
  const retentionCheckInterval = readDuration(
    config,
    'spider.traffic.retentionCheckInterval',
    { minutes: 5 },
  );
  if (!(durationToMilliseconds(retentionCheckInterval) > 0)) {
    throw new Error(
      'spider.traffic.retentionCheckInterval must be longer than zero',
    );
  }
  return {
    retention: {
      maxAgeMs,
      maxRowsPerAttachment: readPositive(
        config,
        'spider.traffic.maxRowsPerAttachment',
        100_000,
      ),
      maxTotalBytes: readPositive(
        config,
        'spider.traffic.maxTotalBytes',
        1024 ** 3,
      ),
    },
    retentionCheckInterval,
  };
}
