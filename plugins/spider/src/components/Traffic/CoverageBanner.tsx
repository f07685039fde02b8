import Alert from '@material-ui/lab/Alert';
import AlertTitle from '@material-ui/lab/AlertTitle';
import type { TrafficCoverage } from '@spider/backstage-plugin-spider-common';

const n = (x: number) => x.toLocaleString('en-US');

/** The sentences of what a capture missed; empty when it is complete. Pure. */
export function coverageGaps(coverage: TrafficCoverage): string[] {
  const t = coverage.totals;
  const out: string[] = [];
  const seen = t.exchanges + t.sampled + t.dropped;
  if (t.sampled > 0)
    out.push(
      `${n(t.sampled)} of ${n(
        seen,
      )} exchanges were sampled out: the whisperer's rate limit kept only ${n(
        t.exchanges,
      )}.`,
    );
  if (t.dropped > 0)
    out.push(
      `${n(
        t.dropped,
      )} exchanges were dropped in the pod: the agent could not take them fast enough.`,
    );
  if (t.relayDropped > 0)
    out.push(
      `${n(
        t.relayDropped,
      )} exchanges were dropped by the agent's relay while the Spider service was unreachable.`,
    );
  if (t.kernelDrops > 0)
    out.push(
      `${n(t.kernelDrops)} of ${n(
        t.packets + t.kernelDrops,
      )} packets were dropped by the kernel before capture, so some exchanges may be missing or incomplete.`,
    );
  if (t.expired > 0)
    out.push(`${n(t.expired)} older exchanges were removed by retention.`);
  if (t.parseErrors > 0)
    out.push(`${n(t.parseErrors)} streams could not be parsed as HTTP.`);
  return out;
}

/** Says, with numbers, when the capture is not the whole traffic. */
export function CoverageBanner(props: { coverage?: TrafficCoverage }) {
  const { coverage } = props;
  if (!coverage) return null;
  const gaps = coverageGaps(coverage);
  if (coverage.complete && gaps.length === 0) return null;
  if (gaps.length === 0) return null;
  return (
    <Alert severity="warning" role="status" style={{ marginBottom: 8 }}>
      <AlertTitle>This capture is not complete</AlertTitle>
      <ul style={{ margin: 0, paddingLeft: 20 }}>
        {gaps.map(g => (
          <li key={g}>{g}</li>
        ))}
      </ul>
    </Alert>
  );
}
