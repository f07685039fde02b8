import {
  act,
  fireEvent,
  screen,
  waitFor,
  within,
} from '@testing-library/react';
import { Route, Routes, useLocation } from 'react-router-dom';
import { signalApiRef } from '@backstage/plugin-signals-react';
import { trafficSignalChannel } from '@spider/backstage-plugin-spider-common';
import { TrafficView } from './TrafficView';
import {
  FakeSpiderApi,
  makeAttachment,
  makeCoverage,
  makeExchange,
} from '../../__testUtils__/FakeSpiderApi';
import { renderSpider } from '../../__testUtils__/render';
import { FakeSignalApi } from '../../__testUtils__/signals';
import { fill } from '../../__testUtils__/fill';

const T0 = Date.parse('2026-12-01T10:00:00.000Z');

function Location() {
  const l = useLocation();
  return <span data-testid="location">{`${l.pathname}${l.search}`}</span>;
}

function setup(
  options: {
    exchanges?: number;
    attachment?: Parameters<typeof makeAttachment>[0];
  } = {},
) {
  const a = makeAttachment(options.attachment);
  const api = new FakeSpiderApi({ attachments: [a] });
  api.exchanges = Array.from({ length: options.exchanges ?? 3 }, (_, i) =>
    makeExchange({ id: `ex-${i}`, attachmentId: a.id, at: T0 + i * 1000 }),
  );
  return { a, api };
}

async function renderView(
  api: FakeSpiderApi,
  a: ReturnType<typeof makeAttachment>,
  extra: { search?: string; signals?: FakeSignalApi } = {},
) {
  return renderSpider(
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
    {
      api,
      routeEntries: [`/spider/attachments/${a.id}${extra.search ?? ''}`],
      apis: extra.signals ? [[signalApiRef, extra.signals]] : [],
    },
  );
}

const rows = () =>
  within(screen.getByRole('grid')).getAllByRole('row').slice(1);

