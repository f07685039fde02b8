import { screen, waitFor, within } from '@testing-library/react';
import { Route, Routes } from 'react-router-dom';
import userEvent from '@testing-library/user-event';
import { AttachmentPage } from './AttachmentPage';
import { AttachmentsPage } from './AttachmentsPage';
import {
  FakeSpiderApi,
  makeAttachment,
  makeController,
  makeExchange,
} from '../../__testUtils__/FakeSpiderApi';
import { renderSpider } from '../../__testUtils__/render';

function setup() {
  const c = makeController({ name: 'prod-eu-1' });
  const base = makeAttachment({ controllerId: c.id }).instances[0];
  const a = makeAttachment({
    controllerId: c.id,
    instances: [
      base,
      {
        ...base,
        pod: 'payments-7c9d-fghij',
        state: 'failed',
        reason: 'PodSecurityRejected',
        exitCode: 1,
        message: null,
        finishedAt: new Date().toISOString(),
      },
    ],
  });
  return {
    api: new FakeSpiderApi({ controllers: [c], attachments: [a] }),
    a,
    c,
  };
}

describe('AttachmentPage', () => {
  it('shows instances, their reasons in words, and the countdown', async () => {
    const { api, a } = setup();
    await renderSpider(<AttachmentPage attachmentId={a.id} />, { api });
    expect(
      await screen.findByText('Whisperer instances (2)'),
    ).toBeInTheDocument();
    expect(screen.getByText(/Rejected by Pod Security/)).toBeInTheDocument();
    expect(screen.getAllByTestId('countdown')[0]).toHaveTextContent(/left/);
    expect(
      await screen.findByRole('link', { name: 'prod-eu-1' }),
    ).toBeInTheDocument();
  });

  it('selects the instance from ?instance=', async () => {
    const { api, a } = setup();
    await renderSpider(<AttachmentPage attachmentId={a.id} />, {
      api,
      routeEntries: [
        `/spider/attachments/${a.id}?instance=payments-7c9d-fghij`,
      ],
    });
    expect(
      await screen.findByText('payments-7c9d-fghij', {
        selector: 'span.MuiChip-label',
      }),
    ).toBeInTheDocument();
    expect(
      screen.queryByTestId('instance-payments-7c9d-abcde'),
    ).not.toBeInTheDocument();
    expect(screen.getByTestId('instance-payments-7c9d-fghij')).toHaveClass(
      'Mui-selected',
    );
  });

  it("shows the traffic beside the countdown, filtered from an instance's filter icon", async () => {
    const { api, a } = setup();
    api.exchanges = [
      makeExchange({
        id: 'on-abcde',
        attachmentId: a.id,
        pod: 'payments-7c9d-abcde',
      }),
      makeExchange({
        id: 'on-fghij',
        attachmentId: a.id,
        pod: 'payments-7c9d-fghij',
      }),
    ];
    await renderSpider(
      <Routes>
        <Route
          path="/spider/attachments/:attachmentId"
          element={<AttachmentPage />}
        />
      </Routes>,
      { api, routeEntries: [`/spider/attachments/${a.id}`] },
    );
    const traffic = await screen.findByRole('grid', {
      name: 'Captured exchanges',
    });
    await waitFor(() =>
      expect(within(traffic).getAllByRole('row')).toHaveLength(3),
    );
    expect(screen.getByLabelText('Time left')).toHaveTextContent(
      /Capturing, .* left/,
    );
    await userEvent.click(
      await screen.findByRole('link', {
        name: 'Show the traffic of payments-7c9d-fghij/spider-x',
      }),
    );
    await waitFor(() =>
      expect(within(screen.getByRole('grid')).getAllByRole('row')).toHaveLength(
        2,
      ),
    );
    expect(
      within(screen.getByRole('grid')).getAllByRole('row')[1],
    ).toHaveAttribute('data-exchange-id', 'on-fghij');
    expect(screen.getByLabelText('Instance')).toHaveValue(
      'payments-7c9d-fghij/spider-x',
    );
    expect(
      screen.queryByTestId('instance-payments-7c9d-abcde'),
    ).not.toBeInTheDocument();
  });

  it('asks for the first traffic page beside the attachment, not after it', async () => {
    const { api, a } = setup();
    api.exchanges = [makeExchange({ id: 'early', attachmentId: a.id })];
    const release = api.hold('getAttachment');
    await renderSpider(<AttachmentPage attachmentId={a.id} />, {
      api,
      routeEntries: [`/spider/attachments/${a.id}?method=GET`],
    });
    // The attachment is still on its way; the traffic list has been asked for already,
    // with the filters of the URL.
    await waitFor(() => expect(api.callsOf('listTraffic')).toHaveLength(1));
    expect(api.callsOf('getAttachment')).toHaveLength(1);
    expect(api.callsOf('listTraffic')[0]).toEqual([
      a.id,
      expect.objectContaining({ method: 'GET', limit: 200 }),
    ]);
    release();
    const grid = await screen.findByRole('grid', {
      name: 'Captured exchanges',
    });
    await waitFor(() =>
      expect(within(grid).getAllByRole('row')[1]).toHaveAttribute(
        'data-exchange-id',
        'early',
      ),
    );
    // The view took that page rather than asking again.
    expect(api.callsOf('listTraffic')).toHaveLength(1);
  });

  it('shows the attachment without waiting long for a slow first traffic page', async () => {
    const { api, a } = setup();
    api.exchanges = [makeExchange({ id: 'slow', attachmentId: a.id })];
    const release = api.hold('listTraffic');
    await renderSpider(<AttachmentPage attachmentId={a.id} />, { api });
    // After the page's short wait for its first traffic page (generous under CI load).
    expect(
      await screen.findByText('Whisperer instances (2)', undefined, {
        timeout: 10_000,
      }),
    ).toBeInTheDocument();
    expect(screen.queryByRole('grid')).not.toBeInTheDocument();
    release();
    const grid = await screen.findByRole('grid', {
      name: 'Captured exchanges',
    });
    await waitFor(() =>
      expect(within(grid).getAllByRole('row')[1]).toHaveAttribute(
        'data-exchange-id',
        'slow',
      ),
    );
  });

  it('says why the first traffic page failed and asks again on "Try again"', async () => {
    const { api, a } = setup();
    api.exchanges = [makeExchange({ id: 'later', attachmentId: a.id })];
    api.failWith('listTraffic', 503, 'agent offline');
    await renderSpider(<AttachmentPage attachmentId={a.id} />, { api });
    const alerts = await screen.findAllByRole('alert');
    expect(alerts[0]).toHaveTextContent(
      /agent is offline.*Check that the agent is running/,
    );
    api.clearFailure('listTraffic');
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    const grid = await screen.findByRole('grid', {
      name: 'Captured exchanges',
    });
    await waitFor(() =>
      expect(within(grid).getAllByRole('row')[1]).toHaveAttribute(
        'data-exchange-id',
        'later',
      ),
    );
  });

  it('asks for a new first page when the filters change after the early one', async () => {
    const { api, a } = setup();
    api.exchanges = [
      makeExchange({ id: 'a-get', attachmentId: a.id }),
      makeExchange({
        id: 'a-post',
        attachmentId: a.id,
        request: { ...makeExchange().request, method: 'POST' },
      }),
    ];
    await renderSpider(
      <Routes>
        <Route
          path="/spider/attachments/:attachmentId"
          element={<AttachmentPage />}
        />
      </Routes>,
      { api, routeEntries: [`/spider/attachments/${a.id}`] },
    );
    const grid = await screen.findByRole('grid', {
      name: 'Captured exchanges',
    });
    await waitFor(() =>
      expect(within(grid).getAllByRole('row')).toHaveLength(3),
    );
    await userEvent.selectOptions(screen.getByLabelText('Method'), 'POST');
    await waitFor(() =>
      expect(within(screen.getByRole('grid')).getAllByRole('row')).toHaveLength(
        2,
      ),
    );
    expect(
      within(screen.getByRole('grid')).getAllByRole('row')[1],
    ).toHaveAttribute('data-exchange-id', 'a-post');
  });

  it('keeps the traffic readable after the attachment was detached', async () => {
    const { api, a } = setup();
    a.status = 'detached';
    a.detachedAt = new Date().toISOString();
    api.exchanges = [makeExchange({ id: 'kept', attachmentId: a.id })];
    await renderSpider(<AttachmentPage attachmentId={a.id} />, { api });
    expect(
      await screen.findByText(
        /capture stopped, the traffic stays until retention removes it/,
      ),
    ).toBeInTheDocument();
    const traffic = await screen.findByRole('grid', {
      name: 'Captured exchanges',
    });
    expect(within(traffic).getAllByRole('row')[1]).toHaveAttribute(
      'data-exchange-id',
      'kept',
    );
  });

  it('detaches and shows the new state', async () => {
    const { api, a } = setup();
    await renderSpider(<AttachmentPage attachmentId={a.id} />, { api });
    await userEvent.click(
      await screen.findByRole('button', { name: /Detach/ }),
    );
    await userEvent.click(
      await screen.findByRole('button', { name: 'Detach' }),
    );
    expect(await screen.findByText('Detaching')).toBeInTheDocument();
    await waitFor(() =>
      expect(
        screen.queryByRole('button', { name: /Detach http/ }),
      ).not.toBeInTheDocument(),
    );
  });

  it('says when the attachment does not exist', async () => {
    await renderSpider(<AttachmentPage attachmentId="nope" />);
    expect(await screen.findByText(/Attachment not found/)).toBeInTheDocument();
  });
});

describe('AttachmentsPage', () => {
  it('lists attachments across Controllers', async () => {
    const { api, a } = setup();
    await renderSpider(<AttachmentsPage />, { api });
    expect(await screen.findByTestId(`attachment-${a.id}`)).toBeInTheDocument();
    expect(
      await screen.findByRole('link', { name: 'prod-eu-1' }),
    ).toBeInTheDocument();
  });
});
