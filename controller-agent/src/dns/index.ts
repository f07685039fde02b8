import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Registry } from 'prom-client';
import { registerStatsMetrics } from '../status/metrics';
import { AGENT_ENV } from '@spider/backstage-plugin-spider-common';
import type { PodDirectory } from '../cluster/PodDirectory';
import { AnswerTable, HostAlias } from './AnswerTable';
import {
  DEFAULT_DNS_LIMITS,
  DnsServer,
  DnsServerLimits,
  DnsStats,
} from './DnsServer';
import { fastPathBinary } from './FastPath';
import { Forwarder } from './Forwarder';
import { checkZone, DEFAULT_ZONE } from './ptrNames';
import { parseResolvConf, parseUpstreamList, Upstream } from './upstreams';

export type { DnsStats, DnsServerLimits } from './DnsServer';
export type { HostAlias } from './AnswerTable';
export type { Upstream } from './upstreams';
export { checkHostAliases } from './AnswerTable';
export { parsePodPtrName, podPtrName, servicePtrName } from './ptrNames';
export { parseUpstreamList } from './upstreams';

export interface DnsServerOptions {
  directory: PodDirectory;
  /** UDP and TCP port (the chart uses 5353 behind a Service on 53); 0 picks a free one. */
  port: number;
  host?: string;
  hostAliases?: HostAlias[];
  /**
   * `ip`, `ip:port` or `[ipv6]:port`. Default: the list in the environment variable
   * AGENT_ENV.dnsUpstreams (the chart's `dns.upstreams`), else the nameservers of
   * `resolvConfPath`.
   */
  upstreams?: string[];
  env?: Record<string, string | undefined>;
  resolvConfPath?: string;
  /** Zone of PTR targets (docs/dns.md); default `cluster.local`. */
  zone?: string;
  ptrTtlSeconds?: number;
  aliasTtlSeconds?: number;
  upstreamAttemptTimeoutMs?: number;
  upstreamTotalTimeoutMs?: number;
  maxForwardInflight?: number;
  limits?: Partial<DnsServerLimits>;
  /**
   * UDP worker threads beside the main thread (SO_REUSEPORT on the one port). Default:
   * 1 when more than one CPU is available, else 0. Each costs about 20 MB of RSS.
   */
  udpWorkers?: number;
  /**
   * UDP through the Go fast path (FastPath.ts, docs/dns.md): its binary and SO_REUSEPORT
   * sockets. Default: the binary `fastPathBinary()` finds (the environment variable
   * SPIDER_DNS_FASTPATH_BIN, `off` for none, else beside the bundle) with one socket;
   * null: none. Replaces the UDP workers when it runs.
   */
  udpFastPath?: { binary: string; sockets?: number } | null;
  logger?: { warn(msg: string, fields?: Record<string, unknown>): void };
}

export interface AgentDnsServer {
  /** Binds UDP and TCP; resolves with the port. */
  start(): Promise<{ port: number }>;
  stop(): Promise<void>;
  stats(): DnsStats;
  readonly upstreams: readonly Upstream[];
}

/**
 * The agent's DNS proxy (issue 6): PTR for pod and Service IPs from the PodDirectory,
 * A/AAAA for host aliases, everything else forwarded to the upstream resolvers.
 * Configuration errors throw here, before anything listens.
 */
