import { useState } from 'react';
import Button from '@material-ui/core/Button';
import Dialog from '@material-ui/core/Dialog';
import DialogActions from '@material-ui/core/DialogActions';
import DialogContent from '@material-ui/core/DialogContent';
import DialogTitle from '@material-ui/core/DialogTitle';
import TextField from '@material-ui/core/TextField';
import { Alert } from '@material-ui/lab';
import { useApi } from '@backstage/core-plugin-api';
import {
  Controller,
  ControllerWithToken,
  createControllerRequestSchema,
  updateControllerRequestSchema,
} from '@spider/backstage-plugin-spider-common';
import { spiderApiRef } from '../../api/SpiderApi';
import { describeError } from '../../api/errors';
import { fieldErrors, sentence, TokenReveal } from '../common';

/**
 * Register a Controller (then show its agent token once), or rename one.
 */
export function ControllerFormDialog(props: {
  open: boolean;
  onClose: () => void;
  /** Rename this Controller; without it the dialog registers a new one. */
  controller?: Controller;
  onSaved?: (controller: Controller) => void;
}) {
  const api = useApi(spiderApiRef);
  const editing = props.controller;
  const [name, setName] = useState(editing?.name ?? '');
  const [description, setDescription] = useState(editing?.description ?? '');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [serverError, setServerError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<ControllerWithToken>();

  const reset = () => {
    setName(editing?.name ?? '');
    setDescription(editing?.description ?? '');
    setErrors({});
    setServerError(undefined);
    setCreated(undefined);
  };
  const close = () => {
    if (busy) return;
    reset();
    props.onClose();
  };

  const submit = async () => {
    const body = editing
      ? {
          ...(name !== editing.name ? { name } : {}),
          ...(description !== editing.description ? { description } : {}),
        }
      : { name, ...(description ? { description } : {}) };
    const parsed = editing
      ? updateControllerRequestSchema.safeParse(body)
      : createControllerRequestSchema.safeParse(body);
    const errs = fieldErrors(parsed);
    if (editing && Object.keys(body).length === 0) {
      close();
      return;
    }
    setErrors(errs);
    if (!parsed.success) return;
    setBusy(true);
    setServerError(undefined);
    try {
      if (editing) {
        const saved = await api.updateController(editing.id, parsed.data);
        props.onSaved?.(saved);
        setBusy(false);
        reset();
        props.onClose();
      } else {
        const saved = await api.createController(
          parsed.data as { name: string; description?: string },
        );
        props.onSaved?.(saved);
        setCreated(saved);
        setBusy(false);
      }
    } catch (e) {
      setServerError(e);
      setBusy(false);
    }
  };

  let title = 'Register a Controller';
  if (created) title = `Controller ${created.name} registered`;
  else if (editing) title = `Rename ${editing.name}`;

  return (
    <Dialog
      open={props.open}
      onClose={created ? undefined : close}
      fullWidth
      maxWidth="sm"
      aria-labelledby="spider-controller-dialog-title"
    >
      <DialogTitle id="spider-controller-dialog-title">{title}</DialogTitle>
      <DialogContent>
        {created ? (
          <TokenReveal token={created.token} controllerName={created.name} />
        ) : (
          <form
            id="spider-controller-form"
            noValidate
            onSubmit={e => {
              e.preventDefault();
              submit();
            }}
          >
            <TextField
              id="spider-controllerformdialog-name"
              autoFocus // eslint-disable-line jsx-a11y/no-autofocus -- focus the first field of a dialog the user just opened
              required
              fullWidth
              margin="normal"
              label="Name"
              value={name}
              onChange={e => setName(e.target.value)}
              error={!!errors.name || !!errors['']}
              helperText={
                sentence('Name', errors.name) ??
                errors[''] ??
                'One Controller per cluster, e.g. "prod-eu-1"'
              }
            />
            <TextField
              id="spider-controllerformdialog-description"
              fullWidth
              multiline
              minRows={2}
              margin="normal"
              label="Description"
              value={description}
              onChange={e => setDescription(e.target.value)}
              error={!!errors.description}
              helperText={sentence('Description', errors.description)}
            />
            {serverError !== undefined && (
              <Alert severity="error" role="alert">
                {describeError(serverError)}
              </Alert>
            )}
          </form>
        )}
      </DialogContent>
      <DialogActions>
        {created ? (
          <Button
            color="primary"
            variant="contained"
            onClick={() => {
              reset();
              props.onClose();
            }}
          >
            I have copied the token
          </Button>
        ) : (
          <>
            <Button onClick={close} disabled={busy}>
              Cancel
            </Button>
            <Button
              type="submit"
              form="spider-controller-form"
              color="primary"
              variant="contained"
              disabled={busy}
            >
              {editing ? 'Save' : 'Register'}
            </Button>
          </>
        )}
      </DialogActions>
    </Dialog>
  );
}
