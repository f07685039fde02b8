import { useEffect, useMemo, useState } from 'react';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Checkbox from '@material-ui/core/Checkbox';
import FormControlLabel from '@material-ui/core/FormControlLabel';
import FormGroup from '@material-ui/core/FormGroup';
import FormHelperText from '@material-ui/core/FormHelperText';
import IconButton from '@material-ui/core/IconButton';
import Paper from '@material-ui/core/Paper';
import Radio from '@material-ui/core/Radio';
import RadioGroup from '@material-ui/core/RadioGroup';
import TextField from '@material-ui/core/TextField';
import Tooltip from '@material-ui/core/Tooltip';
import Typography from '@material-ui/core/Typography';
import AddIcon from '@material-ui/icons/Add';
import DeleteIcon from '@material-ui/icons/Delete';
import { Alert, Autocomplete } from '@material-ui/lab';
import { InfoCard, Progress } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { catalogApiRef } from '@backstage/plugin-catalog-react';
import {
  Controller,
  CONTROLLER_RIGHTS,
  ControllerRight,
  Grant,
  putSharesRequestSchema,
} from '@spider/backstage-plugin-spider-common';
import { spiderApiRef } from '../../api/SpiderApi';
import { describeError } from '../../api/errors';
import { ErrorView } from '../common';

export const RIGHT_TEXT: Record<ControllerRight, string> = {
  read: 'see the Controller, its status and attachments',
  use: 'list workloads and attach whisperers',
  update: 'rename the Controller',
  delete: 'delete the Controller',
  share: 'change who it is shared with',
  install: 'see install instructions and rotate the agent token',
};

interface PrincipalOption {
  ref: string;
  label: string;
  kind: 'user' | 'group';
}

function usePrincipals() {
  const catalogApi = useApi(catalogApiRef);
  const [state, setState] = useState<{
    options: PrincipalOption[];
    error?: unknown;
    loading: boolean;
  }>({
    options: [],
    loading: true,
  });
  useEffect(() => {
    let cancelled = false;
    catalogApi
      .getEntities({
        filter: [{ kind: 'User' }, { kind: 'Group' }],
        fields: [
          'kind',
          'metadata.name',
          'metadata.namespace',
          'metadata.title',
          'spec.profile.displayName',
        ],
      })
      .then(r => {
        if (cancelled) return;
        const options = r.items
          .map(e => {
            const kind = e.kind.toLowerCase() as 'user' | 'group';
            const ref = `${kind}:${e.metadata.namespace ?? 'default'}/${
              e.metadata.name
            }`;
            const display =
              (e.spec as any)?.profile?.displayName ??
              e.metadata.title ??
              e.metadata.name;
            return { ref, kind, label: `${display} (${ref})` };
          })
          .sort((a, b) => a.label.localeCompare(b.label));
        setState({ options, loading: false });
      })
      .catch(
        error => !cancelled && setState({ options: [], error, loading: false }),
      );
    return () => {
      cancelled = true;
    };
  }, [catalogApi]);
  return state;
}

type RowErrors = Partial<Record<'principal' | 'rights' | 'namespaces', string>>;