export function createDnsServer(options: DnsServerOptions): AgentDnsServer {
  const zone = checkZone(options.zone ?? DEFAULT_ZONE);
  const ttl = (v: number | undefined, d: number, name: string) => {
    const n = v ?? d;
    if (!Number.isInteger(n) || n < 0 || n > 86_400)
      throw new Error(`${name} must be 0..86400 seconds`);
    return n;
  };
  let upstreams: Upstream[];
  const fromEnv = (options.env ?? process.env)[AGENT_ENV.dnsUpstreams]
    ?.split(/[,\s]+/)
    .filter(Boolean);
  const configured = options.upstreams?.length ? options.upstreams : fromEnv;
  if (configured && configured.length) {
    upstreams = parseUpstreamList(configured);
  } else {
    const path = options.resolvConfPath ?? '/etc/resolv.conf';
    try {
      upstreams = parseResolvConf(readFileSync(path, 'utf8'));
    } catch (e) {
      upstreams = [];
      options.logger?.warn(
        'dns: cannot read resolv.conf; names not served locally get SERVFAIL',
        {
          path,
          error: (e as Error).message,
        },
      );
    }
    if (!upstreams.length)
      options.logger?.warn('dns: no upstream resolvers', { path });
  }
  const udpWorkers =
    options.udpWorkers ?? (os.availableParallelism() > 1 ? 1 : 0);
  if (!Number.isInteger(udpWorkers) || udpWorkers < 0 || udpWorkers > 64)
    throw new Error('udpWorkers must be 0..64');
  const fastBinary =
    options.udpFastPath === undefined
      ? fastPathBinary(options.env ?? process.env)
      : options.udpFastPath?.binary ?? null;
  const fastSockets = options.udpFastPath?.sockets ?? 1;
  if (!Number.isInteger(fastSockets) || fastSockets < 1 || fastSockets > 64)
    throw new Error('udpFastPath.sockets must be 1..64');
  const table = new AnswerTable(options.directory, options.hostAliases ?? [], {
    zone,
    ptrTtl: ttl(options.ptrTtlSeconds, 5, 'ptrTtlSeconds'),
    aliasTtl: ttl(options.aliasTtlSeconds, 30, 'aliasTtlSeconds'),
    maxMemo: 100_000,
  });
  const forwarder = new Forwarder({
    upstreams,
    attemptTimeoutMs: options.upstreamAttemptTimeoutMs ?? 1500,
    totalTimeoutMs: options.upstreamTotalTimeoutMs ?? 4000,
    maxInflight: options.maxForwardInflight ?? 4096,
  });
  const server = new DnsServer(
    table,
    forwarder,
    { ...DEFAULT_DNS_LIMITS, ...options.limits },
    options.logger,
    {
      udpWorkers,
      workerMaxMemo: 100_000,
      fastPath: fastBinary
        ? { binary: fastBinary, sockets: fastSockets }
        : null,
    },
  );
  return {
    upstreams,
    async start() {
      const port = await server.start(options.port, options.host);
      return { port };
    },
    async stop() {
      await server.stop();
      forwarder.close();
      table.close();
    },
    stats: () => server.stats(),
  };
}

/** Exposes the DNS counters as `spider_dns_*_total` on a prom-client registry. */
export function registerDnsMetrics(
  registry: Registry,
  stats: () => DnsStats,
): void {
  registerStatsMetrics(
    registry,
    'spider_dns',
    stats as () => DnsStats & Record<string, number>,
    {
      counters: [
        ['udpQueries', 'UDP queries received'],
        ['tcpQueries', 'TCP queries received'],
        ['tcpConnections', 'TCP connections accepted'],
        ['local', 'queries answered from the agent (PTR, host aliases)'],
        ['forwarded', 'queries forwarded upstream'],
        ['servfail', 'SERVFAIL answers after upstream failure'],
        ['formerr', 'FORMERR answers to malformed queries'],
        ['notimp', 'NOTIMP answers (opcode or class not served)'],
        [
          'dropped',
          'datagrams or connections dropped (too short, too big, responses)',
        ],
        ['errors', 'socket and handler errors'],
        ['fastPathLocal', 'of local: answered by the Go UDP fast path'],
      ],
      gauges: [
        ['tcpOpen', 'tcp_connections_open', 'TCP connections open now'],
        [
          'forwardInflight',
          'forward_inflight',
          'forwarded queries waiting for an upstream now',
        ],
      ],
    },
  );
}
