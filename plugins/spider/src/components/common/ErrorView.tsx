import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import { WarningPanel } from '@backstage/core-components';
import { describeError } from '../../api/errors';

/** An error in plain words, with a retry. */
export function ErrorView(props: {
  error: unknown;
  title?: string;
  /** Overrides the generic wording (e.g. what a 404 means for traffic). */
  message?: string;
  retry?: () => void;
}) {
  const message = props.message ?? describeError(props.error);
  return (
    <div role="alert">
      <WarningPanel
        severity="error"
        title={props.title ?? message}
        message={props.title ? message : undefined}
      />
      {props.retry && (
        <Box mt={1}>
          <Button variant="outlined" size="small" onClick={props.retry}>
            Try again
          </Button>
        </Box>
      )}
    </div>
  );
}
