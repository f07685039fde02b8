import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Entity } from '@backstage/catalog-model';
import { EntityProvider } from '@backstage/plugin-catalog-react';
import { isSpiderAvailable } from './conditions';
import { EntityTrafficCaptureContent } from './EntityTrafficCaptureContent';
import { EntityTrafficCaptureCard } from './EntityTrafficCaptureCard';
import {
  FakeSpiderApi,
  makeAttachment,
  makeController,
  makeExchange,
  makeWhisperer,
  makeWorkload,
} from '../../__testUtils__/FakeSpiderApi';
import { renderSpider } from '../../__testUtils__/render';

const entity: Entity = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: {
    name: 'payments',
    namespace: 'default',
    annotations: { 'backstage.io/kubernetes-id': 'payments' },
  },
  spec: {
    type: 'service',
    owner: 'group:default/team-b',
    lifecycle: 'production',
  },
};

describe('isSpiderAvailable', () => {
  it('needs a component with the kubernetes annotations', () => {
    expect(isSpiderAvailable(entity)).toBe(true);
    expect(
      isSpiderAvailable({
        ...entity,
        metadata: {
          name: 'x',
          annotations: { 'backstage.io/kubernetes-label-selector': 'app=x' },
        },
      }),
    ).toBe(true);
    expect(isSpiderAvailable({ ...entity, metadata: { name: 'x' } })).toBe(
      false,
    );
    expect(isSpiderAvailable({ ...entity, kind: 'API' })).toBe(false);
  });
});

function setup() {
  const c = makeController({ name: 'prod-eu-1' });
  const other = makeController({ name: 'shared-ro', rights: ['read'] });
  const w = makeWhisperer({ name: 'http-capture' });
  const a = makeAttachment({
    controllerId: c.id,
    whispererId: w.id,
    target: { namespace: 'payments', kind: 'Deployment', name: 'payments' },
  });
  const api = new FakeSpiderApi({
    controllers: [c, other],
    whisperers: [w],
    attachments: [a],
    entityWorkloads: [
      {
        ...makeWorkload({ name: 'payments', replicas: 2, pods: 2 }),
        controllerId: c.id,
        controllerName: 'prod-eu-1',
      },
      {
        ...makeWorkload({
          name: 'payments',
          namespace: 'payments',
          replicas: 1,
          pods: 1,
        }),
        controllerId: other.id,
        controllerName: 'shared-ro',
      },
    ],
  });
  return { api, c, other, a, w };
}

