import { SpiderClient } from './SpiderClient';
import { describeError, errorStatus } from './errors';
import { spiderOperations } from './generated/operations';

function client(
  respond: (
    url: string,
    init: RequestInit,
  ) => { status: number; body?: unknown },
) {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const fetchApi = {
    fetch: jest.fn(async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      const r = respond(url, init);
      const text = r.body === undefined ? '' : JSON.stringify(r.body);
      return {
        ok: r.status < 400,
        status: r.status,
        statusText: 'X',
        url,
        headers: new Map([['content-type', 'application/json']]),
        text: async () => text,
        json: async () => JSON.parse(text),
      } as any;
    }),
  };
  const discoveryApi = {
    getBaseUrl: jest.fn(async () => 'http://backend/api/spider'),
  };
  return {
    api: new SpiderClient({ discoveryApi, fetchApi: fetchApi as any }),
    calls,
  };
}

describe('SpiderClient', () => {
  it('builds URLs and bodies as the Controls service expects', async () => {
    const { api, calls } = client(() => ({ status: 200, body: { items: [] } }));
    await api.listAttachments({
      controllerId: 'c1',
      status: ['pending', 'active'],
      limit: 25,
      cursor: 'abc',
    });
    await api.listWorkloads('c 1', { namespace: 'payments', q: 'pay' });
    await api.getInstall('c1', {
      format: 'values',
      namespace: 'spider-system',
      include: ['a', 'b'],
    });
    await api.createAttachment({
      controllerId: 'c1',
      whispererId: 'w1',
      target: { namespace: 'n', kind: 'Deployment', name: 'x' },
    });
    await api.listEntityWorkloads('component:default/payments');
    expect(calls.map(c => `${c.init.method} ${c.url}`)).toEqual([
      'GET http://backend/api/spider/attachments?controllerId=c1&limit=25&cursor=abc&status=pending&status=active',
      'GET http://backend/api/spider/controllers/c%201/workloads?namespace=payments&q=pay',
      'GET http://backend/api/spider/controllers/c1/install?format=values&namespace=spider-system&include=a%2Cb',
      'POST http://backend/api/spider/attachments',
      'GET http://backend/api/spider/entity-workloads?entityRef=component%3Adefault%2Fpayments',
    ]);
    expect(JSON.parse(calls[3].init.body as string)).toEqual({
      controllerId: 'c1',
      whispererId: 'w1',
      target: { namespace: 'n', kind: 'Deployment', name: 'x' },
    });
  });

  it('accepts 204 without a body', async () => {
    const { api } = client(() => ({ status: 204 }));
    await expect(api.deleteController('c1')).resolves.toBeUndefined();
  });

  it.each([
    [503, /agent is offline/],
    [504, /did not answer in time/],
    [403, /not allowed/],
    [409, /^Conflict: already attached\.$/],
  ])('turns a %s into plain words', async (status, words) => {
    const { api } = client(() => ({
      status,
      body: {
        error: { name: 'Error', message: 'already attached' },
        response: { statusCode: status },
      },
    }));
    const error = await api.listControllers().catch(e => e);
    expect(errorStatus(error)).toBe(status);
    expect(describeError(error)).toMatch(words);
  });
});

