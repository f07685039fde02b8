import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { WhisperersPage } from './WhisperersPage';
import { WhispererPage } from './WhispererPage';
import { ttlToIso } from './ttl';
import {
  FakeSpiderApi,
  makeAttachment,
  makeController,
  makeWhisperer,
} from '../../__testUtils__/FakeSpiderApi';
import { renderSpider } from '../../__testUtils__/render';
import { fill } from '../../__testUtils__/fill';

describe('time to live in human terms', () => {
  it.each([
    ['PT2M', 'PT2M'],
    ['pt30m', 'PT30M'],
    ['2 minutes', 'PT2M'],
    ['90 min', 'PT1H30M'],
    ['1h 30m', 'PT1H30M'],
    ['1 day', 'P1D'],
    ['2 weeks', 'P14D'],
    ['1 hour and 30 minutes', 'PT1H30M'],
    ['1.5 hours', 'PT1H30M'],
  ])('%s is %s', (input, iso) => expect(ttlToIso(input)).toBe(iso));
  it.each(['soon', '5 parsecs', 'P1Y', '', '2 minutes soon', '0 minutes'])(
    'refuses %p',
    input => expect(ttlToIso(input)).toBeUndefined(),
  );
});

describe('WhisperersPage', () => {
  it('lists Whisperers with their TTL in human terms', async () => {
    const api = new FakeSpiderApi({
      whisperers: [
        makeWhisperer({ name: 'http-capture', timeToLive: 'PT2M' }),
        makeWhisperer({
          name: 'dns-capture',
          timeToLive: null,
          captureFilter: '',
          image: 'ghcr.io/x/whisperer:1',
        }),
      ],
    });
    await renderSpider(<WhisperersPage />, { api });
    expect(await screen.findByText('http-capture')).toBeInTheDocument();
    expect(screen.getByText('2 minutes')).toBeInTheDocument();
    expect(screen.getByText('no expiry')).toBeInTheDocument();
    expect(screen.getByText('everything')).toBeInTheDocument();
    expect(screen.getByText('agent default')).toBeInTheDocument();
  });

  it('shows empty and error states', async () => {
    await renderSpider(<WhisperersPage />);
    expect(await screen.findByText('No Whisperers yet')).toBeInTheDocument();
  });

  it('shows errors in plain words', async () => {
    const api = new FakeSpiderApi().failWith(
      'listWhisperers',
      403,
      'missing permission',
    );
    await renderSpider(<WhisperersPage />, { api });
    expect(
      await screen.findByText(
        /You are not allowed to do this \(missing permission\)/,
      ),
    ).toBeInTheDocument();
  });

  it('creates a Whisperer with PT2M, validating the TTL', async () => {
    const api = new FakeSpiderApi();
    await renderSpider(<WhisperersPage />, { api });
    await userEvent.click(
      (
        await screen.findAllByRole('button', { name: /Create Whisperer/ })
      )[0],
    );
    const dialog = await screen.findByRole('dialog');
    fill(within(dialog).getByLabelText(/Name/), 'http-capture');
    fill(within(dialog).getByLabelText('Capture filter'), 'tcp port 80');
    const ttl = within(dialog).getByLabelText('Time to live');
    fill(ttl, 'soon');
    expect(within(dialog).getByText(/Not a duration yet/)).toBeInTheDocument();
    await userEvent.click(
      within(dialog).getByRole('button', { name: 'Create' }),
    );
    expect(
      await within(dialog).findByText(/Time to live must be a duration/),
    ).toBeInTheDocument();
    expect(api.callsOf('createWhisperer')).toHaveLength(0);

    fill(ttl, 'PT2M');
    expect(
      within(dialog).getByText(
        'Attachments end by themselves after 2 minutes (PT2M)',
      ),
    ).toBeInTheDocument();
    await userEvent.click(
      within(dialog).getByRole('button', { name: 'Create' }),
    );
    await waitFor(() =>
      expect(api.callsOf('createWhisperer')).toEqual([
        [
          {
            name: 'http-capture',
            description: '',
            image: null,
            captureFilter: 'tcp port 80',
            timeToLive: 'PT2M',
            env: {},
          },
        ],
      ]),
    );
    expect(await screen.findByText('2 minutes')).toBeInTheDocument();
  });

  it('validates environment lines and the image', async () => {
    const api = new FakeSpiderApi();
    await renderSpider(<WhisperersPage />, { api });
    await userEvent.click(
      (
        await screen.findAllByRole('button', { name: /Create Whisperer/ })
      )[0],
    );
    const dialog = await screen.findByRole('dialog');
    fill(within(dialog).getByLabelText(/Name/), 'x');
    fill(within(dialog).getByLabelText('Image'), 'not an image!');
    fill(within(dialog).getByLabelText('Environment'), 'nonsense');
    await userEvent.click(
      within(dialog).getByRole('button', { name: 'Create' }),
    );
    expect(
      await within(dialog).findByText('Line 1 is not NAME=value'),
    ).toBeInTheDocument();
    expect(
      within(dialog).getByText(/Image must be an image reference/),
    ).toBeInTheDocument();
  });

  it('edits a Whisperer, showing its TTL in words', async () => {
    const w = makeWhisperer({ name: 'http-capture', timeToLive: 'PT1H30M' });
    const api = new FakeSpiderApi({ whisperers: [w] });
    await renderSpider(<WhisperersPage />, { api });
    await userEvent.click(
      await screen.findByRole('button', { name: 'Edit http-capture' }),
    );
    const dialog = await screen.findByRole('dialog');
    const ttl = within(dialog).getByLabelText('Time to live');
    expect(ttl).toHaveValue('1 hour 30 minutes');
    fill(ttl, '10m');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await waitFor(() =>
      expect(api.callsOf('updateWhisperer')[0][1]).toMatchObject({
        timeToLive: 'PT10M',
      }),
    );
  });

  it('disables creating and editing for those not allowed', async () => {
    const api = new FakeSpiderApi({
      whisperers: [
        makeWhisperer({ name: 'theirs', owner: 'user:default/someone-else' }),
      ],
    });
    await renderSpider(<WhisperersPage />, {
      api,
      deny: ['spider.whisperer.create', 'spider.whisperer.manage'],
    });
    await screen.findByText('theirs');
    await waitFor(() =>
      expect(
        screen.getByRole('button', { name: /Create Whisperer/ }),
      ).toBeDisabled(),
    );
    expect(screen.getByRole('button', { name: 'Edit theirs' })).toBeDisabled();
    expect(
      screen.getByRole('button', { name: 'Delete theirs' }),
    ).toBeDisabled();
  });
});

describe('WhispererPage', () => {
  it('shows the configuration and its attachments, with attach', async () => {
    const c = makeController({ name: 'prod-eu-1' });
    const w = makeWhisperer({ name: 'http-capture', timeToLive: 'PT2M' });
    const a = makeAttachment({ whispererId: w.id, controllerId: c.id });
    const api = new FakeSpiderApi({
      controllers: [c],
      whisperers: [w],
      attachments: [a],
    });
    await renderSpider(<WhispererPage whispererId={w.id} />, { api });
    expect(await screen.findByText('tcp port 80')).toBeInTheDocument();
    expect(screen.getByText('2 minutes')).toBeInTheDocument();
    expect(await screen.findByTestId(`attachment-${a.id}`)).toBeInTheDocument();
    expect(
      await screen.findByRole('link', { name: 'prod-eu-1' }),
    ).toBeInTheDocument();
    await userEvent.click(
      screen.getByRole('button', { name: /Attach this whisperer/ }),
    );
    expect(
      await screen.findByRole('dialog', { name: 'Attach a whisperer' }),
    ).toBeInTheDocument();
  });
});