function GrantEditor(props: {
  grant: Grant;
  index: number;
  principals: PrincipalOption[];
  namespaceOptions: string[];
  errors?: RowErrors;
  onChange: (g: Grant) => void;
  onRemove: () => void;
}) {
  const { grant, errors = {} } = props;
  const selected =
    props.principals.find(p => p.ref === grant.principal) ??
    (grant.principal
      ? {
          ref: grant.principal,
          label: grant.principal,
          kind: grant.principal.startsWith('group:') ? 'group' : 'user',
        }
      : null);
  const all = grant.namespaces === '*';
  const toggle = (right: ControllerRight, on: boolean) => {
    const set = new Set(grant.rights);
    if (on) set.add(right);
    else set.delete(right);
    props.onChange({
      ...grant,
      rights: CONTROLLER_RIGHTS.filter(r => set.has(r)),
    });
  };
  return (
    <Paper
      variant="outlined"
      style={{ padding: 16, marginBottom: 16 }}
      data-testid={`grant-${props.index}`}
    >
      <Box display="flex" alignItems="flex-start" style={{ gap: 16 }}>
        <Autocomplete<PrincipalOption>
          style={{ flex: 1 }}
          options={props.principals}
          groupBy={o => (o.kind === 'group' ? 'Groups' : 'Users')}
          getOptionLabel={o => o.label}
          getOptionSelected={(o, v) => o.ref === v.ref}
          value={selected as PrincipalOption | null}
          onChange={(_e, v) =>
            props.onChange({ ...grant, principal: v?.ref ?? '' })
          }
          renderInput={params => (
            <TextField
              {...params}
              label="User or group"
              variant="outlined"
              size="small"
              error={!!errors.principal}
              helperText={errors.principal}
            />
          )}
        />
        <Tooltip title="Remove this grant">
          <IconButton
            aria-label={`Remove grant ${props.index + 1}`}
            onClick={props.onRemove}
          >
            <DeleteIcon />
          </IconButton>
        </Tooltip>
      </Box>
      <Typography variant="subtitle2" style={{ marginTop: 12 }}>
        Rights
      </Typography>
      <FormGroup row>
        {CONTROLLER_RIGHTS.map(r => (
          <Tooltip key={r} title={RIGHT_TEXT[r]}>
            <FormControlLabel
              control={
                <Checkbox
                  size="small"
                  checked={grant.rights.includes(r)}
                  onChange={e => toggle(r, e.target.checked)}
                />
              }
              label={r}
            />
          </Tooltip>
        ))}
      </FormGroup>
      {errors.rights && <FormHelperText error>{errors.rights}</FormHelperText>}
      <Typography variant="subtitle2" style={{ marginTop: 12 }}>
        Namespaces
      </Typography>
      <RadioGroup
        row
        value={all ? 'all' : 'some'}
        onChange={e =>
          props.onChange({
            ...grant,
            namespaces: e.target.value === 'all' ? '*' : [],
          })
        }
      >
        <FormControlLabel
          value="all"
          control={<Radio size="small" />}
          label="All namespaces"
        />
        <FormControlLabel
          value="some"
          control={<Radio size="small" />}
          label="Only these namespaces"
        />
      </RadioGroup>
      {!all && (
        <Autocomplete<string, true, false, true>
          multiple
          freeSolo
          options={props.namespaceOptions}
          value={grant.namespaces as string[]}
          onChange={(_e, v) =>
            props.onChange({
              ...grant,
              namespaces: v.map(s => s.trim()).filter(Boolean),
            })
          }
          renderInput={params => (
            <TextField
              {...params}
              label="Namespaces"
              variant="outlined"
              size="small"
              placeholder="Pick or type a namespace"
              error={!!errors.namespaces}
              helperText={
                errors.namespaces ??
                'Nobody sees or attaches to workloads outside these namespaces'
              }
            />
          )}
        />
      )}
      {all && errors.namespaces && (
        <FormHelperText error>{errors.namespaces}</FormHelperText>
      )}
    </Paper>
  );
}

