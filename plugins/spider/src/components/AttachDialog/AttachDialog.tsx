import { useCallback, useEffect, useMemo, useState } from 'react';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Dialog from '@material-ui/core/Dialog';
import DialogActions from '@material-ui/core/DialogActions';
import DialogContent from '@material-ui/core/DialogContent';
import DialogTitle from '@material-ui/core/DialogTitle';
import Grid from '@material-ui/core/Grid';
import LinearProgress from '@material-ui/core/LinearProgress';
import MenuItem from '@material-ui/core/MenuItem';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import { Alert, Autocomplete } from '@material-ui/lab';
import { useApi } from '@backstage/core-plugin-api';
import {
  Attachment,
  Controller,
  createAttachmentRequestSchema,
  EntityWorkload,
  humanizeDuration,
  imageAllowed,
  parseDuration,
  parseImagePatterns,
  Whisperer,
  Workload,
  WorkloadRef,
} from '@spider/backstage-plugin-spider-common';
import { NamespaceList, spiderApiRef } from '../../api/SpiderApi';
import { describeError } from '../../api/errors';
import { fieldErrors, formatDateTime, TargetView, useNow } from '../common';
import { WorkloadPicker, workloadKey } from './WorkloadPicker';

export interface AttachDialogInitial {
  controllerId?: string;
  whispererId?: string;
  namespace?: string;
  target?: WorkloadRef;
  /** The catalog entity the attach is made from. */
  entityRef?: string;
  /**
   * Restrict the choices to these workloads (an entity's), instead of listing the
   * Controller's workloads live.
   */
  choices?: EntityWorkload[];
}

type Loaded<T> = { value?: T; error?: unknown; loading: boolean };

