import { Config } from '@backstage/config';
import { DiscoveryService } from '@backstage/backend-plugin-api';
import { durationToMilliseconds, HumanDuration } from '@backstage/types';
import { parseDuration } from '@spider/backstage-plugin-spider-common';
import { InstallSettings } from './install/renderInstall';

export interface SpiderSettings {
  maxTimeToLiveMs?: number;
  expiryCheckIntervalMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
  trustedProxy: { header?: string; proxies: string[] };
  install: InstallSettings;
}

/** Reads `spider.*`, failing start-up with a message that names the bad key. */
export async function readSpiderConfig(
  config: Config,
  discovery: DiscoveryService,
): Promise<SpiderSettings> {
  let maxTimeToLiveMs: number | undefined;
  const key = 'spider.attachments.maxTimeToLive';
  if (config.has(key)) {
    const raw = config.get(key);
    if (typeof raw === 'string') {
      maxTimeToLiveMs = parseDuration(raw);
      if (maxTimeToLiveMs === undefined) {
        throw new Error(`${key} must be an ISO-8601 duration such as PT8H, got "${raw}"`);
      }
    } else {
      maxTimeToLiveMs = durationToMilliseconds(raw as HumanDuration);
    }
  }
  const externalUrl =
    config.getOptionalString('spider.agents.externalUrl') ??
    (await discovery.getExternalBaseUrl('spider'));
  return {
    maxTimeToLiveMs,
    expiryCheckIntervalMs: config.getOptionalNumber('spider.attachments.expiryCheckIntervalMs') ?? 1000,
    requestTimeoutMs: config.getOptionalNumber('spider.agents.requestTimeoutMs') ?? 10_000,
    maxConnections: config.getOptionalNumber('spider.agents.maxConnections') ?? 5000,
    trustedProxy: {
      header: config.getOptionalString('spider.agents.trustedProxyHeader'),
      proxies: config.getOptionalStringArray('spider.agents.trustedProxies') ?? [],
    },
    install: {
      controlsUrl: externalUrl,
      chart: config.getOptionalString('spider.install.chart') ?? 'spider/spider-controller-agent',
      chartVersion: config.getOptionalString('spider.install.chartVersion'),
      image: {
        repository: config.getOptionalString('spider.install.image.repository'),
        tag: config.getOptionalString('spider.install.image.tag'),
      },
      whispererImage: config.getOptionalString('spider.install.whispererImage'),
    },
  };
}
