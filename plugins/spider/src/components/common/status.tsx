import {
  StatusAborted,
  StatusError,
  StatusOK,
  StatusPending,
  StatusRunning,
  StatusWarning,
} from '@backstage/core-components';
import type {
  AttachmentStatus,
  InstanceReason,
  InstanceState,
  WorkloadKind,
} from '@spider/backstage-plugin-spider-common';
import Tooltip from '@material-ui/core/Tooltip';
import LayersIcon from '@material-ui/icons/Layers';
import StorageIcon from '@material-ui/icons/Storage';
import DeviceHubIcon from '@material-ui/icons/DeviceHub';
import FilterNoneIcon from '@material-ui/icons/FilterNone';
import PlayCircleOutlineIcon from '@material-ui/icons/PlayCircleOutline';
import ScheduleIcon from '@material-ui/icons/Schedule';
import MemoryIcon from '@material-ui/icons/Memory';

export function ConnectionStatus(props: { connected: boolean }) {
  return props.connected ? (
    <StatusOK>Connected</StatusOK>
  ) : (
    <StatusError>Disconnected</StatusError>
  );
}

export const ATTACHMENT_STATUS_LABEL: Record<AttachmentStatus, string> = {
  pending: 'Pending',
  active: 'Active',
  detaching: 'Detaching',
  detached: 'Detached',
  expired: 'Expired',
  failed: 'Failed',
};

export function AttachmentStatusView(props: { status: AttachmentStatus }) {
  const label = ATTACHMENT_STATUS_LABEL[props.status] ?? props.status;
  switch (props.status) {
    case 'active':
      return <StatusOK>{label}</StatusOK>;
    case 'pending':
      return <StatusPending>{label}</StatusPending>;
    case 'detaching':
      return <StatusRunning>{label}</StatusRunning>;
    case 'failed':
      return <StatusError>{label}</StatusError>;
    default:
      return <StatusAborted>{label}</StatusAborted>;
  }
}

export function InstanceStateView(props: { state: InstanceState }) {
  switch (props.state) {
    case 'running':
      return <StatusOK>Running</StatusOK>;
    case 'pending':
      return <StatusPending>Pending</StatusPending>;
    case 'stopping':
      return <StatusRunning>Stopping</StatusRunning>;
    case 'failed':
      return <StatusError>Failed</StatusError>;
    default:
      return <StatusAborted>Terminated</StatusAborted>;
  }
}

/** The agent's reason codes, as sentences a user can act on. */
export const REASON_TEXT: Record<InstanceReason, string> = {
  Injecting: 'Being injected into the pod',
  Running: 'Capturing',
  Completed: 'Finished',
  Detached: 'Stopped because the attachment was detached',
  Expired: 'Stopped because the attachment expired',
  Crashed: 'The whisperer crashed',
  CrashLoopGuard:
    'Not restarted: it failed twice in five minutes (each restart adds to the pod spec)',
  EphemeralContainersDisabled:
    'The cluster does not allow ephemeral containers',
  PodSecurityRejected:
    'Rejected by Pod Security: the namespace enforces "restricted" and capture needs NET_RAW',
  Forbidden: 'The agent is not allowed to change this pod',
  PodNotRunning: 'The pod is not running',
  NamespaceOutOfScope: "The namespace is outside the agent's install scope",
  StaticPod: 'Static pods cannot get ephemeral containers',
  ContainerNotFound: 'The whisperer container is gone from the pod',
  InjectionFailed: 'Injecting the whisperer failed',
  WhispererFailed: 'The whisperer reported a failure; it is not restarted',
  ImageNotAllowed:
    "The whisperer image is not on the agent's allowed images (chart value whisperers.allowedImages)",
  AgentNamespace: 'The agent never injects into its own namespace',
  HostNetworkPod:
    "The pod uses the node's network; Spider does not attach to it",
};

export function ReasonView(props: { reason: InstanceReason | null }) {
  if (!props.reason) return <span>—</span>;
  return (
    <Tooltip title={REASON_TEXT[props.reason] ?? props.reason}>
      <span>{props.reason}</span>
    </Tooltip>
  );
}

export function WarningStatus(props: { children: React.ReactNode }) {
  return <StatusWarning>{props.children}</StatusWarning>;
}

const KIND_ICONS: Record<WorkloadKind, typeof LayersIcon> = {
  Deployment: LayersIcon,
  StatefulSet: StorageIcon,
  DaemonSet: DeviceHubIcon,
  ReplicaSet: FilterNoneIcon,
  Job: PlayCircleOutlineIcon,
  CronJob: ScheduleIcon,
  Pod: MemoryIcon,
};

export function KindIcon(props: {
  kind: WorkloadKind;
  fontSize?: 'small' | 'inherit';
  /** Without the tooltip (cheaper, for long virtualized lists that name the kind anyway). */
  plain?: boolean;
}) {
  const Icon = KIND_ICONS[props.kind] ?? LayersIcon;
  if (props.plain) {
    return (
      <Icon
        fontSize={props.fontSize ?? 'small'}
        titleAccess={props.kind}
        style={{ verticalAlign: 'middle', marginRight: 4 }}
      />
    );
  }
  return (
    <Tooltip title={props.kind}>
      <Icon
        fontSize={props.fontSize ?? 'small'}
        titleAccess={props.kind}
        style={{ verticalAlign: 'middle', marginRight: 4 }}
      />
    </Tooltip>
  );
}

/** `kind icon` namespace / name */
export function TargetView(props: {
  target: { kind: WorkloadKind; namespace: string; name: string };
}) {
  const { target } = props;
  return (
    <span style={{ whiteSpace: 'nowrap' }}>
      <KindIcon kind={target.kind} />
      <span>{target.namespace}</span>
      <span aria-hidden> / </span>
      <strong>{target.name}</strong>
    </span>
  );
}
