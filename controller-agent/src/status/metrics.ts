import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
} from 'prom-client';
import type { InjectResult } from '../reconcile/Injector';

/** The agent's Prometheus metrics (served on /metrics). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'spider_agent_' });
  const watched = new Gauge({
    name: 'spider_agent_watched_objects',
    help: 'Objects in the agent cache, by kind',
    labelNames: ['kind'],
    registers: [registry],
  });
  const injections = new Counter({
    name: 'spider_agent_injections_total',
    help: 'Whisperer injections by outcome',
    labelNames: ['outcome', 'reason'],
    registers: [registry],
  });
  const injectionSeconds = new Histogram({
    name: 'spider_agent_injection_duration_seconds',
    help: 'Time from submit to a whisperer in the pod spec',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const planSeconds = new Histogram({
    name: 'spider_agent_plan_duration_seconds',
    help: 'Time to plan and apply one reconcile pass',
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  const watchRestarts = new Counter({
    name: 'spider_agent_watch_restarts_total',
    help: 'Watch restarts after an error',
    labelNames: ['kind', 'reason'],
    registers: [registry],
  });
  const relists = new Counter({
    name: 'spider_agent_relists_total',
    help: 'Full relists (410 Gone)',
    labelNames: ['kind', 'reason'],
    registers: [registry],
  });
  const connected = new Gauge({
    name: 'spider_agent_controls_connected',
    help: '1 while connected to the Controls service',
    registers: [registry],
  });
  const attachments = new Gauge({
    name: 'spider_agent_attachments',
    help: 'Attachments known to the agent, by phase',
    labelNames: ['phase'],
    registers: [registry],
  });
  const instances = new Gauge({
    name: 'spider_agent_instances',
    help: 'Whisperer instances, by state',
    labelNames: ['state'],
    registers: [registry],
  });
  return {
    registry,
    watched,
    connected,
    attachments,
    instances,
    watcher: {
      relist: (kind: string, reason: string) => relists.inc({ kind, reason }),
      restart: (kind: string, reason: string) =>
        watchRestarts.inc({ kind, reason }),
    },
    reconciler: {
      injection: (r: InjectResult) => {
        injections.inc({ outcome: r.outcome, reason: r.reason ?? '' });
        if (r.outcome === 'injected')
          injectionSeconds.observe(r.durationMs / 1000);
      },
      plan: (ms: number) => planSeconds.observe(ms / 1000),
    },
  };
}
export type AgentMetrics = ReturnType<typeof createMetrics>;

/**
 * Exposes a component's running totals and current levels (read from its `stats()`
 * snapshot at scrape time) as `<prefix>_<name>_total` counters and `<prefix>_<name>`
 * gauges. Counters advance by the growth since the last scrape.
 */
export function registerStatsMetrics<S extends Record<string, number>>(
  registry: Registry,
  prefix: string,
  stats: () => S,
  metrics: {
    counters: Array<[keyof S & string, string]>;
    gauges: Array<[keyof S & string, string, string]>;
  },
): void {
  const snake = (key: string) =>
    key.replace(/[A-Z]/g, c => `_${c.toLowerCase()}`);
  for (const [key, help] of metrics.counters) {
    let last = 0;
    // eslint-disable-next-line no-new
    new Counter({
      name: `${prefix}_${snake(key)}_total`,
      help,
      registers: [registry],
      collect() {
        const now = stats()[key];
        if (now > last) this.inc(now - last);
        last = now;
      },
    });
  }
  for (const [key, name, help] of metrics.gauges) {
    // eslint-disable-next-line no-new
    new Gauge({
      name: `${prefix}_${name}`,
      help,
      registers: [registry],
      collect() {
        this.set(stats()[key]);
      },
    });
  }
}