describe('SpiderClient traffic', () => {
  it('builds the traffic URLs with filters', async () => {
    const { api, calls } = client(() => ({
      status: 200,
      body: { items: [], coverage: null },
    }));
    await api.listTraffic('a1', {
      instance: 'pod-1/spider-x',
      status: '5xx',
      q: '',
      limit: 200,
      cursor: 'c2',
    });
    await api.listEntityTraffic('component:default/payments', {
      method: 'GET',
      since: '2026-12-01T10:00:00.000Z',
    });
    await api.getExchange('ex 1');
    await api.getTrafficMap('a1', {
      since: '2026-12-01T10:00:00.000Z',
      instance: 'pod-1',
    });
    expect(calls.map(c => `${c.init.method} ${c.url}`)).toEqual([
      'GET http://backend/api/spider/attachments/a1/traffic?instance=pod-1%2Fspider-x&status=5xx&limit=200&cursor=c2',
      'GET http://backend/api/spider/entity-traffic?entityRef=component%3Adefault%2Fpayments&method=GET&since=2026-12-01T10%3A00%3A00.000Z',
      'GET http://backend/api/spider/traffic/ex%201',
      'GET http://backend/api/spider/attachments/a1/map?since=2026-12-01T10%3A00%3A00.000Z&instance=pod-1',
    ]);
  });

  it('downloads the HAR as a blob through fetchApi (with the user credentials)', async () => {
    const har = { log: { version: '1.2', entries: [] } };
    const fetchApi = {
      fetch: jest.fn(async (url: string) => ({
        ok: true,
        status: 200,
        url,
        headers: new Map([['content-type', 'application/json']]),
        blob: async () =>
          new Blob([JSON.stringify(har)], { type: 'application/json' }),
      })),
    };
    const discoveryApi = {
      getBaseUrl: jest.fn(async () => 'http://backend/api/spider'),
    };
    const api = new SpiderClient({ discoveryApi, fetchApi: fetchApi as any });
    const blob = await api.downloadTrafficHar('a1', {
      method: 'POST',
      status: 'error',
    });
    expect(fetchApi.fetch).toHaveBeenCalledWith(
      'http://backend/api/spider/attachments/a1/traffic.har?method=POST&status=error',
      expect.objectContaining({ method: 'GET' }),
    );
    expect(JSON.parse(await blob.text())).toEqual(har);
  });

  it('turns a 404 on traffic into an error with its status', async () => {
    const { api } = client(() => ({
      status: 404,
      body: {
        error: { name: 'NotFoundError', message: 'no such attachment' },
        response: { statusCode: 404 },
      },
    }));
    const error = await api.listTraffic('a1').catch(e => e);
    expect(errorStatus(error)).toBe(404);
  });
});

describe('SpiderClient and the spec', () => {
  // Every operation the spec has is reachable through SpiderApi: a route added to the spec
  // (and so to the generated client) without a SpiderApi method fails here.
  it('reaches every operation of the spec, each through its own method', async () => {
    const { api, calls } = client(() => ({ status: 200, body: {} }));
    const id = 'i1';
    const uses: Array<() => Promise<unknown>> = [
      () => api.listControllers(),
      () => api.getController(id),
      () => api.createController({ name: 'n' }),
      () => api.updateController(id, { name: 'n' }),
      () => api.deleteController(id),
      () => api.rotateToken(id),
      () => api.getControllerStatus(id),
      () => api.getInstall(id, { format: 'command' }),
      () => api.listWorkloads(id),
      () => api.listNamespaces(id),
      () => api.getShares(id),
      () => api.putShares(id, []),
      () => api.listWhisperers(),
      () => api.getWhisperer(id),
      () => api.createWhisperer({ name: 'n' }),
      () => api.updateWhisperer(id, { name: 'n' }),
      () => api.deleteWhisperer(id),
      () => api.listAttachments(),
      () => api.getAttachment(id),
      () =>
        api.createAttachment({
          controllerId: id,
          whispererId: id,
          target: { namespace: 'n', kind: 'Pod', name: 'p' },
        }),
      () => api.detach(id),
      () => api.listEntityWorkloads('component:default/x'),
      () => api.listTraffic(id),
      () => api.listEntityTraffic('component:default/x'),
      () => api.getExchange(id),
      () => api.getTrafficMap(id),
    ];
    for (const use of uses) await use();
    const reached = calls.map(c => {
      const path = new URL(c.url).pathname.replace('/api/spider', '');
      return Object.entries(spiderOperations).find(
        ([, op]) =>
          op.method === c.init.method &&
          new RegExp(`^${op.path.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path),
      )?.[0];
    });
    // The HAR export answers a blob, not JSON: its own test above covers it.
    reached.push('exportAttachmentTraffic');
    expect(reached.sort()).toEqual(Object.keys(spiderOperations).sort());
  });
});
