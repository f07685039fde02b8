import { useEffect, useState } from 'react';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Dialog from '@material-ui/core/Dialog';
import DialogActions from '@material-ui/core/DialogActions';
import DialogContent from '@material-ui/core/DialogContent';
import DialogTitle from '@material-ui/core/DialogTitle';
import FormControlLabel from '@material-ui/core/FormControlLabel';
import Grid from '@material-ui/core/Grid';
import LinearProgress from '@material-ui/core/LinearProgress';
import Radio from '@material-ui/core/Radio';
import RadioGroup from '@material-ui/core/RadioGroup';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import { Alert } from '@material-ui/lab';
import { InfoCard } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import {
  Controller,
  ControllerWithToken,
  insecureControlsUrl,
  namespaceNameSchema,
} from '@spider/backstage-plugin-spider-common';
import {
  InstallInstructions,
  InstallQuery,
  spiderApiRef,
} from '../../api/SpiderApi';
import { describeError } from '../../api/errors';
import { ConfirmDialog, CopyBlock, TokenReveal } from '../common';

type Scope = 'all' | 'include' | 'exclude';

function splitList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map(s => s.trim())
    .filter(Boolean);
}

function invalidNamespaces(list: string[]): string[] {
  return list.filter(n => !namespaceNameSchema.safeParse(n).success);
}

