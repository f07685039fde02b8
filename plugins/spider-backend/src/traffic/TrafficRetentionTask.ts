import { LoggerService, SchedulerService } from '@backstage/backend-plugin-api';
import { HumanDuration } from '@backstage/types';
import { RetentionLimits, TrafficStore } from '../store/TrafficStore';

export const TRAFFIC_RETENTION_TASK_ID = 'spider-traffic-retention';

/**
 * Enforces traffic retention on a schedule. The scheduler runs a task on one replica at a
 * time, so several backends on one database do not delete the same rows concurrently.
 */
export async function scheduleTrafficRetention(options: {
  scheduler: SchedulerService;
  store: TrafficStore;
  limits: RetentionLimits;
  frequency: HumanDuration;
  logger: LoggerService;
}): Promise<void> {
  const { scheduler, store, limits, frequency, logger } = options;
  await scheduler.scheduleTask({
    id: TRAFFIC_RETENTION_TASK_ID,
    frequency,
    timeout: { minutes: 15 },
    initialDelay: { seconds: 30 },
    fn: async () => {
      const started = Date.now();
      const r = await store.applyRetention(limits, new Date());
      const removed = r.deletedByAge + r.deletedByRows + r.deletedBySize;
      if (removed > 0 || r.bodiesDropped > 0) {
        logger.info(
          `Traffic retention removed ${removed} exchanges (age ${
            r.deletedByAge
          }, rows ${r.deletedByRows}, size ${r.deletedBySize}) and ${
            r.bodiesDropped
          } bodies in ${Date.now() - started} ms`,
        );
      }
    },
  });
}
