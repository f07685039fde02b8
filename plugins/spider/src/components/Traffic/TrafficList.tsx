import {
  CSSProperties,
  KeyboardEvent,
  memo,
  useCallback,
  useEffect,
  useMemo,
  useRef,
} from 'react';
import { FixedSizeList, ListChildComponentProps } from 'react-window';
import { makeStyles, Theme } from '@material-ui/core/styles';
import type { StoredExchange } from '@spider/backstage-plugin-spider-common';
import {
  exchangeSize,
  formatBytes,
  formatClock,
  formatDuration,
  PeerDirectory,
  peerLabel,
  statusText,
} from './exchangeFormat';
import { statusClass } from './trafficFilters';
import { EntityLink } from './EntityLink';

export const ROW_HEIGHT = 36;
const DEFAULT_HEIGHT = 560;
const LIST_STYLE: CSSProperties = { contain: 'strict' };
/** Rows moved by PageUp/PageDown. */
const PAGE_ROWS = 10;
/** Ask for the next page this many rows before the end. */
const LOAD_AHEAD_ROWS = 40;

const COLUMNS = [
  'Time',
  'Instance',
  'Direction',
  'Peer',
  'Method',
  'Path',
  'Status',
  'Duration',
  'Size',
] as const;
const TEMPLATE =
  '104px minmax(150px, 1.2fr) 56px minmax(140px, 1.2fr) 72px minmax(180px, 2.5fr) 84px 76px 76px';

/** Status colours by class, chosen for contrast on both themes' paper. */
export function statusColor(theme: Theme, cls: string): string {
  const dark = theme.palette.type === 'dark';
  switch (cls) {
    case '2xx':
      return dark ? '#81c784' : '#1b5e20';
    case '3xx':
      return dark ? '#90caf9' : '#0d47a1';
    case '4xx':
      return dark ? '#ffb74d' : '#8a4b00';
    default:
      return dark ? '#ef9a9a' : '#b71c1c';
  }
}

const useStyles = makeStyles(theme => ({
  grid: {
    border: `1px solid ${theme.palette.divider}`,
    borderRadius: theme.shape.borderRadius,
    overflowX: 'auto',
    outline: 'none',
    '&:focus-visible': {
      boxShadow: `0 0 0 2px ${theme.palette.primary.main}`,
    },
    '&:focus-visible $selected': {
      outline: `2px solid ${theme.palette.primary.main}`,
      outlineOffset: -2,
    },
  },
  inner: { minWidth: 1000 },
  header: {
    display: 'grid',
    gridTemplateColumns: TEMPLATE,
    alignItems: 'center',
    height: ROW_HEIGHT,
    padding: theme.spacing(0, 1),
    borderBottom: `1px solid ${theme.palette.divider}`,
    fontWeight: theme.typography.fontWeightBold as number,
    fontSize: theme.typography.body2.fontSize,
    color: theme.palette.text.primary,
  },
  row: {
    display: 'grid',
    gridTemplateColumns: TEMPLATE,
    alignItems: 'center',
    padding: theme.spacing(0, 1),
    boxSizing: 'border-box',
    fontSize: theme.typography.body2.fontSize,
    color: theme.palette.text.primary,
    borderBottom: `1px solid ${theme.palette.divider}`,
    cursor: 'pointer',
    // Rows have a fixed size (react-window places them): containment keeps a row that
    // mounts or moves from making the browser lay out or restyle its neighbours.
    contain: 'strict',
    '&:hover': { background: theme.palette.action.hover },
  },
  selected: {
    background: theme.palette.action.selected,
    '&:hover': { background: theme.palette.action.selected },
  },
  cell: {
    overflow: 'hidden',
    textOverflow: 'ellipsis',
    whiteSpace: 'nowrap',
    paddingRight: theme.spacing(1),
  },
  mono: { fontFamily: 'monospace' },
  icon: { verticalAlign: 'middle' },
  status: { fontWeight: theme.typography.fontWeightBold as number },
  s2xx: { color: statusColor(theme, '2xx') },
  s3xx: { color: statusColor(theme, '3xx') },
  s4xx: { color: statusColor(theme, '4xx') },
  s5xx: { color: statusColor(theme, '5xx') },
  snone: { color: statusColor(theme, 'none') },
}));

type Classes = ReturnType<typeof useStyles>;

