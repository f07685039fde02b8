import { ChangeEvent, memo, useEffect, useMemo, useRef, useState } from 'react';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import FormControlLabel from '@material-ui/core/FormControlLabel';
import InputAdornment from '@material-ui/core/InputAdornment';
import Switch from '@material-ui/core/Switch';
import TextField from '@material-ui/core/TextField';
import SearchIcon from '@material-ui/icons/Search';
import {
  HTTP_METHODS,
  STATUS_CLASSES,
  TIME_RANGES,
  TimeRange,
  TrafficFilters,
} from './trafficFilters';

/** Typing waits this long before the URL (and the query) follows. */
export const TEXT_DEBOUNCE_MS = 300;

/** A text filter that keeps its own state while typing, so a keystroke re-renders only itself. */
/** Ids tie each label to its input (screen readers, and tests by label). */
const fieldId = (label: string) =>
  `spider-traffic-${label.toLowerCase().replace(/[^a-z]+/g, '-')}`;

const DebouncedField = memo(function DebouncedFieldView(props: {
  label: string;
  value: string;
  onCommit: (v: string) => void;
  width: number;
  search?: boolean;
}) {
  const [text, setText] = useState(props.value);
  const committed = useRef(props.value);
  const onCommit = useRef(props.onCommit);
  onCommit.current = props.onCommit;
  useEffect(() => {
    // The URL changed from elsewhere (clear filters, a map click): follow it.
    if (props.value !== committed.current) {
      committed.current = props.value;
      setText(props.value);
    }
  }, [props.value]);
  useEffect(() => {
    if (text === committed.current) return undefined;
    const t = setTimeout(() => {
      committed.current = text;
      onCommit.current(text);
    }, TEXT_DEBOUNCE_MS);
    return () => clearTimeout(t);
  }, [text]);
  // The same adornment element on every keystroke: React skips re-rendering it.
  const InputProps = useMemo(
    () =>
      props.search
        ? {
            startAdornment: (
              <InputAdornment position="start">
                <SearchIcon fontSize="small" />
              </InputAdornment>
            ),
          }
        : undefined,
    [props.search],
  );
  return (
    <TextField
      id={fieldId(props.label)}
      label={props.label}
      size="small"
      variant="outlined"
      value={text}
      onChange={e => setText(e.target.value)}
      style={{ width: props.width }}
      inputProps={{ maxLength: 200, 'data-query': text }}
      InputProps={InputProps}
    />
  );
});

function NativeSelect(props: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  options: Array<{ value: string; label: string }>;
  width?: number;
}) {
  return (
    <TextField
      select
      id={fieldId(props.label)}
      label={props.label}
      size="small"
      variant="outlined"
      value={props.value}
      onChange={(e: ChangeEvent<HTMLInputElement>) =>
        props.onChange(e.target.value)
      }
      SelectProps={{ native: true }}
      InputLabelProps={{ shrink: true }}
      style={{ minWidth: props.width ?? 120 }}
    >
      {props.options.map(o => (
        <option key={o.value} value={o.value}>
          {o.label}
        </option>
      ))}
    </TextField>
  );
}

