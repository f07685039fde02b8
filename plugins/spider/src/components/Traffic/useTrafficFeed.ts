import {
  startTransition,
  useCallback,
  useEffect,
  useRef,
  useState,
} from 'react';
import type {
  StoredExchange,
  TrafficCoverage,
  TrafficListResponse,
} from '@spider/backstage-plugin-spider-common';
import type { TrafficFilterQuery, TrafficPageQuery } from '../../api/SpiderApi';
import { filtersKey, filtersToQuery, TrafficFilters } from './trafficFilters';
import { useTrafficSignals } from './useTrafficSignals';

/** Where a traffic view reads from: one attachment, or every attachment of an entity. */
export interface TrafficSource {
  /** Identifies the source; the feed reloads when it changes. */
  key: string;
  list(query: TrafficPageQuery): Promise<TrafficListResponse>;
  /** The attachments whose traffic signals announce new exchanges. */
  attachmentIds: string[];
  /** False once nothing new can arrive (detached, expired): no live tail. */
  live: boolean;
  /** A first page asked for before the view mounted; used once if its filters match. */
  firstPage?: PrefetchedPage;
}

export const FIRST_PAGE = 200;
export const NEXT_PAGE = 500;
/** The newest exchanges kept in the page; older ones are for the HAR export. */
export const MAX_ITEMS = 20_000;
/** A burst of signals causes one fetch, this long after the first. */
const COALESCE_MS = 250;
/** Pages followed in one live fetch (a long pause or a very busy service). */
const MAX_LIVE_PAGES = 10;

/**
 * The first page of a traffic view, asked for early: the attachment page asks for it
 * beside the attachment itself instead of after it (the list only needs the id from
 * the URL), which takes one round trip off the first render.
 */
export interface PrefetchedPage {
  /** {@link filtersKey} of the filters it was asked with. */
  filtersKey: string;
  /** The query it was asked with (relative ranges already turned into times). */
  query: TrafficFilterQuery;
  page: Promise<TrafficListResponse>;
  /** The page once it arrived: a view mounting after that renders its rows at once. */
  value?: TrafficListResponse;
  /** Set by the feed that takes it: a retry or a filter change asks again. */
  taken?: boolean;
}

/** Asks for the first page of `filters` now, for a feed that mounts later. */
export function prefetchFirstPage(
  list: (query: TrafficPageQuery) => Promise<TrafficListResponse>,
  filters: TrafficFilters,
): PrefetchedPage {
  const query = filtersToQuery(filters, Date.now());
  const out: PrefetchedPage = {
    filtersKey: filtersKey(filters),
    query,
    page: list({ ...query, limit: FIRST_PAGE }),
  };
  // An error is the feed's to show; a page nobody takes (the attachment failed to load)
  // must not surface as an unhandled rejection.
  out.page.then(
    r => {
      out.value = r;
    },
    () => undefined,
  );
  return out;
}

/** The prefetched page for `key`, taken (once), if it matches. */
function takePrefetched(
  pre: PrefetchedPage | undefined,
  key: string,
): PrefetchedPage | undefined {
  if (!pre || pre.taken || pre.filtersKey !== key) return undefined;
  pre.taken = true;
  return pre;
}

/** Runs `fn` before the next paint (or soon, where there are no frames). */
const nextFrame = (fn: () => void) =>
  typeof requestAnimationFrame === 'function'
    ? requestAnimationFrame(() => fn())
    : setTimeout(fn, 0);

/**
 * Newest first, as the API orders: `startedAt` (ISO in UTC, so strings compare as times),
 * then the id (numeric strings: the longer is the larger).
 */
const newer = (a: StoredExchange, b: StoredExchange) => {
  if (a.startedAt !== b.startedAt) return a.startedAt > b.startedAt;
  if (a.id.length !== b.id.length) return a.id.length > b.id.length;
  return a.id > b.id;
};

/**
 * The later stored of two exchange ids: the store numbers exchanges as it stores them
 * (decimal strings without leading zeros, so the longer is the larger).
 */
export const laterStored = (a: string | undefined, b: string): string =>
  a === undefined || b.length > a.length || (b.length === a.length && b > a)
    ? b
    : a;

