import { useState } from 'react';
import Box from '@material-ui/core/Box';
import Tab from '@material-ui/core/Tab';
import Tabs from '@material-ui/core/Tabs';
import Typography from '@material-ui/core/Typography';
import { useParams } from 'react-router-dom';
import { ContentHeader, Progress } from '@backstage/core-components';
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
  ConnectionStatus,
  ErrorView,
  GuardedButton,
  TimeAgo,
  useSpiderPaths,
} from '../common';
import { ControllerFormDialog } from '../ControllersPage/ControllerFormDialog';
import { InstallTab } from './InstallTab';
import { ShareTab } from './ShareTab';
import { StatusTab } from './StatusTab';

export const CONTROLLER_TABS = [
  'status',
  'attachments',
  'share',
  'install',
] as const;
export type ControllerTab = (typeof CONTROLLER_TABS)[number];

const TAB_LABEL: Record<ControllerTab, string> = {
  status: 'Status',
  attachments: 'Attachments',
  share: 'Share',
  install: 'Install',
};

export function canDetachOn(controller: Controller | undefined) {
  return (_a: Attachment) =>
    controller?.rights.includes('use')
      ? { allowed: true }
      : {
          allowed: false,
          reason: 'You need the "use" right on this Controller to detach',
        };
}

/** One Controller, with tabs Status, Attachments, Share and Install. */
export function ControllerPage(props: { controllerId?: string; tab?: string }) {
  const params = useParams();
  const id = props.controllerId ?? params.controllerId ?? '';
  const rest = props.tab ?? params['*'] ?? '';
  const requested = (rest.split('/')[0] || 'status') as ControllerTab;
  const api = useApi(spiderApiRef);
  const paths = useSpiderPaths();
  const navigate = useAppNavigate();
  const [localTab, setLocalTab] = useState<ControllerTab>();
  const [renaming, setRenaming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const data = useLiveData(() => api.getController(id), [api, id], {
    filter: s => s.id === id || s.controllerId === id,
  });

  if (data.loading) return <Progress />;
  if (data.error) {
    return (
      <ErrorView
        title={
          errorStatus(data.error) === 404 ? 'Controller not found' : undefined
        }
        error={data.error}
        retry={data.retry}
      />
    );
  }
  const c = data.value!;
  const visible = CONTROLLER_TABS.filter(
    t =>
      (t !== 'share' || c.rights.includes('share')) &&
      (t !== 'install' || c.rights.includes('install')),
  );
  const tab = localTab ?? (visible.includes(requested) ? requested : 'status');
  const selectTab = (t: ControllerTab) => {
    const to = paths.controller(c.id, t);
    if (to) navigate(to, { replace: true });
    else setLocalTab(t);
  };
  const hidden = CONTROLLER_TABS.filter(t => !visible.includes(t));
  const canUse = c.rights.includes('use');

  return (
    <>
      <ContentHeader title={c.name} description={c.description || undefined}>
        <Box display="flex" style={{ gap: 8 }}>
          <AttachButton
            initial={{ controllerId: c.id }}
            allowed={canUse}
            reason='You need the "use" right on this Controller to attach'
          />
          <GuardedButton
            allowed={c.rights.includes('update')}
            reason='You need the "update" right to rename'
            variant="outlined"
            onClick={() => setRenaming(true)}
          >
            Rename
          </GuardedButton>
          <GuardedButton
            allowed={c.rights.includes('delete')}
            reason='You need the "delete" right to delete'
            variant="outlined"
            color="secondary"
            onClick={() => setDeleting(true)}
          >
            Delete
          </GuardedButton>
        </Box>
      </ContentHeader>
      <Box display="flex" alignItems="center" style={{ gap: 24 }} mb={1}>
        <ConnectionStatus connected={c.connected} />
        <Typography variant="body2">
          Agent {c.agentVersion ?? 'not installed yet'}
          {c.clusterVersion ? ` · Kubernetes ${c.clusterVersion}` : ''}
        </Typography>
        <Typography variant="body2">
          Last seen: {c.connected ? 'now' : <TimeAgo at={c.lastSeenAt} />}
        </Typography>
        <Typography variant="body2">
          {c.activeAttachments} active attachment
          {c.activeAttachments === 1 ? '' : 's'}
        </Typography>
        <Typography variant="body2">Owner {c.owner}</Typography>
      </Box>
      <Tabs
        value={tab}
        onChange={(_e, v) => selectTab(v)}
        indicatorColor="primary"
        textColor="primary"
        aria-label="Controller views"
      >
        {visible.map(t => (
          <Tab
            key={t}
            value={t}
            label={TAB_LABEL[t]}
            id={`spider-tab-${t}`}
            aria-controls={`spider-tabpanel-${t}`}
          />
        ))}
      </Tabs>
      {hidden.length > 0 && (
        <Typography variant="caption">
          {hidden.map(t => TAB_LABEL[t]).join(' and ')}: only for people with
          the {hidden.map(t => `"${t}"`).join(' and ')} right on this
          Controller.
        </Typography>
      )}
      <Box
        mt={2}
        role="tabpanel"
        id={`spider-tabpanel-${tab}`}
        aria-labelledby={`spider-tab-${tab}`}
      >
        {tab === 'status' && <StatusTab controller={c} />}
        {tab === 'attachments' && (
          <AttachmentsTable
            query={{ controllerId: c.id }}
            hide={['controller']}
            canDetach={canDetachOn(c)}
            emptyAction={
              canUse ? (
                <AttachButton
                  initial={{ controllerId: c.id }}
                  variant="outlined"
                />
              ) : undefined
            }
          />
        )}
        {tab === 'share' && <ShareTab controller={c} />}
        {tab === 'install' && <InstallTab controller={c} />}
      </Box>
      {renaming && (
        <ControllerFormDialog
          open
          controller={c}
          onClose={() => setRenaming(false)}
          onSaved={data.set}
        />
      )}
      <ConfirmDialog
        open={deleting}
        title={`Delete Controller ${c.name}?`}
        confirmLabel="Delete"
        onClose={() => setDeleting(false)}
        onConfirm={async () => {
          await api.deleteController(c.id);
          if (paths.root) navigate(paths.root);
        }}
      >
        Its agent token stops working and the agent is disconnected.
        {c.activeAttachments
          ? ` Its ${c.activeAttachments} active attachment(s) are detached.`
          : ''}{' '}
        This cannot be undone.
      </ConfirmDialog>
    </>
  );
}
