import Box from '@material-ui/core/Box';
import Chip from '@material-ui/core/Chip';
import Grid from '@material-ui/core/Grid';
import Typography from '@material-ui/core/Typography';
import { useEffect, useState } from 'react';
import { useParams, useSearchParams } from 'react-router-dom';
import type { Attachment } from '@spider/backstage-plugin-spider-common';
import {
  ContentHeader,
  InfoCard,
  Link,
  Progress,
  StructuredMetadataTable,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { spiderApiRef } from '../../api/SpiderApi';
import { errorStatus } from '../../api/errors';
import { useLiveData } from '../../hooks/useLiveData';
import { DetachButton, isLive } from '../AttachmentsTable/AttachmentsTable';
import { InstancesTable } from '../AttachmentsTable/InstancesTable';
import { TrafficView, TrafficViewSource } from '../Traffic/TrafficView';
import { filtersFromSearch } from '../Traffic/trafficFilters';
import { prefetchFirstPage } from '../Traffic/useTrafficFeed';
import {
  ATTACHMENT_STATUS_LABEL,
  AttachmentStatusView,
  Countdown,
  ErrorView,
  formatDateTime,
  TargetView,
  useSpiderPaths,
} from '../common';

/** How long the page waits for its first traffic page before it renders without it. */
const FIRST_PAGE_WAIT_MS = 500;

/** What the attachment's traffic card says about time: the countdown, or why it ended. */
function TrafficTime(props: { attachment: Attachment }) {
  const a = props.attachment;
  if (isLive(a))
    return (
      <Typography variant="body2" component="span" aria-label="Time left">
        {a.expiresAt ? (
          <>
            Capturing, <Countdown expiresAt={a.expiresAt} />
          </>
        ) : (
          'Capturing, no expiry'
        )}
      </Typography>
    );
  return (
    <Typography variant="body2" component="span">
      {ATTACHMENT_STATUS_LABEL[a.status]}
      {a.detachedAt ? ` ${formatDateTime(a.detachedAt)}` : ''}: capture stopped,
      the traffic stays until retention removes it
    </Typography>
  );
}

/**
 * One attachment with its instances, TTL countdown and traffic; `?instance=<pod>` or
 * `<pod>/<container>` selects one instance (and filters the traffic on it).
 */
export function AttachmentPage(props: { attachmentId?: string }) {
  const params = useParams();
  const [search, setSearch] = useSearchParams();
  const id = props.attachmentId ?? params.attachmentId ?? '';
  const selectedInstance = search.get('instance') ?? undefined;
  const selectedPod = selectedInstance?.split('/')[0];
  const api = useApi(spiderApiRef);
  const paths = useSpiderPaths();
  // The traffic list needs only the id from the URL: ask for its first page now, with
  // the attachment, rather than after it; and both while this first render runs rather
  // than after it commits (a first render of the app can take a few hundred ms).
  const [early] = useState(() => {
    if (!id) return undefined;
    const attachment = api.getAttachment(id);
    attachment.catch(() => undefined); // useLiveData shows the error
    return {
      id,
      attachment: attachment as Promise<Attachment> | undefined,
      firstPage: prefetchFirstPage(
        q => api.listTraffic(id, q),
        filtersFromSearch(search),
      ),
    };
  });
  const data = useLiveData(
    () => {
      const pending = early?.id === id ? early.attachment : undefined;
      if (early) early.attachment = undefined; // once: refreshes ask again
      return pending ?? api.getAttachment(id);
    },
    [api, id],
    {
      filter: s => s.kind === 'attachment' && s.id === id,
    },
  );
  // The page renders once the first traffic page is in too (or after a short wait): one
  // render with the rows rather than a render of the page and another of its rows.
  const [firstPageSettled, setFirstPageSettled] = useState(!early);
  useEffect(() => {
    if (!early) return undefined;
    const settle = () => setFirstPageSettled(true);
    early.firstPage.page.then(settle, settle);
    const timer = setTimeout(settle, FIRST_PAGE_WAIT_MS);
    return () => clearTimeout(timer);
  }, [early]);
  const controller = useLiveData(
    () =>
      data.value
        ? api.getController(data.value.controllerId)
        : Promise.resolve(undefined),
    [api, data.value?.controllerId],
    {
      filter: s => s.kind === 'controller' && s.id === data.value?.controllerId,
    },
  );

  if (data.loading || !firstPageSettled) return <Progress />;
  if (data.error)
    return (
      <ErrorView
        title={
          errorStatus(data.error) === 404 ? 'Attachment not found' : undefined
        }
        error={data.error}
        retry={data.retry}
      />
    );
  const a = data.value!;
  const source: TrafficViewSource = {
    kind: 'attachment',
    attachment: a,
    firstPage: early?.id === a.id ? early.firstPage : undefined,
  };
  const c = controller.value;
  const instances = selectedPod
    ? a.instances.filter(i => i.pod === selectedPod)
    : a.instances;
  const canDetach = !!c?.rights.includes('use');
  const controllerTo = paths.controller(a.controllerId);
  const whispererTo = paths.whisperer(a.whispererId);
  return (
    <>
      <ContentHeader title={`${a.whispererName} on ${a.target.name}`}>
        <DetachButton
          attachment={a}
          allowed={canDetach}
          reason={
            c
              ? 'You need the "use" right on its Controller to detach'
              : undefined
          }
          onDetached={data.set}
          size="medium"
        />
      </ContentHeader>
      <Grid container spacing={3}>
        <Grid item xs={12} md={5}>
          <InfoCard title="Attachment">
            <StructuredMetadataTable
              metadata={{
                Status: <AttachmentStatusView status={a.status} />,
                Target: <TargetView target={a.target} />,
                Whisperer: whispererTo ? (
                  <Link to={whispererTo}>{a.whispererName}</Link>
                ) : (
                  a.whispererName
                ),
                Controller: controllerTo ? (
                  <Link to={controllerTo}>{c?.name ?? 'Controller'}</Link>
                ) : (
                  c?.name ?? a.controllerId
                ),
                'Created by': `${a.createdBy}, ${formatDateTime(a.createdAt)}`,
                Expires: (
                  <span>
                    {a.expiresAt ? formatDateTime(a.expiresAt) : 'never'}{' '}
                    {isLive(a) && a.expiresAt && (
                      <>
                        (<Countdown expiresAt={a.expiresAt} />)
                      </>
                    )}
                  </span>
                ),
                ...(a.detachedAt
                  ? {
                      Detached: `${formatDateTime(a.detachedAt)}${
                        a.detachedBy ? ` by ${a.detachedBy}` : ''
                      }${a.detachReason ? ` (${a.detachReason})` : ''}`,
                    }
                  : {}),
                ...(a.message ? { Message: a.message } : {}),
              }}
            />
          </InfoCard>
        </Grid>
        <Grid item xs={12} md={7}>
          <InfoCard
            title={`Whisperer instances (${a.instances.length})`}
            subheader={
              <Typography variant="body2" color="textPrimary">
                One per pod; a restarted whisperer shows as a new generation
              </Typography>
            }
          >
            {selectedPod && (
              <Box mb={1}>
                <Typography variant="body2" component="span">
                  Showing the instance in pod{' '}
                </Typography>
                <Chip
                  size="small"
                  label={selectedPod}
                  onDelete={() => {
                    const next = new URLSearchParams(search);
                    next.delete('instance');
                    setSearch(next, { replace: true });
                  }}
                  aria-label={`Stop filtering on ${selectedPod}`}
                />
              </Box>
            )}
            <InstancesTable
              attachmentId={a.id}
              instances={instances}
              selectedPod={selectedPod}
              filterTo={i => {
                const next = new URLSearchParams(search);
                next.set('instance', `${i.pod}/${i.container}`);
                next.delete('exchange');
                return `?${next.toString()}`;
              }}
            />
          </InfoCard>
        </Grid>
        <Grid item xs={12}>
          <InfoCard title="Traffic" subheader={<TrafficTime attachment={a} />}>
            <TrafficView source={source} />
          </InfoCard>
        </Grid>
      </Grid>
    </>
  );
}