/** The last stored id of `items`, or `from` if none is later. */
export function lastStored(
  items: StoredExchange[],
  from?: string,
): string | undefined {
  let out = from;
  for (const e of items) out = laterStored(out, e.id);
  return out;
}

/**
 * The ids of `current` (newest first) that started within the times of `incoming`: an
 * exchange keeps its `startedAt`, so only those can be repeated. A binary search finds
 * them, so merging a few new exchanges into 20,000 does not walk all 20,000.
 */
function idsInRange(
  current: StoredExchange[],
  incoming: StoredExchange[],
): Set<string> {
  let lo = incoming[0].startedAt;
  let hi = lo;
  for (const e of incoming) {
    if (e.startedAt < lo) lo = e.startedAt;
    if (e.startedAt > hi) hi = e.startedAt;
  }
  // First index whose startedAt <= hi (current is newest first).
  let a = 0;
  let b = current.length;
  while (a < b) {
    const m = (a + b) >> 1;
    if (current[m].startedAt > hi) a = m + 1;
    else b = m;
  }
  const out = new Set<string>();
  for (let i = a; i < current.length && current[i].startedAt >= lo; i++)
    out.add(current[i].id);
  return out;
}

/** The exchanges of `incoming` not in `current` (newest first), each id once. Pure. */
export function newExchanges(
  current: StoredExchange[],
  incoming: StoredExchange[],
): StoredExchange[] {
  if (incoming.length === 0) return incoming;
  const seen = idsInRange(current, incoming);
  return incoming.filter(e => {
    if (seen.has(e.id)) return false;
    seen.add(e.id);
    return true;
  });
}

/**
 * Merges `incoming` into `current` (both newest first once sorted), dropping ids already
 * present. Pure, for the live tail.
 */
export function mergeExchanges(
  current: StoredExchange[],
  incoming: StoredExchange[],
): StoredExchange[] {
  if (incoming.length === 0) return current;
  const fresh = newExchanges(current, incoming).sort((a, b) =>
    newer(a, b) ? -1 : 1,
  );
  if (fresh.length === 0) return current;
  const out: StoredExchange[] = new Array(current.length + fresh.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < current.length && j < fresh.length)
    out[k++] = newer(fresh[j], current[i]) ? fresh[j++] : current[i++];
  while (i < current.length) out[k++] = current[i++];
  while (j < fresh.length) out[k++] = fresh[j++];
  return out;
}

interface FeedState {
  items: StoredExchange[];
  coverage?: TrafficCoverage;
  loading: boolean;
  error?: Error;
  /** An error of the last live fetch or page; the list stays. */
  liveError?: Error;
  nextCursor?: string;
  loadingMore: boolean;
  /** Arrived while paused or scrolled away; shown on demand. */
  pending: StoredExchange[];
  /** Older exchanges were dropped from the page to stay under MAX_ITEMS. */
  capped: boolean;
}

const INITIAL: FeedState = {
  items: [],
  loading: true,
  loadingMore: false,
  pending: [],
  capped: false,
};

function loaded(r: TrafficListResponse): FeedState {
  return {
    ...INITIAL,
    loading: false,
    items: mergeExchanges([], r.items),
    coverage: r.coverage,
    nextCursor: r.nextCursor,
  };
}

function cap(s: FeedState): FeedState {
  if (s.items.length <= MAX_ITEMS) return s;
  return {
    ...s,
    items: s.items.slice(0, MAX_ITEMS),
    nextCursor: undefined,
    capped: true,
  };
}

/**
 * The exchanges of a traffic view: the first page for the filters, older pages on
 * demand, and a live tail (signals, or polling without them) that either shows new
 * exchanges at once or holds them as "N new" while paused or scrolled away.
 */
