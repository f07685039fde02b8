import { KeyboardEvent, useRef } from 'react';
import Tab from '@material-ui/core/Tab';
import { makeStyles } from '@material-ui/core/styles';

const useStyles = makeStyles(theme => ({
  list: { display: 'flex' },
  tab: { borderBottom: '2px solid transparent', minWidth: 120 },
  selected: { borderBottomColor: theme.palette.primary.main },
}));

/**
 * Two or three tabs that switch a view. MUI's `Tabs` measures every tab on mount to place
 * its indicator (a forced layout of the whole page, about 60 ms on the loaded CI machine,
 * before the traffic list's first rows); a border marks the selected tab instead. Arrow
 * keys, Home and End move between tabs, as the ARIA tabs pattern asks.
 */
export function ViewTabs<T extends string>(props: {
  value: T;
  onChange: (value: T) => void;
  tabs: Array<{ value: T; label: string }>;
  label: string;
}) {
  const classes = useStyles();
  const refs = useRef<Array<HTMLElement | null>>([]);
  const { tabs, value, onChange } = props;
  const at = Math.max(
    0,
    tabs.findIndex(t => t.value === value),
  );
  const select = (index: number) => {
    const i = (index + tabs.length) % tabs.length;
    onChange(tabs[i].value);
    refs.current[i]?.focus();
  };
  const onKeyDown = (ev: KeyboardEvent<HTMLElement>) => {
    const moves: Record<string, number> = {
      ArrowRight: at + 1,
      ArrowLeft: at - 1,
      Home: 0,
      End: tabs.length - 1,
    };
    if (!(ev.key in moves)) return;
    ev.preventDefault();
    select(moves[ev.key]);
  };
  return (
    <div role="tablist" aria-label={props.label} className={classes.list}>
      {tabs.map((t, i) => (
        <Tab
          key={t.value}
          ref={el => {
            refs.current[i] = el as HTMLElement | null;
          }}
          value={t.value}
          label={t.label}
          selected={t.value === value}
          textColor="primary"
          tabIndex={t.value === value ? 0 : -1}
          className={`${classes.tab} ${
            t.value === value ? classes.selected : ''
          }`}
          onClick={() => onChange(t.value)}
          onKeyDown={onKeyDown}
        />
      ))}
    </div>
  );
}
