import { useState } from 'react';
import Box from '@material-ui/core/Box';
import Grid from '@material-ui/core/Grid';
import { useParams } from 'react-router-dom';
import {
  ContentHeader,
  InfoCard,
  Progress,
  StructuredMetadataTable,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { useAppNavigate } from '@backstage/frontend-plugin-api';
import { Attachment, Controller } from '@spider/backstage-plugin-spider-common';
import { spiderApiRef } from '../../api/SpiderApi';
import { errorStatus } from '../../api/errors';
import { useLiveData } from '../../hooks/useLiveData';
import { AttachButton } from '../AttachDialog';
import { AttachmentsTable } from '../AttachmentsTable/AttachmentsTable';
import {
  ConfirmDialog,
  ErrorView,
  formatDateTime,
  GuardedButton,
  useSpiderPaths,
} from '../common';
import { ttlText } from './ttl';
import { useWhispererRights } from './useWhispererRights';
import { WhispererFormDialog } from './WhispererFormDialog';

/** Detach is allowed where the user has the "use" right on the attachment's Controller. */
export function canDetachWith(controllers: Controller[] | undefined) {
  const byId = new Map((controllers ?? []).map(c => [c.id, c]));
  return (a: Attachment) =>
    byId.get(a.controllerId)?.rights.includes('use')
      ? { allowed: true }
      : {
          allowed: false,
          reason: 'You need the "use" right on its Controller to detach',
        };
}

/** One Whisperer, with its attachments. */
export function WhispererPage(props: { whispererId?: string }) {
  const params = useParams();
  const id = props.whispererId ?? params.whispererId ?? '';
  const api = useApi(spiderApiRef);
  const paths = useSpiderPaths();
  const navigate = useAppNavigate();
  const rights = useWhispererRights();
  const data = useLiveData(() => api.getWhisperer(id), [api, id], {
    filter: s => s.kind === 'whisperer' && s.id === id,
  });
  const controllers = useLiveData(() => api.listControllers(), [api], {
    filter: s => s.kind === 'controller',
  });
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);

  if (data.loading) return <Progress />;
  if (data.error)
    return (
      <ErrorView
        title={
          errorStatus(data.error) === 404 ? 'Whisperer not found' : undefined
        }
        error={data.error}
        retry={data.retry}
      />
    );
  const w = data.value!;
  const manage = rights.canManage(w);
  const names = Object.fromEntries(
    (controllers.value?.items ?? []).map(c => [c.id, c.name]),
  );
  return (
    <>
      <ContentHeader title={w.name} description={w.description || undefined}>
        <Box display="flex" style={{ gap: 8 }}>
          <AttachButton
            initial={{ whispererId: w.id }}
            label="Attach this whisperer"
          />
          <GuardedButton
            allowed={manage}
            reason="Only its owner (or a Spider admin) may edit it"
            variant="outlined"
            onClick={() => setEditing(true)}
          >
            Edit
          </GuardedButton>
          <GuardedButton
            allowed={manage}
            reason="Only its owner (or a Spider admin) may delete it"
            variant="outlined"
            color="secondary"
            onClick={() => setDeleting(true)}
          >
            Delete
          </GuardedButton>
        </Box>
      </ContentHeader>
      <Grid container spacing={3}>
        <Grid item xs={12} md={5}>
          <InfoCard title="Configuration">
            <StructuredMetadataTable
              metadata={{
                Image: w.image ?? "agent's default",
                'Capture filter': w.captureFilter || 'everything',
                'Time to live': ttlText(w.timeToLive),
                Environment: Object.keys(w.env).length
                  ? Object.entries(w.env)
                      .map(([k, v]) => `${k}=${v}`)
                      .join(', ')
                  : 'none',
                Owner: w.owner,
                Created: formatDateTime(w.createdAt),
                Updated: formatDateTime(w.updatedAt),
              }}
            />
          </InfoCard>
        </Grid>
        <Grid item xs={12} md={7}>
          <InfoCard title="Attachments">
            <AttachmentsTable
              query={{ whispererId: w.id }}
              hide={['whisperer']}
              canDetach={canDetachWith(controllers.value?.items)}
              controllerNames={names}
            />
          </InfoCard>
        </Grid>
      </Grid>
      {editing && (
        <WhispererFormDialog
          open
          whisperer={w}
          onClose={() => setEditing(false)}
          onSaved={data.set}
        />
      )}
      <ConfirmDialog
        open={deleting}
        title={`Delete Whisperer ${w.name}?`}
        confirmLabel="Delete"
        onClose={() => setDeleting(false)}
        onConfirm={async () => {
          await api.deleteWhisperer(w.id);
          const to = paths.whisperers();
          if (to) navigate(to);
        }}
      >
        Attachments already made with it keep running until they are detached or
        expire.
      </ConfirmDialog>
    </>
  );
}
