import { useEffect, useRef, useState } from 'react';
import { useSignal } from '@backstage/plugin-signals-react';
import {
  SPIDER_SIGNAL_CHANNEL,
  SpiderSignalPayload,
} from '@spider/backstage-plugin-spider-common';

/** A change notice the Controls service publishes (its type lives in spider-common). */
export type SpiderSignal = SpiderSignalPayload;

/** How often views refresh themselves when the signals API is not available. */
export const POLL_INTERVAL_MS = 10_000;
/** Signals arriving in a burst cause one refresh, this long after the first. */
const SIGNAL_COALESCE_MS = 300;

/**
 * A number that changes whenever the data behind a view may have changed: on each
 * relevant `spider` signal (coalesced), or every {@link POLL_INTERVAL_MS} when the
 * app has no signals API.
 */
export function useSpiderLive(
  filter?: (signal: SpiderSignal) => boolean,
): number {
  const { lastSignal: raw, isSignalsAvailable } =
    useSignal<SpiderSignalPayload>(SPIDER_SIGNAL_CHANNEL);
  const lastSignal = raw;
  const [tick, setTick] = useState(0);
  const filterRef = useRef(filter);
  filterRef.current = filter;
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>();

  useEffect(() => {
    if (!lastSignal) return;
    if (filterRef.current && !filterRef.current(lastSignal)) return;
    if (pending.current) return;
    pending.current = setTimeout(() => {
      pending.current = undefined;
      setTick(t => t + 1);
    }, SIGNAL_COALESCE_MS);
  }, [lastSignal]);

  useEffect(() => {
    if (isSignalsAvailable) return undefined;
    const timer = setInterval(() => {
      if (typeof document !== 'undefined' && document.hidden) return;
      setTick(t => t + 1);
    }, POLL_INTERVAL_MS);
    return () => clearInterval(timer);
  }, [isSignalsAvailable]);

  useEffect(
    () => () => {
      if (pending.current) clearTimeout(pending.current);
    },
    [],
  );

  return tick;
}
