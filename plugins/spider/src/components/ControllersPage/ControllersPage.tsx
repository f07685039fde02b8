import { useState } from 'react';
import IconButton from '@material-ui/core/IconButton';
import Tooltip from '@material-ui/core/Tooltip';
import Typography from '@material-ui/core/Typography';
import AddIcon from '@material-ui/icons/Add';
import EditIcon from '@material-ui/icons/Edit';
import DeleteIcon from '@material-ui/icons/Delete';
import {
  ContentHeader,
  EmptyState,
  Link,
  Progress,
  Table,
  TableColumn,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import {
  Controller,
  spiderControllerCreatePermission,
} from '@spider/backstage-plugin-spider-common';
import { spiderApiRef } from '../../api/SpiderApi';
import { useLiveData } from '../../hooks/useLiveData';
import {
  ConfirmDialog,
  ConnectionStatus,
  ErrorView,
  GuardedButton,
  TimeAgo,
  useSpiderPaths,
} from '../common';
import { ControllerFormDialog } from './ControllerFormDialog';

const noRight = (right: string) =>
  `You do not have the "${right}" right on this Controller`;

function RowAction(props: {
  allowed: boolean;
  title: string;
  deniedReason: string;
  onClick: () => void;
  children: React.ReactNode;
}) {
  return (
    <Tooltip title={props.allowed ? props.title : props.deniedReason}>
      <span>
        <IconButton
          size="small"
          aria-label={props.title}
          disabled={!props.allowed}
          onClick={props.onClick}
        >
          {props.children}
        </IconButton>
      </span>
    </Tooltip>
  );
}

/** The list of Controllers with their live connection state. */
export function ControllersPage() {
  const api = useApi(spiderApiRef);
  const paths = useSpiderPaths();
  const data = useLiveData(() => api.listControllers(), [api], {
    filter: s => s.kind === 'controller' || s.kind === 'attachment',
  });
  const create = usePermission({
    permission: spiderControllerCreatePermission,
  });
  const [creating, setCreating] = useState(false);
  const [renaming, setRenaming] = useState<Controller>();
  const [deleting, setDeleting] = useState<Controller>();

  const registerButton = (
    <GuardedButton
      allowed={create.allowed}
      reason={
        create.loading
          ? undefined
          : 'You are not allowed to register Controllers'
      }
      variant="contained"
      color="primary"
      startIcon={<AddIcon />}
      onClick={() => setCreating(true)}
    >
      Register Controller
    </GuardedButton>
  );

  const columns: TableColumn<Controller>[] = [
    {
      title: 'Name',
      field: 'name',
      highlight: true,
      render: c => {
        const to = paths.controller(c.id);
        return (
          <>
            {to ? <Link to={to}>{c.name}</Link> : c.name}
            {c.description && (
              <Typography variant="body2">{c.description}</Typography>
            )}
          </>
        );
      },
    },
    {
      title: 'Agent',
      field: 'connected',
      render: c => <ConnectionStatus connected={c.connected} />,
    },
    {
      title: 'Agent version',
      field: 'agentVersion',
      render: c => c.agentVersion ?? '—',
    },
    {
      title: 'Last seen',
      field: 'lastSeenAt',
      render: c =>
        c.connected ? 'now' : <TimeAgo at={c.lastSeenAt} never="never" />,
    },
    {
      title: 'Active attachments',
      field: 'activeAttachments',
      type: 'numeric',
    },
    { title: 'Owner', field: 'owner' },
    {
      title: 'Actions',
      sorting: false,
      render: c => (
        <>
          <RowAction
            allowed={c.rights.includes('update')}
            title={`Rename ${c.name}`}
            deniedReason={noRight('update')}
            onClick={() => setRenaming(c)}
          >
            <EditIcon fontSize="small" />
          </RowAction>
          <RowAction
            allowed={c.rights.includes('delete')}
            title={`Delete ${c.name}`}
            deniedReason={noRight('delete')}
            onClick={() => setDeleting(c)}
          >
            <DeleteIcon fontSize="small" />
          </RowAction>
        </>
      ),
    },
  ];

  let body;
  if (data.loading) body = <Progress />;
  else if (data.error)
    body = <ErrorView error={data.error} retry={data.retry} />;
  else if (!data.value?.items.length)
    body = (
      <EmptyState
        missing="data"
        title="No Controllers yet"
        description="A Controller stands for one Kubernetes cluster. Register one, then install its agent in the cluster with the one-line command it gives you."
        action={registerButton}
      />
    );
  else
    body = (
      <Table<Controller>
        title={`Controllers (${data.value.items.length})`}
        options={{
          paging: data.value.items.length > 20,
          pageSize: 20,
          search: true,
          padding: 'dense',
          sorting:
            false /* sort labels nest focusable elements (axe nested-interactive) */,
        }}
        columns={columns}
        data={data.value.items}
      />
    );

  return (
    <>
      <ContentHeader title="Controllers">{registerButton}</ContentHeader>
      {body}
      <ControllerFormDialog
        open={creating}
        onClose={() => setCreating(false)}
        onSaved={() => data.refresh()}
      />
      {renaming && (
        <ControllerFormDialog
          open
          controller={renaming}
          onClose={() => setRenaming(undefined)}
          onSaved={() => data.refresh()}
        />
      )}
      <ConfirmDialog
        open={!!deleting}
        title={`Delete Controller ${deleting?.name ?? ''}?`}
        confirmLabel="Delete"
        onClose={() => setDeleting(undefined)}
        onConfirm={async () => {
          await api.deleteController(deleting!.id);
          data.refresh();
        }}
      >
        Its agent token stops working and the agent is disconnected.
        {deleting?.activeAttachments
          ? ` Its ${deleting.activeAttachments} active attachment(s) are detached.`
          : ''}{' '}
        This cannot be undone.
      </ConfirmDialog>
    </>
  );
}
