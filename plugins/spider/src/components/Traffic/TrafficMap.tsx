import { useMemo } from 'react';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TableRow from '@material-ui/core/TableRow';
import Typography from '@material-ui/core/Typography';
import { makeStyles, useTheme } from '@material-ui/core/styles';
import {
  DependencyGraph,
  DependencyGraphTypes,
  EmptyState,
} from '@backstage/core-components';
import type {
  TrafficMapPeer,
  TrafficMapResponse,
} from '@spider/backstage-plugin-spider-common';
import { formatBytes, formatDuration } from './exchangeFormat';
import { EntityLink, entityName } from './EntityLink';

const CENTER = 'workload';
const NODE_HEIGHT = 44;

/** What a peer is called on the map: its entity, workload, pod, or name. */
export function peerName(p: TrafficMapPeer): string {
  if (p.entityRef) return entityName(p.entityRef);
  if (p.workload) return `${p.workload.namespace}/${p.workload.name}`;
  if (p.pod) return p.pod.name;
  return p.name;
}

/** What the peer filter of the list takes for a map peer: an IP it has. */
export function peerFilterValue(p: TrafficMapPeer): string {
  return p.ips[0] ?? p.name;
}

export function errorRate(p: TrafficMapPeer): number {
  return p.calls === 0 ? 0 : p.errors / p.calls;
}

/** "12/min · 3.0% errors · p99 45 ms", the edge's label. */
export function edgeLabel(p: TrafficMapPeer): string {
  const rate =
    p.callsPerMinute >= 10
      ? Math.round(p.callsPerMinute)
      : Math.round(p.callsPerMinute * 10) / 10;
  return `${rate}/min · ${(errorRate(p) * 100).toFixed(
    1,
  )}% errors · p99 ${formatDuration(p.p99Ms)}`;
}

interface NodeData {
  label: string;
  sub: string;
  role: 'center' | 'caller' | 'callee';
  peer?: TrafficMapPeer;
}

const useStyles = makeStyles(theme => ({
  graph: { width: '100%', minHeight: 240, maxHeight: 520 },
  nodeText: { fill: theme.palette.text.primary, fontSize: 13 },
  nodeSub: { fill: theme.palette.text.secondary, fontSize: 11 },
  edgeText: { fill: theme.palette.text.primary, fontSize: 11 },
}));

/**
 * The attachment's workload in the middle, its callers on the left and callees on the
 * right, laid out by Backstage's DependencyGraph (dagre). The same peers are listed in
 * a table below it, with buttons, for keyboards and screen readers.
 */
