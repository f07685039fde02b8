import { useEffect, useState } from 'react';
import Typography from '@material-ui/core/Typography';

type Listener = (now: number) => void;
const listeners = new Set<Listener>();
let timer: ReturnType<typeof setInterval> | undefined;

/** One shared one-second clock for every countdown on the page. */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const listener: Listener = n => setNow(n);
    listeners.add(listener);
    if (!timer) {
      timer = setInterval(() => {
        const n = Date.now();
        listeners.forEach(l => l(n));
      }, intervalMs);
    }
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && timer) {
        clearInterval(timer);
        timer = undefined;
      }
    };
  }, [intervalMs]);
  return now;
}

/** "1 h 02 m", "4 m 05 s", "12 s" */
export function formatRemaining(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${pad(m)} m`;
  if (m > 0) return `${m} m ${pad(s)} s`;
  return `${s} s`;
}

export function formatAgo(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} days ago`;
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString();
}

/** Time left until `expiresAt`, ticking every second. */
export function Countdown(props: {
  expiresAt: string | null;
  /** Whether the attachment is still live; ended ones show no countdown. */
  live?: boolean;
}) {
  const now = useNow();
  const { expiresAt, live = true } = props;
  if (!expiresAt) {
    return (
      <Typography variant="body2" component="span">
        no expiry
      </Typography>
    );
  }
  const left = new Date(expiresAt).getTime() - now;
  if (!live) {
    return (
      <Typography variant="body2" component="span">
        —
      </Typography>
    );
  }
  if (left <= 0) {
    return (
      <Typography variant="body2" component="span" data-testid="countdown">
        expiring now
      </Typography>
    );
  }
  return (
    <Typography
      variant="body2"
      component="span"
      title={`Expires at ${formatDateTime(expiresAt)}`}
      data-testid="countdown"
    >
      {formatRemaining(left)} left
    </Typography>
  );
}

export function TimeAgo(props: {
  at: string | null | undefined;
  never?: string;
}) {
  const now = useNow();
  if (!props.at) return <span>{props.never ?? 'never'}</span>;
  return (
    <span title={formatDateTime(props.at)}>
      {formatAgo(now - new Date(props.at).getTime())}
    </span>
  );
}
