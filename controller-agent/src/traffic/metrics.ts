import type { Registry } from 'prom-client';
import { registerStatsMetrics } from '../status/metrics';
import type { RelayTotals } from './TrafficRelay';

/** Exposes the relay's counters as `spider_agent_traffic_*` on a prom-client registry. */
export function registerRelayMetrics(
  registry: Registry,
  stats: () => RelayTotals,
): void {
  registerStatsMetrics(
    registry,
    'spider_agent_traffic',
    stats as () => RelayTotals & Record<string, number>,
    {
      counters: [
        ['exchangesQueued', 'exchanges taken into the relay buffer'],
        ['messagesSent', 'traffic messages sent to the Controls service'],
        [
          'exchangesSent',
          'exchanges sent to the Controls service (replays included)',
        ],
        [
          'droppedExchanges',
          'exchanges dropped because the relay buffer was full while the Controls service was away',
        ],
        ['droppedBytes', 'bytes of traffic dropped from the relay buffer'],
        [
          'rateLimited',
          'traffic batches refused because their instance exceeded its rate',
        ],
        [
          'refusedFull',
          'traffic batches refused because the relay buffer was full while draining',
        ],
        ['replayedExchanges', 'exchanges queued again after a reconnect'],
      ],
      gauges: [
        [
          'bufferBytes',
          'buffer_bytes',
          'bytes held in the relay buffer (queued and replay window)',
        ],
        [
          'queuedChunks',
          'queued_messages',
          'traffic messages waiting to be sent',
        ],
        [
          'instances',
          'instances',
          'whisperer instances the relay keeps counters for',
        ],
      ],
    },
  );
}
