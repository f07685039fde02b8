import {
  memo,
  useCallback,
  useDeferredValue,
  useMemo,
  useRef,
  useState,
} from 'react';
import { useSearchParams } from 'react-router-dom';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Drawer from '@material-ui/core/Drawer';
import IconButton from '@material-ui/core/IconButton';
import Menu from '@material-ui/core/Menu';
import MenuItem from '@material-ui/core/MenuItem';
import Typography from '@material-ui/core/Typography';
import CloseIcon from '@material-ui/icons/Close';
import GetAppIcon from '@material-ui/icons/GetApp';
import PauseIcon from '@material-ui/icons/Pause';
import PlayArrowIcon from '@material-ui/icons/PlayArrow';
import ArrowUpwardIcon from '@material-ui/icons/ArrowUpward';
import RefreshIcon from '@material-ui/icons/Refresh';
import { EmptyState, Link, Progress } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import {
  Attachment,
  LIVE_ATTACHMENT_STATUSES,
  TrafficMapPeer,
  TrafficMapResponse,
  WorkloadRef,
} from '@spider/backstage-plugin-spider-common';
import { spiderApiRef } from '../../api/SpiderApi';
import { describeError, describeTrafficError } from '../../api/errors';
import { useLiveData } from '../../hooks/useLiveData';
import { ErrorView, saveBlob, useSpiderPaths } from '../common';
import { CoverageBanner } from './CoverageBanner';
import { ExchangeDetail } from './ExchangeDetail';
import { peerDirectory } from './exchangeFormat';
import { TrafficFilterBar } from './TrafficFilterBar';
import {
  filtersFromSearch,
  filtersToQuery,
  filtersToSearch,
  isFiltered,
  TrafficFilters,
} from './trafficFilters';
import { TrafficList } from './TrafficList';
import { ViewTabs } from './ViewTabs';
import { peerFilterValue, TrafficMap } from './TrafficMap';
import {
  PrefetchedPage,
  TrafficSource,
  useTrafficFeed,
} from './useTrafficFeed';
import { TRAFFIC_POLL_INTERVAL_MS } from './useTrafficSignals';

/** What a traffic view shows: one attachment, or every attachment of a catalog entity. */
export type TrafficViewSource =
  | {
      kind: 'attachment';
      attachment: Attachment;
      /** Its first page, asked for beside the attachment (see {@link prefetchFirstPage}). */
      firstPage?: PrefetchedPage;
    }
  | {
      kind: 'entity';
      entityRef: string;
      attachments: Attachment[];
      /** The attachments are still loading: an empty list cannot say why yet. */
      attachmentsLoading?: boolean;
      /** Its first page, asked for beside the entity's workloads. */
      firstPage?: PrefetchedPage;
    };

/** Maps are asked for at most this many attachments (entity view), to name peers. */
const MAX_MAPS = 5;
const VIEW_TABS: Array<{ value: 'list' | 'map'; label: string }> = [
  { value: 'list', label: 'Exchanges' },
  { value: 'map', label: 'Map' },
];
/** Exchanges looked at for attachments beyond the given ones (entity view). */
const KNOWN_SCAN = 2000;

const isLiveStatus = (a: Attachment) =>
  (LIVE_ATTACHMENT_STATUSES as readonly string[]).includes(a.status);

function targetText(t: WorkloadRef) {
  return `${t.kind} ${t.namespace}/${t.name}`;
}

function harFileName(t: WorkloadRef) {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return `traffic-${t.namespace}-${t.name}-${stamp}.har`;
}

