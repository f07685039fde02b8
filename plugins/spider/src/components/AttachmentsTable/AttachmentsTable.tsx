import { Fragment, useEffect, useState } from 'react';
import Box from '@material-ui/core/Box';
import Collapse from '@material-ui/core/Collapse';
import IconButton from '@material-ui/core/IconButton';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TableRow from '@material-ui/core/TableRow';
import Button from '@material-ui/core/Button';
import Paper from '@material-ui/core/Paper';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import KeyboardArrowDownIcon from '@material-ui/icons/KeyboardArrowDown';
import KeyboardArrowRightIcon from '@material-ui/icons/KeyboardArrowRight';
import { EmptyState, Link, Progress } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import {
  Attachment,
  AttachmentStatus,
  LIVE_ATTACHMENT_STATUSES,
} from '@spider/backstage-plugin-spider-common';
import { AttachmentQuery, spiderApiRef } from '../../api/SpiderApi';
import { useLiveData } from '../../hooks/useLiveData';
import {
  AttachmentStatusView,
  ConfirmDialog,
  Countdown,
  ErrorView,
  GuardedButton,
  TargetView,
  TimeAgo,
  useSpiderPaths,
} from '../common';
import { InstancesTable } from './InstancesTable';

export const PAGE_SIZE = 25;

type StatusFilter = 'live' | 'all' | AttachmentStatus;

const STATUS_FILTERS: Array<[StatusFilter, string]> = [
  ['live', 'Pending or active'],
  ['all', 'All'],
  ['active', 'Active'],
  ['pending', 'Pending'],
  ['detaching', 'Detaching'],
  ['detached', 'Detached'],
  ['expired', 'Expired'],
  ['failed', 'Failed'],
];

export function isLive(a: Attachment) {
  return LIVE_ATTACHMENT_STATUSES.includes(a.status);
}

function statusQuery(f: StatusFilter) {
  if (f === 'all') return undefined;
  if (f === 'live') return LIVE_ATTACHMENT_STATUSES;
  return f;
}

/** A detach button with its confirmation. */
export function DetachButton(props: {
  attachment: Attachment;
  allowed: boolean;
  reason?: string;
  onDetached?: (a: Attachment) => void;
  size?: 'small' | 'medium';
}) {
  const api = useApi(spiderApiRef);
  const [open, setOpen] = useState(false);
  const a = props.attachment;
  if (!isLive(a)) return null;
  return (
    <>
      <GuardedButton
        allowed={props.allowed}
        reason={props.reason}
        size={props.size ?? 'small'}
        variant="outlined"
        color="secondary"
        onClick={() => setOpen(true)}
        aria-label={`Detach ${a.whispererName} from ${a.target.name}`}
      >
        Detach
      </GuardedButton>
      <ConfirmDialog
        open={open}
        title={`Detach ${a.whispererName} from ${a.target.name}?`}
        confirmLabel="Detach"
        onClose={() => setOpen(false)}
        onConfirm={async () => {
          const result = await api.detach(a.id);
          props.onDetached?.(result);
        }}
      >
        The whisperers in the {a.instances.length} pod(s) of {a.target.kind}{' '}
        {a.target.namespace}/{a.target.name} are told to stop. Ephemeral
        containers cannot be removed from a pod, so each stays in its pod&apos;s
        spec, stopped, until the pod is replaced.
      </ConfirmDialog>
    </>
  );
}

function AttachmentRow(props: {
  attachment: Attachment;
  hide: Set<string>;
  canDetach: (a: Attachment) => { allowed: boolean; reason?: string };
  onChanged: () => void;
  controllerNames?: Record<string, string>;
}) {
  const { attachment: a, hide } = props;
  const [open, setOpen] = useState(false);
  const paths = useSpiderPaths();
  const detach = props.canDetach(a);
  const whispererTo = paths.whisperer(a.whispererId);
  const attachmentTo = paths.attachment(a.id);
  const controllerTo = paths.controller(a.controllerId);
  const colSpan = 9 - hide.size;
  return (
    <Fragment>
      <TableRow hover data-testid={`attachment-${a.id}`}>
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
        {!hide.has('whisperer') && (
          <TableCell>
            {whispererTo ? (
              <Link to={whispererTo}>{a.whispererName}</Link>
            ) : (
              a.whispererName
            )}
          </TableCell>
        )}
        {!hide.has('target') && (
          <TableCell>
            {attachmentTo ? (
              <Link
                to={attachmentTo}
                aria-label={`Attachment to ${a.target.name}`}
              >
                <TargetView target={a.target} />
              </Link>
            ) : (
              <TargetView target={a.target} />
            )}
          </TableCell>
        )}
        {!hide.has('controller') && (
          <TableCell>
            {controllerTo ? (
              <Link to={controllerTo}>
                {props.controllerNames?.[a.controllerId] ?? 'Controller'}
              </Link>
            ) : (
              props.controllerNames?.[a.controllerId] ?? a.controllerId
            )}
          </TableCell>
        )}
        <TableCell>
          <AttachmentStatusView status={a.status} />
          {a.message && (
            <Typography variant="caption" display="block">
              {a.message}
            </Typography>
          )}
        </TableCell>
        <TableCell>
          {a.createdBy}
          <Typography variant="caption" display="block">
            <TimeAgo at={a.createdAt} />
          </Typography>
        </TableCell>
        <TableCell>
          <Countdown expiresAt={a.expiresAt} live={isLive(a)} />
        </TableCell>
        <TableCell align="right">{a.instances.length}</TableCell>
        <TableCell align="right">
          <DetachButton
            attachment={a}
            allowed={detach.allowed}
            reason={detach.reason}
            onDetached={props.onChanged}
          />
        </TableCell>
      </TableRow>
      <TableRow>
        <TableCell
          style={{ paddingBottom: 0, paddingTop: 0 }}
          colSpan={colSpan}
        >
          <Collapse in={open} timeout="auto" unmountOnExit>
            <Box margin={1}>
              <InstancesTable
                attachmentId={a.id}
                instances={a.instances}
                filterTo={i =>
                  paths.attachment(a.id, `${i.pod}/${i.container}`)
                }
              />
            </Box>
          </Collapse>
        </TableCell>
      </TableRow>
    </Fragment>
  );
}

