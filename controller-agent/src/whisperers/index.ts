import type { Registry } from 'prom-client';
import { registerStatsMetrics } from '../status/metrics';
import type { PodDirectory } from '../cluster/PodDirectory';
import type { WhispererRegistry } from '../reconcile/WhispererRegistry';
import type { InstanceSecrets } from './instanceSecret';
import {
  DEFAULT_ENDPOINT_LIMITS,
  EndpointStats,
  TrafficSink,
  WhispererEndpoint,
  WhispererEndpointLimits,
} from './WhispererEndpoint';

export type {
  EndpointStats,
  WhispererEndpointLimits,
  StopAnswer,
  TrafficSink,
} from './WhispererEndpoint';
export { whispererView } from './WhispererEndpoint';
export { InstanceSecrets, presentedSecret } from './instanceSecret';
export { parseRoute, MAX_WAIT_SECONDS } from './routes';

export interface WhispererEndpointOptions {
  directory: PodDirectory;
  registry: WhispererRegistry;
  /** Checks the secret each request presents (the same the injected containers were given). */
  secrets: InstanceSecrets;
  /** TCP port (AGENT_ENV.endpointPort); 0 picks a free one. */
  port: number;
  host?: string;
  limits?: Partial<WhispererEndpointLimits>;
  logger?: { warn(msg: string, fields?: Record<string, unknown>): void };
  /** Where `POST …/traffic` batches and state-report stats go; without one, traffic gets 404. */
  traffic?: TrafficSink;
}

export interface AgentWhispererEndpoint {
  start(): Promise<{ port: number }>;
  /** Answers held long-polls with 503 + Retry-After, then closes. */
  stop(): Promise<void>;
  stats(): EndpointStats;
}

/** The whisperer endpoint (issue 6; contract in docs/whisperer-contract.md). */
export function createWhispererEndpoint(
  options: WhispererEndpointOptions,
): AgentWhispererEndpoint {
  const endpoint = new WhispererEndpoint(
    options.directory,
    options.registry,
    options.secrets,
    { ...DEFAULT_ENDPOINT_LIMITS, ...options.limits },
    options.logger,
    options.traffic,
  );
  return {
    async start() {
      return { port: await endpoint.start(options.port, options.host) };
    },
    stop: () => endpoint.stop(),
    stats: () => endpoint.stats(),
  };
}

/** Exposes endpoint counters as `spider_whisperer_endpoint_*` on a prom-client registry. */
export function registerEndpointMetrics(
  registry: Registry,
  stats: () => EndpointStats,
): void {
  registerStatsMetrics(
    registry,
    'spider_whisperer_endpoint',
    stats as () => EndpointStats & Record<string, number>,
    {
      counters: [
        ['served', 'requests answered'],
        [
          'refused',
          'requests refused with 403 (caller is not a pod carrying that whisperer, or lacks its secret)',
        ],
        [
          'refusedSecret',
          'requests refused with 403 for a missing or wrong instance secret',
        ],
        [
          'refusedHostNetwork',
          "requests refused with 403 from hostNetwork pods (their IP is the node's)",
        ],
        ['invalid', 'malformed requests (4xx other than 403)'],
        ['stopsSent', 'stop answers sent'],
        ['trafficBatches', 'traffic batches accepted (202)'],
        ['trafficExchanges', 'exchanges in accepted traffic batches'],
        [
          'trafficRateLimited',
          'traffic batches refused with 429 (instance over its rate)',
        ],
        [
          'trafficRefused',
          'traffic batches refused with 503 (relay buffer full or agent shutting down)',
        ],
      ],
      gauges: [['waiting', 'waiting', 'stop long-polls held now']],
    },
  );
}
