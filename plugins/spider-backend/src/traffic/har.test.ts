import { StoredExchange } from '@spider/backstage-plugin-spider-common';
import { harDocument, harEntry, harFileName, requestUrl } from './har';
import { harSchemaErrors } from '../__testUtils__/validateHar';
import { storedExchange } from '../__testUtils__/trafficSamples';

async function* from<T>(items: T[]): AsyncGenerator<T> {
  for (const i of items) yield i;
}

async function render(
  exchanges: StoredExchange[],
  limit = 100,
  chunkChars?: number,
) {
  const chunks: string[] = [];
  for await (const c of harDocument(from(exchanges), {
    creator: { name: 'Spider for Backstage', version: '0.1.0' },
    description: 'Deployment team-a/web',
    limit,
    chunkChars,
  })) {
    chunks.push(c);
  }
  return { chunks, har: JSON.parse(chunks.join('')) };
}

const grpcExchange = storedExchange({
  id: '2',
  protocol: 'grpc',
  direction: 'outbound',
  client: { ip: 'fd00::5', port: 50_123, name: null },
  server: { ip: 'fd00::9', port: 9090, name: 'api.team-b.svc.cluster.local' },
  request: {
    method: 'POST',
    path: '/shop.Orders/Get',
    authority: '',
    headers: [['content-type', 'application/grpc']],
    bodySize: 7,
    body: { encoding: 'base64', text: 'AAAAAAIIAQ==', truncated: false },
  },
  response: {
    status: 200,
    headers: [['content-type', 'application/grpc']],
    trailers: [
      ['grpc-status', '5'],
      ['grpc-message', 'not found'],
    ],
    bodySize: 5,
    body: { encoding: 'base64', text: 'AAAAAAA=', truncated: false },
  },
  grpc: {
    service: 'shop.Orders',
    method: 'Get',
    status: 5,
    message: 'not found',
  },
});

const resetExchange = storedExchange({
  id: '3',
  response: null,
  error: 'reset',
  durationMs: 3000,
  request: {
    method: 'PUT',
    path: '/upload',
    authority: 'web',
    headers: [
      ['content-type', 'text/plain'],
      ['x-api-key', '[redacted]'],
    ],
    bodySize: 200_000,
    body: { encoding: 'utf8', text: 'x'.repeat(100), truncated: true },
  },
});

describe('harEntry', () => {
  it('maps request, response, timings and addresses, keeping redacted values redacted', () => {
    const e = harEntry(storedExchange());
    expect(e.startedDateTime).toBe('2026-12-01T10:00:00.000Z');
    expect(e.time).toBe(12.5);
    expect(e.timings).toMatchObject({ send: 0, wait: 12.5, receive: 0 });
    expect(e.serverIPAddress).toBe('10.1.0.5');
    expect(e.connection).toBe('40000');
    expect(e.request).toMatchObject({
      method: 'GET',
      url: 'http://web.team-a:8080/orders?id=7&q=a+b',
      httpVersion: 'HTTP/1.1',
      queryString: [
        { name: 'id', value: '7' },
        { name: 'q', value: 'a b' },
      ],
      bodySize: 0,
    });
    expect(e.request.postData).toBeUndefined();
    expect(e.request.headers).toContainEqual({
      name: 'authorization',
      value: '[redacted]',
    });
    expect(e.response.headers).toContainEqual({
      name: 'set-cookie',
      value: '[redacted]',
    });
    expect(e.response).toMatchObject({
      status: 200,
      statusText: 'OK',
      bodySize: 11,
    });
    expect(e.response.content).toEqual({
      size: 11,
      mimeType: 'application/json',
      text: '{"ok":true}',
    });
    expect(e._spider).toMatchObject({
      direction: 'inbound',
      pod: 'web-0',
      container: 'spider-0',
      protocol: 'http/1.1',
      grpc: null,
    });
  });

  it('keeps base64 bodies base64, says so, and carries gRPC details and trailers', () => {
    const e = harEntry(grpcExchange);
    expect(e.request.url).toBe('http://[fd00::9]:9090/shop.Orders/Get');
    expect(e.request.httpVersion).toBe('HTTP/2');
    expect(e.request.postData).toEqual({
      mimeType: 'application/grpc',
      text: 'AAAAAAIIAQ==',
      _encoding: 'base64',
    });
    expect(e.response.content).toMatchObject({
      encoding: 'base64',
      text: 'AAAAAAA=',
      size: 5,
    });
    expect(e.response._trailers).toEqual([
      { name: 'grpc-status', value: '5' },
      { name: 'grpc-message', value: 'not found' },
    ]);
    expect(e._spider).toMatchObject({
      direction: 'outbound',
      protocol: 'grpc',
      grpc: { status: 5, message: 'not found' },
    });
    expect(e.serverIPAddress).toBe('fd00::9');
  });

  it('exports an exchange without a response as status 0 with its error, and marks truncated bodies', () => {
    const e = harEntry(resetExchange);
    expect(e.response).toMatchObject({
      status: 0,
      statusText: '',
      bodySize: -1,
      _error: 'reset',
    });
    expect(e.request.postData).toMatchObject({
      text: 'x'.repeat(100),
      comment: 'truncated at capture',
    });
    expect(e.request.headers).toContainEqual({
      name: 'x-api-key',
      value: '[redacted]',
    });
    const truncated = harEntry(
      storedExchange({
        response: {
          status: 200,
          headers: [],
          trailers: [],
          bodySize: 900,
          body: { encoding: 'utf8', text: 'abc', truncated: true },
        },
      }),
    );
    expect(truncated.response.content).toMatchObject({
      size: 900,
      _truncated: true,
    });
  });

  it('builds a valid URL from whatever was on the wire', () => {
    const server = { ip: '10.0.0.1', port: 80, name: null };
    const url = (path: string, authority: string) =>
      requestUrl({
        server,
        request: { ...storedExchange().request, path, authority },
      });
    expect(url('/a', 'shop.example')).toBe('http://shop.example/a');
    expect(url('http://proxy.target/x', 'proxy.target')).toBe(
      'http://proxy.target/x',
    );
    expect(url('*', '')).toBe('http://10.0.0.1:80/*');
    expect(url('/a', 'bad host with spaces')).toBe('http://10.0.0.1:80/a');
    expect(url('/a b\u0000', '')).toBe('http://10.0.0.1:80/%2Fa%20b%00');
  });

  it('reports the decoded size and the compression of a decompressed body', () => {
    const e = harEntry(
      storedExchange({
        response: {
          status: 200,
          headers: [['content-encoding', 'gzip']],
          trailers: [],
          bodySize: 30,
          body: { encoding: 'utf8', text: 'é'.repeat(50), truncated: false },
        },
      }),
    );
    expect(e.response.content).toMatchObject({ size: 100, compression: 70 });
  });
});