function useLoad<T>(load: (() => Promise<T>) | undefined, deps: unknown[]) {
  const [state, setState] = useState<Loaded<T>>({ loading: !!load });
  useEffect(() => {
    if (!load) {
      setState({ loading: false });
      return undefined;
    }
    let cancelled = false;
    setState({ loading: true });
    load().then(
      value => !cancelled && setState({ value, loading: false }),
      error => !cancelled && setState({ error, loading: false }),
    );
    return () => {
      cancelled = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return state;
}

/**
 * Why the Controller's agent would refuse this Whisperer's image, or null. The agent
 * reports its allow-list (chart value whisperers.allowedImages, its default image among
 * them) with its status; a Whisperer without an image gets that default, always allowed.
 * Null too when the list is unknown (agent offline or older): the agent still checks.
 */
export function imageNotAllowedWarning(
  whisperer: Pick<Whisperer, 'image'> | undefined,
  allowed: readonly string[] | undefined,
): string | null {
  if (!whisperer?.image || !allowed) return null;
  if (imageAllowed(whisperer.image, parseImagePatterns(allowed).patterns))
    return null;
  return `This Controller's agent injects only ${
    allowed.length ? allowed.join(', ') : 'no images'
  }: it would refuse "${
    whisperer.image
  }" in every pod (ImageNotAllowed), so the attachment would capture nothing. Pick another whisperer, or ask the agent's admin to allow the image (chart value whisperers.allowedImages).`;
}

/** What a whisperer's time to live means for an attachment made now. */
export function ExpiryPreview(props: { whisperer?: Whisperer }) {
  const now = useNow();
  if (!props.whisperer) return null;
  const ttl = props.whisperer.timeToLive
    ? parseDuration(props.whisperer.timeToLive)
    : undefined;
  if (!ttl) {
    return (
      <Typography variant="body2" data-testid="expiry-preview">
        No time to live: the capture runs until someone detaches it.
      </Typography>
    );
  }
  return (
    <Typography variant="body2" data-testid="expiry-preview">
      Time to live {humanizeDuration(ttl)}: the capture ends by itself at{' '}
      <strong>{formatDateTime(new Date(now + ttl).toISOString())}</strong>.
    </Typography>
  );
}

/**
 * Attach a whisperer to a workload: pick a usable Controller, a granted namespace,
 * a workload (live from the agent) and a whisperer.
 */
export function AttachDialog(props: {
  open: boolean;
  onClose: () => void;
  initial?: AttachDialogInitial;
  onAttached?: (attachment: Attachment) => void;
}) {
  const { open, initial } = props;
  const api = useApi(spiderApiRef);
  const choices = initial?.choices;
  const [controllerId, setControllerId] = useState(initial?.controllerId ?? '');
  const [namespace, setNamespace] = useState(
    initial?.namespace ?? initial?.target?.namespace ?? '',
  );
  const [target, setTarget] = useState<WorkloadRef | undefined>(
    initial?.target,
  );
  const [whispererId, setWhispererId] = useState(initial?.whispererId ?? '');
  const [search, setSearch] = useState('');
  const [busy, setBusy] = useState(false);
  const [submitError, setSubmitError] = useState<unknown>();
  const [errors, setErrors] = useState<Record<string, string>>({});

  useEffect(() => {
    if (!open) return;
    setControllerId(initial?.controllerId ?? '');
    setNamespace(initial?.namespace ?? initial?.target?.namespace ?? '');
    setTarget(initial?.target);
    setWhispererId(initial?.whispererId ?? '');
    setSubmitError(undefined);
    setErrors({});
    setSearch('');
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open]);

  const controllers = useLoad<Controller[]>(
    open ? () => api.listControllers().then(r => r.items) : undefined,
    [open, api],
  );
  const whisperers = useLoad<Whisperer[]>(
    open ? () => api.listWhisperers().then(r => r.items) : undefined,
    [open, api],
  );
  const namespaces = useLoad<NamespaceList>(
    open && controllerId && !choices
      ? () => api.listNamespaces(controllerId)
      : undefined,
    [open, api, controllerId, !!choices],
  );
  const workloads = useLoad<{ items: Workload[]; truncated: boolean }>(
    open && controllerId && namespace && !choices
      ? () =>
          api.listWorkloads(controllerId, {
            namespace,
            ...(search ? { q: search } : {}),
          })
      : undefined,
    [open, api, controllerId, namespace, !!choices, search],
  );

  const usable = useMemo(() => {
    const all = (controllers.value ?? []).filter(c => c.rights.includes('use'));
    if (!choices) return all;
    const ids = new Set(choices.map(c => c.controllerId));
    return all.filter(c => ids.has(c.id));
  }, [controllers.value, choices]);

  // One usable Controller: pick it.
  useEffect(() => {
    if (!controllerId && usable.length === 1) setControllerId(usable[0].id);
  }, [usable, controllerId]);

  const namespaceOptions = useMemo(() => {
    if (choices)
      return [
        ...new Set(
          choices
            .filter(c => c.controllerId === controllerId)
            .map(c => c.namespace),
        ),
      ].sort();
    return namespaces.value?.items ?? [];
  }, [choices, controllerId, namespaces.value]);

  useEffect(() => {
    if (!namespace && namespaceOptions.length === 1)
      setNamespace(namespaceOptions[0]);
  }, [namespace, namespaceOptions]);

  const workloadItems: Workload[] = useMemo(() => {
    if (choices)
      return choices.filter(
        c => c.controllerId === controllerId && c.namespace === namespace,
      );
    return workloads.value?.items ?? [];
  }, [choices, controllerId, namespace, workloads.value]);

  const whisperer = whisperers.value?.find(w => w.id === whispererId);
  const controller = usable.find(c => c.id === controllerId);
  const agentStatus = useLoad(
    open && controllerId
      ? () => api.getControllerStatus(controllerId)
      : undefined,
    [open, api, controllerId],
  );
  const imageWarning = imageNotAllowedWarning(
    whisperer,
    agentStatus.value?.controllerId === controllerId
      ? agentStatus.value.status?.allowedImages
      : undefined,
  );

  const onSelectWorkload = useCallback(
    (w: Workload) =>
      setTarget({ namespace: w.namespace, kind: w.kind, name: w.name }),
    [],
  );
  const onSearch = useCallback(
    (q: string) => {
      if (workloads.value?.truncated || search) setSearch(q);
    },
    [workloads.value?.truncated, search],
  );

  const submit = async () => {
    const errs: Record<string, string> = {};
    if (!controllerId) errs.controllerId = 'Pick a Controller';
    if (!namespace) errs.namespace = 'Pick a namespace';
    if (!target) errs.target = 'Pick a workload';
    if (!whispererId) errs.whispererId = 'Pick a whisperer';
    const body = {
      controllerId,
      whispererId,
      target: target!,
      ...(initial?.entityRef ? { entityRef: initial.entityRef } : {}),
    };
    if (Object.keys(errs).length === 0) {
      const parsed = createAttachmentRequestSchema.safeParse(body);
      Object.assign(errs, fieldErrors(parsed));
    }
    setErrors(errs);
    if (Object.keys(errs).length) return;
    setBusy(true);
    setSubmitError(undefined);
    try {
      const attachment = await api.createAttachment(body);
      setBusy(false);
      props.onAttached?.(attachment);
      props.onClose();
    } catch (e) {
      setBusy(false);
      setSubmitError(e);
    }
  };

  let namespaceHelp: string | undefined;
  if (namespaces.error !== undefined)
    namespaceHelp = describeError(namespaces.error);
  else if (namespaces.value && !namespaces.value.all)
    namespaceHelp = 'Only the namespaces you were granted';

  const noUsable =
    !controllers.loading && !controllers.error && usable.length === 0;
  const lockTarget = !!initial?.target;

  return (
    <Dialog
      open={open}
      onClose={busy ? undefined : props.onClose}
      fullWidth
      maxWidth="md"
      aria-labelledby="spider-attach-title"
    >
      <DialogTitle id="spider-attach-title">Attach a whisperer</DialogTitle>
      <DialogContent>
        {(controllers.loading || whisperers.loading) && <LinearProgress />}
        {controllers.error !== undefined && (
          <Alert severity="error">{describeError(controllers.error)}</Alert>
        )}
        {whisperers.error !== undefined && (
          <Alert severity="error">{describeError(whisperers.error)}</Alert>
        )}
        {noUsable && (
          <Alert severity="info">
            {choices
              ? 'None of the Controllers that see this entity\'s workloads lets you attach. Ask a Controller\'s owner to share it with you (the "use" right).'
              : 'You may not use any Controller. Ask a Controller\'s owner to share it with you (the "use" right on the namespaces you need).'}
          </Alert>
        )}
        <Grid container spacing={2}>
          <Grid item xs={12} sm={4}>
            <TextField
              id="spider-attachdialog-controller"
              select
              fullWidth
              variant="outlined"
              size="small"
              label="Controller"
              value={
                usable.some(c => c.id === controllerId) ? controllerId : ''
              }
              disabled={lockTarget || noUsable}
              error={!!errors.controllerId}
              helperText={errors.controllerId}
              onChange={e => {
                setControllerId(e.target.value);
                setNamespace('');
                setTarget(undefined);
                setSearch('');
              }}
              SelectProps={{
                inputProps: { 'data-testid': 'controller-select' },
              }}
            >
              {usable.map(c => (
                <MenuItem key={c.id} value={c.id}>
                  {c.name} {c.connected ? '' : '(agent offline)'}
                </MenuItem>
              ))}
            </TextField>
          </Grid>
          <Grid item xs={12} sm={4}>
            <Autocomplete
              options={namespaceOptions}
              value={namespace || null}
              disabled={!controllerId || lockTarget}
              loading={namespaces.loading}
              onChange={(_e, v) => {
                setNamespace(v ?? '');
                setTarget(undefined);
                setSearch('');
              }}
              renderInput={params => (
                <TextField
                  {...params}
                  variant="outlined"
                  size="small"
                  label="Namespace"
                  error={!!errors.namespace || namespaces.error !== undefined}
                  helperText={errors.namespace ?? namespaceHelp}
                />
              )}
            />
          </Grid>
          <Grid item xs={12} sm={4}>
            <TextField
              id="spider-attachdialog-whisperer"
              select
              fullWidth
              variant="outlined"
              size="small"
              label="Whisperer"
              value={
                whisperers.value?.some(w => w.id === whispererId)
                  ? whispererId
                  : ''
              }
              error={!!errors.whispererId}
              helperText={errors.whispererId}
              onChange={e => setWhispererId(e.target.value)}
              SelectProps={{
                inputProps: { 'data-testid': 'whisperer-select' },
              }}
            >
              {(whisperers.value ?? []).map(w => (
                <MenuItem key={w.id} value={w.id}>
                  {w.name}
                  {w.timeToLive && parseDuration(w.timeToLive)
                    ? ` (${humanizeDuration(parseDuration(w.timeToLive)!)})`
                    : ''}
                </MenuItem>
              ))}
            </TextField>
          </Grid>
          <Grid item xs={12}>
            {lockTarget && target ? (
              <Typography variant="body1">
                Workload: <TargetView target={target} />
              </Typography>
            ) : (
              <>
                {controller && !controller.connected && !choices && (
                  <Alert severity="warning">
                    The agent of {controller.name} is offline, so its workloads
                    cannot be listed now.
                  </Alert>
                )}
                {workloads.loading && (
                  <LinearProgress aria-label="Loading workloads" />
                )}
                {workloads.error !== undefined && (
                  <Alert severity="error" role="alert">
                    {describeError(workloads.error)}
                  </Alert>
                )}
                {controllerId && namespace ? (
                  <WorkloadPicker
                    workloads={workloadItems}
                    truncated={workloads.value?.truncated}
                    selected={target ? workloadKey(target) : undefined}
                    onSelect={onSelectWorkload}
                    onSearch={choices ? undefined : onSearch}
                  />
                ) : (
                  <Typography variant="body2">
                    Pick a Controller and a namespace to see its workloads.
                  </Typography>
                )}
                {errors.target && (
                  <Typography variant="caption" color="error" role="alert">
                    {errors.target}
                  </Typography>
                )}
              </>
            )}
          </Grid>
          <Grid item xs={12}>
            <Box>
              {target && !lockTarget && (
                <Typography variant="body2">
                  Selected: <TargetView target={target} />
                </Typography>
              )}
              <ExpiryPreview whisperer={whisperer} />
              {imageWarning && (
                <Alert severity="warning" role="alert">
                  {imageWarning}
                </Alert>
              )}
            </Box>
          </Grid>
        </Grid>
        {submitError !== undefined && (
          <Box mt={2}>
            <Alert severity="error" role="alert">
              {describeError(submitError)}
            </Alert>
          </Box>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={props.onClose} disabled={busy}>
          Cancel
        </Button>
        <Button
          color="primary"
          variant="contained"
          onClick={submit}
          disabled={busy || noUsable}
        >
          {busy ? 'Attaching…' : 'Attach'}
        </Button>
      </DialogActions>
    </Dialog>
  );
}
