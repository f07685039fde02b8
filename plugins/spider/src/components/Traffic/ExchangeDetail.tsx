import { useEffect, useState } from 'react';
import useCopyToClipboard from 'react-use/esm/useCopyToClipboard';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Chip from '@material-ui/core/Chip';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableRow from '@material-ui/core/TableRow';
import Typography from '@material-ui/core/Typography';
import { makeStyles, useTheme } from '@material-ui/core/styles';
import LockIcon from '@material-ui/icons/Lock';
import FileCopyIcon from '@material-ui/icons/FileCopy';
import GetAppIcon from '@material-ui/icons/GetApp';
import LinkIcon from '@material-ui/icons/Link';
import {
  Link,
  Progress,
  StructuredMetadataTable,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import {
  Headers,
  REDACTED_VALUE,
  StoredExchange,
} from '@spider/backstage-plugin-spider-common';
import { spiderApiRef } from '../../api/SpiderApi';
import { describeTrafficError } from '../../api/errors';
import { useLiveData } from '../../hooks/useLiveData';
import { ErrorView, formatDateTime, saveBlob, useSpiderPaths } from '../common';
import {
  bodyView,
  exchangeFileName,
  hasRedacted,
  toCurl,
} from './exchangeExport';
import {
  formatBytes,
  formatDuration,
  PeerDirectory,
  peerLabel,
  statusText,
} from './exchangeFormat';
import { JsonTree } from './JsonTree';
import { statusColor } from './TrafficList';
import { statusClass } from './trafficFilters';
import { EntityLink } from './EntityLink';

const GRPC_CODES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

const useStyles = makeStyles(theme => ({
  section: { marginTop: theme.spacing(3) },
  mono: { fontFamily: 'monospace', wordBreak: 'break-all' },
  headerName: {
    fontFamily: 'monospace',
    width: '30%',
    verticalAlign: 'top',
    wordBreak: 'break-all',
  },
  pre: {
    fontFamily: 'monospace',
    fontSize: 13,
    whiteSpace: 'pre-wrap',
    wordBreak: 'break-word',
    margin: 0,
    padding: theme.spacing(1),
    background: theme.palette.background.default,
    borderRadius: theme.shape.borderRadius,
    maxHeight: 480,
    overflow: 'auto',
    color: theme.palette.text.primary,
  },
  actions: {
    display: 'flex',
    flexWrap: 'wrap',
    gap: theme.spacing(1),
    margin: theme.spacing(2, 0),
  },
}));

function HeadersTable(props: { headers: Headers; label: string }) {
  const classes = useStyles();
  if (props.headers.length === 0)
    return <Typography variant="body2">None</Typography>;
  return (
    <Table size="small" aria-label={props.label}>
      <TableBody>
        {props.headers.map(([k, v], i) => (
          <TableRow key={`${k}-${i}`}>
            <TableCell className={classes.headerName}>{k}</TableCell>
            <TableCell className={classes.mono}>
              {v === REDACTED_VALUE ? (
                <Chip
                  size="small"
                  icon={<LockIcon />}
                  label="redacted"
                  title="Removed in the pod before anything left it: Spider never had the value"
                  data-redacted="true"
                />
              ) : (
                v
              )}
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}

function BodySection(props: {
  body: StoredExchange['request']['body'];
  headers: Headers;
  bodySize: number;
  label: string;
}) {
  const classes = useStyles();
  const view = bodyView(props.body, props.headers, props.bodySize);
  const truncated =
    view.kind !== 'none' && view.truncated ? (
      <Typography variant="caption" display="block">
        Truncated at the capture's body cap ({formatBytes(props.bodySize)} on
        the wire).
      </Typography>
    ) : null;
  switch (view.kind) {
    case 'none':
      return <Typography variant="body2">No body</Typography>;
    case 'binary':
      return (
        <Typography variant="body2">
          Binary body, {formatBytes(view.size)} (not shown)
          {truncated}
        </Typography>
      );
    case 'json':
      return (
        <>
          <JsonTree value={view.value} label={props.label} />
          {truncated}
        </>
      );
    default:
      return (
        <>
          {/* Scrollable: keyboard users need to focus it to scroll. */}
          {/* eslint-disable-next-line jsx-a11y/no-noninteractive-tabindex */}
          <pre className={classes.pre} aria-label={props.label} tabIndex={0}>
            {view.text}
          </pre>
          {truncated}
        </>
      );
  }
}

function Actions(props: { exchange: StoredExchange }) {
  const e = props.exchange;
  const classes = useStyles();
  const paths = useSpiderPaths();
  const [copied, copy] = useCopyToClipboard();
  const [what, setWhat] = useState<string>();
  useEffect(() => {
    if (!what) return undefined;
    const t = setTimeout(() => setWhat(undefined), 2500);
    return () => clearTimeout(t);
  }, [what]);
  const link = paths.exchange(e.id);
  const absolute =
    link && typeof window !== 'undefined'
      ? new URL(link, window.location.origin).toString()
      : undefined;
  return (
    <>
      <div className={classes.actions}>
        <Button
          variant="outlined"
          size="small"
          startIcon={<FileCopyIcon />}
          onClick={() => {
            copy(toCurl(e));
            setWhat('curl');
          }}
        >
          Copy as curl
        </Button>
        <Button
          variant="outlined"
          size="small"
          startIcon={<GetAppIcon />}
          onClick={() =>
            saveBlob(
              new Blob([`${JSON.stringify(e, null, 2)}\n`], {
                type: 'application/json',
              }),
              exchangeFileName(e),
            )
          }
        >
          Download JSON
        </Button>
        {absolute && (
          <Button
            variant="outlined"
            size="small"
            startIcon={<LinkIcon />}
            onClick={() => {
              copy(absolute);
              setWhat('link');
            }}
          >
            Copy link
          </Button>
        )}
        {link && (
          <Link to={link} style={{ alignSelf: 'center' }}>
            Open the exchange page
          </Link>
        )}
      </div>
      <Typography variant="caption" role="status" display="block">
        {what &&
          !copied.error &&
          (what === 'curl' ? 'curl command copied' : 'Link copied')}
        {what && copied.error && `Could not copy: ${copied.error.message}`}
        {what === 'curl' &&
          hasRedacted(e.request.headers) &&
          ' — redacted headers are in it as [redacted]: put the real values in before running it.'}
      </Typography>
    </>
  );
}

/** Everything about one exchange: summary, timing, gRPC, headers, bodies, export. */
export function ExchangeView(props: {
  exchange: StoredExchange;
  directory?: PeerDirectory;
  /** Filter the list on this peer. */
  onPeer?: (value: string) => void;
  headingLevel?: 'h2' | 'h3';
}) {
  const e = props.exchange;
  const classes = useStyles();
  const theme = useTheme();
  const paths = useSpiderPaths();
  const peer = peerLabel(e, props.directory);
  const heading = props.headingLevel ?? 'h3';
  const attachmentTo = paths.attachment(e.attachmentId);
  const endpoint = (x: StoredExchange['client']) =>
    `${x.ip}:${x.port}${x.name ? ` (${x.name})` : ''}`;
  const status = statusText(e);
  return (
    <div>
      <Typography variant="body1" className={classes.mono}>
        <strong>{e.request.method}</strong> {e.request.authority}
        {e.request.path}
      </Typography>
      <Typography
        variant="h6"
        component="p"
        style={{ color: statusColor(theme, statusClass(e.response?.status)) }}
      >
        {e.response ? `Status ${status}` : `No response (${status})`}
      </Typography>
      <Actions exchange={e} />
      <StructuredMetadataTable
        metadata={{
          Started: `${formatDateTime(e.startedAt)} (${e.startedAt})`,
          Duration: formatDuration(e.durationMs),
          Stored: formatDateTime(e.storedAt),
          Protocol: e.protocol,
          Direction:
            e.direction === 'inbound'
              ? 'Inbound: the pod answered'
              : 'Outbound: the pod called',
          Instance: `${e.pod}/${e.container}`,
          Attachment: attachmentTo ? (
            <Link to={attachmentTo}>
              {e.target.kind} {e.target.namespace}/{e.target.name}
            </Link>
          ) : (
            `${e.target.kind} ${e.target.namespace}/${e.target.name}`
          ),
          Peer: (
            <span>
              {peer.entityRef ? (
                <EntityLink entityRef={peer.entityRef} />
              ) : (
                peer.text
              )}{' '}
              {props.onPeer && (
                <Button
                  size="small"
                  onClick={() => props.onPeer?.(peer.filterValue)}
                  aria-label={`Show only traffic with ${peer.text}`}
                >
                  Filter on this peer
                </Button>
              )}
            </span>
          ),
          Client: endpoint(e.client),
          Server: endpoint(e.server),
          'Request body': formatBytes(e.request.bodySize),
          'Response body': formatBytes(e.response?.bodySize),
          ...(e.error ? { Error: e.error } : {}),
        }}
      />
      {e.grpc && (
        <section className={classes.section} aria-label="gRPC">
          <Typography variant="subtitle1" component={heading}>
            gRPC
          </Typography>
          <StructuredMetadataTable
            metadata={{
              Service: e.grpc.service,
              Method: e.grpc.method,
              Status:
                e.grpc.status === null
                  ? 'no trailers seen'
                  : `${e.grpc.status} ${GRPC_CODES[e.grpc.status] ?? ''}`,
              ...(e.grpc.message ? { Message: e.grpc.message } : {}),
            }}
          />
        </section>
      )}
      <section className={classes.section} aria-label="Request">
        <Typography variant="subtitle1" component={heading}>
          Request headers
        </Typography>
        <HeadersTable headers={e.request.headers} label="Request headers" />
        <Typography
          variant="subtitle1"
          component={heading}
          className={classes.section}
        >
          Request body
        </Typography>
        <BodySection
          body={e.request.body}
          headers={e.request.headers}
          bodySize={e.request.bodySize}
          label="Request body"
        />
      </section>
      <section className={classes.section} aria-label="Response">
        <Typography variant="subtitle1" component={heading}>
          Response headers
        </Typography>
        {e.response ? (
          <HeadersTable headers={e.response.headers} label="Response headers" />
        ) : (
          <Typography variant="body2">
            No response was seen ({status}).
          </Typography>
        )}
        {e.response && e.response.trailers.length > 0 && (
          <>
            <Typography
              variant="subtitle1"
              component={heading}
              className={classes.section}
            >
              Trailers
            </Typography>
            <HeadersTable
              headers={e.response.trailers}
              label="Response trailers"
            />
          </>
        )}
        {e.response && (
          <>
            <Typography
              variant="subtitle1"
              component={heading}
              className={classes.section}
            >
              Response body
            </Typography>
            <BodySection
              body={e.response.body}
              headers={e.response.headers}
              bodySize={e.response.bodySize}
              label="Response body"
            />
          </>
        )}
      </section>
    </div>
  );
}

/** Loads one exchange (with its bodies) and shows it. */
export function ExchangeDetail(props: {
  exchangeId: string;
  directory?: PeerDirectory;
  onPeer?: (value: string) => void;
  headingLevel?: 'h2' | 'h3';
}) {
  const api = useApi(spiderApiRef);
  const data = useLiveData(
    () => api.getExchange(props.exchangeId),
    [api, props.exchangeId],
    {
      live: false,
    },
  );
  if (data.loading) return <Progress />;
  if (data.error) {
    const { title, message } = describeTrafficError(data.error);
    return (
      <ErrorView
        error={data.error}
        title={title}
        message={message}
        retry={data.retry}
      />
    );
  }
  return (
    <Box>
      <ExchangeView
        exchange={data.value!}
        directory={props.directory}
        onPeer={props.onPeer}
        headingLevel={props.headingLevel}
      />
    </Box>
  );
}