describe('harDocument', () => {
  it('is valid HAR 1.2 for every kind of exchange, in the order given', async () => {
    const { har } = await render([
      storedExchange(),
      grpcExchange,
      resetExchange,
    ]);
    expect(harSchemaErrors(har)).toEqual([]);
    expect(har.log.version).toBe('1.2');
    expect(har.log.creator).toEqual({
      name: 'Spider for Backstage',
      version: '0.1.0',
    });
    expect(har.log.entries.map((e: any) => e._spider.id)).toEqual([
      '1',
      '2',
      '3',
    ]);
    expect(har.log.comment).toBe(
      'Deployment team-a/web: 3 exchanges, newest first',
    );
  });

  it('is valid when empty', async () => {
    const { har, chunks } = await render([]);
    expect(chunks).toHaveLength(1);
    expect(harSchemaErrors(har)).toEqual([]);
    expect(har.log.entries).toEqual([]);
  });

  it('the validator catches what is not HAR', () => {
    expect(
      harSchemaErrors({
        log: { version: '1.2', creator: { name: 'x' }, entries: [] },
      }),
    ).not.toEqual([]);
    const entry = harEntry(storedExchange());
    expect(
      harSchemaErrors({
        log: {
          version: '1.2',
          creator: { name: 'x', version: '1' },
          entries: [{ ...entry, startedDateTime: 'yesterday' }],
        },
      }),
    ).not.toEqual([]);
    expect(
      harSchemaErrors({
        log: {
          version: '1.2',
          creator: { name: 'x', version: '1' },
          entries: [{ ...entry, serverIPAddress: 'pod-a' }],
        },
      }),
    ).not.toEqual([]);
  });

  it('stops at the limit and says more matched; yields entries in chunks as they come', async () => {
    const many = Array.from({ length: 50 }, (_, i) =>
      storedExchange({ id: String(i + 1) }),
    );
    const { har, chunks } = await render(many, 40, 4096);
    expect(har.log.entries).toHaveLength(40);
    expect(har.log.comment).toMatch(
      /40 exchanges, newest first; the limit of 40 was reached/,
    );
    expect(chunks.length).toBeGreaterThan(5);
    expect(harSchemaErrors(har)).toEqual([]);
  });

  it('pulls the input lazily: nothing past the chunk being written is read', async () => {
    let pulled = 0;
    async function* counting() {
      for (let i = 0; i < 1000; i++) {
        pulled += 1;
        yield storedExchange({ id: String(i) });
      }
    }
    const gen = harDocument(counting(), {
      creator: { name: 's', version: '1' },
      description: 'd',
      limit: 1000,
      chunkChars: 1,
    });
    await gen.next(); // head with the first entry
    expect(pulled).toBe(1);
    await gen.next();
    expect(pulled).toBe(2);
    await gen.return(undefined);
  });
});

describe('harFileName', () => {
  it('names the file after the workload and the time', () => {
    expect(
      harFileName(
        { namespace: 'a', kind: 'Deployment', name: 'web.v2' },
        new Date('2026-12-01T10:11:12.345Z'),
      ),
    ).toBe('web.v2-2026-12-01T101112Z.har');
  });
});
