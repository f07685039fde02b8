import { Fragment, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import Box from '@material-ui/core/Box';
import Grid from '@material-ui/core/Grid';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TableRow from '@material-ui/core/TableRow';
import Typography from '@material-ui/core/Typography';
import {
  EmptyState,
  InfoCard,
  Link,
  Progress,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { useEntity } from '@backstage/plugin-catalog-react';
import {
  Attachment,
  EntityWorkload,
} from '@spider/backstage-plugin-spider-common';
import { spiderApiRef } from '../../api/SpiderApi';
import { AttachButton } from '../AttachDialog';
import { workloadKey } from '../AttachDialog/WorkloadPicker';
import { DetachButton } from '../AttachmentsTable/AttachmentsTable';
import {
  AttachmentStatusView,
  Countdown,
  ErrorView,
  KindIcon,
  useSpiderPaths,
} from '../common';
import { useEntityCapture } from './useEntityCapture';
import { TrafficView } from '../Traffic/TrafficView';
import { filtersFromSearch } from '../Traffic/trafficFilters';
import { prefetchFirstPage } from '../Traffic/useTrafficFeed';

function AttachmentLine(props: {
  attachment: Attachment;
  canUse: boolean;
  onChanged: () => void;
}) {
  const { attachment: a } = props;
  const paths = useSpiderPaths();
  const to = paths.attachment(a.id);
  const running = a.instances.filter(i => i.state === 'running').length;
  return (
    <Box
      display="flex"
      alignItems="center"
      style={{ gap: 16 }}
      py={0.5}
      data-testid={`entity-attachment-${a.id}`}
    >
      <AttachmentStatusView status={a.status} />
      <Typography variant="body2">{a.whispererName}</Typography>
      <Countdown expiresAt={a.expiresAt} />
      <Typography variant="body2">
        {to ? (
          <Link to={to}>
            {running}/{a.instances.length} instance
            {a.instances.length === 1 ? '' : 's'} running
          </Link>
        ) : (
          `${running}/${a.instances.length} instances running`
        )}
      </Typography>
      <Typography variant="caption">by {a.createdBy}</Typography>
      <DetachButton
        attachment={a}
        allowed={props.canUse}
        reason='You need the "use" right on the Controller to detach'
        onDetached={props.onChanged}
      />
    </Box>
  );
}

/** The "Traffic capture" tab of a catalog component. */
export function EntityTrafficCaptureContent() {
  const { entity } = useEntity();
  const { entityRef, workloads, controllers, attachments, byWorkload } =
    useEntityCapture(entity);
  const paths = useSpiderPaths();
  const api = useApi(spiderApiRef);
  const [search] = useSearchParams();
  // The entity's traffic needs only its ref: its first page is asked for in this first
  // render, beside the workloads, not after them (as the attachment page does).
  const [early] = useState(() => ({
    entityRef,
    firstPage: prefetchFirstPage(
      q => api.listEntityTraffic(entityRef, q),
      filtersFromSearch(search),
    ),
  }));

  if (workloads.loading) return <Progress />;
  if (workloads.error)
    return <ErrorView error={workloads.error} retry={workloads.retry} />;
  const items = workloads.value?.items ?? [];
  if (items.length === 0) {
    return (
      <EmptyState
        missing="data"
        title="No workloads found"
        description={`None of the Controllers you may use sees a workload of ${entity.metadata.name}. Spider finds them with the entity's backstage.io/kubernetes-id or backstage.io/kubernetes-label-selector annotation (and backstage.io/kubernetes-namespace). The workload's cluster needs a Controller shared with you.`}
      />
    );
  }
  const rights = new Map(
    (controllers.value?.items ?? []).map(c => [c.id, c.rights]),
  );
  const canUse = (w: EntityWorkload) =>
    !!rights.get(w.controllerId)?.includes('use');
  const refresh = () => attachments.refresh();
  return (
    <Grid container spacing={3}>
      <Grid item xs={12}>
        <InfoCard
          title="Traffic capture"
          subheader={
            <Typography variant="body2" color="textPrimary">
              The workloads of this component in the clusters you may use.
              Attach a whisperer to capture their traffic without a restart.
            </Typography>
          }
          action={
            <AttachButton
              initial={{ entityRef, choices: items }}
              navigateOnAttach={false}
              onAttached={refresh}
            />
          }
        >
          {attachments.error !== undefined && !attachments.value && (
            <ErrorView error={attachments.error} retry={attachments.retry} />
          )}
          <Table size="small" aria-label="Workloads of this component">
            <TableHead>
              <TableRow>
                <TableCell>Workload</TableCell>
                <TableCell>Namespace</TableCell>
                <TableCell>Controller</TableCell>
                <TableCell align="right">Pods</TableCell>
                <TableCell />
              </TableRow>
            </TableHead>
            <TableBody>
              {items.map(w => {
                const live =
                  byWorkload.get(`${w.controllerId}|${workloadKey(w)}`) ?? [];
                const usable = canUse(w);
                const controllerTo = paths.controller(w.controllerId);
                return (
                  <Fragment key={`${w.controllerId}|${workloadKey(w)}`}>
                    <TableRow data-testid={`entity-workload-${w.name}`}>
                      <TableCell>
                        <KindIcon kind={w.kind} /> <strong>{w.name}</strong>
                      </TableCell>
                      <TableCell>{w.namespace}</TableCell>
                      <TableCell>
                        {controllerTo ? (
                          <Link to={controllerTo}>{w.controllerName}</Link>
                        ) : (
                          w.controllerName
                        )}
                      </TableCell>
                      <TableCell align="right">
                        {w.pods}
                        {w.replicas !== null ? `/${w.replicas}` : ''}
                      </TableCell>
                      <TableCell align="right">
                        <AttachButton
                          size="small"
                          variant="outlined"
                          allowed={usable}
                          reason='You need the "use" right on this Controller to attach'
                          navigateOnAttach={false}
                          onAttached={refresh}
                          initial={{
                            controllerId: w.controllerId,
                            namespace: w.namespace,
                            target: {
                              namespace: w.namespace,
                              kind: w.kind,
                              name: w.name,
                            },
                            entityRef,
                          }}
                        />
                      </TableCell>
                    </TableRow>
                    {live.length > 0 && (
                      <TableRow>
                        <TableCell colSpan={5} style={{ paddingLeft: 40 }}>
                          {live.map(a => (
                            <AttachmentLine
                              key={a.id}
                              attachment={a}
                              canUse={usable}
                              onChanged={refresh}
                            />
                          ))}
                        </TableCell>
                      </TableRow>
                    )}
                  </Fragment>
                );
              })}
            </TableBody>
          </Table>
        </InfoCard>
      </Grid>
      <Grid item xs={12}>
        <InfoCard
          title="Traffic"
          subheader={
            <Typography variant="body2" color="textPrimary">
              What this component's workloads said and to whom, across the
              attachments you may read.
            </Typography>
          }
        >
          <TrafficView
            source={{
              kind: 'entity',
              entityRef,
              attachments: attachments.value ?? [],
              firstPage:
                early.entityRef === entityRef ? early.firstPage : undefined,
            }}
          />
        </InfoCard>
      </Grid>
    </Grid>
  );
}
