import { ReactNode, useState } from 'react';
import Button from '@material-ui/core/Button';
import Dialog from '@material-ui/core/Dialog';
import DialogActions from '@material-ui/core/DialogActions';
import DialogContent from '@material-ui/core/DialogContent';
import DialogContentText from '@material-ui/core/DialogContentText';
import DialogTitle from '@material-ui/core/DialogTitle';
import Tooltip from '@material-ui/core/Tooltip';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import { Alert } from '@material-ui/lab';
import { CopyTextButton } from '@backstage/core-components';
import { describeError } from '../../api/errors';

/** A yes/no question before something that cannot be undone. */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onClose: () => void;
  onConfirm: () => Promise<unknown>;
  /** Optional: the user must type this text to confirm. */
  typeToConfirm?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [typed, setTyped] = useState('');
  const close = () => {
    if (busy) return;
    setError(undefined);
    setTyped('');
    props.onClose();
  };
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await props.onConfirm();
      setTyped('');
      props.onClose();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const blocked =
    props.typeToConfirm !== undefined && typed !== props.typeToConfirm;
  return (
    <Dialog
      open={props.open}
      onClose={close}
      aria-labelledby="spider-confirm-title"
    >
      <DialogTitle id="spider-confirm-title">{props.title}</DialogTitle>
      <DialogContent>
        <DialogContentText component="div">{props.children}</DialogContentText>
        {props.typeToConfirm !== undefined && (
          <TextField
            autoFocus // eslint-disable-line jsx-a11y/no-autofocus -- focus the first field of a dialog the user just opened
            fullWidth
            margin="dense"
            label={`Type "${props.typeToConfirm}" to confirm`}
            value={typed}
            onChange={e => setTyped(e.target.value)}
          />
        )}
        {error !== undefined && (
          <Alert severity="error" role="alert">
            {describeError(error)}
          </Alert>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={close} disabled={busy}>
          Cancel
        </Button>
        <Button
          onClick={confirm}
          color="secondary"
          variant="contained"
          disabled={busy || blocked}
        >
          {busy ? 'Working…' : props.confirmLabel}
        </Button>
      </DialogActions>
    </Dialog>
  );
}

/** Shows an agent token once, with copy and a warning that it will not be shown again. */
export function TokenReveal(props: { token: string; controllerName: string }) {
  return (
    <>
      <Alert severity="warning" style={{ marginBottom: 16 }}>
        Copy this agent token now. It is shown only once: Spider keeps only a
        hash of it, and nobody can show it to you again. If you lose it, rotate
        the token from the Controller's Install tab.
      </Alert>
      <Typography variant="subtitle2" gutterBottom>
        Agent token of {props.controllerName}
      </Typography>
      <div style={{ display: 'flex', alignItems: 'center', gap: 8 }}>
        <TextField
          fullWidth
          variant="outlined"
          value={props.token}
          InputProps={{ readOnly: true, style: { fontFamily: 'monospace' } }}
          inputProps={{
            'aria-label': 'Agent token',
            'data-testid': 'agent-token',
          }}
          onFocus={e => e.target.select()}
        />
        <CopyTextButton
          text={props.token}
          tooltipText="Token copied"
          aria-label="Copy token"
        />
      </div>
    </>
  );
}

/**
 * A button the user may not use is shown disabled, with the reason as its tooltip
 * (on a wrapper, since disabled buttons get no pointer events).
 */
export function GuardedButton(props: {
  allowed: boolean;
  reason?: string;
  children: ReactNode;
  onClick?: () => void;
  variant?: 'text' | 'outlined' | 'contained';
  color?: 'default' | 'primary' | 'secondary';
  startIcon?: ReactNode;
  size?: 'small' | 'medium';
  disabled?: boolean;
  'aria-label'?: string;
}) {
  const { allowed, reason, children, disabled, ...rest } = props;
  const button = (
    <Button {...rest} disabled={!allowed || disabled}>
      {children}
    </Button>
  );
  if (allowed || !reason) return button;
  return (
    <Tooltip title={reason}>
      <span data-testid="disabled-reason" aria-label={reason}>
        {button}
      </span>
    </Tooltip>
  );
}
