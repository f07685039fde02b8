import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { ControllersPage } from './ControllersPage';
import {
  FakeSpiderApi,
  makeController,
} from '../../__testUtils__/FakeSpiderApi';
import { renderSpider } from '../../__testUtils__/render';
import { fill } from '../../__testUtils__/fill';

describe('ControllersPage', () => {
  it('lists Controllers with live state, version, last seen and attachments', async () => {
    const api = new FakeSpiderApi({
      controllers: [
        makeController({
          name: 'prod-eu-1',
          agentVersion: '0.3.1',
          activeAttachments: 4,
        }),
        makeController({
          name: 'staging',
          connected: false,
          agentVersion: null,
          lastSeenAt: new Date(Date.now() - 5 * 60_000).toISOString(),
        }),
      ],
    });
    await renderSpider(<ControllersPage />, { api });
    expect(await screen.findByText('prod-eu-1')).toBeInTheDocument();
    expect(screen.getByText('Connected')).toBeInTheDocument();
    expect(screen.getByText('Disconnected')).toBeInTheDocument();
    expect(screen.getByText('0.3.1')).toBeInTheDocument();
    expect(screen.getByText('5 min ago')).toBeInTheDocument();
    expect(screen.getByText('4')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'prod-eu-1' })).toHaveAttribute(
      'href',
      expect.stringMatching(/^\/spider\/controllers\/.+/),
    );
  });

  it('shows an empty state with the register action', async () => {
    await renderSpider(<ControllersPage />);
    expect(await screen.findByText('No Controllers yet')).toBeInTheDocument();
    expect(
      screen.getAllByRole('button', { name: /Register Controller/ }).length,
    ).toBeGreaterThan(0);
  });

  it('shows server errors in plain words, with retry', async () => {
    const api = new FakeSpiderApi().failWith(
      'listControllers',
      500,
      'database down',
    );
    await renderSpider(<ControllersPage />, { api });
    expect(
      await screen.findByText(
        /The Spider service failed \(500\): database down/,
      ),
    ).toBeInTheDocument();
    api.clearFailure('listControllers');
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByText('No Controllers yet')).toBeInTheDocument();
  });

  it('validates the name, then shows the token once with a warning', async () => {
    const api = new FakeSpiderApi();
    await renderSpider(<ControllersPage />, { api });
    await screen.findByText('No Controllers yet');
    await userEvent.click(
      screen.getAllByRole('button', { name: /Register Controller/ })[0],
    );
    const dialog = await screen.findByRole('dialog');
    await userEvent.click(
      within(dialog).getByRole('button', { name: 'Register' }),
    );
    expect(
      await within(dialog).findByText('Name must not be empty'),
    ).toBeInTheDocument();
    expect(api.callsOf('createController')).toHaveLength(0);

    fill(within(dialog).getByLabelText(/Name/), 'prod-us-2');
    await userEvent.click(
      within(dialog).getByRole('button', { name: 'Register' }),
    );
    expect(
      await within(dialog).findByText(/It is shown only once/),
    ).toBeInTheDocument();
    expect(within(dialog).getByTestId('agent-token')).toHaveValue(
      'spdr_secret_token_1234567890',
    );
    expect(
      within(dialog).getByRole('button', { name: /copy/i }),
    ).toBeInTheDocument();
    expect(api.callsOf('createController')).toEqual([[{ name: 'prod-us-2' }]]);

    await userEvent.click(
      within(dialog).getByRole('button', { name: 'I have copied the token' }),
    );
    await waitFor(() =>
      expect(screen.queryByTestId('agent-token')).not.toBeInTheDocument(),
    );
    expect(await screen.findByText('prod-us-2')).toBeInTheDocument();
  });

  it('renames and deletes with confirmation', async () => {
    const c = makeController({ name: 'old-name' });
    const api = new FakeSpiderApi({ controllers: [c] });
    await renderSpider(<ControllersPage />, { api });
    await userEvent.click(
      await screen.findByRole('button', { name: 'Rename old-name' }),
    );
    const dialog = await screen.findByRole('dialog');
    const name = within(dialog).getByLabelText(/Name/);
    fill(name, 'new-name');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await waitFor(() =>
      expect(api.callsOf('updateController')).toEqual([
        [c.id, { name: 'new-name' }],
      ]),
    );

    await userEvent.click(
      await screen.findByRole('button', { name: 'Delete new-name' }),
    );
    const confirm = await screen.findByRole('dialog');
    expect(within(confirm).getByText(/cannot be undone/)).toBeInTheDocument();
    await userEvent.click(
      within(confirm).getByRole('button', { name: 'Delete' }),
    );
    await waitFor(() =>
      expect(api.callsOf('deleteController')).toEqual([[c.id]]),
    );
  });

  it('disables what the user may not do, with the reason', async () => {
    const api = new FakeSpiderApi({
      controllers: [
        makeController({ name: 'shared', rights: ['read', 'use'] }),
      ],
    });
    await renderSpider(<ControllersPage />, {
      api,
      deny: ['spider.controller.create'],
    });
    await screen.findByText('shared');
    await waitFor(() =>
      expect(
        screen.getByRole('button', { name: /Register Controller/ }),
      ).toBeDisabled(),
    );
    expect(
      screen.getByLabelText('You are not allowed to register Controllers'),
    ).toBeInTheDocument();
    expect(
      screen.getByRole('button', { name: 'Rename shared' }),
    ).toBeDisabled();
    expect(
      screen.getByRole('button', { name: 'Delete shared' }),
    ).toBeDisabled();
  });
});