describe('TrafficView', () => {
  it('lists the exchanges newest first and opens one in the drawer', async () => {
    const { a, api } = setup();
    api.exchanges[0] = {
      ...api.exchanges[0],
      request: {
        ...api.exchanges[0].request,
        body: { encoding: 'utf8', text: '{"a":1}', truncated: false },
      },
    };
    await renderView(api, a);
    await screen.findByRole('grid');
    expect(rows().map(r => r.getAttribute('data-exchange-id'))).toEqual([
      'ex-2',
      'ex-1',
      'ex-0',
    ]);
    fireEvent.click(rows()[2]);
    const drawer = await screen.findByRole(
      'dialog',
      { name: 'Exchange' },
      { timeout: 5000 },
    );
    expect(
      await within(drawer).findByRole('button', { name: 'Copy as curl' }),
    ).toBeInTheDocument();
    expect(screen.getByTestId('location')).toHaveTextContent('exchange=ex-0');
    fireEvent.click(
      within(drawer).getByRole('button', { name: 'Close the exchange' }),
    );
    await waitFor(() =>
      expect(screen.getByTestId('location')).not.toHaveTextContent('exchange='),
    );
  });

  it('reads its filters from the URL and writes changes back (shareable)', async () => {
    const { a, api } = setup();
    await renderView(api, a, {
      search:
        '?instance=payments-7c9d-abcde/spider-x&method=POST&errors=1&range=15m',
    });
    await waitFor(() =>
      expect(api.callsOf('listTraffic').length).toBeGreaterThan(0),
    );
    const [id, query] = api.callsOf('listTraffic')[0] as [
      string,
      Record<string, unknown>,
    ];
    expect(id).toBe(a.id);
    expect(query).toMatchObject({
      instance: 'payments-7c9d-abcde/spider-x',
      method: 'POST',
      status: 'error',
      limit: 200,
    });
    expect(Date.parse(query.since as string)).toBeGreaterThan(
      Date.now() - 16 * 60_000,
    );
    // nothing matches: the view says so and offers to clear
    expect(
      await screen.findByText('No exchange matches these filters'),
    ).toBeInTheDocument();
    fireEvent.change(screen.getByLabelText('Status'), {
      target: { value: '5xx' },
    });
    await waitFor(() =>
      expect(screen.getByTestId('location')).toHaveTextContent('status=5xx'),
    );
    fill(screen.getByLabelText('Search path or peer'), 'orders');
    await waitFor(() =>
      expect(screen.getByTestId('location')).toHaveTextContent('q=orders'),
    );
    expect(screen.getByTestId('location')).toHaveTextContent(
      'instance=payments-7c9d-abcde%2Fspider-x',
    );
    fireEvent.click(
      screen.getAllByRole('button', { name: 'Clear filters' })[0],
    );
    await waitFor(() =>
      expect(screen.getByTestId('location').textContent).toBe(
        `/spider/attachments/${a.id}`,
      ),
    );
    expect(await screen.findByRole('grid')).toBeInTheDocument();
  });

  it('shows new exchanges live, and holds them as "N new" while paused', async () => {
    // Live merges render as a transition, which jsdom runs in slices through timers:
    // on a loaded machine that takes longer than the default second.
    const slow = { timeout: 15_000 };
    const { a, api } = setup();
    const signals = new FakeSignalApi();
    await renderView(api, a, { signals });
    await screen.findByRole('grid');
    expect(
      screen.getByText(/Live: new exchanges appear as they are stored/),
    ).toBeInTheDocument();
    expect(signals.subscribers(trafficSignalChannel(a.id))).toBe(1);

    api.exchanges.push(
      makeExchange({ id: 'ex-3', attachmentId: a.id, at: T0 + 3000 }),
    );
    act(() =>
      signals.publish(trafficSignalChannel(a.id), {
        type: 'traffic',
        attachmentId: a.id,
        added: 1,
        latest: null,
      }),
    );
    await waitFor(
      () => expect(rows()[0]).toHaveAttribute('data-exchange-id', 'ex-3'),
      slow,
    );
    const live = api.callsOf('listTraffic').at(-1)![1] as {
      since?: string;
      after?: string;
    };
    // the live fetch asks only for what was stored after the last exchange it had
    expect(live.after).toBe('ex-2');
    expect(live.since).toBeUndefined();

    fireEvent.click(screen.getByRole('button', { name: 'Pause live tail' }));
    expect(screen.getByText(/Paused/)).toBeInTheDocument();
    api.exchanges.push(
      makeExchange({ id: 'ex-4', attachmentId: a.id, at: T0 + 4000 }),
      makeExchange({ id: 'ex-5', attachmentId: a.id, at: T0 + 5000 }),
    );
    act(() =>
      signals.publish(trafficSignalChannel(a.id), {
        type: 'traffic',
        attachmentId: a.id,
        added: 2,
        latest: null,
      }),
    );
    const marker = await screen.findByRole('button', { name: '2 new' }, slow);
    expect(rows()).toHaveLength(4);
    fireEvent.click(marker);
    await waitFor(() => expect(rows()).toHaveLength(6), slow);
    expect(rows()[0]).toHaveAttribute('data-exchange-id', 'ex-5');
    expect(
      screen.queryByRole('button', { name: /new$/ }),
    ).not.toBeInTheDocument();
  });

  /** Records the ids each traffic answer carried, first page and live tail. */
  function recordServed(api: FakeSpiderApi) {
    const served: string[] = [];
    const list = api.listTraffic.bind(api);
    api.listTraffic = async (id, query) => {
      const r = await list(id, query);
      served.push(...r.items.map(e => e.id));
      return r;
    };
    return served;
  }
  const signal = (signals: FakeSignalApi, attachmentId: string) =>
    act(() =>
      signals.publish(trafficSignalChannel(attachmentId), {
        type: 'traffic',
        attachmentId,
        added: 1,
        latest: null,
      }),
    );

  it('live tail: no exchange sent twice, and one stored after a newer one still shows', async () => {
    const slow = { timeout: 15_000 };
    const { a, api } = setup();
    const served = recordServed(api);
    const signals = new FakeSignalApi();
    await renderView(api, a, { signals });
    await screen.findByRole('grid');
    api.exchanges.push(
      makeExchange({ id: 'ex-3', attachmentId: a.id, at: T0 + 3000 }),
    );
    signal(signals, a.id);
    await waitFor(
      () => expect(rows()[0]).toHaveAttribute('data-exchange-id', 'ex-3'),
      slow,
    );
    // A long exchange: it started before ex-3 (1.5 s before, outside any "a second
    // before the newest" slack) but ended, and was stored, after it.
    api.exchanges.push(
      makeExchange({ id: 'ex-4', attachmentId: a.id, at: T0 + 1500 }),
    );
    signal(signals, a.id);
    await waitFor(() => expect(rows()).toHaveLength(5), slow);
    expect(rows().map(r => r.getAttribute('data-exchange-id'))).toEqual([
      'ex-3',
      'ex-2',
      'ex-4',
      'ex-1',
      'ex-0',
    ]);
    expect(api.callsOf('listTraffic').at(-1)![1]).toMatchObject({
      after: 'ex-3',
    });
    // Every id came over the wire once.
    expect(served).toHaveLength(new Set(served).size);
    expect(served).toHaveLength(5);
  });

  it('live tail: starts from an empty list and follows full pages', async () => {
    const slow = { timeout: 15_000 };
    const { a, api } = setup({ exchanges: 0 });
    const served = recordServed(api);
    const signals = new FakeSignalApi();
    await renderView(api, a, { signals });
    expect(await screen.findByText('Nothing captured yet')).toBeInTheDocument();
    const burst = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) =>
        makeExchange({
          id: `ex-${from + i}`,
          attachmentId: a.id,
          at: T0 + (from + i) * 10,
        }),
      );
    api.exchanges.push(...burst(0, 1200));
    signal(signals, a.id);
    // The newest page; the older ones are behind its cursor, loaded by scrolling.
    expect(
      await screen.findByText(
        /^200 exchanges shown; older ones load as you scroll/,
        undefined,
        slow,
      ),
    ).toBeInTheDocument();
    expect(rows()[0]).toHaveAttribute('data-exchange-id', 'ex-1199');
    // More than a page stored at once: the tail asks again after the last one.
    api.exchanges.push(...burst(1200, 700));
    signal(signals, a.id);
    expect(
      await screen.findByText(/^900 exchanges shown/, undefined, slow),
    ).toBeInTheDocument();
    expect(rows()[0]).toHaveAttribute('data-exchange-id', 'ex-1899');
    const afters = api
      .callsOf('listTraffic')
      .map(c => (c[1] as { after?: string }).after)
      .filter(Boolean);
    expect(afters).toEqual(['ex-1199', 'ex-1699']);
    expect(served).toHaveLength(new Set(served).size);
  });

  it('polls for new exchanges when the app has no signals', async () => {
    jest.useFakeTimers({ doNotFake: ['queueMicrotask'] });
    try {
      const { a, api } = setup();
      await renderView(api, a);
      await screen.findByRole('grid');
      expect(
        screen.getByText(/checking for new exchanges every 3 s/),
      ).toBeInTheDocument();
      api.exchanges.push(
        makeExchange({ id: 'ex-9', attachmentId: a.id, at: T0 + 9000 }),
      );
      await act(async () => {
        jest.advanceTimersByTime(3000);
      });
      await act(async () => {
        jest.advanceTimersByTime(300);
      });
      await waitFor(() =>
        expect(rows()[0]).toHaveAttribute('data-exchange-id', 'ex-9'),
      );
    } finally {
      jest.useRealTimers();
    }
  });

  it('shows the coverage of the capture with numbers', async () => {
    const { a, api } = setup();
    api.coverage = makeCoverage({
      exchanges: 900,
      sampled: 100,
      kernelDrops: 12,
      packets: 988,
    });
    await renderView(api, a);
    expect(
      await screen.findByText('This capture is not complete'),
    ).toBeInTheDocument();
    expect(
      screen.getByText(/100 of 1,000 exchanges were sampled out/),
    ).toBeInTheDocument();
    expect(
      screen.getByText(/12 of 1,000 packets were dropped by the kernel/),
    ).toBeInTheDocument();
  });

  it.each([
    [404, /you may not have access to it/],
    [503, /agent is offline.*Check that the agent is running/],
  ])('explains a %s from the API and what to do', async (status, words) => {
    const { a, api } = setup();
    api.failWith('listTraffic', status, 'nope');
    await renderView(api, a);
    const alerts = await screen.findAllByRole('alert');
    expect(alerts[0]).toHaveTextContent(words);
    api.clearFailure('listTraffic');
    fireEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByRole('grid')).toBeInTheDocument();
  });

  it('says why the map failed and what to do, and tries again', async () => {
    const { a, api } = setup();
    api.failWith('getTrafficMap', 503, 'agent offline');
    await renderView(api, a, { search: '?view=map' });
    const alerts = await screen.findAllByRole('alert');
    expect(alerts[0]).toHaveTextContent(
      /agent is offline.*Check that the agent is running/,
    );
    api.clearFailure('getTrafficMap');
    fireEvent.click(screen.getByRole('button', { name: 'Try again' }));
    await waitFor(() =>
      expect(screen.queryByRole('alert')).not.toBeInTheDocument(),
    );
  });

  it('says why the HAR export failed, keeping the list', async () => {
    const { a, api } = setup();
    api.failWith('downloadTrafficHar', 403, 'not shared with you');
    await renderView(api, a);
    await screen.findByRole('grid');
    fireEvent.click(screen.getByRole('button', { name: 'Export HAR' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(
      /The HAR export failed: .*Ask the Controller's owner for access/,
    );
    expect(rows()).toHaveLength(3);
  });

  it('keeps the list when a live fetch fails, saying so', async () => {
    const { a, api } = setup();
    const signals = new FakeSignalApi();
    await renderView(api, a, { signals });
    await screen.findByRole('grid');
    api.failWith('listTraffic', 503, 'agent offline');
    act(() =>
      signals.publish(trafficSignalChannel(a.id), {
        type: 'traffic',
        attachmentId: a.id,
        added: 1,
        latest: null,
      }),
    );
    expect(await screen.findByRole('alert')).toHaveTextContent(
      /agent is offline.*Showing what was loaded/,
    );
    expect(rows()).toHaveLength(3);
  });

  it('explains an empty view: pending whisperers, or nothing captured yet', async () => {
    const pending = setup({
      exchanges: 0,
      attachment: { status: 'pending', instances: [] },
    });
    const { unmount } = await renderView(pending.api, pending.a);
    expect(
      await screen.findByText('Waiting for the whisperer instances'),
    ).toBeInTheDocument();
    unmount();
    const running = setup({ exchanges: 0 });
    await renderView(running.api, running.a);
    expect(await screen.findByText('Nothing captured yet')).toBeInTheDocument();
    expect(
      screen.getByText(/Send some requests to the service/),
    ).toHaveTextContent(/capture filter/);
  });

  it('stays readable after the attachment ended, without a live tail', async () => {
    const { a, api } = setup({ attachment: { status: 'detached' } });
    await renderView(api, a);
    await screen.findByRole('grid');
    expect(rows()).toHaveLength(3);
    expect(
      screen.getByText(/Not live: the capture has ended/),
    ).toBeInTheDocument();
    expect(
      screen.queryByRole('button', { name: 'Pause live tail' }),
    ).not.toBeInTheDocument();
  });

  it('exports the HAR of the current filter as a download', async () => {
    const { a, api } = setup();
    const created: Blob[] = [];
    (URL as any).createObjectURL = jest.fn((b: Blob) => {
      created.push(b);
      return 'blob:har';
    });
    (URL as any).revokeObjectURL = jest.fn();
    const click = jest
      .spyOn(HTMLAnchorElement.prototype, 'click')
      .mockImplementation(() => {});
    await renderView(api, a, { search: '?method=GET' });
    await screen.findByRole('grid');
    fireEvent.click(screen.getByRole('button', { name: 'Export HAR' }));
    await waitFor(() => expect(click).toHaveBeenCalled());
    expect(api.callsOf('downloadTrafficHar')[0]).toEqual([
      a.id,
      { method: 'GET' },
    ]);
    const har = JSON.parse(await created[0].text());
    expect(har.log.entries).toHaveLength(3);
    click.mockRestore();
  });
});
