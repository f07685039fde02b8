import { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import {
  BackendMessage,
  DesiredAttachment,
  welcomeFrames,
} from '@spider/backstage-plugin-spider-common';
import { silentLogger } from '../log/logger';
import { DesiredSet } from '../reconcile/DesiredSet';
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
    expect(frames[0].features).toEqual(['traffic', 'chunkedWelcome']);
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

  it('hands a chunked desired set over whole, and nothing of one that was interrupted or broken', async () => {
    const attachment = (i: number): DesiredAttachment => ({
      id: `a-${i}`,
      target: { namespace: 'shop', kind: 'Deployment', name: `w-${i}` },
      whisperer: {
        id: 'w',
        name: 'w',
        image: null,
        captureFilter: '',
        env: { PAD: 'x'.repeat(500) },
      },
      expiresAt: null,
    });
    const framesOf = (revision: number, ids: number[]) => {
      const r = welcomeFrames(
        { protocol: 1, controllerId: 'c', revision },
        ids.map(attachment),
        { chunked: true, chunkBytes: 2000 },
      );
      if (!r.ok) throw new Error(r.error);
      expect(r.frames.length).toBeGreaterThan(3);
      return r.frames;
    };
    const all = Array.from({ length: 12 }, (_, i) => i);
    // What the agent does with a welcome: its desired set, replaced (stopping what is missing).
    const desired = new DesiredSet();
    const stopped: string[] = [];
    const received: BackendMessage[] = [];
    connect([], () => {});
    (client as any).options.onMessage = (m: BackendMessage) => {
      received.push(m);
      if (m.type === 'welcome')
        stopped.push(...desired.replace(m.revision, m.attachments, 0).stopped);
    };
    const closes: number[] = [];
    const nextSocket = async (n: number) => {
      await until(() => sockets.length >= n);
      const s = sockets[n - 1];
      s.on('close', code => closes.push(code));
      return s;
    };

    // 1. A whole chunked set: one welcome with all twelve, after the last chunk.
    let s = await nextSocket(1);
    const first = framesOf(1, all);
    for (const f of first.slice(0, -1)) s.send(f);
    await new Promise(r => setTimeout(r, 100));
    expect(received).toHaveLength(0);
    expect(client!.connected).toBe(false);
    s.send(first[first.length - 1]);
    await until(() => received.length === 1);
    expect(received[0]).toMatchObject({ type: 'welcome', revision: 1 });
    expect((received[0] as any).attachments.map((a: any) => a.id)).toEqual(
      all.map(i => `a-${i}`),
    );
    expect(received[0]).not.toHaveProperty('more');
    expect(client!.connected).toBe(true);

    // 2. A set with only a-0 starts and the connection drops before its end: nothing applied.
    s.terminate();
    s = await nextSocket(2);
    const shrunk = framesOf(2, [
      0,
      ...Array.from({ length: 11 }, (_, i) => 100 + i),
    ]);
    s.send(shrunk[0]);
    s.send(shrunk[1]);
    await new Promise(r => setTimeout(r, 100));
    s.terminate();

    // 3. A broken sequence (a chunk skipped): the agent closes with 1002, nothing applied.
    s = await nextSocket(3);
    s.send(shrunk[0]);
    s.send(shrunk[2]);
    s.send(shrunk[3]);
    await until(() => closes.includes(1002));

    // 4. An attach inside a set: also 1002, and the attach is not handled either.
    s = await nextSocket(4);
    s.send(shrunk[0]);
    s.send(
      JSON.stringify({
        type: 'attach',
        revision: 3,
        attachment: attachment(50),
      }),
    );
    s.send(shrunk[1]);
    await until(() => closes.filter(c => c === 1002).length >= 2);
    expect(received).toHaveLength(1);
    expect(stopped).toEqual([]);
    expect(desired.live().map(e => e.attachment.id)).toEqual(
      all.map(i => `a-${i}`),
    );

    // 5. The whole new set arrives: now, and only now, what it lacks is stopped.
    s = await nextSocket(5);
    for (const f of shrunk) s.send(f);
    await until(() => received.length === 2);
    expect(stopped).toEqual(all.slice(1).map(i => `a-${i}`));
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