/**
 * The direction icons as plain SVG (the paths of MUI's CallReceived and CallMade): a
 * row that mounts renders no MUI component, which matters when the live tail mounts a
 * screenful of new rows at once.
 */
const directionIcon = (d: string, className: string) => (
  <svg
    className={className}
    viewBox="0 0 24 24"
    width="16"
    height="16"
    fill="currentColor"
    aria-hidden
    focusable="false"
  >
    <path d={d} />
  </svg>
);
const IN_PATH = 'M20 5.41L18.59 4 7 15.59V9H5v10h10v-2H8.41z';
const OUT_PATH = 'M9 5v2h6.59L4 18.59 5.41 20 17 8.41V15h2V5z';

interface RowData {
  items: StoredExchange[];
  selectedId?: string;
  directory?: PeerDirectory;
  classes: Classes;
  onRowClick: (id: string) => void;
  idPrefix: string;
}

export const exchangeRowId = (prefix: string, id: string) =>
  `${prefix}-row-${id.replace(/[^A-Za-z0-9_-]/g, '_')}`;

/**
 * The cells of one exchange. Memoised on the exchange itself: when the live tail adds
 * rows, react-window re-renders every visible row (its data changed), but only the new
 * rows render cells; the others only move.
 */
const RowCells = memo(function ExchangeRowCells(props: {
  e: StoredExchange;
  directory?: PeerDirectory;
  classes: Classes;
}) {
  const { e, directory, classes } = props;
  const peer = peerLabel(e, directory);
  const cls = statusClass(e.response?.status);
  const c = classes.cell;
  return (
    <>
      <div
        role="gridcell"
        className={`${c} ${classes.mono}`}
        title={e.startedAt}
      >
        {formatClock(e.startedAt)}
      </div>
      <div role="gridcell" className={c} title={`${e.pod}/${e.container}`}>
        {e.pod}
      </div>
      <div role="gridcell" className={c}>
        {e.direction === 'inbound' ? (
          <>{directionIcon(IN_PATH, classes.icon)} in</>
        ) : (
          <>{directionIcon(OUT_PATH, classes.icon)} out</>
        )}
      </div>
      <div
        role="gridcell"
        className={c}
        title={`${peer.text} (${peer.detail})`}
      >
        {peer.entityRef ? (
          // The row opens the drawer; the link opens the entity.
          <span onClick={ev => ev.stopPropagation()} role="presentation">
            <EntityLink entityRef={peer.entityRef} tabIndex={-1} />
          </span>
        ) : (
          peer.text
        )}
      </div>
      <div role="gridcell" className={`${c} ${classes.mono}`}>
        {e.request.method}
      </div>
      <div
        role="gridcell"
        className={`${c} ${classes.mono}`}
        title={e.request.path}
      >
        {e.request.path}
      </div>
      <div role="gridcell" className={c}>
        <span
          className={`${classes.status} ${classes[`s${cls}` as keyof Classes]}`}
          data-status-class={cls}
        >
          {statusText(e)}
        </span>
      </div>
      <div role="gridcell" className={c}>
        {formatDuration(e.durationMs)}
      </div>
      <div role="gridcell" className={c}>
        {formatBytes(exchangeSize(e))}
      </div>
    </>
  );
});

const Row = memo(function ExchangeRow(props: ListChildComponentProps<RowData>) {
  const { items, selectedId, directory, classes, onRowClick, idPrefix } =
    props.data;
  const e = items[props.index];
  const selected = selectedId === e.id;
  return (
    // The grid owns the keyboard (aria-activedescendant); a click is the mouse's shortcut.
    // eslint-disable-next-line jsx-a11y/click-events-have-key-events
    <div
      role="row"
      tabIndex={-1}
      id={exchangeRowId(idPrefix, e.id)}
      aria-rowindex={props.index + 2}
      aria-selected={selected}
      className={`${classes.row} ${selected ? classes.selected : ''}`}
      style={props.style as CSSProperties}
      onClick={() => onRowClick(e.id)}
      data-exchange-id={e.id}
    >
      <RowCells e={e} directory={directory} classes={classes} />
    </div>
  );
});