/** datetime-local wants local time without a zone. */
function toLocalInput(iso?: string): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const off = d.getTimezoneOffset() * 60_000;
  return new Date(d.getTime() - off).toISOString().slice(0, 16);
}
function fromLocalInput(v: string): string | undefined {
  if (!v) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export interface TrafficFilterBarProps {
  filters: TrafficFilters;
  onChange: (next: TrafficFilters) => void;
  /** `<pod>/<container>` values with their labels. */
  instances: Array<{ value: string; label: string }>;
  filtered: boolean;
  onClear: () => void;
}

/** The traffic view's filters; every change goes to the URL through `onChange`. */
export const TrafficFilterBar = memo(function TrafficFilterBarView(
  props: TrafficFilterBarProps,
) {
  const { filters, onChange } = props;
  const set = (patch: Partial<TrafficFilters>) =>
    onChange({ ...filters, ...patch });
  const filtersRef = useRef(filters);
  filtersRef.current = filters;
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;
  // Stable callbacks for the memoised text fields.
  const commitQ = useRef((v: string) =>
    onChangeRef.current({ ...filtersRef.current, q: v || undefined }),
  ).current;
  const commitPeer = useRef((v: string) =>
    onChangeRef.current({ ...filtersRef.current, peer: v || undefined }),
  ).current;

  const instanceOptions = [
    { value: '', label: 'All instances' },
    ...props.instances,
  ];
  if (
    filters.instance &&
    !props.instances.some(i => i.value === filters.instance)
  )
    instanceOptions.push({ value: filters.instance, label: filters.instance });
  const methods: string[] = [...HTTP_METHODS];
  if (filters.method && !methods.includes(filters.method))
    methods.push(filters.method);
  const statuses: string[] = [...STATUS_CLASSES];
  if (filters.status && !statuses.includes(filters.status))
    statuses.push(filters.status);

  return (
    <Box
      display="flex"
      flexWrap="wrap"
      alignItems="center"
      style={{ gap: 12 }}
      mb={1}
      role="search"
      aria-label="Traffic filters"
    >
      <DebouncedField
        label="Search path or peer"
        value={filters.q ?? ''}
        onCommit={commitQ}
        width={240}
        search
      />
      <NativeSelect
        label="Instance"
        value={filters.instance ?? ''}
        onChange={v => set({ instance: v || undefined })}
        options={instanceOptions}
        width={180}
      />
      <NativeSelect
        label="Method"
        value={filters.method ?? ''}
        onChange={v => set({ method: v || undefined })}
        options={[
          { value: '', label: 'Any' },
          ...methods.map(m => ({ value: m, label: m })),
        ]}
      />
      <NativeSelect
        label="Status"
        value={filters.status ?? ''}
        onChange={v => set({ status: v || undefined })}
        options={[
          { value: '', label: 'Any' },
          ...statuses.map(s => ({ value: s, label: s })),
        ]}
      />
      <NativeSelect
        label="Direction"
        value={filters.direction ?? ''}
        onChange={v =>
          set({ direction: (v || undefined) as TrafficFilters['direction'] })
        }
        options={[
          { value: '', label: 'Both' },
          { value: 'inbound', label: 'Inbound' },
          { value: 'outbound', label: 'Outbound' },
        ]}
      />
      <DebouncedField
        label="Peer (IP or name)"
        value={filters.peer ?? ''}
        onCommit={commitPeer}
        width={180}
      />
      <NativeSelect
        label="Time range"
        value={filters.range ?? ''}
        onChange={v =>
          set({
            range: (v || undefined) as TimeRange | undefined,
            ...(v === 'custom'
              ? {
                  since:
                    filters.since ??
                    new Date(Date.now() - 3600_000).toISOString(),
                }
              : { since: undefined, until: undefined }),
          })
        }
        options={[
          { value: '', label: 'All kept traffic' },
          ...Object.entries(TIME_RANGES).map(([value, r]) => ({
            value,
            label: r.label,
          })),
          { value: 'custom', label: 'Custom…' },
        ]}
        width={160}
      />
      {filters.range === 'custom' && (
        <>
          <TextField
            id={fieldId('From')}
            label="From"
            type="datetime-local"
            size="small"
            variant="outlined"
            InputLabelProps={{ shrink: true }}
            value={toLocalInput(filters.since)}
            onChange={e => set({ since: fromLocalInput(e.target.value) })}
          />
          <TextField
            id={fieldId('To')}
            label="To"
            type="datetime-local"
            size="small"
            variant="outlined"
            InputLabelProps={{ shrink: true }}
            value={toLocalInput(filters.until)}
            onChange={e => set({ until: fromLocalInput(e.target.value) })}
          />
        </>
      )}
      <FormControlLabel
        control={
          <Switch
            checked={!!filters.errors}
            onChange={e => set({ errors: e.target.checked || undefined })}
            color="primary"
          />
        }
        label="Errors only"
      />
      {props.filtered && (
        <Button size="small" onClick={props.onClear}>
          Clear filters
        </Button>
      )}
    </Box>
  );
});
