import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { ExchangeDetail } from './ExchangeDetail';
import { toCurl } from './exchangeExport';
import { FakeSpiderApi, makeExchange } from '../../__testUtils__/FakeSpiderApi';
import { renderSpider } from '../../__testUtils__/render';

// jsdom has no clipboard: record what the page asks the browser to copy.
let copied: string | undefined;
beforeEach(() => {
  copied = undefined;
  (document as any).execCommand = jest.fn(() => {
    copied = window.getSelection()?.toString();
    return true;
  });
});

function withBodies() {
  return makeExchange({
    id: 'ex-42',
    protocol: 'grpc',
    request: {
      method: 'POST',
      path: '/orders.v1.Orders/Create',
      authority: 'orders:9090',
      headers: [
        ['content-type', 'application/json'],
        ['authorization', '[redacted]'],
        ['x-note', "it's"],
      ],
      bodySize: 27,
      body: {
        encoding: 'utf8',
        text: '{"item":"book","qty":2,"tags":["a","b"]}',
        truncated: false,
      },
    },
    response: {
      status: 200,
      headers: [
        ['content-type', 'application/octet-stream'],
        ['set-cookie', '[redacted]'],
      ],
      trailers: [['grpc-status', '5']],
      bodySize: 2048,
      body: { encoding: 'base64', text: 'AAECAwQ=', truncated: true },
    },
    grpc: {
      service: 'orders.v1.Orders',
      method: 'Create',
      status: 5,
      message: 'no such order',
    },
  });
}

describe('ExchangeDetail', () => {
  it('marks redacted header values as redacted', async () => {
    const api = new FakeSpiderApi({ exchanges: [withBodies()] });
    await renderSpider(<ExchangeDetail exchangeId="ex-42" />, { api });
    const request = await screen.findByRole('table', {
      name: 'Request headers',
    });
    const row = within(request).getByText('authorization').closest('tr')!;
    expect(
      within(row as HTMLElement).getByText('redacted'),
    ).toBeInTheDocument();
    expect(
      within(row as HTMLElement).queryByText('[redacted]'),
    ).not.toBeInTheDocument();
    const response = screen.getByRole('table', { name: 'Response headers' });
    expect(within(response).getByText('redacted')).toBeInTheDocument();
    expect(within(request).getByText("it's")).toBeInTheDocument();
  });

  it('pretty-prints JSON bodies, collapsible, and shows binary ones by size', async () => {
    const api = new FakeSpiderApi({ exchanges: [withBodies()] });
    await renderSpider(<ExchangeDetail exchangeId="ex-42" />, { api });
    const tree = await screen.findByRole('group', { name: 'Request body' });
    expect(tree).toHaveTextContent('"item": "book",');
    expect(tree).toHaveTextContent('"qty": 2,');
    expect(tree).toHaveTextContent('"a",');
    const toggle = within(tree).getByRole('button', {
      name: 'Collapse tags (2 items)',
    });
    fireEvent.click(toggle);
    expect(
      within(tree).getByRole('button', { name: 'Expand tags (2 items)' }),
    ).toHaveAttribute('aria-expanded', 'false');
    expect(tree).not.toHaveTextContent('"a",');
    expect(
      screen.getByText(/Binary body, 2.0 KB \(not shown\)/),
    ).toBeInTheDocument();
    expect(
      screen.getByText(/Truncated at the capture's body cap/),
    ).toBeInTheDocument();
    // gRPC details and timing
    expect(screen.getByText('orders.v1.Orders')).toBeInTheDocument();
    expect(screen.getByText('5 NOT_FOUND')).toBeInTheDocument();
    expect(screen.getByText('13 ms')).toBeInTheDocument();
    expect(
      screen.getByRole('link', { name: 'Open the exchange page' }),
    ).toHaveAttribute('href', '/spider/traffic/ex-42');
  });

  it('copies the request as curl, saying redacted headers need their values', async () => {
    const e = withBodies();
    const api = new FakeSpiderApi({ exchanges: [e] });
    await renderSpider(<ExchangeDetail exchangeId="ex-42" />, { api });
    fireEvent.click(
      await screen.findByRole('button', { name: 'Copy as curl' }),
    );
    await waitFor(() => expect(copied).toBe(toCurl(e)));
    expect(await screen.findByText(/curl command copied/)).toHaveTextContent(
      '[redacted]',
    );
    expect(toCurl(e)).toBe(
      'curl --http2-prior-knowledge -X POST http://orders:9090/orders.v1.Orders/Create -H \'content-type: application/json\' -H \'authorization: [redacted]\' -H \'x-note: it\'\\\'\'s\' --data-raw \'{"item":"book","qty":2,"tags":["a","b"]}\'',
    );
  });

  it('replays a binary request body through base64 -d', () => {
    const e = makeExchange({
      request: {
        method: 'PUT',
        path: '/blob',
        authority: '',
        headers: [['content-length', '3']],
        bodySize: 3,
        body: { encoding: 'base64', text: 'AAEC', truncated: false },
      },
    });
    expect(toCurl(e)).toBe(
      'printf %s AAEC | base64 -d | curl -X PUT http://10.0.0.12:8080/blob --data-binary @-',
    );
  });

  it('says what to do when the exchange is not visible', async () => {
    await renderSpider(<ExchangeDetail exchangeId="nope" />);
    expect(await screen.findByText(/No traffic to show/)).toBeInTheDocument();
    expect(
      screen.getByText(/you may not have access to it/),
    ).toBeInTheDocument();
  });
});
