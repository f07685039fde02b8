import { useEffect, useRef } from 'react';
import { useApiHolder } from '@backstage/core-plugin-api';
import { signalApiRef } from '@backstage/plugin-signals-react';
import { trafficSignalChannel } from '@spider/backstage-plugin-spider-common';

/** How often the traffic view asks for new exchanges when the app has no signals API. */
export const TRAFFIC_POLL_INTERVAL_MS = 3000;

/**
 * Calls `onChange` when new traffic may be stored for one of the attachments: on their
 * traffic signals, or every {@link TRAFFIC_POLL_INTERVAL_MS} without a signals API.
 * Returns whether signals are available (the view says "live" either way).
 */
export function useTrafficSignals(
  attachmentIds: string[],
  enabled: boolean,
  onChange: () => void,
): boolean {
  const signals = useApiHolder().get(signalApiRef);
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;
  const key = attachmentIds.join(',');

  useEffect(() => {
    if (!enabled || !signals || !key) return undefined;
    const subscriptions = key
      .split(',')
      .map(id =>
        signals.subscribe(trafficSignalChannel(id), () =>
          onChangeRef.current(),
        ),
      );
    return () => subscriptions.forEach(s => s.unsubscribe());
  }, [signals, key, enabled]);

  useEffect(() => {
    if (!enabled || signals) return undefined;
    const timer = setInterval(() => {
      if (typeof document !== 'undefined' && document.hidden) return;
      onChangeRef.current();
    }, TRAFFIC_POLL_INTERVAL_MS);
    return () => clearInterval(timer);
  }, [signals, enabled]);

  return !!signals;
}
