import net from 'node:net';
import type {
  CapturedExchange,
  TrafficMessage,
} from '@spider/backstage-plugin-spider-common';
import { MemoryPodDirectory, pod } from '../testUtils/MemoryPodDirectory';
import { MemoryWhispererRegistry } from '../testUtils/MemoryWhispererRegistry';
import { httpFrom as rawHttpFrom } from '../testUtils/httpFrom';
import { exchange, STATS } from '../testUtils/trafficFixtures';
import { TrafficLink, TrafficRelay } from '../traffic/TrafficRelay';
import {
  AgentWhispererEndpoint,
  createWhispererEndpoint,
  InstanceSecrets,
  WhispererEndpointLimits,
} from './index';

// Pods are played by loopback addresses: 127.0.0.2 carries spider-att1, 127.0.0.3 is no pod.
const POD_IP = '127.0.0.2';
const STRANGER = '127.0.0.3';
const POD_UID = 'uid-shop-web-1';
const secrets = InstanceSecrets.fromToken('spd_endpoint-test');

/** The instance secret of the container a whisperer path names, in the pod at POD_IP. */
function secretOf(path: string): string {
  const container = /^\/v1\/whisperers\/([^/?]+)/.exec(path)?.[1] ?? '';
  return secrets.secretFor(POD_UID, container);
}

/**
 * A request as the whisperer sends it: with its instance secret, unless the test gives
 * an Authorization header of its own (or `null` for none).
 */
function httpFrom(
  localAddress: string,
  port: number,
  method: string,
  path: string,
  body?: string | Buffer,
  headers?: Record<string, string> | null,
) {
  const base: Record<string, string> =
    headers === null
      ? {}
      : { authorization: `Bearer ${secretOf(path)}`, ...headers };
  if (body !== undefined && !headers) base['Content-Type'] = 'application/json';
  return rawHttpFrom(localAddress, port, method, path, body, base);
}

