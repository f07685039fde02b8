import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { ControllerPage } from './ControllerPage';
import {
  FakeSpiderApi,
  makeAttachment,
  makeController,
} from '../../__testUtils__/FakeSpiderApi';
import { renderSpider } from '../../__testUtils__/render';
import { fill } from '../../__testUtils__/fill';

function setup(rights = makeController().rights) {
  const c = makeController({ name: 'prod-eu-1', rights, activeAttachments: 1 });
  const a = makeAttachment({
    controllerId: c.id,
    whispererName: 'http-capture',
  });
  const api = new FakeSpiderApi({ controllers: [c], attachments: [a] });
  api.statuses.set(c.id, {
    controllerId: c.id,
    connected: true,
    lastSeenAt: new Date().toISOString(),
    status: {
      agentVersion: '0.3.1',
      protocolVersion: 1,
      clusterVersion: 'v1.34.1',
      scope: { include: '*', exclude: ['kube-system'] },
      cpuCores: 0.042,
      rssBytes: 83 * 1024 * 1024,
      heapUsedBytes: 41 * 1024 * 1024,
      watched: { Pod: 1234, Deployment: 56 },
      attachments: [{ id: a.id, instances: a.instances }],
      reportedAt: new Date().toISOString(),
      startedAt: new Date().toISOString(),
    },
  });
  return { api, c, a };
}