export interface TrafficListProps {
  items: StoredExchange[];
  selectedId?: string;
  onSelect: (id: string) => void;
  /** Enter or a click: show the exchange. */
  onOpen: (id: string) => void;
  directory?: PeerDirectory;
  /** The list's top is in view (new exchanges may show at once). */
  onAtTopChange?: (atTop: boolean) => void;
  /** The end is near: load older exchanges. */
  onNearEnd?: () => void;
  height?: number;
  /** Bumped to scroll back to the top (after "N new"). */
  scrollToTopSignal?: number;
  label?: string;
}

/**
 * The captured exchanges as a virtualised ARIA grid: only the visible rows are in the
 * DOM, so tens of thousands scroll smoothly. Arrow keys, PageUp/PageDown, Home and End
 * move the selection; Enter opens it.
 */
export function TrafficList(props: TrafficListProps) {
  const classes = useStyles();
  const {
    items,
    selectedId,
    onSelect,
    onOpen,
    onAtTopChange,
    onNearEnd,
    scrollToTopSignal,
  } = props;
  const listRef = useRef<FixedSizeList>(null);
  const idPrefix = 'traffic';
  const selectedIndex = useMemo(
    () => (selectedId ? items.findIndex(e => e.id === selectedId) : -1),
    [items, selectedId],
  );

  const onRowClick = useCallback(
    (id: string) => {
      onSelect(id);
      onOpen(id);
    },
    [onSelect, onOpen],
  );

  const itemData = useMemo<RowData>(
    () => ({
      items,
      selectedId,
      directory: props.directory,
      classes,
      onRowClick,
      idPrefix,
    }),
    [items, selectedId, props.directory, classes, onRowClick],
  );

  useEffect(() => {
    if (scrollToTopSignal) listRef.current?.scrollTo(0);
  }, [scrollToTopSignal]);

  const move = (to: number) => {
    if (items.length === 0) return;
    const index = Math.max(0, Math.min(items.length - 1, to));
    onSelect(items[index].id);
    listRef.current?.scrollToItem(index);
  };

  const onKeyDown = (ev: KeyboardEvent<HTMLDivElement>) => {
    const at = selectedIndex;
    switch (ev.key) {
      case 'ArrowDown':
        move(at < 0 ? 0 : at + 1);
        break;
      case 'ArrowUp':
        move(at < 0 ? 0 : at - 1);
        break;
      case 'PageDown':
        move(at + PAGE_ROWS);
        break;
      case 'PageUp':
        move(at - PAGE_ROWS);
        break;
      case 'Home':
        move(0);
        break;
      case 'End':
        move(items.length - 1);
        break;
      case 'Enter':
      case ' ':
        if (at >= 0) onOpen(items[at].id);
        break;
      default:
        return;
    }
    ev.preventDefault();
  };

  const activeId =
    selectedIndex >= 0
      ? exchangeRowId(idPrefix, items[selectedIndex].id)
      : undefined;
  const height = props.height ?? DEFAULT_HEIGHT;
  return (
    <div
      role="grid"
      aria-label={props.label ?? 'Captured exchanges'}
      aria-rowcount={items.length + 1}
      aria-colcount={COLUMNS.length}
      aria-activedescendant={activeId}
      tabIndex={0}
      className={classes.grid}
      onKeyDown={onKeyDown}
    >
      <div className={classes.inner}>
        <div role="row" aria-rowindex={1} className={classes.header}>
          {COLUMNS.map(c => (
            <div role="columnheader" key={c} className={classes.cell}>
              {c}
            </div>
          ))}
        </div>
        <FixedSizeList
          ref={listRef}
          height={Math.min(
            height,
            Math.max(ROW_HEIGHT, items.length * ROW_HEIGHT),
          )}
          width="100%"
          itemCount={items.length}
          itemSize={ROW_HEIGHT}
          itemData={itemData}
          itemKey={(index, data) => data.items[index].id}
          overscanCount={8}
          // The scroller has a fixed size: what changes inside it (rows mounting, the
          // total height growing with the live tail) is laid out without the page.
          style={LIST_STYLE}
          onScroll={({ scrollOffset }) =>
            onAtTopChange?.(scrollOffset < ROW_HEIGHT / 2)
          }
          onItemsRendered={({ visibleStopIndex }) => {
            if (visibleStopIndex >= items.length - LOAD_AHEAD_ROWS)
              onNearEnd?.();
          }}
        >
          {Row}
        </FixedSizeList>
      </div>
    </div>
  );
}
