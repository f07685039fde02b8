import { Registry } from 'prom-client';
import { registerStatsMetrics } from './metrics';

describe('registerStatsMetrics', () => {
  it('turns running totals into counters and levels into gauges at scrape time', async () => {
    const registry = new Registry();
    const stats = { udpQueries: 5, tcpOpen: 2 };
    registerStatsMetrics(registry, 'spider_dns', () => stats, {
      counters: [['udpQueries', 'UDP queries received']],
      gauges: [['tcpOpen', 'tcp_connections_open', 'TCP connections open now']],
    });
    expect(await registry.metrics()).toMatch(
      /spider_dns_udp_queries_total 5\n[\s\S]*spider_dns_tcp_connections_open 2\n/,
    );
    stats.udpQueries = 8;
    stats.tcpOpen = 0;
    const text = await registry.metrics();
    expect(text).toContain('spider_dns_udp_queries_total 8\n');
    expect(text).toContain('spider_dns_tcp_connections_open 0\n');
  });
});