export function useTrafficFeed(source: TrafficSource, filters: TrafficFilters) {
  const fKey = filtersKey(filters);
  // A first page that has arrived already is the first state: rows in the first render.
  const [arrivedFirst] = useState(() =>
    source.firstPage?.value
      ? takePrefetched(source.firstPage, fKey)
      : undefined,
  );
  const [state, setState] = useState<FeedState>(() =>
    arrivedFirst?.value ? loaded(arrivedFirst.value) : INITIAL,
  );
  const skipFirstLoad = useRef(!!arrivedFirst);
  const [paused, setPausedState] = useState(false);
  const [retries, setRetries] = useState(0);
  const stateRef = useRef(state);
  stateRef.current = state;
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const atTopRef = useRef(true);
  const generation = useRef(0);
  const baseQuery = useRef<TrafficFilterQuery>(arrivedFirst?.query ?? {});
  /**
   * The live tail's place: the last stored exchange it has asked past (the first page's
   * last stored one to begin with). It asks `after` it, so nothing arrives twice, and an
   * exchange stored late (a long one that ended after a shorter, newer one) still comes:
   * the store's order, not the exchanges' start times, says what is new.
   */
  const liveAfter = useRef<string | undefined>(
    arrivedFirst?.value ? lastStored(arrivedFirst.value.items) : undefined,
  );
  const sourceRef = useRef(source);
  sourceRef.current = source;
  const filtersRef = useRef(filters);
  filtersRef.current = filters;

  useEffect(() => {
    const gen = ++generation.current;
    if (skipFirstLoad.current) {
      skipFirstLoad.current = false;
      return;
    }
    const pre = takePrefetched(sourceRef.current.firstPage, fKey);
    const query = pre?.query ?? filtersToQuery(filtersRef.current, Date.now());
    baseQuery.current = query;
    liveAfter.current = undefined;
    setState(INITIAL);
    (pre?.page ?? sourceRef.current.list({ ...query, limit: FIRST_PAGE }))
      .then(r => {
        if (gen !== generation.current) return;
        liveAfter.current = lastStored(r.items);
        setState(loaded(r));
      })
      .catch(error => {
        if (gen !== generation.current) return;
        setState({ ...INITIAL, loading: false, error });
      });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [source.key, fKey, retries]);

  const loadMore = useCallback(() => {
    const s = stateRef.current;
    if (!s.nextCursor || s.loadingMore || s.loading) return;
    const gen = generation.current;
    setState(x => ({ ...x, loadingMore: true }));
    sourceRef.current
      .list({ ...baseQuery.current, limit: NEXT_PAGE, cursor: s.nextCursor })
      .then(r => {
        if (gen !== generation.current) return;
        setState(x =>
          cap({
            ...x,
            loadingMore: false,
            liveError: undefined,
            items: mergeExchanges(x.items, r.items),
            nextCursor: r.nextCursor,
          }),
        );
      })
      .catch(liveError => {
        if (gen !== generation.current) return;
        setState(x => ({ ...x, loadingMore: false, liveError }));
      });
  }, []);

  // Live exchanges wait here for the next frame: whatever arrives before it is merged
  // and rendered once.
  const arrived = useRef<StoredExchange[]>([]);
  const arrivedCoverage = useRef<TrafficCoverage | undefined>();
  /** Older exchanges behind the live tail's first page (it began on an empty list). */
  const arrivedCursor = useRef<string | undefined>();
  const arrivedGen = useRef(0);
  const flushScheduled = useRef(false);
  const flush = useCallback(() => {
    flushScheduled.current = false;
    const got = arrived.current;
    const coverage = arrivedCoverage.current;
    const cursor = arrivedCursor.current;
    arrived.current = [];
    arrivedCoverage.current = undefined;
    arrivedCursor.current = undefined;
    const gen = generation.current;
    if (arrivedGen.current !== gen) return;
    // A transition: React renders the new rows in slices of a few ms and yields to the
    // browser between them, so a merge of a few hundred exchanges never holds a frame
    // (a plain update renders the whole view in one task). Typing, scrolling and clicks
    // stay urgent and go first.
    startTransition(() =>
      setState(x => {
        // Rendered later than asked: the filters may have changed meanwhile.
        if (gen !== generation.current) return x;
        const hold = pausedRef.current || !atTopRef.current;
        // Ids the page has already (an older page loaded by scrolling can hold an
        // exchange stored after the live tail's place) are not added twice.
        const fresh = newExchanges(x.items, got);
        if (fresh.length === 0 && !coverage && !cursor) return x;
        return cap({
          ...x,
          coverage: coverage ?? x.coverage,
          nextCursor:
            cursor && x.items.length === 0 && !x.nextCursor
              ? cursor
              : x.nextCursor,
          liveError: undefined,
          items: hold ? x.items : mergeExchanges(x.items, fresh),
          pending: hold ? mergeExchanges(x.pending, fresh) : x.pending,
        });
      }),
    );
  }, []);

  const inFlight = useRef(false);
  const dirty = useRef(false);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>();

  const fetchNew = useCallback(async () => {
    const s = stateRef.current;
    if (s.loading || s.error) return;
    if (inFlight.current) {
      dirty.current = true;
      return;
    }
    inFlight.current = true;
    const gen = generation.current;
    try {
      const base = baseQuery.current;
      const got: StoredExchange[] = [];
      let coverage: TrafficCoverage | undefined;
      let more = false;
      let olderCursor: string | undefined;
      if (liveAfter.current === undefined) {
        // Nothing seen yet (an empty first page): the newest page, as a first load would,
        // then its last stored exchange is the place to go on from.
        const r = await sourceRef.current.list({ ...base, limit: FIRST_PAGE });
        if (gen !== generation.current) return;
        coverage = r.coverage;
        got.push(...r.items);
        liveAfter.current = lastStored(r.items);
        olderCursor = r.nextCursor;
      } else {
        // Oldest stored first; a full page means more were stored after it.
        for (let page = 0; page < MAX_LIVE_PAGES; page++) {
          const r = await sourceRef.current.list({
            ...base,
            after: liveAfter.current,
            limit: NEXT_PAGE,
          });
          if (gen !== generation.current) return;
          coverage = r.coverage;
          got.push(...r.items);
          liveAfter.current = lastStored(r.items, liveAfter.current);
          more = r.items.length >= NEXT_PAGE;
          if (!more) break;
        }
      }
      // Pages left over after MAX_LIVE_PAGES: the next fetch follows at once.
      if (more) dirty.current = true;
      if (arrivedGen.current !== gen) {
        arrivedGen.current = gen;
        arrived.current = [];
        arrivedCoverage.current = undefined;
        arrivedCursor.current = undefined;
      }
      arrived.current.push(...got);
      if (coverage) arrivedCoverage.current = coverage;
      if (olderCursor) arrivedCursor.current = olderCursor;
      if (!flushScheduled.current) {
        flushScheduled.current = true;
        nextFrame(flush);
      }
    } catch (liveError) {
      if (gen === generation.current)
        setState(x => ({ ...x, liveError: liveError as Error }));
    } finally {
      inFlight.current = false;
      if (dirty.current && gen === generation.current) {
        dirty.current = false;
        timer.current = setTimeout(() => {
          timer.current = undefined;
          fetchNew();
        }, COALESCE_MS);
      }
    }
  }, [flush]);

  const onSignal = useCallback(() => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      fetchNew();
    }, COALESCE_MS);
  }, [fetchNew]);

  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );

  const live = source.live && !baseQuery.current.until && !filters.until;
  const signalsAvailable = useTrafficSignals(
    source.attachmentIds,
    live,
    onSignal,
  );

  const showPending = useCallback(() => {
    setState(x =>
      x.pending.length === 0
        ? x
        : cap({ ...x, items: mergeExchanges(x.items, x.pending), pending: [] }),
    );
  }, []);

  const setPaused = useCallback(
    (p: boolean) => {
      setPausedState(p);
      pausedRef.current = p;
      if (!p && atTopRef.current) showPending();
    },
    [showPending],
  );

  /** The list tells whether its top is in view: new exchanges show at once only then. */
  const setAtTop = useCallback(
    (top: boolean) => {
      if (atTopRef.current === top) return;
      atTopRef.current = top;
      if (top && !pausedRef.current) showPending();
    },
    [showPending],
  );

  return {
    ...state,
    live,
    signalsAvailable,
    paused,
    setPaused,
    setAtTop,
    showPending,
    loadMore,
    /** Ask for new exchanges now (what a signal does). */
    refresh: fetchNew,
    retry: useCallback(() => setRetries(r => r + 1), []),
  };
}

export type TrafficFeed = ReturnType<typeof useTrafficFeed>;