export function TrafficMap(props: {
  map: TrafficMapResponse;
  onPeer: (peer: TrafficMapPeer) => void;
}) {
  const { map, onPeer } = props;
  const classes = useStyles();
  const theme = useTheme();
  const { nodes, edges } = useMemo(() => {
    const n: DependencyGraphTypes.DependencyNode<NodeData>[] = [
      {
        id: CENTER,
        label: map.entityRef ? entityName(map.entityRef) : map.workload.name,
        sub: `${map.workload.kind} in ${map.workload.namespace}`,
        role: 'center',
      },
    ];
    const e: DependencyGraphTypes.DependencyEdge<{ peer: TrafficMapPeer }>[] =
      [];
    for (const p of map.peers) {
      const id = `${p.role}:${p.key}`;
      n.push({
        id,
        label: peerName(p),
        sub: `${p.calls.toLocaleString('en-US')} calls`,
        role: p.role,
        peer: p,
      });
      e.push(
        p.role === 'caller'
          ? { from: id, to: CENTER, label: edgeLabel(p), peer: p }
          : { from: CENTER, to: id, label: edgeLabel(p), peer: p },
      );
    }
    return { nodes: n, edges: e };
  }, [map]);

  if (map.peers.length === 0) {
    return (
      <EmptyState
        missing="data"
        title="No peers in this window"
        description="The workload neither called nor was called by anyone in the captured traffic of this time range. Widen the time range, or send traffic to the service."
      />
    );
  }

  const renderNode = ({
    node,
  }: {
    node: DependencyGraphTypes.DependencyNode<NodeData>;
  }) => {
    const width = Math.max(
      150,
      Math.max(node.label.length, node.sub.length) * 7.5 + 24,
    );
    const center = node.role === 'center';
    return (
      <g
        onClick={node.peer ? () => onPeer(node.peer!) : undefined}
        style={{ cursor: node.peer ? 'pointer' : 'default' }}
        data-testid={`map-node-${node.id}`}
      >
        <rect
          width={width}
          height={NODE_HEIGHT}
          rx={6}
          fill={
            center ? theme.palette.primary.main : theme.palette.background.paper
          }
          stroke={theme.palette.primary.main}
          strokeWidth={center ? 0 : 1.5}
        />
        <text
          x={width / 2}
          y={18}
          textAnchor="middle"
          className={classes.nodeText}
          style={
            center
              ? { fill: theme.palette.primary.contrastText, fontWeight: 700 }
              : undefined
          }
        >
          {node.label}
        </text>
        <text
          x={width / 2}
          y={34}
          textAnchor="middle"
          className={classes.nodeSub}
          style={
            center ? { fill: theme.palette.primary.contrastText } : undefined
          }
        >
          {node.sub}
        </text>
      </g>
    );
  };
  const renderLabel = ({ edge }: { edge: { label?: string } }) => (
    <text className={classes.edgeText} y={12}>
      {edge.label}
    </text>
  );
  const callers = map.peers.filter(p => p.role === 'caller');
  const callees = map.peers.filter(p => p.role === 'callee');

  return (
    <Box>
      <DependencyGraph<NodeData, { peer: TrafficMapPeer }>
        nodes={nodes}
        edges={edges}
        direction={DependencyGraphTypes.Direction.LEFT_RIGHT}
        renderNode={renderNode}
        renderLabel={renderLabel}
        labelPosition={DependencyGraphTypes.LabelPosition.CENTER}
        rankMargin={180}
        nodeMargin={24}
        paddingX={16}
        paddingY={16}
        showArrowHeads
        fit="contain"
        zoom="enable-on-click"
        allowFullscreen={false}
        className={classes.graph}
        role="img"
        aria-label={`Traffic map of ${map.workload.name}: ${
          callers.length
        } caller${callers.length === 1 ? '' : 's'} on the left, ${
          callees.length
        } callee${
          callees.length === 1 ? '' : 's'
        } on the right. The peers are listed in the table below.`}
      />
      <Typography variant="caption" display="block" style={{ margin: '8px 0' }}>
        {new Date(map.since).toLocaleString()} –{' '}
        {new Date(map.until).toLocaleString()}. Click a peer to see only its
        traffic.
      </Typography>
      <Table size="small" aria-label="Peers of the workload">
        <TableHead>
          <TableRow>
            <TableCell>Peer</TableCell>
            <TableCell>Role</TableCell>
            <TableCell align="right">Calls</TableCell>
            <TableCell align="right">Calls/min</TableCell>
            <TableCell align="right">Errors</TableCell>
            <TableCell align="right">p50</TableCell>
            <TableCell align="right">p99</TableCell>
            <TableCell align="right">Bytes</TableCell>
            <TableCell />
          </TableRow>
        </TableHead>
        <TableBody>
          {[...callers, ...callees].map(p => (
            <TableRow
              key={`${p.role}:${p.key}`}
              data-testid={`map-peer-${p.role}-${p.key}`}
            >
              <TableCell>
                {p.entityRef ? (
                  <EntityLink entityRef={p.entityRef} />
                ) : (
                  peerName(p)
                )}
                <Typography variant="caption" display="block">
                  {p.ips.join(', ')}
                  {p.name && p.name !== peerName(p) ? ` · ${p.name}` : ''}
                </Typography>
              </TableCell>
              <TableCell>
                {p.role === 'caller' ? 'Calls it' : 'Called by it'}
              </TableCell>
              <TableCell align="right">
                {p.calls.toLocaleString('en-US')}
              </TableCell>
              <TableCell align="right">{p.callsPerMinute.toFixed(1)}</TableCell>
              <TableCell align="right">
                {p.errors.toLocaleString('en-US')} (
                {(errorRate(p) * 100).toFixed(1)}%)
              </TableCell>
              <TableCell align="right">{formatDuration(p.p50Ms)}</TableCell>
              <TableCell align="right">{formatDuration(p.p99Ms)}</TableCell>
              <TableCell align="right">
                {formatBytes(p.bytes + p.flowBytes)}
              </TableCell>
              <TableCell>
                <Button
                  size="small"
                  variant="outlined"
                  onClick={() => onPeer(p)}
                >
                  Show traffic with {peerName(p)}
                </Button>
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Box>
  );
}
