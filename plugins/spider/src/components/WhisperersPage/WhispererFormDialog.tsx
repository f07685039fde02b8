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
  createWhispererRequestSchema,
  humanizeDuration,
  parseDuration,
  updateWhispererRequestSchema,
  Whisperer,
} from '@spider/backstage-plugin-spider-common';
import { spiderApiRef } from '../../api/SpiderApi';
import { describeError } from '../../api/errors';
import { fieldErrors, sentence } from '../common';
import { ttlInput, ttlToIso } from './ttl';

function envToText(env: Record<string, string> | undefined) {
  return Object.entries(env ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}

function textToEnv(text: string): {
  env?: Record<string, string>;
  error?: string;
} {
  const env: Record<string, string> = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return { error: `Line ${i + 1} is not NAME=value` };
    env[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return { env };
}

/** Create or edit a Whisperer (a named capture configuration). */
export function WhispererFormDialog(props: {
  open: boolean;
  onClose: () => void;
  whisperer?: Whisperer;
  onSaved?: (w: Whisperer) => void;
}) {
  const api = useApi(spiderApiRef);
  const w = props.whisperer;
  const [name, setName] = useState(w?.name ?? '');
  const [description, setDescription] = useState(w?.description ?? '');
  const [image, setImage] = useState(w?.image ?? '');
  const [captureFilter, setCaptureFilter] = useState(w?.captureFilter ?? '');
  const [ttl, setTtl] = useState(ttlInput(w?.timeToLive));
  const [envText, setEnvText] = useState(envToText(w?.env));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [serverError, setServerError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const iso = ttl.trim() ? ttlToIso(ttl) : null;
  const ttlMs = iso ? parseDuration(iso) : undefined;

  let ttlHelp = 'Not a duration yet: try "30 minutes", "2h", "1 day" or PT30M';
  if (!ttl.trim())
    ttlHelp = 'Empty: attachments run until someone detaches them';
  else if (iso && ttlMs)
    ttlHelp = `Attachments end by themselves after ${humanizeDuration(
      ttlMs,
    )} (${iso})`;

  const submit = async () => {
    const errs: Record<string, string> = {};
    if (ttl.trim() && !iso)
      errs.timeToLive =
        'Time to live must be a duration such as "30 minutes", "2h", "1 day" or PT30M';
    const envParsed = textToEnv(envText);
    if (envParsed.error) errs.env = envParsed.error;
    const body = {
      name,
      description,
      image: image.trim() ? image.trim() : null,
      captureFilter,
      timeToLive: iso ?? null,
      env: envParsed.env ?? {},
    };
    const parsed = w
      ? updateWhispererRequestSchema.safeParse(body)
      : createWhispererRequestSchema.safeParse(body);
    const schemaErrs = fieldErrors(parsed);
    const all = { ...schemaErrs, ...errs };
    setErrors(all);
    if (Object.keys(all).length || !parsed.success) return;
    setBusy(true);
    setServerError(undefined);
    try {
      const saved = w
        ? await api.updateWhisperer(w.id, parsed.data)
        : await api.createWhisperer(parsed.data as typeof body);
      setBusy(false);
      props.onSaved?.(saved);
      props.onClose();
    } catch (e) {
      setBusy(false);
      setServerError(e);
    }
  };

  return (
    <Dialog
      open={props.open}
      onClose={busy ? undefined : props.onClose}
      fullWidth
      maxWidth="sm"
      aria-labelledby="spider-whisperer-dialog-title"
    >
      <DialogTitle id="spider-whisperer-dialog-title">
        {w ? `Edit ${w.name}` : 'Create a Whisperer'}
      </DialogTitle>
      <DialogContent>
        <form
          id="spider-whisperer-form"
          noValidate
          onSubmit={e => {
            e.preventDefault();
            submit();
          }}
        >
          <TextField
            id="spider-whispererformdialog-name"
            autoFocus // eslint-disable-line jsx-a11y/no-autofocus -- focus the first field of a dialog the user just opened
            required
            fullWidth
            margin="dense"
            label="Name"
            value={name}
            onChange={e => setName(e.target.value)}
            error={!!errors.name}
            helperText={sentence('Name', errors.name)}
          />
          <TextField
            id="spider-whispererformdialog-description"
            fullWidth
            margin="dense"
            label="Description"
            value={description}
            onChange={e => setDescription(e.target.value)}
            error={!!errors.description}
            helperText={sentence('Description', errors.description)}
          />
          <TextField
            id="spider-whispererformdialog-image"
            fullWidth
            margin="dense"
            label="Image"
            placeholder="the agent's default whisperer image"
            value={image}
            onChange={e => setImage(e.target.value)}
            error={!!errors.image}
            helperText={
              sentence('Image', errors.image) ??
              "Leave empty for the agent's default image"
            }
          />
          <TextField
            id="spider-whispererformdialog-capture-filter"
            fullWidth
            margin="dense"
            label="Capture filter"
            placeholder="tcp port 80"
            value={captureFilter}
            onChange={e => setCaptureFilter(e.target.value)}
            error={!!errors.captureFilter}
            helperText={
              sentence('Capture filter', errors.captureFilter) ??
              'A pcap (BPF) filter; empty captures everything'
            }
            InputProps={{ style: { fontFamily: 'monospace' } }}
          />
          <TextField
            id="spider-whispererformdialog-time-to-live"
            fullWidth
            margin="dense"
            label="Time to live"
            placeholder="e.g. 30 minutes, 2h, 1 day"
            value={ttl}
            onChange={e => {
              setTtl(e.target.value);
              setErrors(({ timeToLive: _drop, ...rest }) => rest);
            }}
            error={!!errors.timeToLive || (!!ttl.trim() && !iso)}
            helperText={errors.timeToLive ?? ttlHelp}
            inputProps={{ 'data-testid': 'ttl-input' }}
          />
          <TextField
            id="spider-whispererformdialog-environment"
            fullWidth
            multiline
            minRows={2}
            margin="dense"
            label="Environment"
            placeholder="NAME=value, one per line"
            value={envText}
            onChange={e => setEnvText(e.target.value)}
            error={!!errors.env}
            helperText={errors.env ?? 'Extra settings passed to the whisperer'}
            InputProps={{ style: { fontFamily: 'monospace' } }}
          />
          {errors[''] && <Alert severity="error">{errors['']}</Alert>}
          {serverError !== undefined && (
            <Alert severity="error" role="alert">
              {describeError(serverError)}
            </Alert>
          )}
        </form>
      </DialogContent>
      <DialogActions>
        <Button onClick={props.onClose} disabled={busy}>
          Cancel
        </Button>
        <Button
          type="submit"
          form="spider-whisperer-form"
          variant="contained"
          color="primary"
          disabled={busy}
        >
          {w ? 'Save' : 'Create'}
        </Button>
      </DialogActions>
    </Dialog>
  );
}
