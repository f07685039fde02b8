import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { Route, Routes, useLocation } from 'react-router-dom';
import type {
  TrafficMapPeer,
  TrafficMapResponse,
} from '@spider/backstage-plugin-spider-common';
import { TrafficView } from './TrafficView';
import { edgeLabel } from './TrafficMap';
import {
  FakeSpiderApi,
  makeAttachment,
  makeExchange,
} from '../../__testUtils__/FakeSpiderApi';
import { renderSpider } from '../../__testUtils__/render';

// jsdom does not lay out SVG; DependencyGraph measures nodes with getBBox.
beforeAll(() => {
  (SVGElement.prototype as any).getBBox = () => ({
    x: 0,
    y: 0,
    width: 160,
    height: 44,
  });
});

function peer(p: Partial<TrafficMapPeer>): TrafficMapPeer {
  return {
    key: '10.0.0.7',
    role: 'caller',
    ips: ['10.0.0.7'],
    name: 'checkout-5d8f-xyz.checkout.pod',
    pod: { namespace: 'checkout', name: 'checkout-5d8f-xyz' },
    workload: { namespace: 'checkout', kind: 'Deployment', name: 'checkout' },
    entityRef: 'component:default/checkout',
    calls: 1200,
    errors: 36,
    p50Ms: 4,
    p99Ms: 45,
    bytes: 2048,
    callsPerMinute: 20,
    flowBytes: 0,
    ...p,
  };
}

function Location() {
  const l = useLocation();
  return <span data-testid="location">{l.search}</span>;
}

describe('TrafficMap', () => {
  it('puts the workload between its callers and callees, labels edges, and filters the list on a click', async () => {
    const a = makeAttachment();
    const api = new FakeSpiderApi({ attachments: [a] });
    api.exchanges = [
      makeExchange({ id: 'from-checkout', attachmentId: a.id }),
      makeExchange({
        id: 'to-db',
        attachmentId: a.id,
        direction: 'outbound',
        client: { ip: '10.0.0.12', port: 5555, name: null },
        server: { ip: '10.0.9.9', port: 5432, name: 'ledger.ledger.svc' },
      }),
    ];
    const map: TrafficMapResponse = {
      workload: a.target,
      entityRef: 'component:default/payments',
      since: '2026-12-01T09:00:00.000Z',
      until: '2026-12-01T10:00:00.000Z',
      peers: [
        peer({}),
        peer({
          key: 'ledger/Deployment/ledger',
          role: 'callee',
          ips: ['10.0.9.9'],
          name: 'ledger.ledger.svc',
          pod: null,
          workload: { namespace: 'ledger', kind: 'Deployment', name: 'ledger' },
          entityRef: null,
          calls: 300,
          errors: 0,
          p99Ms: 1200,
          callsPerMinute: 5,
        }),
      ],
    };
    api.maps.set(a.id, map);
    await renderSpider(
      <Routes>
        <Route
          path="/spider/attachments/:id"
          element={
            <>
              <TrafficView source={{ kind: 'attachment', attachment: a }} />
              <Location />
            </>
          }
        />
      </Routes>,
      { api, routeEntries: [`/spider/attachments/${a.id}?view=map`] },
    );
    // The map waits for the list's first page, then lays out asynchronously: on a loaded
    // CI machine that took longer than findBy's default second.
    const graph = await screen.findByRole(
      'img',
      {
        name: /Traffic map of payments: 1 caller on the left, 1 callee on the right/,
      },
      { timeout: 10_000 },
    );
    expect(await within(graph).findByText('payments')).toBeInTheDocument();
    expect(within(graph).getByText('checkout')).toBeInTheDocument();
    expect(within(graph).getByText('ledger/ledger')).toBeInTheDocument();
    expect(
      within(graph).getByText('20/min · 3.0% errors · p99 45 ms'),
    ).toBeInTheDocument();
    expect(
      within(graph).getByText('5/min · 0.0% errors · p99 1.20 s'),
    ).toBeInTheDocument();

    // the same peers, for keyboards and screen readers
    const table = screen.getByRole('table', { name: 'Peers of the workload' });
    expect(
      within(table).getByRole('link', { name: 'checkout' }),
    ).toHaveAttribute('href', '/catalog/default/component/checkout');
    const callee = within(table).getByTestId(
      'map-peer-callee-ledger/Deployment/ledger',
    );
    expect(callee).toHaveTextContent('Called by it');
    expect(callee).toHaveTextContent('300');

    fireEvent.click(
      within(callee).getByRole('button', {
        name: 'Show traffic with ledger/ledger',
      }),
    );
    await waitFor(() =>
      expect(screen.getByTestId('location')).toHaveTextContent('peer=10.0.9.9'),
    );
    expect(screen.getByTestId('location')).not.toHaveTextContent('view=map');
    const grid = await screen.findByRole('grid');
    const rows = within(grid).getAllByRole('row').slice(1);
    expect(rows.map(r => r.getAttribute('data-exchange-id'))).toEqual([
      'to-db',
    ]);
    // the list names peers as the map resolved them
    expect(rows[0]).toHaveTextContent('ledger/ledger');
    expect(api.callsOf('listTraffic').at(-1)![1]).toMatchObject({
      peer: '10.0.9.9',
    });

    // a click on the graph's node filters too
    fireEvent.click(screen.getByRole('tab', { name: 'Map' }));
    fireEvent.click(await screen.findByTestId('map-node-caller:10.0.0.7'));
    await waitFor(() =>
      expect(screen.getByTestId('location')).toHaveTextContent('peer=10.0.0.7'),
    );
  });

  it('labels an edge with call rate, error rate and p99', () => {
    expect(
      edgeLabel(
        peer({ callsPerMinute: 0.25, calls: 3, errors: 1, p99Ms: null }),
      ),
    ).toBe('0.3/min · 33.3% errors · p99 —');
  });
});
