import { Fragment, useEffect, useMemo, useState } from 'react';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Collapse from '@material-ui/core/Collapse';
import Grid from '@material-ui/core/Grid';
import IconButton from '@material-ui/core/IconButton';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TableRow from '@material-ui/core/TableRow';
import Typography from '@material-ui/core/Typography';
import KeyboardArrowDownIcon from '@material-ui/icons/KeyboardArrowDown';
import KeyboardArrowRightIcon from '@material-ui/icons/KeyboardArrowRight';
import { Alert } from '@material-ui/lab';
import {
  EmptyState,
  InfoCard,
  Link,
  Progress,
  StructuredMetadataTable,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import {
  Attachment,
  Controller,
  WhispererInstance,
} from '@spider/backstage-plugin-spider-common';
import { spiderApiRef } from '../../api/SpiderApi';
import { useLiveData } from '../../hooks/useLiveData';
import { InstancesTable } from '../AttachmentsTable/InstancesTable';
import {
  ErrorView,
  formatDateTime,
  TargetView,
  TimeAgo,
  useSpiderPaths,
} from '../common';

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}

const STATUS_PAGE = 50;

function StatusAttachmentRow(props: {
  id: string;
  instances: WhispererInstance[];
  known?: Attachment;
}) {
  const [open, setOpen] = useState(false);
  const paths = useSpiderPaths();
  const to = paths.attachment(props.id);
  const running = props.instances.filter(i => i.state === 'running').length;
  const label = props.known ? (
    <TargetView target={props.known.target} />
  ) : (
    props.id
  );
  return (
    <Fragment>
      <TableRow>
        <TableCell padding="checkbox">
          <IconButton
            size="small"
            aria-label={open ? 'Hide instances' : 'Show instances'}
            aria-expanded={open}
            onClick={() => setOpen(o => !o)}
          >
            {open ? <KeyboardArrowDownIcon /> : <KeyboardArrowRightIcon />}
          </IconButton>
        </TableCell>
        <TableCell>{to ? <Link to={to}>{label}</Link> : label}</TableCell>
        <TableCell>{props.known?.whispererName ?? '—'}</TableCell>
        <TableCell align="right">
          {running} running of {props.instances.length}
        </TableCell>
      </TableRow>
      <TableRow>
        <TableCell colSpan={4} style={{ paddingTop: 0, paddingBottom: 0 }}>
          <Collapse in={open} unmountOnExit>
            <Box margin={1}>
              <InstancesTable
                attachmentId={props.id}
                instances={props.instances}
                filterTo={i =>
                  paths.attachment(props.id, `${i.pod}/${i.container}`)
                }
              />
            </Box>
          </Collapse>
        </TableCell>
      </TableRow>
    </Fragment>
  );
}