/** Share tab: who may do what on this Controller, in which namespaces. */
export function ShareTab(props: { controller: Controller }) {
  const api = useApi(spiderApiRef);
  const id = props.controller.id;
  const principals = usePrincipals();
  const [loaded, setLoaded] = useState<{
    items?: Grant[];
    error?: unknown;
    loading: boolean;
  }>({ loading: true });
  const [grants, setGrants] = useState<Grant[]>([]);
  const [namespaces, setNamespaces] = useState<string[]>([]);
  const [rowErrors, setRowErrors] = useState<RowErrors[]>([]);
  const [formError, setFormError] = useState<string>();
  const [saveError, setSaveError] = useState<unknown>();
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let cancelled = false;
    setLoaded({ loading: true });
    api.getShares(id).then(
      r => {
        if (cancelled) return;
        setLoaded({ items: r.items, loading: false });
        setGrants(r.items);
      },
      error => !cancelled && setLoaded({ error, loading: false }),
    );
    api.listNamespaces(id).then(
      r => !cancelled && setNamespaces(r.items),
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, [api, id, reload]);

  const dirty = useMemo(
    () => JSON.stringify(grants) !== JSON.stringify(loaded.items ?? []),
    [grants, loaded.items],
  );

  if (!props.controller.rights.includes('share')) {
    return (
      <Alert severity="info">
        Only people with the &quot;share&quot; right on this Controller can see
        and change who it is shared with.
      </Alert>
    );
  }
  if (loaded.loading) return <Progress />;
  if (loaded.error)
    return (
      <ErrorView error={loaded.error} retry={() => setReload(r => r + 1)} />
    );

  const update = (i: number, g: Grant) => {
    setSaved(false);
    setGrants(gs => gs.map((x, j) => (j === i ? g : x)));
  };

  const save = async () => {
    const parsed = putSharesRequestSchema.safeParse({ items: grants });
    const rows: RowErrors[] = grants.map(() => ({}));
    let general: string | undefined;
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const [root, index, field] = issue.path as Array<string | number>;
        if (root === 'items' && typeof index === 'number' && field) {
          const key = field as keyof RowErrors;
          const msg =
            key === 'principal' && !grants[index].principal
              ? 'Pick a user or group'
              : issue.message;
          rows[index][key] = rows[index][key] ?? msg;
        } else {
          general = general ?? issue.message;
        }
      }
    }
    setRowErrors(rows);
    setFormError(general);
    if (!parsed.success) return;
    setSaving(true);
    setSaveError(undefined);
    try {
      const r = await api.putShares(id, parsed.data.items as Grant[]);
      setLoaded({ items: r.items, loading: false });
      setGrants(r.items);
      setSaved(true);
    } catch (e) {
      setSaveError(e);
    } finally {
      setSaving(false);
    }
  };

  return (
    <InfoCard
      title="Shared with"
      subheader={
        <Typography
          variant="body2"
          color="textPrimary"
        >{`The owner (${props.controller.owner}) always has every right. Each grant gives a user or group some rights in some namespaces.`}</Typography>
      }
    >
      {principals.error !== undefined && (
        <Alert severity="warning">
          Users and groups could not be loaded from the catalog (
          {describeError(principals.error)}).
        </Alert>
      )}
      {grants.length === 0 && (
        <Typography variant="body2" paragraph>
          Not shared with anyone: only the owner can use this Controller.
        </Typography>
      )}
      {grants.map((g, i) => (
        <GrantEditor
          key={i}
          index={i}
          grant={g}
          principals={principals.options}
          namespaceOptions={namespaces}
          errors={rowErrors[i]}
          onChange={next => update(i, next)}
          onRemove={() => {
            setSaved(false);
            setGrants(gs => gs.filter((_x, j) => j !== i));
            setRowErrors(es => es.filter((_x, j) => j !== i));
          }}
        />
      ))}
      {formError && (
        <Alert severity="error" role="alert">
          {formError}
        </Alert>
      )}
      {saveError !== undefined && (
        <Alert severity="error" role="alert">
          {describeError(saveError)}
        </Alert>
      )}
      {saved && !dirty && <Alert severity="success">Sharing saved.</Alert>}
      <Box display="flex" style={{ gap: 8 }} mt={2}>
        <Button
          startIcon={<AddIcon />}
          variant="outlined"
          onClick={() => {
            setSaved(false);
            setGrants(gs => [
              ...gs,
              { principal: '', rights: ['read', 'use'], namespaces: [] },
            ]);
          }}
        >
          Add grant
        </Button>
        <Button
          variant="contained"
          color="primary"
          disabled={!dirty || saving}
          onClick={save}
        >
          {saving ? 'Saving…' : 'Save'}
        </Button>
        <Button
          disabled={!dirty || saving}
          onClick={() => {
            setGrants(loaded.items ?? []);
            setRowErrors([]);
            setFormError(undefined);
          }}
        >
          Discard changes
        </Button>
      </Box>
    </InfoCard>
  );
}