/**
 * Attachments matching a query, a page at a time (server-side cursor paging),
 * with a status filter, expandable instances and detach.
 */
export function AttachmentsTable(props: {
  query: Omit<AttachmentQuery, 'cursor' | 'limit' | 'status'>;
  /** Columns to leave out: 'whisperer', 'target', 'controller'. */
  hide?: Array<'whisperer' | 'target' | 'controller'>;
  canDetach: (a: Attachment) => { allowed: boolean; reason?: string };
  controllerNames?: Record<string, string>;
  emptyAction?: JSX.Element;
  pageSize?: number;
}) {
  const api = useApi(spiderApiRef);
  const [filter, setFilter] = useState<StatusFilter>('live');
  const [cursors, setCursors] = useState<Array<string | undefined>>([
    undefined,
  ]);
  const cursor = cursors[cursors.length - 1];
  const pageSize = props.pageSize ?? PAGE_SIZE;
  const queryKey = JSON.stringify(props.query);
  useEffect(() => setCursors([undefined]), [queryKey, filter]);
  const data = useLiveData(
    () =>
      api.listAttachments({
        ...props.query,
        status: statusQuery(filter),
        limit: pageSize,
        cursor,
      }),
    [api, queryKey, filter, cursor, pageSize],
    {
      filter: s =>
        s.kind === 'attachment' &&
        (!props.query.controllerId ||
          s.controllerId === undefined ||
          s.controllerId === props.query.controllerId),
    },
  );
  const hide = new Set<string>(props.hide ?? []);
  const page = cursors.length;

  const filterSelect = (
    <TextField
      select
      id="spider-status-filter"
      label="Status"
      size="small"
      variant="outlined"
      style={{ minWidth: 200 }}
      value={filter}
      onChange={e => setFilter(e.target.value as StatusFilter)}
      SelectProps={{ native: true }}
    >
      {STATUS_FILTERS.map(([value, label]) => (
        <option key={value} value={value}>
          {label}
        </option>
      ))}
    </TextField>
  );

  let body;
  if (data.loading && !data.value) body = <Progress />;
  else if (data.error && !data.value)
    body = <ErrorView error={data.error} retry={data.retry} />;
  else if (!data.value?.items.length)
    body = (
      <EmptyState
        missing="data"
        title={filter === 'live' ? 'No live attachments' : 'No attachments'}
        description={
          filter === 'live'
            ? 'Nothing is being captured here right now. Change the status filter to see past attachments.'
            : 'Nothing matches this filter.'
        }
        action={props.emptyAction}
      />
    );
  else {
    const items = data.value.items;
    const total = data.value.totalCount;
    const from = (page - 1) * pageSize + 1;
    body = (
      <>
        <Table size="small" aria-label="Attachments">
          <TableHead>
            <TableRow>
              <TableCell padding="checkbox" />
              {!hide.has('whisperer') && <TableCell>Whisperer</TableCell>}
              {!hide.has('target') && <TableCell>Target</TableCell>}
              {!hide.has('controller') && <TableCell>Controller</TableCell>}
              <TableCell>Status</TableCell>
              <TableCell>Created by</TableCell>
              <TableCell>Expires</TableCell>
              <TableCell align="right">Instances</TableCell>
              <TableCell />
            </TableRow>
          </TableHead>
          <TableBody>
            {items.map(a => (
              <AttachmentRow
                key={a.id}
                attachment={a}
                hide={hide}
                canDetach={props.canDetach}
                onChanged={data.refresh}
                controllerNames={props.controllerNames}
              />
            ))}
          </TableBody>
        </Table>
        <Box
          display="flex"
          alignItems="center"
          justifyContent="flex-end"
          mt={1}
          style={{ gap: 8 }}
        >
          <Typography variant="body2" aria-live="polite">
            {from}–{from + items.length - 1}
            {total !== undefined ? ` of ${total}` : ''}
          </Typography>
          <Button
            size="small"
            disabled={page === 1}
            onClick={() => setCursors(c => c.slice(0, -1))}
          >
            Previous
          </Button>
          <Button
            size="small"
            disabled={!data.value.nextCursor}
            onClick={() => setCursors(c => [...c, data.value!.nextCursor])}
          >
            Next
          </Button>
        </Box>
      </>
    );
  }

  return (
    <Paper variant="outlined" style={{ padding: 16 }}>
      <Box
        display="flex"
        justifyContent="space-between"
        alignItems="center"
        mb={1}
      >
        {filterSelect}
        {data.error && data.value && (
          <Typography variant="caption" color="error">
            Could not refresh; showing the last known state.
          </Typography>
        )}
      </Box>
      {body}
    </Paper>
  );
}