describe('whisperer endpoint', () => {
  let dir: MemoryPodDirectory;
  let registry: MemoryWhispererRegistry;
  let endpoint: AgentWhispererEndpoint;
  let port: number;

  beforeEach(async () => {
    dir = new MemoryPodDirectory().setPod(
      pod(POD_IP, 'web-1', 'shop', null, ['spider-att1', 'spider-att9']),
    );
    registry = new MemoryWhispererRegistry().add({
      attachmentId: 'att1',
      container: 'spider-att1',
      pod: { namespace: 'shop', name: 'web-1' },
    });
    endpoint = createWhispererEndpoint({
      directory: dir,
      registry,
      secrets,
      port: 0,
      host: '127.0.0.1',
      limits: { recheckMs: 50, maxLongPollsPerIp: 2 },
    });
    port = (await endpoint.start()).port;
  });
  afterEach(() => endpoint.stop());

  it('serves the configuration to the pod carrying the whisperer', async () => {
    const res = await httpFrom(
      POD_IP,
      port,
      'GET',
      '/v1/whisperers/spider-att1',
    );
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      attachmentId: 'att1',
      container: 'spider-att1',
      stop: false,
      captureFilter: 'tcp',
    });
  });

  it('refuses a caller from another address, and a pod asking about a container it lacks', async () => {
    expect(
      (await httpFrom(STRANGER, port, 'GET', '/v1/whisperers/spider-att1'))
        .status,
    ).toBe(403);
    expect(
      (
        await httpFrom(
          STRANGER,
          port,
          'GET',
          '/v1/whisperers/spider-att1/stop?wait=0',
        )
      ).status,
    ).toBe(403);
    expect(
      (
        await httpFrom(
          STRANGER,
          port,
          'POST',
          '/v1/whisperers/spider-att1/state',
          '{"state":"running"}',
        )
      ).status,
    ).toBe(403);
    expect(
      (await httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-other'))
        .status,
    ).toBe(403);
    // Headers claiming another origin change nothing: the TCP peer decides.
    const spoof = await httpFrom(
      STRANGER,
      port,
      'GET',
      '/v1/whisperers/spider-att1',
      undefined,
      {
        'X-Forwarded-For': POD_IP,
        'X-Real-IP': POD_IP,
      },
    );
    expect(spoof.status).toBe(403);
    expect(registry.reports).toHaveLength(0);
    expect(endpoint.stats().refused).toBe(5);
  });

  it('refuses the right pod without the instance secret, or with a wrong one, and changes nothing', async () => {
    const logged: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
    await endpoint.stop();
    endpoint = createWhispererEndpoint({
      directory: dir,
      registry,
      secrets,
      port: 0,
      host: '127.0.0.1',
      logger: { warn: (msg, fields) => logged.push({ msg, fields }) },
    });
    port = (await endpoint.start()).port;
    const wrong: Array<Record<string, string> | null> = [
      null, // no header at all
      { authorization: 'Bearer ' },
      { authorization: `Basic ${secretOf('/v1/whisperers/spider-att1')}` },
      // The secret of another instance in the same pod.
      { authorization: `Bearer ${secretOf('/v1/whisperers/spider-att9')}` },
      // Derived from another agent's key.
      {
        authorization: `Bearer ${InstanceSecrets.fromToken('other').secretFor(
          POD_UID,
          'spider-att1',
        )}`,
      },
      { 'x-spider-instance-secret': 'guess', authorization: '' },
    ];
    const statuses: number[] = [];
    const errors: string[] = [];
    for (const headers of wrong) {
      for (const [method, path, body] of [
        ['GET', '/v1/whisperers/spider-att1', undefined],
        ['GET', '/v1/whisperers/spider-att1/stop?wait=0', undefined],
        ['POST', '/v1/whisperers/spider-att1/state', '{"state":"failed"}'],
      ] as const) {
        const h =
          headers && body
            ? { ...headers, 'Content-Type': 'application/json' }
            : headers;
        const res = await httpFrom(POD_IP, port, method, path, body, h);
        statuses.push(res.status);
        errors.push(res.json.error);
      }
    }
    expect(new Set(statuses)).toEqual(new Set([403]));
    expect(new Set(errors)).toEqual(
      new Set([
        'forbidden: missing instance secret',
        'forbidden: wrong instance secret',
      ]),
    );
    // Nothing recorded, nothing served; counted as secret refusals.
    expect(registry.reports).toHaveLength(0);
    expect(endpoint.stats()).toMatchObject({
      served: 0,
      refused: 18,
      refusedSecret: 18,
    });
    // Logged (throttled: one line per reason), never with the secret presented.
    expect(logged.map(l => l.fields?.reason)).toEqual([
      'missing instance secret',
      'wrong instance secret',
    ]);
    const text = JSON.stringify(logged);
    expect(text).not.toContain(secretOf('/v1/whisperers/spider-att9'));
    expect(text).not.toContain('guess');
    // The X-Spider-Instance-Secret form of the right secret is accepted.
    const alt = await httpFrom(
      POD_IP,
      port,
      'GET',
      '/v1/whisperers/spider-att1',
      undefined,
      {
        'x-spider-instance-secret': secretOf('/v1/whisperers/spider-att1'),
        authorization: '',
      },
    );
    expect(alt.status).toBe(200);
  });

  it('never trusts a hostNetwork pod, whatever it presents', async () => {
    const HOST_POD = '127.0.0.4';
    dir.setPod(
      pod(HOST_POD, 'node-exporter', 'monitoring', null, ['spider-att1'], {
        uid: 'uid-host',
        hostNetwork: true,
      }),
    );
    const res = await rawHttpFrom(
      HOST_POD,
      port,
      'GET',
      '/v1/whisperers/spider-att1',
      undefined,
      {
        authorization: `Bearer ${secrets.secretFor('uid-host', 'spider-att1')}`,
      },
    );
    expect(res.status).toBe(403);
    expect(res.json).toEqual({ error: 'forbidden: host network pod' });
    expect(endpoint.stats()).toMatchObject({
      refusedHostNetwork: 1,
      served: 0,
    });
  });

  it('tells a whisperer only what it needs: not the target, nor the Whisperer', async () => {
    const res = await httpFrom(
      POD_IP,
      port,
      'GET',
      '/v1/whisperers/spider-att1',
    );
    expect(Object.keys(res.json).sort()).toEqual(
      [
        'attachmentId',
        'capture',
        'captureFilter',
        'container',
        'expiresAt',
        'generation',
        'pod',
        'stop',
        'stopReason',
      ].sort(),
    );
  });

  it('stops trusting a pod once it is gone from the directory', async () => {
    dir.removePod(POD_IP);
    expect(
      (await httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att1'))
        .status,
    ).toBe(403);
  });

  it('answers a held long-poll as soon as the attachment is detached', async () => {
    const poll = httpFrom(
      POD_IP,
      port,
      'GET',
      '/v1/whisperers/spider-att1/stop?wait=30',
    );
    await new Promise(r => setTimeout(r, 100));
    expect(endpoint.stats().waiting).toBe(1);
    const started = Date.now();
    registry.stop('att1', 'detached');
    const res = await poll;
    expect(Date.now() - started).toBeLessThan(500);
    expect(res).toMatchObject({
      status: 200,
      json: { stop: true, reason: 'detached' },
    });
    expect(endpoint.stats().waiting).toBe(0);
    // and the configuration says so too
    expect(
      (await httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att1')).json,
    ).toMatchObject({ stop: true, stopReason: 'detached' });
  });

  it('tells the whisperer to stop on expiry (no event, found by the recheck)', async () => {
    registry.add({
      attachmentId: 'att9',
      container: 'spider-att9',
      pod: { namespace: 'shop', name: 'web-1' },
      expiresAt: new Date(Date.now() + 300).toISOString(),
    });
    const res = await httpFrom(
      POD_IP,
      port,
      'GET',
      '/v1/whisperers/spider-att9/stop?wait=10',
    );
    expect(res.json).toEqual({ stop: true, reason: 'expired' });
  });

  it('answers stop:false when the wait runs out', async () => {
    const res = await httpFrom(
      POD_IP,
      port,
      'GET',
      '/v1/whisperers/spider-att1/stop?wait=1',
    );
    expect(res.json).toEqual({ stop: false, reason: null });
  });

  it('says 410/stop for a whisperer whose attachment is gone, 503 before the desired set is known', async () => {
    expect(
      await httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att9'),
    ).toMatchObject({ status: 410, json: { stop: true } });
    expect(
      (await httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att9/stop'))
        .json,
    ).toEqual({ stop: true, reason: 'deleted' });
    registry.desiredSet = false;
    const res = await httpFrom(
      POD_IP,
      port,
      'GET',
      '/v1/whisperers/spider-att9',
    );
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
  });

  it('records state reports and validates them', async () => {
    const ok = await httpFrom(
      POD_IP,
      port,
      'POST',
      '/v1/whisperers/spider-att1/state',
      JSON.stringify({ state: 'terminated', exitCode: 0 }),
    );
    expect(ok.status).toBe(204);
    expect(registry.reports).toEqual([
      {
        podNamespace: 'shop',
        podName: 'web-1',
        container: 'spider-att1',
        state: 'terminated',
        message: null,
        exitCode: 0,
      },
    ]);
    expect(
      (
        await httpFrom(
          POD_IP,
          port,
          'POST',
          '/v1/whisperers/spider-att1/state',
          '{"state":"bogus"}',
        )
      ).status,
    ).toBe(400);
    expect(
      (
        await httpFrom(
          POD_IP,
          port,
          'POST',
          '/v1/whisperers/spider-att1/state',
          'not json',
        )
      ).status,
    ).toBe(400);
    expect(
      (
        await httpFrom(
          POD_IP,
          port,
          'POST',
          '/v1/whisperers/spider-att1/state',
          '{}',
          { 'Content-Type': 'text/plain' },
        )
      ).status,
    ).toBe(415);
    const big = JSON.stringify({
      state: 'failed',
      message: 'x'.repeat(10_000),
    });
    expect(
      (
        await httpFrom(
          POD_IP,
          port,
          'POST',
          '/v1/whisperers/spider-att1/state',
          big,
        )
      ).status,
    ).toBe(413);
    expect(registry.reports).toHaveLength(1);
  });

  it('caps long-polls per pod and frees a slot when the caller hangs up', async () => {
    const held = [1, 2].map(() =>
      httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att1/stop?wait=30'),
    );
    await new Promise(r => setTimeout(r, 100));
    expect(
      (
        await httpFrom(
          POD_IP,
          port,
          'GET',
          '/v1/whisperers/spider-att1/stop?wait=30',
        )
      ).status,
    ).toBe(429);
    // a raw client that disconnects
    registry.stop('att1', 'detached');
    await Promise.all(held);
    const sock = net.connect({ host: '127.0.0.1', port, localAddress: POD_IP });
    registry.add({
      attachmentId: 'att9',
      container: 'spider-att9',
      pod: { namespace: 'shop', name: 'web-1' },
    });
    await new Promise<void>(r => sock.on('connect', () => r()));
    sock.write(
      `GET /v1/whisperers/spider-att9/stop?wait=30 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secretOf(
        '/v1/whisperers/spider-att9',
      )}\r\n\r\n`,
    );
    await new Promise(r => setTimeout(r, 100));
    expect(endpoint.stats().waiting).toBe(1);
    sock.destroy();
    await new Promise(r => setTimeout(r, 100));
    expect(endpoint.stats().waiting).toBe(0);
  });

  it('answers held long-polls with 503 when it shuts down', async () => {
    const poll = httpFrom(
      POD_IP,
      port,
      'GET',
      '/v1/whisperers/spider-att1/stop?wait=30',
    );
    await new Promise(r => setTimeout(r, 100));
    await endpoint.stop();
    expect((await poll).status).toBe(503);
  });

  it('answers unknown paths 404 and malformed requests without dying', async () => {
    expect((await httpFrom(POD_IP, port, 'GET', '/metrics')).status).toBe(404);
    const garbage = net.connect({ host: '127.0.0.1', port });
    garbage.on('error', () => {});
    garbage.write('\x00\x01\x02 garbage\r\n\r\n');
    await new Promise(r => setTimeout(r, 50));
    garbage.destroy();
    expect(
      (await httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att1'))
        .status,
    ).toBe(200);
  });
});

describe('whisperer endpoint: traffic', () => {
  let dir: MemoryPodDirectory;
  let registry: MemoryWhispererRegistry;
  let endpoint: AgentWhispererEndpoint;
  let port: number;
  let link: RecordingLink;
  let relay: TrafficRelay;
  const url = '/v1/whisperers/spider-att1/traffic';
  const body = (
    ids: string[],
    over: Partial<CapturedExchange> = {},
    stats: typeof STATS | null = null,
  ) =>
    JSON.stringify({
      exchanges: ids.map(id => exchange(id, 0, over)),
      flows: [],
      stats,
    });

  /** Stands in for the agent's socket to the Controls service (recorded, always up). */
  class RecordingLink implements TrafficLink {
    up = true;
    buffered = 0;
    messages: TrafficMessage[] = [];
    canSendTraffic = () => this.up;
    bufferedAmount = () => this.buffered;
    sendTraffic(m: TrafficMessage) {
      this.messages.push(m);
      return 'sent' as const;
    }
  }

  async function start(
    limits: Partial<WhispererEndpointLimits> = {},
    maxBufferBytes = 64 * 1024 * 1024,
  ) {
    dir = new MemoryPodDirectory().setPod(
      pod(POD_IP, 'web-1', 'shop', null, ['spider-att1', 'spider-att9']),
    );
    registry = new MemoryWhispererRegistry().add({
      attachmentId: 'att1',
      container: 'spider-att1',
      pod: { namespace: 'shop', name: 'web-1' },
    });
    link = new RecordingLink();
    relay = new TrafficRelay({ maxBufferBytes, agentRun: 'run' });
    relay.attach(link);
    endpoint = createWhispererEndpoint({
      directory: dir,
      registry,
      secrets,
      port: 0,
      host: '127.0.0.1',
      limits,
      traffic: relay,
    });
    port = (await endpoint.start()).port;
  }
  afterEach(async () => {
    relay.close();
    await endpoint.stop();
  });

  it('accepts a batch with 202 and relays it as the instance', async () => {
    await start();
    const res = await httpFrom(POD_IP, port, 'POST', url, body(['r.1', 'r.2']));
    expect(res).toMatchObject({ status: 202, json: { accepted: 2 } });
    expect(link.messages).toHaveLength(1);
    expect(link.messages[0]).toMatchObject({
      attachmentId: 'att1',
      namespace: 'shop',
      pod: 'web-1',
      container: 'spider-att1',
      seq: 0,
    });
    expect(link.messages[0].exchanges.map(x => x.id)).toEqual(['r.1', 'r.2']);
    expect(endpoint.stats()).toMatchObject({
      trafficBatches: 1,
      trafficExchanges: 2,
    });
  });

  it('sends the stats of a state report with the next traffic message', async () => {
    await start();
    const report = JSON.stringify({
      state: 'running',
      stats: STATS,
      message: 'x'.repeat(1000),
    });
    expect(
      (
        await httpFrom(
          POD_IP,
          port,
          'POST',
          '/v1/whisperers/spider-att1/state',
          report,
        )
      ).status,
    ).toBe(204);
    expect(link.messages.at(-1)).toMatchObject({ exchanges: [], stats: STATS });
    expect(registry.reports.at(-1)).not.toHaveProperty('stats');
  });

  it('refuses invalid batches with 400 naming the field, and traffic filed under another instance', async () => {
    await start();
    const bad = JSON.stringify({
      exchanges: [{ ...exchange('r.1'), colour: 'red' }],
      flows: [],
      stats: null,
    });
    const unknown = await httpFrom(POD_IP, port, 'POST', url, bad);
    expect(unknown.status).toBe(400);
    expect(unknown.json.error).toMatch(/^exchanges\[0\].*colour/);
    const typed = await httpFrom(
      POD_IP,
      port,
      'POST',
      url,
      body(['r.1'], { durationMs: 'slow' as any }),
    );
    expect(typed.json.error).toMatch(/^exchanges\[0\]\.durationMs: /);
    const foreign = await httpFrom(
      POD_IP,
      port,
      'POST',
      url,
      body(['r.1'], { namespace: 'bank' }),
    );
    expect(foreign).toMatchObject({
      status: 400,
      json: {
        error:
          'exchanges[0].namespace: must be "shop" (this whisperer instance), got "bank"',
      },
    });
    expect((await httpFrom(POD_IP, port, 'POST', url, 'not json')).status).toBe(
      400,
    );
    expect(link.messages).toHaveLength(0);
  });

  it('answers 415 to anything but JSON, 403 to a caller that is not the pod, 410 when the attachment is gone', async () => {
    await start();
    expect(
      (
        await httpFrom(POD_IP, port, 'POST', url, body(['r.1']), {
          'Content-Type': 'text/plain',
        })
      ).status,
    ).toBe(415);
    const stranger = await httpFrom(STRANGER, port, 'POST', url, body(['r.1']));
    expect(stranger.status).toBe(403);
    expect(stranger.json.error).toMatch(/^forbidden/);
    // spider-att9 is in the pod, but the agent has no attachment for it.
    const gone = await httpFrom(
      POD_IP,
      port,
      'POST',
      '/v1/whisperers/spider-att9/traffic',
      body(['r.1']),
    );
    expect(gone).toMatchObject({
      status: 410,
      json: { stop: true, reason: 'deleted' },
    });
    expect(link.messages).toHaveLength(0);
  });

  it('answers 413 as soon as a body passes 1 MiB, without reading the rest', async () => {
    await start();
    // Declared too large: refused before a byte of body is read.
    const declared = await rawExchange(port, [
      `POST ${url} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nAuthorization: Bearer ${secretOf(
        url,
      )}\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n`,
    ]);
    expect(declared.response).toMatch(/^HTTP\/1.1 413 /);
    // Chunked, no length: counted while reading; the agent hangs up while the caller still sends.
    const piece = `${(64 * 1024).toString(16)}\r\n${'x'.repeat(64 * 1024)}\r\n`;
    const streamed = await rawExchange(port, [
      `POST ${url} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nAuthorization: Bearer ${secretOf(
        url,
      )}\r\nTransfer-Encoding: chunked\r\n\r\n`,
      ...Array.from({ length: 128 }, () => piece), // 8 MiB offered
    ]);
    expect(streamed.response).toMatch(/^HTTP\/1.1 413 /);
    expect(streamed.response).toMatch(/body larger than 1048576 bytes/);
    expect(streamed.piecesWritten).toBeLessThan(128);
    expect(link.messages).toHaveLength(0);
  }, 15_000);

  it('limits each instance: 429 with Retry-After, counted in the next message', async () => {
    await start({
      trafficRate: {
        bytesPerSecond: 1024 * 1024,
        burstBytes: 2 * 1024 * 1024,
        batchesPerSecond: 0.5,
        burstBatches: 2,
      },
    });
    const codes = [];
    for (let i = 0; i < 3; i++)
      codes.push(await httpFrom(POD_IP, port, 'POST', url, body([`r.${i}`])));
    expect(codes.map(c => c.status)).toEqual([202, 202, 429]);
    expect(codes[2].headers['retry-after']).toBe('2');
    expect(
      relay.relayStatsOf({
        namespace: 'shop',
        pod: 'web-1',
        container: 'spider-att1',
      }),
    ).toMatchObject({ rateLimited: 1 });
    expect(endpoint.stats().trafficRateLimited).toBe(1);
  });

  it('answers 503 with Retry-After when the relay is full while draining, or shutting down', async () => {
    // 8 batches of ~1 MiB through a 4 MiB relay whose socket takes nothing.
    await start({}, 4 * 1024 * 1024);
    link.buffered = 10 * 1024 * 1024; // a slow socket: nothing more goes out
    const big = (i: number) =>
      JSON.stringify({
        exchanges: Array.from({ length: 400 }, (_, j) =>
          exchange(`b${i}.${j}`, 1700),
        ),
        flows: [],
        stats: null,
      });
    const statuses = [];
    for (let i = 0; i < 8; i++)
      statuses.push((await httpFrom(POD_IP, port, 'POST', url, big(i))).status);
    expect(statuses).toContain(503);
    expect(statuses.slice(0, 3)).toEqual([202, 202, 202]);
    relay.close();
    const closing = await httpFrom(POD_IP, port, 'POST', url, body(['r.1']));
    expect(closing.status).toBe(503);
    expect(closing.headers['retry-after']).toBe('5');
  });
});

/** Writes `pieces` on a raw socket from the pod's address until the server answers or hangs up. */
async function rawExchange(
  port: number,
  pieces: string[],
): Promise<{ response: string; piecesWritten: number }> {
  const sock = net.connect({ host: '127.0.0.1', port, localAddress: POD_IP });
  sock.on('error', () => {});
  let response = '';
  let closed = false;
  sock.on('data', d => (response += d.toString()));
  sock.on('close', () => (closed = true));
  await new Promise<void>(r => sock.on('connect', () => r()));
  let piecesWritten = 0;
  for (const p of pieces) {
    if (closed || response) break;
    // A full socket waits for drain, which never comes once the agent has hung up.
    await new Promise<void>(r => {
      if (sock.write(p)) r();
      else {
        sock.once('drain', () => r());
        sock.once('close', () => r());
      }
    });
    piecesWritten++;
    await new Promise(r => setImmediate(r));
  }
  const end = Date.now() + 3000;
  while (!closed && Date.now() < end) await new Promise(r => setTimeout(r, 10));
  sock.destroy();
  return { response, piecesWritten };
}