function NoTraffic(props: {
  source: TrafficViewSource;
  filtered: boolean;
  onClear: () => void;
}) {
  const paths = useSpiderPaths();
  const { source } = props;
  if (props.filtered) {
    return (
      <EmptyState
        missing="data"
        title="No exchange matches these filters"
        description="Captured traffic exists outside them. Widen the time range or remove a filter."
        action={
          <Button variant="contained" color="primary" onClick={props.onClear}>
            Clear filters
          </Button>
        }
      />
    );
  }
  const attachments =
    source.kind === 'attachment' ? [source.attachment] : source.attachments;
  if (source.kind === 'entity' && source.attachmentsLoading)
    return <Progress />;
  if (attachments.length === 0) {
    return (
      <EmptyState
        missing="data"
        title="No traffic captured for this component"
        description="Attach a whisperer to one of its workloads (above) to capture its HTTP traffic; exchanges appear here as they are stored."
      />
    );
  }
  const live = attachments.filter(isLiveStatus);
  if (live.length === 0) {
    return (
      <EmptyState
        missing="data"
        title="Nothing was captured"
        description="The attachment ended without capturing any exchange, or retention has removed what it captured. Attach again and send traffic to the service."
      />
    );
  }
  const running = live
    .flatMap(a => a.instances)
    .filter(i => i.state === 'running');
  if (running.length === 0) {
    return (
      <EmptyState
        missing="data"
        title="Waiting for the whisperer instances"
        description="The agent is injecting whisperers into the pods; none runs yet. Exchanges appear here as soon as one does. If this takes more than a minute, look at the instances' reasons."
      />
    );
  }
  const w = live[0];
  const whispererTo = paths.whisperer(w.whispererId);
  return (
    <EmptyState
      missing="data"
      title="Nothing captured yet"
      description={
        <>
          {running.length} whisperer instance
          {running.length === 1 ? ' is' : 's are'} running but no HTTP exchange
          has been seen. Send some requests to the service (or let it call out),
          and check that the whisperer's capture filter matches the port the
          service listens on
          {whispererTo ? (
            <>
              {' '}
              (
              <Link to={whispererTo} underline="always">
                {w.whispererName}
              </Link>
              )
            </>
          ) : null}
          . New exchanges show up here by themselves.
        </>
      }
    />
  );
}

/**
 * The HAR export: one attachment, or a menu of them. Memoised: the live tail re-renders
 * the view several times a second, and the choices seldom change.
 */
const HarExport = memo(function HarExportView(props: {
  choices: Array<{ id: string; target: WorkloadRef }>;
  filters: TrafficFilters;
}) {
  const api = useApi(spiderApiRef);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [anchor, setAnchor] = useState<HTMLElement | null>(null);
  const download = async (choice: { id: string; target: WorkloadRef }) => {
    setAnchor(null);
    setBusy(true);
    setError(undefined);
    try {
      const blob = await api.downloadTrafficHar(
        choice.id,
        filtersToQuery(props.filters, Date.now()),
      );
      saveBlob(blob, harFileName(choice.target));
    } catch (e) {
      setError(`The HAR export failed: ${describeTrafficError(e).message}`);
    } finally {
      setBusy(false);
    }
  };
  if (props.choices.length === 0) return null;
  return (
    <>
      <Button
        size="small"
        variant="outlined"
        startIcon={<GetAppIcon />}
        disabled={busy}
        aria-haspopup={props.choices.length > 1 ? 'menu' : undefined}
        onClick={ev =>
          props.choices.length === 1
            ? download(props.choices[0])
            : setAnchor(ev.currentTarget)
        }
      >
        {busy ? 'Exporting…' : 'Export HAR'}
      </Button>
      <Menu anchorEl={anchor} open={!!anchor} onClose={() => setAnchor(null)}>
        {props.choices.map(c => (
          <MenuItem key={c.id} onClick={() => download(c)}>
            {targetText(c.target)}
          </MenuItem>
        ))}
      </Menu>
      {error && (
        <Typography variant="body2" color="error" role="alert">
          {error}
        </Typography>
      )}
    </>
  );
});

/**
 * The traffic of an attachment or an entity: filters (in the URL), the live list, the
 * detail drawer, the map and the HAR export.
 */
