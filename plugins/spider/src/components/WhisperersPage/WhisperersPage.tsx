import { useState } from 'react';
import IconButton from '@material-ui/core/IconButton';
import Tooltip from '@material-ui/core/Tooltip';
import Typography from '@material-ui/core/Typography';
import AddIcon from '@material-ui/icons/Add';
import DeleteIcon from '@material-ui/icons/Delete';
import EditIcon from '@material-ui/icons/Edit';
import {
  ContentHeader,
  EmptyState,
  Link,
  Progress,
  Table,
  TableColumn,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { Whisperer } from '@spider/backstage-plugin-spider-common';
import { spiderApiRef } from '../../api/SpiderApi';
import { useLiveData } from '../../hooks/useLiveData';
import {
  ConfirmDialog,
  ErrorView,
  GuardedButton,
  useSpiderPaths,
} from '../common';
import { ttlText } from './ttl';
import { useWhispererRights } from './useWhispererRights';
import { WhispererFormDialog } from './WhispererFormDialog';

const NOT_OWNER = 'Only its owner (or a Spider admin) may change it';

/** The Whisperers: named capture configurations. */
export function WhisperersPage() {
  const api = useApi(spiderApiRef);
  const paths = useSpiderPaths();
  const rights = useWhispererRights();
  const data = useLiveData(() => api.listWhisperers(), [api], {
    filter: s => s.kind === 'whisperer',
  });
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Whisperer>();
  const [deleting, setDeleting] = useState<Whisperer>();

  const createButton = (
    <GuardedButton
      allowed={rights.canCreate}
      reason={
        rights.createLoading
          ? undefined
          : 'You are not allowed to create Whisperers'
      }
      variant="contained"
      color="primary"
      startIcon={<AddIcon />}
      onClick={() => setCreating(true)}
    >
      Create Whisperer
    </GuardedButton>
  );

  const columns: TableColumn<Whisperer>[] = [
    {
      title: 'Name',
      field: 'name',
      highlight: true,
      render: w => {
        const to = paths.whisperer(w.id);
        return (
          <>
            {to ? <Link to={to}>{w.name}</Link> : w.name}
            {w.description && (
              <Typography variant="body2">{w.description}</Typography>
            )}
          </>
        );
      },
    },
    { title: 'Image', field: 'image', render: w => w.image ?? 'agent default' },
    {
      title: 'Capture filter',
      field: 'captureFilter',
      render: w =>
        w.captureFilter ? <code>{w.captureFilter}</code> : 'everything',
    },
    {
      title: 'Time to live',
      field: 'timeToLive',
      render: w => ttlText(w.timeToLive),
    },
    { title: 'Owner', field: 'owner' },
    {
      title: 'Actions',
      sorting: false,
      render: w => {
        const allowed = rights.canManage(w);
        return (
          <>
            <Tooltip title={allowed ? `Edit ${w.name}` : NOT_OWNER}>
              <span>
                <IconButton
                  size="small"
                  aria-label={`Edit ${w.name}`}
                  disabled={!allowed}
                  onClick={() => setEditing(w)}
                >
                  <EditIcon fontSize="small" />
                </IconButton>
              </span>
            </Tooltip>
            <Tooltip title={allowed ? `Delete ${w.name}` : NOT_OWNER}>
              <span>
                <IconButton
                  size="small"
                  aria-label={`Delete ${w.name}`}
                  disabled={!allowed}
                  onClick={() => setDeleting(w)}
                >
                  <DeleteIcon fontSize="small" />
                </IconButton>
              </span>
            </Tooltip>
          </>
        );
      },
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
        title="No Whisperers yet"
        description="A Whisperer is a capture configuration: an image, a capture filter and how long a capture may run. Create one, then attach it to a workload."
        action={createButton}
      />
    );
  else
    body = (
      <Table<Whisperer>
        title={`Whisperers (${data.value.items.length})`}
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
      <ContentHeader title="Whisperers">{createButton}</ContentHeader>
      {body}
      {creating && (
        <WhispererFormDialog
          open
          onClose={() => setCreating(false)}
          onSaved={() => data.refresh()}
        />
      )}
      {editing && (
        <WhispererFormDialog
          open
          whisperer={editing}
          onClose={() => setEditing(undefined)}
          onSaved={() => data.refresh()}
        />
      )}
      <ConfirmDialog
        open={!!deleting}
        title={`Delete Whisperer ${deleting?.name ?? ''}?`}
        confirmLabel="Delete"
        onClose={() => setDeleting(undefined)}
        onConfirm={async () => {
          await api.deleteWhisperer(deleting!.id);
          data.refresh();
        }}
      >
        Attachments already made with it keep running until they are detached or
        expire.
      </ConfirmDialog>
    </>
  );
}
