import { LoggerService } from '@backstage/backend-plugin-api';
import { SignalsService } from '@backstage/plugin-signals-node';
import {
  SPIDER_SIGNAL_CHANNEL,
  SpiderSignalPayload,
} from '@spider/backstage-plugin-spider-common';

export type SpiderChange = SpiderSignalPayload;

/**
 * Tells open portals that something changed, through Backstage signals. Only ids travel:
 * each client refetches with its own credentials, so nothing leaks past permissions.
 */
export class SpiderEvents {
  constructor(
    private readonly signals: SignalsService | undefined,
    private readonly logger: LoggerService,
  ) {}

  publish(change: SpiderChange): void {
    if (!this.signals) return;
    this.signals
      .publish<SpiderSignalPayload>({
        recipients: { type: 'broadcast' },
        channel: SPIDER_SIGNAL_CHANNEL,
        message: { ...change },
      })
      .catch(err => this.logger.debug(`Could not publish a signal: ${err}`));
  }
}