export function TrafficView(props: { source: TrafficViewSource }) {
  const { source } = props;
  const api = useApi(spiderApiRef);
  const [search, setSearch] = useSearchParams();
  const filters = useMemo(() => filtersFromSearch(search), [search]);
  const filtered = isFiltered(filters);
  const exchangeId = search.get('exchange') ?? undefined;
  const view = search.get('view') === 'map' ? 'map' : 'list';
  const [selectedId, setSelectedId] = useState<string>();
  const [scrollTop, setScrollTop] = useState(0);

  const attachments = useMemo(
    () =>
      source.kind === 'attachment' ? [source.attachment] : source.attachments,
    [source],
  );
  const liveKey = attachments
    .filter(isLiveStatus)
    .map(a => a.id)
    .join(',');
  const liveIds = useMemo(() => (liveKey ? liveKey.split(',') : []), [liveKey]);
  const sourceKey =
    source.kind === 'attachment'
      ? `a:${source.attachment.id}`
      : `e:${source.entityRef}`;
  const entityRef = source.kind === 'entity' ? source.entityRef : undefined;
  const attachmentId =
    source.kind === 'attachment' ? source.attachment.id : undefined;
  const firstPage = source.firstPage;
  const trafficSource = useMemo<TrafficSource>(
    () => ({
      key: sourceKey,
      list: q =>
        entityRef !== undefined
          ? api.listEntityTraffic(entityRef, q)
          : api.listTraffic(attachmentId!, q),
      attachmentIds: liveIds,
      live: liveIds.length > 0,
      firstPage,
    }),
    [api, sourceKey, entityRef, attachmentId, liveIds, firstPage],
  );
  const feed = useTrafficFeed(trafficSource, filters);

  const setFilters = useCallback(
    (next: TrafficFilters) => {
      setSearch(current => filtersToSearch(next, current), { replace: true });
    },
    [setSearch],
  );
  const clear = useCallback(() => setFilters({}), [setFilters]);
  const setParam = (key: string, value: string | undefined, replace = false) =>
    setSearch(
      current => {
        const next = new URLSearchParams(current);
        if (value === undefined) next.delete(key);
        else next.set(key, value);
        return next;
      },
      { replace },
    );

  // Every attachment the view knows of: the given ones and those the exchanges name.
  const knownNow = useMemo(() => {
    const out = new Map<string, { id: string; target: WorkloadRef }>();
    attachments.forEach(a => out.set(a.id, { id: a.id, target: a.target }));
    // The newest exchanges name the attachments worth offering; looking further back on
    // every live update would cost a walk of the whole list.
    const scan = Math.min(feed.items.length, KNOWN_SCAN);
    for (let i = 0; i < scan && out.size < 50; i++) {
      const e = feed.items[i];
      if (!out.has(e.attachmentId))
        out.set(e.attachmentId, { id: e.attachmentId, target: e.target });
    }
    return [...out.values()];
  }, [attachments, feed.items]);
  const knownKey = knownNow.map(k => k.id).join(',');
  // The same array while the same attachments are known (nearly every live update), so
  // what takes it (the HAR export) need not re-render.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const known = useMemo(() => knownNow, [knownKey]);
  // The list's first page goes first: the map only names peers in it (and its
  // aggregation competes with the page for the backend). The map view asks at once.
  // Once asked for, the maps follow their own inputs (not every filter's reload).
  const mapsWantedRef = useRef(false);
  if (view === 'map' || !feed.loading) mapsWantedRef.current = true;
  const mapsWanted = mapsWantedRef.current;

  const [mapChoice, setMapChoice] = useState<string>();
  const mapAttachment = known.find(k => k.id === mapChoice) ?? known[0];
  const mapQuery = useMemo(() => {
    const q = filtersToQuery(filters, Date.now());
    return { since: q.since, until: q.until, instance: q.instance };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [filters.range, filters.since, filters.until, filters.instance]);
  const maps = useLiveData(
    () =>
      !mapsWanted
        ? Promise.resolve(new Map<string, TrafficMapResponse | Error>())
        : Promise.all(
            known.slice(0, MAX_MAPS).map(k =>
              api.getTrafficMap(k.id, mapQuery).then(
                m => [k.id, m] as const,
                (e: Error) => [k.id, e] as const,
              ),
            ),
          ).then(rows => new Map<string, TrafficMapResponse | Error>(rows)),
    [
      api,
      knownKey,
      mapQuery.since,
      mapQuery.until,
      mapQuery.instance,
      mapsWanted,
    ],
    { live: false },
  );
  const directory = useMemo(
    () =>
      peerDirectory(
        [...(maps.value?.values() ?? [])].flatMap(m =>
          m instanceof Error ? [] : m.peers,
        ),
      ),
    [maps.value],
  );
  // Peer names arrive with the maps, just after the first rows: the list re-renders with
  // them at low priority, so that render does not hold up typing in the filters.
  const listDirectory = useDeferredValue(directory);

  const instancesKey = attachments
    .flatMap(a =>
      a.instances.map(i => `${i.pod}/${i.container}:${i.generation}`),
    )
    .join(',');
  const instances = useMemo(
    () =>
      instancesKey
        ? instancesKey.split(',').map(x => {
            const [value, generation] = x.split(':');
            const pod = value.split('/')[0];
            return {
              value,
              label:
                generation !== '0' ? `${pod} (restart ${generation})` : pod,
            };
          })
        : [],
    [instancesKey],
  );

  const onOpen = useCallback(
    (id: string) => {
      setSelectedId(id);
      setSearch(current => {
        const next = new URLSearchParams(current);
        next.set('exchange', id);
        return next;
      });
    },
    [setSearch],
  );
  const onPeer = (peer: TrafficMapPeer) => {
    setSearch(
      current => {
        const next = filtersToSearch(
          { ...filters, peer: peerFilterValue(peer) },
          current,
        );
        next.delete('view');
        return next;
      },
      { replace: true },
    );
  };

  const showNew = () => {
    feed.showPending();
    setScrollTop(t => t + 1);
  };

  const liveText = (() => {
    if (!feed.live)
      return 'Not live: the capture has ended. The traffic stays readable until retention removes it.';
    if (feed.paused) return 'Paused: new exchanges are counted, not shown.';
    return feed.signalsAvailable
      ? 'Live: new exchanges appear as they are stored.'
      : `Live: checking for new exchanges every ${
          TRAFFIC_POLL_INTERVAL_MS / 1000
        } s.`;
  })();

  let body: JSX.Element;
  if (feed.loading) body = <Progress />;
  else if (feed.error) {
    const { title, message } = describeTrafficError(feed.error);
    body = (
      <ErrorView
        error={feed.error}
        title={title}
        message={message}
        retry={feed.retry}
      />
    );
  } else if (feed.items.length === 0 && feed.pending.length === 0)
    body = <NoTraffic source={source} filtered={filtered} onClear={clear} />;
  else
    body = (
      <>
        <TrafficList
          items={feed.items}
          selectedId={selectedId}
          onSelect={setSelectedId}
          onOpen={onOpen}
          directory={listDirectory}
          onAtTopChange={feed.setAtTop}
          onNearEnd={feed.loadMore}
          scrollToTopSignal={scrollTop}
        />
        <Typography variant="caption" display="block" style={{ marginTop: 4 }}>
          {feed.items.length.toLocaleString('en-US')} exchange
          {feed.items.length === 1 ? '' : 's'} shown
          {feed.nextCursor ? '; older ones load as you scroll' : ''}
          {feed.loadingMore ? ' (loading…)' : ''}
          {feed.capped
            ? `; only the newest ${feed.items.length.toLocaleString(
                'en-US',
              )} are kept here: narrow the filters or export HAR for the rest`
            : ''}
          . Arrow keys move, Enter opens.
        </Typography>
      </>
    );

  const mapData = mapAttachment ? maps.value?.get(mapAttachment.id) : undefined;
  const mapBody = (() => {
    if (maps.loading) return <Progress />;
    if (maps.error) return <ErrorView error={maps.error} retry={maps.retry} />;
    if (!mapAttachment)
      return <NoTraffic source={source} filtered={false} onClear={clear} />;
    if (!mapData) return <Progress />;
    if (mapData instanceof Error) {
      const { title, message } = describeTrafficError(mapData);
      return (
        <ErrorView
          error={mapData}
          title={title}
          message={message}
          retry={maps.retry}
        />
      );
    }
    return <TrafficMap map={mapData} onPeer={onPeer} />;
  })();

  return (
    <Box>
      <CoverageBanner coverage={feed.coverage} />
      <TrafficFilterBar
        filters={filters}
        onChange={setFilters}
        instances={instances}
        filtered={filtered}
        onClear={clear}
      />
      <Box
        display="flex"
        alignItems="center"
        flexWrap="wrap"
        style={{ gap: 8 }}
        mb={1}
      >
        <ViewTabs
          value={view}
          onChange={v =>
            setParam('view', v === 'map' ? 'map' : undefined, true)
          }
          label="Traffic views"
          tabs={VIEW_TABS}
        />
        <Box flexGrow={1} />
        {view === 'list' && feed.live && (
          <Button
            size="small"
            variant="outlined"
            startIcon={feed.paused ? <PlayArrowIcon /> : <PauseIcon />}
            onClick={() => feed.setPaused(!feed.paused)}
          >
            {feed.paused ? 'Resume live tail' : 'Pause live tail'}
          </Button>
        )}
        {view === 'map' && (
          <Button
            size="small"
            variant="outlined"
            startIcon={<RefreshIcon />}
            onClick={maps.refresh}
          >
            Refresh map
          </Button>
        )}
        <HarExport choices={known} filters={filters} />
      </Box>
      <Box
        display="flex"
        alignItems="center"
        style={{ gap: 8 }}
        mb={1}
        minHeight={32}
      >
        <Typography variant="body2" role="status">
          {liveText}
        </Typography>
        {view === 'list' && feed.pending.length > 0 && (
          <Button
            size="small"
            color="primary"
            variant="contained"
            startIcon={<ArrowUpwardIcon />}
            onClick={showNew}
          >
            {feed.pending.length.toLocaleString('en-US')} new
          </Button>
        )}
        {feed.liveError && (
          <Typography variant="body2" color="error" role="alert">
            {describeError(feed.liveError)} Showing what was loaded.
          </Typography>
        )}
      </Box>
      {view === 'list' ? (
        body
      ) : (
        <>
          {known.length > 1 && (
            <Box mb={1}>
              <Typography variant="body2" component="span">
                Map of{' '}
              </Typography>
              {known.map(k => (
                <Button
                  key={k.id}
                  size="small"
                  variant={k.id === mapAttachment?.id ? 'contained' : 'text'}
                  onClick={() => setMapChoice(k.id)}
                  aria-pressed={k.id === mapAttachment?.id}
                >
                  {targetText(k.target)}
                </Button>
              ))}
            </Box>
          )}
          {mapBody}
        </>
      )}
      <Drawer
        anchor="right"
        open={!!exchangeId}
        onClose={() => setParam('exchange', undefined)}
        PaperProps={{ style: { width: 'min(760px, 100vw)', padding: 24 } }}
      >
        {exchangeId && (
          <div
            role="dialog"
            aria-modal="true"
            aria-labelledby="spider-exchange-title"
          >
            <Box display="flex" alignItems="center" mb={1}>
              <Typography
                variant="h5"
                component="h2"
                id="spider-exchange-title"
                style={{ flexGrow: 1 }}
              >
                Exchange
              </Typography>
              <IconButton
                aria-label="Close the exchange"
                onClick={() => setParam('exchange', undefined)}
              >
                <CloseIcon />
              </IconButton>
            </Box>
            <ExchangeDetail
              exchangeId={exchangeId}
              directory={directory}
              onPeer={value => {
                setSearch(
                  current => {
                    const next = filtersToSearch(
                      { ...filters, peer: value },
                      current,
                    );
                    next.delete('exchange');
                    return next;
                  },
                  { replace: true },
                );
              }}
            />
          </div>
        )}
      </Drawer>
    </Box>
  );
}
