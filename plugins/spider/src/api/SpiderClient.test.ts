import { SpiderClient } from './SpiderClient';
import { describeError, errorStatus } from './errors';

function client(respond: (url: string, init: RequestInit) => { status: number; body?: unknown }) {
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
  const discoveryApi = { getBaseUrl: jest.fn(async () => 'http://backend/api/spider') };
  return { api: new SpiderClient({ discoveryApi, fetchApi: fetchApi as any }), calls };
}

describe('SpiderClient', () => {
  it('builds URLs and bodies as the Controls service expects', async () => {
    const { api, calls } = client(() => ({ status: 200, body: { items: [] } }));
    await api.listAttachments({ controllerId: 'c1', status: ['pending', 'active'], limit: 25, cursor: 'abc' });
    await api.listWorkloads('c 1', { namespace: 'payments', q: 'pay' });
    await api.getInstall('c1', { format: 'values', namespace: 'spider-system', include: ['a', 'b'] });
    await api.createAttachment({ controllerId: 'c1', whispererId: 'w1', target: { namespace: 'n', kind: 'Deployment', name: 'x' } });
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
      body: { error: { name: 'Error', message: 'already attached' }, response: { statusCode: status } },
    }));
    const error = await api.listControllers().catch(e => e);
    expect(errorStatus(error)).toBe(status);
    expect(describeError(error)).toMatch(words);
  });
});