describe('EntityTrafficCaptureContent', () => {
  it("lists the entity's workloads across Controllers with live attachments, countdown, attach and detach", async () => {
    const { api, a } = setup();
    await renderSpider(
      <EntityProvider entity={entity}>
        <EntityTrafficCaptureContent />
      </EntityProvider>,
      { api },
    );
    expect(await screen.findByText('prod-eu-1')).toBeInTheDocument();
    expect(screen.getByText('shared-ro')).toBeInTheDocument();
    expect(api.callsOf('listEntityWorkloads')).toEqual([
      ['component:default/payments'],
    ]);
    const line = await screen.findByTestId(`entity-attachment-${a.id}`);
    expect(within(line).getByText(/left$/)).toBeInTheDocument();
    expect(
      within(line).getByRole('link', { name: '1/1 instance running' }),
    ).toHaveAttribute('href', `/spider/attachments/${a.id}`);

    // Attach on the read-only Controller's workload is disabled with the reason.
    const buttons = screen.getAllByRole('button', { name: /^Attach$/ });
    expect(buttons.some(b => (b as HTMLButtonElement).disabled)).toBe(true);

    await userEvent.click(within(line).getByRole('button', { name: /Detach/ }));
    await userEvent.click(
      within(await screen.findByRole('dialog')).getByRole('button', {
        name: 'Detach',
      }),
    );
    await waitFor(() => expect(api.callsOf('detach')).toEqual([[a.id]]));
  });

  it("shows the traffic of the entity's attachments, a detached one's included", async () => {
    const { api, a } = setup();
    const gone = makeAttachment({ status: 'detached', target: a.target });
    api.entityAttachments.set('component:default/payments', [a.id, gone.id]);
    api.exchanges = [
      makeExchange({
        id: 'live-1',
        attachmentId: a.id,
        at: Date.parse('2026-12-01T10:00:02Z'),
      }),
      makeExchange({
        id: 'old-1',
        attachmentId: gone.id,
        at: Date.parse('2026-12-01T10:00:01Z'),
      }),
      makeExchange({
        id: 'elsewhere',
        attachmentId: 'another',
        at: Date.parse('2026-12-01T10:00:03Z'),
      }),
    ];
    await renderSpider(
      <EntityProvider entity={entity}>
        <EntityTrafficCaptureContent />
      </EntityProvider>,
      { api },
    );
    const grid = await screen.findByRole('grid', {
      name: 'Captured exchanges',
    });
    await waitFor(() =>
      expect(
        within(grid)
          .getAllByRole('row')
          .slice(1)
          .map(r => r.getAttribute('data-exchange-id')),
      ).toEqual(['live-1', 'old-1']),
    );
    expect(api.callsOf('listEntityTraffic')[0][0]).toBe(
      'component:default/payments',
    );
    // the instance filter offers the live attachment's instances
    expect(
      within(screen.getByLabelText('Instance')).getByRole('option', {
        name: 'payments-7c9d-abcde',
      }),
    ).toBeInTheDocument();
  });

  it('asks for the first traffic page in its first render, beside the workloads, and only once', async () => {
    const { api, a } = setup();
    api.entityAttachments.set('component:default/payments', [a.id]);
    api.exchanges = [
      makeExchange({
        id: 'early-1',
        attachmentId: a.id,
        at: Date.parse('2026-12-01T10:00:02Z'),
      }),
    ];
    const releaseWorkloads = api.hold('listEntityWorkloads');
    await renderSpider(
      <EntityProvider entity={entity}>
        <EntityTrafficCaptureContent />
      </EntityProvider>,
      { api },
    );
    // Asked for while the workloads are still loading, not after them.
    expect(screen.queryByText('prod-eu-1')).not.toBeInTheDocument();
    expect(api.callsOf('listEntityTraffic')).toEqual([
      ['component:default/payments', { limit: 200 }],
    ]);
    releaseWorkloads();
    const grid = await screen.findByRole('grid', {
      name: 'Captured exchanges',
    });
    expect(
      within(grid)
        .getAllByRole('row')
        .slice(1)
        .map(r => r.getAttribute('data-exchange-id')),
    ).toEqual(['early-1']);
    expect(screen.getByText('prod-eu-1')).toBeInTheDocument();
    // The view took that page: no second first page (the live tail asks `after`).
    expect(
      api
        .callsOf('listEntityTraffic')
        .filter(([, q]) => !(q as { after?: string }).after),
    ).toHaveLength(1);
  });

  it('attaches from a workload row with the target fixed', async () => {
    const { api, c, w } = setup();
    api.attachments = [];
    await renderSpider(
      <EntityProvider entity={entity}>
        <EntityTrafficCaptureContent />
      </EntityProvider>,
      { api },
    );
    await screen.findByText('prod-eu-1');
    const row = screen.getAllByTestId('entity-workload-payments')[0];
    await userEvent.click(within(row).getByRole('button', { name: /Attach/ }));
    const dialog = await screen.findByRole('dialog');
    expect(within(dialog).getByText(/Workload:/)).toBeInTheDocument();
    const { fireEvent } = await import('@testing-library/react');
    fireEvent.mouseDown(within(dialog).getByLabelText('Whisperer'));
    await userEvent.click(
      within(await screen.findByRole('listbox')).getByText(/http-capture/),
    );
    await userEvent.click(
      within(dialog).getByRole('button', { name: 'Attach' }),
    );
    await waitFor(() =>
      expect(api.callsOf('createAttachment')).toEqual([
        [
          {
            controllerId: c.id,
            whispererId: w.id,
            target: {
              namespace: 'payments',
              kind: 'Deployment',
              name: 'payments',
            },
            entityRef: 'component:default/payments',
          },
        ],
      ]),
    );
  });

  it('explains when no workload is found', async () => {
    await renderSpider(
      <EntityProvider entity={entity}>
        <EntityTrafficCaptureContent />
      </EntityProvider>,
    );
    expect(await screen.findByText('No workloads found')).toBeInTheDocument();
  });

  it('shows errors in plain words', async () => {
    const api = new FakeSpiderApi().failWith(
      'listEntityWorkloads',
      503,
      'no agent',
    );
    await renderSpider(
      <EntityProvider entity={entity}>
        <EntityTrafficCaptureContent />
      </EntityProvider>,
      { api },
    );
    expect(await screen.findByText(/agent is offline/)).toBeInTheDocument();
  });
});

describe('EntityTrafficCaptureCard', () => {
  it('summarizes and offers catalog-driven attach', async () => {
    const { api } = setup();
    await renderSpider(
      <EntityProvider entity={entity}>
        <EntityTrafficCaptureCard />
      </EntityProvider>,
      { api },
    );
    expect(
      await screen.findByText('2 workloads visible; 1 live capture.'),
    ).toBeInTheDocument();
    await userEvent.click(
      screen.getByRole('button', { name: /Capture traffic/ }),
    );
    expect(
      await screen.findByRole('dialog', { name: 'Attach a whisperer' }),
    ).toBeInTheDocument();
  });
});