describe('ControllerPage', () => {
  it('Status tab: version, CPU and memory, watched objects and the attachments it runs', async () => {
    const { api, c } = setup();
    await renderSpider(<ControllerPage controllerId={c.id} />, { api });
    expect(await screen.findByText('0.3.1')).toBeInTheDocument();
    expect(screen.getByText('0.042 cores')).toBeInTheDocument();
    expect(screen.getByText('83.0 MiB')).toBeInTheDocument();
    expect(screen.getByText('1,234')).toBeInTheDocument();
    expect(
      screen.getByText(/all namespaces except kube-system/),
    ).toBeInTheDocument();
    expect(
      await screen.findByText('Attachments the agent runs (1)'),
    ).toBeInTheDocument();
    expect(screen.getByText('1 running of 1')).toBeInTheDocument();
    await userEvent.click(
      screen.getByRole('button', { name: 'Show instances' }),
    );
    expect(await screen.findByText('payments-7c9d-abcde')).toBeInTheDocument();
  });

  it('Status tab: says when the agent has not reported yet', async () => {
    const { api, c } = setup();
    api.statuses.delete(c.id);
    await renderSpider(<ControllerPage controllerId={c.id} />, { api });
    expect(
      await screen.findByText('The agent has not reported yet'),
    ).toBeInTheDocument();
  });

  it('Attachments tab: rows expand to instances, link to filter on an instance, detach with confirmation', async () => {
    const { api, c, a } = setup();
    await renderSpider(
      <ControllerPage controllerId={c.id} tab="attachments" />,
      { api },
    );
    const row = await screen.findByTestId(`attachment-${a.id}`);
    expect(within(row).getByText('http-capture')).toBeInTheDocument();
    expect(within(row).getByText('Active')).toBeInTheDocument();
    expect(within(row).getByText(/left$/)).toBeInTheDocument();
    expect(within(row).getByText('user:default/guest')).toBeInTheDocument();
    await userEvent.click(
      within(row).getByRole('button', { name: 'Show instances' }),
    );
    const link = await screen.findByRole('link', {
      name: 'Show the traffic of payments-7c9d-abcde/spider-x',
    });
    expect(link).toHaveAttribute(
      'href',
      `/spider/attachments/${a.id}?instance=payments-7c9d-abcde%2Fspider-x`,
    );
    expect(screen.getAllByText('Running').length).toBeGreaterThan(0);

    await userEvent.click(
      within(row).getByRole('button', { name: /Detach http-capture/ }),
    );
    const dialog = await screen.findByRole('dialog');
    expect(
      within(dialog).getByText(/Ephemeral containers cannot be removed/),
    ).toBeInTheDocument();
    await userEvent.click(
      within(dialog).getByRole('button', { name: 'Detach' }),
    );
    await waitFor(() => expect(api.callsOf('detach')).toEqual([[a.id]]));
  });

  it('Attachments tab: a detach conflict is shown in plain words', async () => {
    const { api, c, a } = setup();
    api.failWith('detach', 409, 'the attachment is already detached');
    await renderSpider(
      <ControllerPage controllerId={c.id} tab="attachments" />,
      { api },
    );
    const row = await screen.findByTestId(`attachment-${a.id}`);
    await userEvent.click(within(row).getByRole('button', { name: /Detach/ }));
    await userEvent.click(
      within(await screen.findByRole('dialog')).getByRole('button', {
        name: 'Detach',
      }),
    );
    expect(
      await screen.findByText('Conflict: the attachment is already detached.'),
    ).toBeInTheDocument();
  });

  it('Attachments tab: pages through many attachments', async () => {
    const { api, c } = setup();
    api.attachments = Array.from({ length: 60 }, (_, i) =>
      makeAttachment({
        controllerId: c.id,
        target: { namespace: 'ns', kind: 'Deployment', name: `app-${i}` },
      }),
    );
    await renderSpider(
      <ControllerPage controllerId={c.id} tab="attachments" />,
      { api },
    );
    expect(await screen.findByText('1–25 of 60')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Next' }));
    expect(await screen.findByText('26–50 of 60')).toBeInTheDocument();
    expect(screen.getByText('app-30')).toBeInTheDocument();
  });

  it('hides Share and Install, and disables actions, without the rights', async () => {
    const { api, c } = setup(['read']);
    await renderSpider(<ControllerPage controllerId={c.id} />, { api });
    await screen.findByRole('tab', { name: 'Status' });
    expect(
      screen.queryByRole('tab', { name: 'Share' }),
    ).not.toBeInTheDocument();
    expect(
      screen.queryByRole('tab', { name: 'Install' }),
    ).not.toBeInTheDocument();
    expect(
      screen.getByText(/Share and Install: only for people with the/),
    ).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /Attach/ })).toBeDisabled();
    expect(
      screen.getByLabelText(
        'You need the "use" right on this Controller to attach',
      ),
    ).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Rename' })).toBeDisabled();
  });

  it('shows a missing Controller plainly', async () => {
    await renderSpider(
      <ControllerPage controllerId="00000000-0000-4000-8000-000000000abc" />,
    );
    expect(await screen.findByText(/Controller not found/)).toBeInTheDocument();
  });

  it('Share tab: validates grants and saves them', async () => {
    const { api, c } = setup();
    await renderSpider(<ControllerPage controllerId={c.id} tab="share" />, {
      api,
    });
    expect(
      await screen.findByText(/Not shared with anyone/),
    ).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Add grant' }));
    await userEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText('Pick a user or group')).toBeInTheDocument();
    expect(screen.getByText(/give at least one namespace/)).toBeInTheDocument();
    expect(api.callsOf('putShares')).toHaveLength(0);

    const grant = screen.getByTestId('grant-0');
    await userEvent.click(within(grant).getByLabelText('User or group'));
    await userEvent.click(
      await screen.findByText('Jane Doe (user:default/jane)'),
    );
    await userEvent.click(within(grant).getByLabelText('All namespaces'));
    await userEvent.click(within(grant).getByLabelText('install'));
    await userEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() =>
      expect(api.callsOf('putShares')).toEqual([
        [
          c.id,
          [
            {
              principal: 'user:default/jane',
              rights: ['read', 'use', 'install'],
              namespaces: '*',
            },
          ],
        ],
      ]),
    );
    expect(await screen.findByText('Sharing saved.')).toBeInTheDocument();
  });

  it("Share tab: namespaces are picked from the Controller's namespaces", async () => {
    const { api, c } = setup();
    await renderSpider(<ControllerPage controllerId={c.id} tab="share" />, {
      api,
    });
    await userEvent.click(
      await screen.findByRole('button', { name: 'Add grant' }),
    );
    const grant = screen.getByTestId('grant-0');
    await userEvent.click(within(grant).getByLabelText('User or group'));
    await userEvent.click(
      await screen.findByText('team-b (group:default/team-b)'),
    );
    await userEvent.click(within(grant).getByLabelText('Namespaces'));
    await userEvent.click(
      await screen.findByRole('option', { name: 'checkout' }),
    );
    await userEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() =>
      expect(api.callsOf('putShares')[0][1]).toEqual([
        {
          principal: 'group:default/team-b',
          rights: ['read', 'use'],
          namespaces: ['checkout'],
        },
      ]),
    );
  });

  it.each([
    ['http://portal.example.com/api/spider', true],
    ['ws://10.0.0.9:7007/api/spider', true],
    ['https://portal.example.com/api/spider', false],
    ['http://localhost:7007/api/spider', false],
    ['http://127.0.0.1:7007/api/spider', false],
  ])(
    'Install tab: the token goes through stdin; a Controls URL of %s warns: %s',
    async (url, warns) => {
      const { api, c } = setup();
      const getInstall = api.getInstall.bind(api);
      api.getInstall = async (id, query) =>
        query.format === 'command'
          ? {
              format: 'command',
              fileName: 'install-spider-agent.sh',
              controlsUrl: url,
              content: [
                'kubectl create namespace spider-system --dry-run=client -o yaml | kubectl apply -f -',
                'kubectl --namespace spider-system create secret generic spider-agent-controls-token --from-file=token=/dev/stdin --dry-run=client -o yaml | kubectl apply -f -',
                `helm upgrade --install spider-agent ./chart --namespace spider-system --create-namespace --set-string controls.url='${url}' --set-string controls.existingSecret.name=spider-agent-controls-token`,
              ].join('\n'),
            }
          : getInstall(id, query);
      await renderSpider(<ControllerPage controllerId={c.id} tab="install" />, {
        api,
      });
      expect(
        await screen.findByText(/--from-file=token=\/dev\/stdin/),
      ).toBeInTheDocument();
      expect(
        screen.getByText(
          /It is read from stdin, so it ends up in no command line and no shell history/,
        ),
      ).toBeInTheDocument();
      // The whole warning when the URL is insecure, none otherwise.
      const text =
        screen.queryByText(/cross the network unencrypted/)?.textContent ?? '';
      const plain = url.split(':')[0];
      expect(
        text.includes(
          `Agents reach the Controls service at ${url}: plain ${plain}, so the agent token and every desired attachment cross the network unencrypted.`,
        ),
      ).toBe(warns);
      expect(text === '').toBe(!warns);
      // and names the setting that changes it
      expect(
        text.includes('set spider.agents.externalUrl to an https:// URL'),
      ).toBe(warns);
    },
  );

  it('Install tab: command and values with copy and download, scope options, token rotation', async () => {
    const { api, c } = setup();
    await renderSpider(<ControllerPage controllerId={c.id} tab="install" />, {
      api,
    });
    expect(
      await screen.findByText(/helm upgrade --install spider-agent/),
    ).toBeInTheDocument();
    expect(
      screen.getByRole('button', { name: 'Download values.yaml' }),
    ).toBeInTheDocument();
    expect(
      screen.getByRole('button', { name: 'Download install.sh' }),
    ).toBeInTheDocument();

    await userEvent.click(screen.getByLabelText('Only these'));
    expect(screen.getByText(/Give at least one namespace/)).toBeInTheDocument();
    fill(screen.getByLabelText('Only these namespaces'), 'payments, Bad_NS');
    expect(screen.getByText('Not namespace names: Bad_NS')).toBeInTheDocument();
    fill(screen.getByLabelText('Only these namespaces'), 'payments checkout');
    await waitFor(() =>
      expect(api.callsOf('getInstall')).toContainEqual([
        c.id,
        {
          format: 'values',
          namespace: 'spider-system',
          include: ['payments', 'checkout'],
        },
      ]),
    );

    await userEvent.click(
      screen.getByRole('button', { name: 'Rotate agent token' }),
    );
    await userEvent.click(
      within(await screen.findByRole('dialog')).getByRole('button', {
        name: 'Rotate',
      }),
    );
    expect(
      await screen.findByText(/It is shown only once/),
    ).toBeInTheDocument();
    expect(screen.getByTestId('agent-token')).toHaveValue(
      'spdr_rotated_token_abcdef',
    );
  });
});
