import { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import { BackendMessage } from '@spider/backstage-plugin-spider-common';
import { silentLogger } from '../log/logger';
import { agentSocketUrl, ControlsClient } from './ControlsClient';

const hello = () => ({
  type: 'hello' as const,
  protocol: 1,
  agentVersion: '0.1.0',
  clusterVersion: null,
  scope: { include: '*' as const, exclude: [] },
});

async function until(check: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise(r => setTimeout(r, 10));
  }
}

describe('agentSocketUrl', () => {
  it.each([
    [
      'https://portal.example.com/api/spider',
      'wss://portal.example.com/api/spider/agent/v1',
    ],
    [
      'http://localhost:7007/api/spider/',
      'ws://localhost:7007/api/spider/agent/v1',
    ],
  ])('%s', (base, expected) => expect(agentSocketUrl(base)).toBe(expected));
});

describe('ControlsClient against a local ws server', () => {
  let wss: WebSocketServer;
  let client: ControlsClient | undefined;
  const frames: any[] = [];
  const headers: string[] = [];
  const sockets: WebSocket[] = [];
  let token = 'secret';
  let base: string;

  beforeEach(async () => {
    frames.length = 0;
    headers.length = 0;
    sockets.length = 0;
    wss = new WebSocketServer({
      port: 0,
      path: '/api/spider/agent/v1',
      verifyClient: (info, cb) => {
        headers.push(String(info.req.headers.authorization));
        cb(info.req.headers.authorization === 'Bearer secret', 401);
      },
    });
    await new Promise(r => wss.once('listening', r));
    base = `http://127.0.0.1:${(wss.address() as AddressInfo).port}/api/spider`;
    wss.on('connection', s => {
      sockets.push(s);
      s.on('message', d => frames.push(JSON.parse(d.toString())));
    });
  });
  afterEach(async () => {
    await client?.stop();
    client = undefined;
    await new Promise(r => wss.close(r));
  });

  function connect(received: BackendMessage[], onConnected = () => {}) {
    client = new ControlsClient({
      url: base,
      token: () => token,
      hello,
      onConnected,
      onMessage: m => received.push(m),
      backoff: { baseMs: 20, maxMs: 50 },
      log: silentLogger,
      silenceMs: 2000,
    });
    client.start();
    return client;
  }

  it('authenticates, says hello first, validates incoming messages and reconnects', async () => {
    const received: BackendMessage[] = [];
    let connects = 0;
    const c = connect(received, () => {
      connects++;
      c.send({ type: 'reply', id: 'x', ok: true });
    });
    await until(() => frames.length >= 1);
    expect(headers[0]).toBe('Bearer secret');
    expect(frames[0].type).toBe('hello');
    // Nothing but hello before the welcome.
    await new Promise(r => setTimeout(r, 100));
    expect(frames).toHaveLength(1);
    expect(c.connected).toBe(false);
    expect(c.send({ type: 'reply', id: 'early', ok: true })).toBe(false);

    sockets[0].send(
      JSON.stringify({
        type: 'welcome',
        protocol: 1,
        controllerId: 'c',
        revision: 3,
        attachments: [],
      }),
    );
    await until(() => frames.length >= 2);
    expect(frames[1]).toEqual({ type: 'reply', id: 'x', ok: true });
    sockets[0].send(JSON.stringify({ type: 'attach', revision: 'nope' }));
    sockets[0].send('not json');
    sockets[0].send(
      JSON.stringify({
        type: 'detach',
        revision: 4,
        attachmentId: 'a',
        reason: 'detached',
      }),
    );
    await until(() => received.length >= 2);
    expect(received.map(m => m.type)).toEqual(['welcome', 'detach']);

    // The backend restarts: the client comes back and says hello again.
    sockets[0].terminate();
    await until(
      () =>
        sockets.length >= 2 &&
        frames.filter(f => f.type === 'hello').length >= 2,
    );
    sockets[1].send(
      JSON.stringify({
        type: 'welcome',
        protocol: 1,
        controllerId: 'c',
        revision: 5,
        attachments: [],
      }),
    );
    await until(() => connects >= 2);
    expect(c.connected).toBe(true);
  });

  it('announces traffic in its hello and sends traffic only after a welcome that announces it', async () => {
    const c = connect([]);
    await until(() => frames.length >= 1);
    expect(frames[0].features).toEqual(['traffic']);
    const traffic = (seq: number) => ({
      type: 'traffic' as const,
      agentRun: 'run',
      seq,
      attachmentId: 'att1',
      namespace: 'shop',
      pod: 'web-1',
      container: 'spider-att1',
      exchanges: [],
      flows: [],
      stats: null,
      relay: { droppedExchanges: 0, droppedBytes: 0, rateLimited: 0 },
    });
    expect(c.sendTraffic(traffic(0))).toBe('notConnected'); // before any welcome

    // An older backend: its welcome has no features.
    sockets[0].send(
      JSON.stringify({
        type: 'welcome',
        protocol: 1,
        controllerId: 'c',
        revision: 1,
        attachments: [],
      }),
    );
    await until(() => c.connected);
    expect(c.supports('traffic')).toBe(false);
    expect(c.sendTraffic(traffic(1))).toBe('notConnected');
    expect(c.send(traffic(2))).toBe(false);
    expect(c.send({ type: 'reply', id: 'r', ok: true })).toBe(true);
    await until(() => frames.length >= 2);

    // The backend restarts as a newer one that takes traffic.
    sockets[0].terminate();
    await until(
      () =>
        sockets.length >= 2 &&
        frames.filter(f => f.type === 'hello').length >= 2,
    );
    sockets[1].send(
      JSON.stringify({
        type: 'welcome',
        protocol: 1,
        controllerId: 'c',
        revision: 1,
        attachments: [],
        features: ['traffic', 'future'],
      }),
    );
    await until(() => c.supports('traffic'));
    let written: Error | undefined | 'pending' = 'pending';
    expect(c.sendTraffic(traffic(3), e => (written = e))).toBe('sent');
    await until(() => frames.some(f => f.type === 'traffic'));
    expect(frames.filter(f => f.type === 'traffic').map(f => f.seq)).toEqual([
      3,
    ]);
    await until(() => written !== 'pending');
    expect(written).toBeUndefined();
    expect(c.bufferedAmount).toBe(0);
  });

  it('keeps retrying while the token is rejected, and connects once it is good', async () => {
    token = 'wrong';
    const c = connect([]);
    await until(() => headers.length >= 2);
    expect(c.connected).toBe(false);
    token = 'secret';
    (c as any).options.backoff = { baseMs: 10, maxMs: 20 };
    await until(() => sockets.length >= 1, 8000);
    sockets[0].send(
      JSON.stringify({
        type: 'welcome',
        protocol: 1,
        controllerId: 'c',
        revision: 1,
        attachments: [],
      }),
    );
    await until(() => c.connected, 8000);
  });

  it('drops a silent connection', async () => {
    const received: BackendMessage[] = [];
    const c = connect(received);
    (c as any).options.silenceMs = 200;
    await until(() => sockets.length >= 1);
    // ws servers answer pings automatically, but never ping by themselves: silence.
    await until(() => sockets.length >= 2, 5000);
    // The client gave up on the silent socket and connected again.
    expect(sockets.length).toBeGreaterThanOrEqual(2);
  });
});
