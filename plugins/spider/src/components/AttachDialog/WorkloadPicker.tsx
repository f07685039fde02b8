import {
  CSSProperties,
  memo,
  useDeferredValue,
  useEffect,
  useMemo,
  useState,
} from 'react';
import { FixedSizeList, ListChildComponentProps } from 'react-window';
import Box from '@material-ui/core/Box';
import InputAdornment from '@material-ui/core/InputAdornment';
import ListItem from '@material-ui/core/ListItem';
import ListItemIcon from '@material-ui/core/ListItemIcon';
import ListItemText from '@material-ui/core/ListItemText';
import MenuItem from '@material-ui/core/MenuItem';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import Paper from '@material-ui/core/Paper';
import SearchIcon from '@material-ui/icons/Search';
import {
  Workload,
  WORKLOAD_KINDS,
  WorkloadKind,
} from '@spider/backstage-plugin-spider-common';
import { KindIcon } from '../common';

export const ROW_HEIGHT = 52;
const LIST_HEIGHT = 312;

export function workloadKey(w: {
  kind: string;
  namespace: string;
  name: string;
}) {
  return `${w.namespace}/${w.kind}/${w.name}`;
}

function replicaText(w: Workload) {
  if (w.replicas === null || w.replicas === undefined)
    return `${w.pods} pod${w.pods === 1 ? '' : 's'}`;
  return `${w.pods}/${w.replicas} pod${w.replicas === 1 ? '' : 's'}`;
}

interface RowData {
  items: Workload[];
  selected?: string;
  onSelect: (w: Workload) => void;
  showNamespace: boolean;
}

const Row = memo(function WorkloadRow(props: ListChildComponentProps<RowData>) {
  const { items, selected, onSelect, showNamespace } = props.data;
  const w = items[props.index];
  const key = workloadKey(w);
  return (
    <ListItem
      button
      component="div"
      role="option"
      aria-selected={selected === key}
      selected={selected === key}
      style={props.style as CSSProperties}
      onClick={() => onSelect(w)}
      data-testid="workload-option"
    >
      <ListItemIcon style={{ minWidth: 32 }}>
        <KindIcon kind={w.kind} plain />
      </ListItemIcon>
      <ListItemText
        primary={w.name}
        secondary={`${w.kind}${
          showNamespace ? ` in ${w.namespace}` : ''
        } · ${replicaText(w)}`}
        primaryTypographyProps={{ noWrap: true }}
        secondaryTypographyProps={{ noWrap: true }}
      />
    </ListItem>
  );
});

const KindFilter = memo(function KindFilterView(props: {
  kind: WorkloadKind | '';
  kinds: WorkloadKind[];
  disabled?: boolean;
  onChange: (k: WorkloadKind | '') => void;
}) {
  return (
    <TextField
      id="spider-workloadpicker-kind"
      select
      size="small"
      variant="outlined"
      label="Kind"
      value={props.kind}
      disabled={props.disabled}
      onChange={e => props.onChange(e.target.value as WorkloadKind | '')}
      style={{ minWidth: 150 }}
    >
      <MenuItem value="">All kinds</MenuItem>
      {props.kinds.map(k => (
        <MenuItem key={k} value={k}>
          {k}
        </MenuItem>
      ))}
    </TextField>
  );
});

/** The result list; memoized so typing re-renders it only when the (deferred) result changes. */
const WorkloadList = memo(function WorkloadListView(props: {
  itemData: RowData;
  total: number;
  query: string;
  truncated?: boolean;
}) {
  const { itemData, total, query } = props;
  const count = itemData.items.length;
  return (
    <>
      <Typography variant="caption" aria-live="polite">
        {count === total
          ? `${total} workload${total === 1 ? '' : 's'}`
          : `${count} of ${total} workloads`}
        {props.truncated
          ? ' (the agent sent the first ones only; type to search all)'
          : ''}
      </Typography>
      <Paper variant="outlined">
        {count === 0 ? (
          <Box p={2} height={LIST_HEIGHT / 2} data-query={query}>
            <Typography variant="body2">
              {total === 0
                ? 'No workloads in this namespace.'
                : 'No workload matches the search.'}
            </Typography>
          </Box>
        ) : (
          <div role="listbox" aria-label="Workloads" data-query={query}>
            <FixedSizeList
              height={Math.min(LIST_HEIGHT, count * ROW_HEIGHT)}
              width="100%"
              itemCount={count}
              itemSize={ROW_HEIGHT}
              itemData={itemData}
              itemKey={(index, data) => workloadKey(data.items[index])}
              overscanCount={4}
            >
              {Row}
            </FixedSizeList>
          </div>
        )}
      </Paper>
    </>
  );
});

/**
 * A searchable, virtualized list of workloads: thousands of rows stay fast because
 * only the visible ones are rendered, the filter runs on precomputed keys at a lower
 * priority than typing (useDeferredValue), and the list re-renders only with a new result.
 */
export function WorkloadPicker(props: {
  workloads: Workload[];
  selected?: string;
  onSelect: (w: Workload) => void;
  /** Called with the search text (debounced), for server-side search when the list was truncated. */
  onSearch?: (q: string) => void;
  truncated?: boolean;
  showNamespace?: boolean;
  disabled?: boolean;
}) {
  const [text, setText] = useState('');
  const [kind, setKind] = useState<WorkloadKind | ''>('');
  const deferred = useDeferredValue(text);
  const indexed = useMemo(
    () =>
      props.workloads.map(w => ({
        w,
        key: `${w.name}\u0000${w.namespace}\u0000${w.kind}`.toLowerCase(),
      })),
    [props.workloads],
  );
  const filtered = useMemo(() => {
    const q = deferred.trim().toLowerCase();
    const out: Workload[] = [];
    for (const { w, key } of indexed) {
      if (kind && w.kind !== kind) continue;
      if (q && !key.includes(q)) continue;
      out.push(w);
    }
    return out;
  }, [indexed, deferred, kind]);

  const { onSearch } = props;
  useEffect(() => {
    if (!onSearch) return undefined;
    const t = setTimeout(() => onSearch(text.trim()), 300);
    return () => clearTimeout(t);
  }, [text, onSearch]);

  const itemData = useMemo<RowData>(
    () => ({
      items: filtered,
      selected: props.selected,
      onSelect: props.onSelect,
      showNamespace: !!props.showNamespace,
    }),
    [filtered, props.selected, props.onSelect, props.showNamespace],
  );
  const kinds = useMemo(
    () => WORKLOAD_KINDS.filter(k => props.workloads.some(w => w.kind === k)),
    [props.workloads],
  );

  return (
    <Box>
      <Box display="flex" style={{ gap: 8 }}>
        <TextField
          id="spider-workload-search"
          fullWidth
          size="small"
          variant="outlined"
          label="Search workloads"
          value={text}
          disabled={props.disabled}
          onChange={e => setText(e.target.value)}
          InputProps={{
            startAdornment: (
              <InputAdornment position="start">
                <SearchIcon fontSize="small" />
              </InputAdornment>
            ),
          }}
          inputProps={{ 'data-testid': 'workload-search' }}
        />
        <KindFilter
          kind={kind}
          kinds={kinds}
          disabled={props.disabled}
          onChange={setKind}
        />
      </Box>
      <WorkloadList
        itemData={itemData}
        total={props.workloads.length}
        query={deferred}
        truncated={props.truncated}
      />
    </Box>
  );
}
