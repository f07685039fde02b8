import {
  DependencyList,
  useCallback,
  useEffect,
  useRef,
  useState,
} from 'react';
import { SpiderSignal, useSpiderLive } from './useSpiderLive';

export interface LiveData<T> {
  value?: T;
  error?: Error;
  /** True only for the first load (or after the inputs changed), not for live refreshes. */
  loading: boolean;
  retry: () => void;
  /** Reload without showing loading (after a change the user made). */
  refresh: () => void;
  /** Replace the value locally (optimistic updates), until the next refresh. */
  set: (value: T) => void;
}

/**
 * Loads data and keeps it fresh: reloads when `deps` change (showing loading), and
 * refreshes quietly when a relevant signal arrives or the poll interval passes.
 */
export function useLiveData<T>(
  load: () => Promise<T>,
  deps: DependencyList,
  options: { filter?: (s: SpiderSignal) => boolean; live?: boolean } = {},
): LiveData<T> {
  const [state, setState] = useState<{
    value?: T;
    error?: Error;
    loading: boolean;
  }>({ loading: true });
  const tick = useSpiderLive(options.filter);
  const live = options.live ?? true;
  const seq = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const [retries, setRetries] = useState(0);

  const run = useCallback((quiet: boolean) => {
    const current = ++seq.current;
    if (!quiet) setState(s => ({ ...s, loading: true, error: undefined }));
    loadRef
      .current()
      .then(value => {
        if (current === seq.current)
          setState({ value, loading: false, error: undefined });
      })
      .catch(error => {
        if (current === seq.current)
          setState(s => ({
            value: quiet ? s.value : undefined,
            loading: false,
            error,
          }));
      });
  }, []);

  useEffect(() => {
    setState({ loading: true });
    run(false);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, retries]);

  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    if (live) run(true);
  }, [tick, live, run]);

  return {
    ...state,
    retry: useCallback(() => setRetries(r => r + 1), []),
    refresh: useCallback(() => run(true), [run]),
    set: useCallback(
      (value: T) => setState({ value, loading: false, error: undefined }),
      [],
    ),
  };
}
