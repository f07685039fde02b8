import {
  act,
  fireEvent,
  screen,
  waitFor,
  within,
} from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { AttachDialog } from './AttachDialog';
import {
  FakeSpiderApi,
  makeController,
  makeWhisperer,
  makeWorkload,
} from '../../__testUtils__/FakeSpiderApi';
import { renderSpider } from '../../__testUtils__/render';
import { fill } from '../../__testUtils__/fill';

async function pick(label: string, option: RegExp | string) {
  const dialog = screen.getByRole('dialog');
  fireEvent.mouseDown(within(dialog).getByLabelText(label));
  const listbox = await screen.findByRole('listbox');
  await userEvent.click(within(listbox).getByText(option));
}

function setup() {
  const usable = makeController({ name: 'prod-eu-1' });
  const readOnly = makeController({ name: 'read-only', rights: ['read'] });
  const w = makeWhisperer({ name: 'http-capture', timeToLive: 'PT2M' });
  const api = new FakeSpiderApi({
    controllers: [usable, readOnly],
    whisperers: [w],
  });
  api.workloads.set(usable.id, [
    makeWorkload({ name: 'payments', replicas: 3, pods: 3 }),
    makeWorkload({
      name: 'payments-worker',
      kind: 'StatefulSet',
      replicas: 1,
      pods: 1,
    }),
    makeWorkload({ name: 'checkout', namespace: 'checkout' }),
  ]);
  api.namespaces.set(usable.id, {
    items: ['payments', 'checkout'],
    all: false,
  });
  return { api, usable, readOnly, w };
}