function useInstall(id: string, query: InstallQuery | undefined) {
  const api = useApi(spiderApiRef);
  const [state, setState] = useState<{
    value?: InstallInstructions;
    error?: unknown;
    loading: boolean;
  }>({
    loading: true,
  });
  const key = JSON.stringify(query);
  useEffect(() => {
    if (!query) return undefined;
    let cancelled = false;
    setState(s => ({ ...s, loading: true }));
    const t = setTimeout(() => {
      api.getInstall(id, query).then(
        value => !cancelled && setState({ value, loading: false }),
        error => !cancelled && setState({ error, loading: false }),
      );
    }, 250);
    return () => {
      cancelled = true;
      clearTimeout(t);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, id, key]);
  return state;
}

function InstallBlock(props: {
  title: string;
  language: string;
  state: ReturnType<typeof useInstall>;
  hint: string;
}) {
  const { state } = props;
  return (
    <InfoCard
      title={props.title}
      subheader={
        <Typography variant="body2" color="textPrimary">
          {props.hint}
        </Typography>
      }
    >
      {state.loading && <LinearProgress />}
      {state.error !== undefined && (
        <Alert severity="error">{describeError(state.error)}</Alert>
      )}
      {state.value && (
        <CopyBlock
          label={props.title}
          text={state.value.content}
          language={props.language}
          fileName={state.value.fileName}
        />
      )}
    </InfoCard>
  );
}

/** Install tab: the one-line command, Helm values, scope options and token rotation. */
export function InstallTab(props: { controller: Controller }) {
  const api = useApi(spiderApiRef);
  const { controller } = props;
  const [namespace, setNamespace] = useState('spider-system');
  const [scope, setScope] = useState<Scope>('all');
  const [listText, setListText] = useState('');
  const [rotating, setRotating] = useState(false);
  const [rotated, setRotated] = useState<ControllerWithToken>();

  const list = splitList(listText);
  const badList = invalidNamespaces(list);
  const nsValid = namespaceNameSchema.safeParse(namespace).success;
  const scopeValid =
    scope === 'all' || (list.length > 0 && badList.length === 0);
  const valid = nsValid && scopeValid;

  const scopeHelp = () => {
    if (list.length === 0)
      return 'Give at least one namespace, separated by commas or spaces';
    if (badList.length) return `Not namespace names: ${badList.join(', ')}`;
    if (scope === 'include')
      return 'The agent gets Roles in these namespaces only (no cluster-wide rights)';
    return 'The agent ignores these namespaces';
  };

  const base: Omit<InstallQuery, 'format'> = {
    namespace,
    ...(scope === 'include' ? { include: list } : {}),
    ...(scope === 'exclude' ? { exclude: list } : {}),
  };
  const command = useInstall(
    controller.id,
    valid ? { ...base, format: 'command' } : undefined,
  );
  const values = useInstall(
    controller.id,
    valid ? { ...base, format: 'values' } : undefined,
  );
  const manifest = useInstall(
    controller.id,
    valid ? { ...base, format: 'manifest' } : undefined,
  );

  const controlsUrl = command.value?.controlsUrl;
  const insecure = !!controlsUrl && insecureControlsUrl(controlsUrl);

  if (!controller.rights.includes('install')) {
    return (
      <Alert severity="info">
        Only people with the &quot;install&quot; right on this Controller can
        see install instructions and rotate its agent token.
      </Alert>
    );
  }

  return (
    <Grid container spacing={3}>
      <Grid item xs={12}>
        <InfoCard title="Options">
          <Grid container spacing={2}>
            <Grid item xs={12} md={4}>
              <TextField
                id="spider-installtab-agent-namespace"
                fullWidth
                variant="outlined"
                size="small"
                label="Agent namespace"
                value={namespace}
                onChange={e => setNamespace(e.target.value.trim())}
                error={!nsValid}
                helperText={
                  nsValid
                    ? 'The namespace the agent is installed into'
                    : 'Must be a Kubernetes namespace name: lower-case letters, digits and "-"'
                }
              />
            </Grid>
            <Grid item xs={12} md={8}>
              <Typography variant="subtitle2">
                Namespaces the agent may act in
              </Typography>
              <RadioGroup
                row
                value={scope}
                onChange={e => setScope(e.target.value as Scope)}
              >
                <FormControlLabel
                  value="all"
                  control={<Radio size="small" />}
                  label="All namespaces"
                />
                <FormControlLabel
                  value="include"
                  control={<Radio size="small" />}
                  label="Only these"
                />
                <FormControlLabel
                  value="exclude"
                  control={<Radio size="small" />}
                  label="All except these"
                />
              </RadioGroup>
              {scope !== 'all' && (
                <TextField
                  fullWidth
                  variant="outlined"
                  size="small"
                  id="spider-installtab-scope-list"
                  label={
                    scope === 'include'
                      ? 'Only these namespaces'
                      : 'All namespaces except'
                  }
                  placeholder="payments, checkout"
                  value={listText}
                  onChange={e => setListText(e.target.value)}
                  error={!scopeValid}
                  helperText={scopeHelp()}
                />
              )}
            </Grid>
          </Grid>
        </InfoCard>
      </Grid>
      {valid ? (
        <>
          {insecure && (
            <Grid item xs={12}>
              <Alert severity="warning" role="alert">
                Agents reach the Controls service at {controlsUrl}: plain{' '}
                {controlsUrl!.split(':')[0]}, so the agent token and every
                desired attachment cross the network unencrypted. Serve the
                portal over https:// (or set spider.agents.externalUrl to an
                https:// URL) unless this network is private to the cluster and
                the portal.
              </Alert>
            </Grid>
          )}
          <Grid item xs={12}>
            <InstallBlock
              title="Install commands"
              language="bash"
              state={command}
              hint="Run where kubectl and helm point at the cluster. The kubectl secret step waits for the agent token (the one shown when the Controller was registered, or rotate it below): paste it, press Enter, then Ctrl-D. It is read from stdin, so it ends up in no command line and no shell history; helm only gets the Secret's name."
            />
          </Grid>
          <Grid item xs={12} md={6}>
            <InstallBlock
              title="Helm values.yaml"
              language="yaml"
              state={values}
              hint="For GitOps: use with the Spider agent Helm chart."
            />
          </Grid>
          <Grid item xs={12} md={6}>
            <InstallBlock
              title="Plain manifests"
              language="yaml"
              state={manifest}
              hint="Without Helm: kubectl apply -f"
            />
          </Grid>
        </>
      ) : (
        <Grid item xs={12}>
          <Alert severity="warning">
            Fix the options above to see the install instructions.
          </Alert>
        </Grid>
      )}
      <Grid item xs={12}>
        <InfoCard title="Agent token">
          <Typography variant="body2" paragraph>
            The agent authenticates with a token that was shown once, when the
            Controller was registered. Rotating it makes a new one and the old
            one stops working at once: the connected agent is disconnected until
            it is given the new token.
          </Typography>
          <Button
            variant="outlined"
            color="secondary"
            onClick={() => setRotating(true)}
          >
            Rotate agent token
          </Button>
        </InfoCard>
      </Grid>
      <ConfirmDialog
        open={rotating}
        title="Rotate the agent token?"
        confirmLabel="Rotate"
        onClose={() => setRotating(false)}
        onConfirm={async () => {
          setRotated(await api.rotateToken(controller.id));
        }}
      >
        The current token stops working now
        {controller.connected
          ? ', and the connected agent is disconnected'
          : ''}
        . You will see the new token once.
      </ConfirmDialog>
      <Dialog
        open={!!rotated}
        fullWidth
        maxWidth="sm"
        aria-labelledby="spider-rotated-title"
      >
        <DialogTitle id="spider-rotated-title">New agent token</DialogTitle>
        <DialogContent>
          {rotated && (
            <TokenReveal token={rotated.token} controllerName={rotated.name} />
          )}
          <Box mt={2}>
            <Typography variant="body2">
              Run the secret step of the install commands again and paste this
              token: the agent reads it from the Secret at its next connect.
            </Typography>
          </Box>
        </DialogContent>
        <DialogActions>
          <Button
            variant="contained"
            color="primary"
            onClick={() => setRotated(undefined)}
          >
            I have copied the token
          </Button>
        </DialogActions>
      </Dialog>
    </Grid>
  );
}
