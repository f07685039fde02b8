/** The signal channel on which the Controls service announces changes. */
export const SPIDER_SIGNAL_CHANNEL = 'spider';

/**
 * A change notice on {@link SPIDER_SIGNAL_CHANNEL}. Only ids travel: each portal refetches
 * with its own credentials, so nothing leaks past permissions.
 */
export type SpiderSignalPayload = {
  kind: 'controller' | 'attachment' | 'whisperer';
  id: string;
  controllerId?: string;
};
