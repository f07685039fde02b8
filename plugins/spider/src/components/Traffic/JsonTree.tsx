import { useState } from 'react';
import { makeStyles } from '@material-ui/core/styles';

const useStyles = makeStyles(theme => {
  const dark = theme.palette.type === 'dark';
  return {
    root: {
      fontFamily: 'monospace',
      fontSize: 13,
      lineHeight: 1.5,
      whiteSpace: 'pre-wrap',
      wordBreak: 'break-word',
      margin: 0,
      padding: theme.spacing(1),
      background: theme.palette.background.default,
      borderRadius: theme.shape.borderRadius,
      overflowX: 'auto',
      maxHeight: 480,
      overflowY: 'auto',
      color: theme.palette.text.primary,
    },
    children: { paddingLeft: theme.spacing(2.5) },
    toggle: {
      font: 'inherit',
      border: 'none',
      background: 'none',
      padding: 0,
      cursor: 'pointer',
      color: theme.palette.text.primary,
      '&:focus-visible': { outline: `2px solid ${theme.palette.primary.main}` },
    },
    key: { color: dark ? '#ce93d8' : '#6a1b9a' },
    string: { color: dark ? '#a5d6a7' : '#1b5e20' },
    number: { color: dark ? '#90caf9' : '#0d47a1' },
    literal: { color: dark ? '#ffcc80' : '#8a4b00' },
    summary: { color: theme.palette.text.secondary },
  };
});

type Classes = ReturnType<typeof useStyles>;

function Primitive(props: { value: unknown; classes: Classes }) {
  const { value, classes } = props;
  if (typeof value === 'string')
    return <span className={classes.string}>{JSON.stringify(value)}</span>;
  if (typeof value === 'number')
    return <span className={classes.number}>{String(value)}</span>;
  return <span className={classes.literal}>{JSON.stringify(value)}</span>;
}

function JsonNode(props: {
  name?: string;
  value: unknown;
  depth: number;
  last: boolean;
  classes: Classes;
}) {
  const { name, value, depth, last, classes } = props;
  const [open, setOpen] = useState(depth < 3);
  const comma = last ? '' : ',';
  const label =
    name !== undefined ? (
      <>
        <span className={classes.key}>{JSON.stringify(name)}</span>:{' '}
      </>
    ) : null;
  if (value === null || typeof value !== 'object') {
    return (
      <div>
        {label}
        <Primitive value={value} classes={classes} />
        {comma}
      </div>
    );
  }
  const isArray = Array.isArray(value);
  const entries = isArray
    ? (value as unknown[]).map((v, i) => [String(i), v] as const)
    : Object.entries(value as Record<string, unknown>);
  const [openBrace, closeBrace] = isArray ? ['[', ']'] : ['{', '}'];
  if (entries.length === 0)
    return (
      <div>
        {label}
        {openBrace}
        {closeBrace}
        {comma}
      </div>
    );
  const what = isArray
    ? `${entries.length} item${entries.length === 1 ? '' : 's'}`
    : `${entries.length} key${entries.length === 1 ? '' : 's'}`;
  return (
    <div>
      {label}
      <button
        type="button"
        className={classes.toggle}
        aria-expanded={open}
        aria-label={`${open ? 'Collapse' : 'Expand'} ${
          name ?? 'root'
        } (${what})`}
        onClick={() => setOpen(o => !o)}
      >
        {open ? '▾' : '▸'} {openBrace}
      </button>
      {open ? (
        <>
          <div className={classes.children}>
            {entries.map(([k, v], i) => (
              <JsonNode
                key={k}
                name={isArray ? undefined : k}
                value={v}
                depth={depth + 1}
                last={i === entries.length - 1}
                classes={classes}
              />
            ))}
          </div>
          {closeBrace}
          {comma}
        </>
      ) : (
        <span className={classes.summary}>
          {' '}
          … {what} {closeBrace}
          {comma}
        </span>
      )}
    </div>
  );
}

/** A JSON value pretty-printed, each object and array collapsible. */
export function JsonTree(props: { value: unknown; label?: string }) {
  const classes = useStyles();
  return (
    <div
      className={classes.root}
      role="group"
      aria-label={props.label ?? 'JSON'}
      data-testid="json-tree"
    >
      <JsonNode value={props.value} depth={0} last classes={classes} />
    </div>
  );
}