/** Status tab: what the agent last reported. */
export function StatusTab(props: { controller: Controller }) {
  const api = useApi(spiderApiRef);
  const id = props.controller.id;
  const status = useLiveData(() => api.getControllerStatus(id), [api, id], {
    filter: s => s.id === id || s.controllerId === id,
  });
  // Names and targets of the live attachments, to label the agent's list (best effort).
  const known = useLiveData(
    () =>
      api.listAttachments({
        controllerId: id,
        status: ['pending', 'active', 'detaching'],
        limit: 500,
      }),
    [api, id],
    { filter: s => s.kind === 'attachment' && (s.controllerId ?? id) === id },
  );
  const byId = useMemo(
    () => new Map((known.value?.items ?? []).map(a => [a.id, a])),
    [known.value],
  );
  const [page, setPage] = useState(0);
  const attachments = status.value?.status?.attachments ?? [];
  const pages = Math.max(1, Math.ceil(attachments.length / STATUS_PAGE));
  useEffect(() => {
    if (page >= pages) setPage(pages - 1);
  }, [page, pages]);

  if (status.loading) return <Progress />;
  if (status.error)
    return <ErrorView error={status.error} retry={status.retry} />;
  const s = status.value!.status;
  if (!s) {
    return (
      <EmptyState
        missing="info"
        title="The agent has not reported yet"
        description="Install the agent in the cluster (see the Install tab). Once it connects, its version, resource use and the attachments it runs show here."
      />
    );
  }
  const watched = Object.entries(s.watched).sort(([a], [b]) =>
    a.localeCompare(b),
  );
  const shown = attachments.slice(page * STATUS_PAGE, (page + 1) * STATUS_PAGE);
  return (
    <Grid container spacing={3}>
      {!status.value!.connected && (
        <Grid item xs={12}>
          <Alert severity="warning">
            The agent is disconnected (last seen{' '}
            <TimeAgo at={status.value!.lastSeenAt} />
            ). These figures are from its last report, at{' '}
            {formatDateTime(s.reportedAt)}.
          </Alert>
        </Grid>
      )}
      <Grid item xs={12} md={6}>
        <InfoCard title="Agent">
          <StructuredMetadataTable
            metadata={{
              'Agent version': s.agentVersion,
              'Protocol version': String(s.protocolVersion),
              'Kubernetes version': s.clusterVersion ?? 'unknown',
              'Namespace scope':
                s.scope.include === '*'
                  ? `all namespaces${
                      s.scope.exclude.length
                        ? ` except ${s.scope.exclude.join(', ')}`
                        : ''
                    }`
                  : s.scope.include.join(', '),
              Started: formatDateTime(s.startedAt),
              'Last report': formatDateTime(s.reportedAt),
            }}
          />
        </InfoCard>
      </Grid>
      <Grid item xs={12} md={3}>
        <InfoCard title="CPU and memory">
          <StructuredMetadataTable
            metadata={{
              CPU: `${s.cpuCores.toFixed(3)} cores`,
              'Memory (RSS)': formatBytes(s.rssBytes),
              'Heap used': formatBytes(s.heapUsedBytes),
            }}
          />
        </InfoCard>
      </Grid>
      <Grid item xs={12} md={3}>
        <InfoCard title="Watched objects">
          {watched.length === 0 ? (
            <Typography variant="body2">None</Typography>
          ) : (
            <Table size="small" aria-label="Watched objects per kind">
              <TableBody>
                {watched.map(([kind, count]) => (
                  <TableRow key={kind}>
                    <TableCell>{kind}</TableCell>
                    <TableCell align="right">
                      {count.toLocaleString()}
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
        </InfoCard>
      </Grid>
      <Grid item xs={12}>
        <InfoCard
          title={`Attachments the agent runs (${attachments.length})`}
          subheader={
            <Typography variant="body2" color="textPrimary">
              As the agent reported them, with their whisperer instances
            </Typography>
          }
        >
          {attachments.length === 0 ? (
            <Typography variant="body2">
              The agent runs no attachment right now.
            </Typography>
          ) : (
            <>
              <Table size="small" aria-label="Attachments the agent runs">
                <TableHead>
                  <TableRow>
                    <TableCell padding="checkbox" />
                    <TableCell>Target</TableCell>
                    <TableCell>Whisperer</TableCell>
                    <TableCell align="right">Instances</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {shown.map(a => (
                    <StatusAttachmentRow
                      key={a.id}
                      id={a.id}
                      instances={a.instances}
                      known={byId.get(a.id)}
                    />
                  ))}
                </TableBody>
              </Table>
              {pages > 1 && (
                <Box
                  display="flex"
                  justifyContent="flex-end"
                  alignItems="center"
                  mt={1}
                  style={{ gap: 8 }}
                >
                  <Typography variant="body2">
                    Page {page + 1} of {pages}
                  </Typography>
                  <Button
                    size="small"
                    disabled={page === 0}
                    onClick={() => setPage(p => p - 1)}
                  >
                    Previous
                  </Button>
                  <Button
                    size="small"
                    disabled={page >= pages - 1}
                    onClick={() => setPage(p => p + 1)}
                  >
                    Next
                  </Button>
                </Box>
              )}
            </>
          )}
        </InfoCard>
      </Grid>
    </Grid>
  );
}