describe('AttachDialog', () => {
  it('picks a usable Controller, a granted namespace, a workload and a whisperer; shows TTL and expiry', async () => {
    const { api, usable, w } = setup();
    const onAttached = jest.fn();
    await renderSpider(
      <AttachDialog open onClose={() => {}} onAttached={onAttached} />,
      { api },
    );
    // Only one usable Controller: it is picked; the read-only one is not offered.
    await waitFor(() =>
      expect(api.callsOf('listNamespaces')).toEqual([[usable.id]]),
    );
    fireEvent.mouseDown(
      within(screen.getByRole('dialog')).getByLabelText('Controller'),
    );
    const list = await screen.findByRole('listbox');
    expect(within(list).queryByText(/read-only/)).not.toBeInTheDocument();
    await userEvent.click(within(list).getByText(/prod-eu-1/));

    await userEvent.click(screen.getByLabelText('Namespace'));
    await userEvent.click(
      await screen.findByRole('option', { name: 'payments' }),
    );
    expect(await screen.findByText('payments-worker')).toBeInTheDocument();
    expect(
      screen.getByText('Only the namespaces you were granted'),
    ).toBeInTheDocument();
    expect(screen.getByText('Deployment · 3/3 pods')).toBeInTheDocument();

    fill(screen.getByTestId('workload-search'), 'worker');
    await waitFor(() =>
      expect(screen.getAllByTestId('workload-option')).toHaveLength(1),
    );
    await userEvent.click(screen.getByText('payments-worker'));

    await pick('Whisperer', /http-capture/);
    expect(screen.getByTestId('expiry-preview')).toHaveTextContent(
      /Time to live 2 minutes: the capture ends by itself at/,
    );
    await userEvent.click(screen.getByRole('button', { name: 'Attach' }));
    await waitFor(() =>
      expect(api.callsOf('createAttachment')).toEqual([
        [
          {
            controllerId: usable.id,
            whispererId: w.id,
            target: {
              namespace: 'payments',
              kind: 'StatefulSet',
              name: 'payments-worker',
            },
          },
        ],
      ]),
    );
    expect(onAttached).toHaveBeenCalled();
  });

  it("warns before attach when the whisperer's image is outside the Controller's reported allow-list", async () => {
    const { api, usable } = setup();
    const foreign = makeWhisperer({
      name: 'foreign-image',
      image: 'registry.evil.example/sniffer:1',
    });
    const allowed = makeWhisperer({
      name: 'team-image',
      image: 'registry.example.com/team/whisperer:2',
    });
    const standard = makeWhisperer({ name: 'default-image', image: null });
    api.whisperers.push(foreign, allowed, standard);
    api.statuses.set(usable.id, {
      controllerId: usable.id,
      connected: true,
      lastSeenAt: new Date().toISOString(),
      status: {
        agentVersion: '0.1.0',
        protocolVersion: 1,
        clusterVersion: null,
        scope: { include: '*', exclude: [] },
        cpuCores: 0,
        rssBytes: 0,
        heapUsedBytes: 0,
        watched: {},
        allowedImages: [
          'registry.example.com/team/*',
          'spider/whisperer:0.1.0',
        ],
        attachments: [],
        reportedAt: new Date().toISOString(),
        startedAt: new Date().toISOString(),
      },
    });
    await renderSpider(
      <AttachDialog
        open
        onClose={() => {}}
        initial={{
          controllerId: usable.id,
          target: {
            namespace: 'payments',
            kind: 'Deployment',
            name: 'payments',
          },
        }}
      />,
      { api },
    );
    await waitFor(() =>
      expect(api.callsOf('getControllerStatus')).toEqual([[usable.id]]),
    );
    await pick('Whisperer', /foreign-image/);
    const alert = await screen.findByText(/would refuse/);
    expect(alert).toHaveTextContent(
      `This Controller's agent injects only registry.example.com/team/*, spider/whisperer:0.1.0: it would refuse "registry.evil.example/sniffer:1" in every pod (ImageNotAllowed)`,
    );
    // An allowed image, and none (the agent's default): no warning.
    await pick('Whisperer', /team-image/);
    await waitFor(() =>
      expect(screen.queryByText(/would refuse/)).not.toBeInTheDocument(),
    );
    await pick('Whisperer', /default-image/);
    expect(screen.queryByText(/would refuse/)).not.toBeInTheDocument();
  });

  it('does not warn when the agent has not reported its list (offline or older)', async () => {
    const { api, usable } = setup();
    api.whisperers.push(
      makeWhisperer({
        name: 'foreign-image',
        image: 'registry.evil.example/x:1',
      }),
    );
    await renderSpider(
      <AttachDialog
        open
        onClose={() => {}}
        initial={{
          controllerId: usable.id,
          target: {
            namespace: 'payments',
            kind: 'Deployment',
            name: 'payments',
          },
        }}
      />,
      { api },
    );
    await waitFor(() =>
      expect(api.callsOf('getControllerStatus')).toEqual([[usable.id]]),
    );
    await pick('Whisperer', /foreign-image/);
    expect(screen.queryByText(/would refuse/)).not.toBeInTheDocument();
  });

  it('says what is missing', async () => {
    const { api } = setup();
    await renderSpider(<AttachDialog open onClose={() => {}} />, { api });
    await screen.findByText(/Pick a Controller and a namespace|workloads/);
    await userEvent.click(screen.getByRole('button', { name: 'Attach' }));
    expect(await screen.findByText('Pick a workload')).toBeInTheDocument();
    expect(screen.getByText('Pick a whisperer')).toBeInTheDocument();
    expect(api.callsOf('createAttachment')).toHaveLength(0);
  });

  it('shows server errors in plain words (409 already attached)', async () => {
    const { api, usable, w } = setup();
    api.failWith(
      'createAttachment',
      409,
      'http-capture is already attached to Deployment payments/payments',
    );
    await renderSpider(
      <AttachDialog
        open
        onClose={() => {}}
        initial={{
          controllerId: usable.id,
          whispererId: w.id,
          target: {
            namespace: 'payments',
            kind: 'Deployment',
            name: 'payments',
          },
        }}
      />,
      { api },
    );
    await screen.findByTestId('expiry-preview');
    await userEvent.click(screen.getByRole('button', { name: 'Attach' }));
    expect(
      await screen.findByText(
        'Conflict: http-capture is already attached to Deployment payments/payments.',
      ),
    ).toBeInTheDocument();
  });

  it('explains an offline agent (503) and a slow one (504) when listing workloads', async () => {
    const { api, usable } = setup();
    api.failWith('listWorkloads', 503, 'agent offline');
    await renderSpider(
      <AttachDialog
        open
        onClose={() => {}}
        initial={{ controllerId: usable.id, namespace: 'payments' }}
      />,
      { api },
    );
    expect(
      await screen.findByText(/The Controller's agent is offline/),
    ).toBeInTheDocument();
  });

  it('504: the agent did not answer in time', async () => {
    const { api, usable } = setup();
    api.failWith('listWorkloads', 504, 'timeout');
    await renderSpider(
      <AttachDialog
        open
        onClose={() => {}}
        initial={{ controllerId: usable.id, namespace: 'payments' }}
      />,
      { api },
    );
    expect(
      await screen.findByText(/did not answer in time/),
    ).toBeInTheDocument();
  });

  it('tells the user when no Controller is usable', async () => {
    const api = new FakeSpiderApi({
      controllers: [makeController({ rights: ['read'] })],
    });
    await renderSpider(<AttachDialog open onClose={() => {}} />, { api });
    expect(
      await screen.findByText(/You may not use any Controller/),
    ).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Attach' })).toBeDisabled();
  });

  it('renders only the visible rows of 5,000 workloads and filters them quickly', async () => {
    const { api, usable } = setup();
    api.workloads.set(
      usable.id,
      Array.from({ length: 5000 }, (_, i) =>
        makeWorkload({ name: `svc-${i}`, namespace: 'payments' }),
      ),
    );
    await renderSpider(
      <AttachDialog
        open
        onClose={() => {}}
        initial={{ controllerId: usable.id, namespace: 'payments' }}
      />,
      { api },
    );
    expect(await screen.findByText('5000 workloads')).toBeInTheDocument();
    expect(screen.getAllByTestId('workload-option').length).toBeLessThan(20);
    const started = performance.now();
    act(() => fill(screen.getByTestId('workload-search'), 'svc-4999'));
    await waitFor(() =>
      expect(screen.getAllByTestId('workload-option')).toHaveLength(1),
    );
    expect(performance.now() - started).toBeLessThan(2000);
    expect(screen.getByText('1 of 5000 workloads')).toBeInTheDocument();
  });

  it("from an entity: offers only the entity's workloads", async () => {
    const { api, usable } = setup();
    await renderSpider(
      <AttachDialog
        open
        onClose={() => {}}
        initial={{
          entityRef: 'component:default/payments',
          choices: [
            {
              ...makeWorkload({ name: 'payments' }),
              controllerId: usable.id,
              controllerName: 'prod-eu-1',
            },
          ],
        }}
      />,
      { api },
    );
    expect(await screen.findByText('1 workload')).toBeInTheDocument();
    expect(api.callsOf('listWorkloads')).toHaveLength(0);
  });
});
