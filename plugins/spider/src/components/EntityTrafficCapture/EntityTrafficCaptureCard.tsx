import Typography from '@material-ui/core/Typography';
import { InfoCard, Progress } from '@backstage/core-components';
import { useEntity } from '@backstage/plugin-catalog-react';
import { AttachButton } from '../AttachDialog';
import { ErrorView } from '../common';
import { useEntityCapture } from './useEntityCapture';

/** A small card for a component's overview: live captures and an Attach button. */
export function EntityTrafficCaptureCard() {
  const { entity } = useEntity();
  const { entityRef, workloads, attachments } = useEntityCapture(entity);
  let body;
  if (workloads.loading) body = <Progress />;
  else if (workloads.error)
    body = <ErrorView error={workloads.error} retry={workloads.retry} />;
  else {
    const n = workloads.value?.items.length ?? 0;
    const live = (attachments.value ?? []).filter(
      a => a.status === 'active' || a.status === 'pending',
    ).length;
    body = (
      <>
        <Typography variant="body2" paragraph>
          {n === 0
            ? 'No workload of this component is visible through the Controllers you may use.'
            : `${n} workload${
                n === 1 ? '' : 's'
              } visible; ${live} live capture${live === 1 ? '' : 's'}.`}
        </Typography>
        {n > 0 && (
          <AttachButton
            variant="outlined"
            label="Capture traffic"
            initial={{ entityRef, choices: workloads.value!.items }}
            onAttached={() => attachments.refresh()}
          />
        )}
      </>
    );
  }
  return <InfoCard title="Traffic capture">{body}</InfoCard>;
}
