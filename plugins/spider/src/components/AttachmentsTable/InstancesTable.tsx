import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TableRow from '@material-ui/core/TableRow';
import Typography from '@material-ui/core/Typography';
import Tooltip from '@material-ui/core/Tooltip';
import FilterListIcon from '@material-ui/icons/FilterList';
import { Link } from '@backstage/core-components';
import type { WhispererInstance } from '@spider/backstage-plugin-spider-common';
import {
  formatDateTime,
  InstanceStateView,
  ReasonView,
  REASON_TEXT,
} from '../common';

/** The whisperer instances of one attachment: one per pod (and generation). */
export function InstancesTable(props: {
  attachmentId: string;
  instances: WhispererInstance[];
  /** Highlight this pod's instance (from "filter on this instance"). */
  selectedPod?: string;
  /** Where the filter icon of an instance leads: its traffic. No icons without it. */
  filterTo?: (instance: WhispererInstance) => string | undefined;
}) {
  const { filterTo } = props;
  if (props.instances.length === 0) {
    return (
      <Typography variant="body2" style={{ padding: 8 }}>
        No whisperer instances yet: the agent has not injected any (the workload
        may have no running pods, or the agent is offline).
      </Typography>
    );
  }
  return (
    <Table size="small" aria-label="Whisperer instances">
      <TableHead>
        <TableRow>
          <TableCell>Pod</TableCell>
          <TableCell>State</TableCell>
          <TableCell>Started</TableCell>
          <TableCell>Finished</TableCell>
          <TableCell>Reason</TableCell>
          <TableCell>Exit code</TableCell>
          <TableCell>Message</TableCell>
          {filterTo && (
            <TableCell>
              <Typography variant="srOnly">Traffic</Typography>
            </TableCell>
          )}
        </TableRow>
      </TableHead>
      <TableBody>
        {props.instances.map(i => {
          const to = filterTo?.(i);
          const name = `${i.pod}/${i.container}`;
          return (
            <TableRow
              key={`${i.pod}/${i.container}`}
              selected={props.selectedPod === i.pod}
              data-testid={`instance-${i.pod}`}
            >
              <TableCell>
                <span style={{ fontFamily: 'monospace' }}>{i.pod}</span>
                {i.generation > 0 && (
                  <Typography variant="caption">
                    {' '}
                    (restart {i.generation})
                  </Typography>
                )}
                {i.node && (
                  <Typography variant="caption" display="block">
                    on {i.node}
                    {i.podIp ? ` · ${i.podIp}` : ''}
                  </Typography>
                )}
              </TableCell>
              <TableCell>
                <InstanceStateView state={i.state} />
              </TableCell>
              <TableCell>{formatDateTime(i.startedAt)}</TableCell>
              <TableCell>{formatDateTime(i.finishedAt)}</TableCell>
              <TableCell>
                <ReasonView reason={i.reason} />
              </TableCell>
              <TableCell>{i.exitCode ?? '—'}</TableCell>
              <TableCell>
                {i.message ?? (i.reason ? REASON_TEXT[i.reason] : '—')}
              </TableCell>
              {filterTo && (
                <TableCell padding="checkbox">
                  {to && (
                    <Tooltip title="Show only this instance's traffic">
                      <Link
                        to={to}
                        aria-label={`Show the traffic of ${name}`}
                        style={{ display: 'inline-flex', padding: 4 }}
                      >
                        <FilterListIcon fontSize="small" />
                      </Link>
                    </Tooltip>
                  )}
                </TableCell>
              )}
            </TableRow>
          );
        })}
      </TableBody>
    </Table>
  );
}
