import net from 'node:net';
import { MemoryPodDirectory, pod } from '../testUtils/MemoryPodDirectory';
import { MemoryWhispererRegistry } from '../testUtils/MemoryWhispererRegistry';
import { httpFrom } from '../testUtils/httpFrom';
import { AgentWhispererEndpoint, createWhispererEndpoint } from './index';

// Pods are played by loopback addresses: 127.0.0.2 carries spider-att1, 127.0.0.3 is no pod.
const POD_IP = '127.0.0.2';
const STRANGER = '127.0.0.3';

describe('whisperer endpoint', () => {
  let dir: MemoryPodDirectory;
  let registry: MemoryWhispererRegistry;
  let endpoint: AgentWhispererEndpoint;
  let port: number;

  beforeEach(async () => {
    dir = new MemoryPodDirectory().setPod(pod(POD_IP, 'web-1', 'shop', null, ['spider-att1', 'spider-att9']));
    registry = new MemoryWhispererRegistry().add({
      attachmentId: 'att1',
      container: 'spider-att1',
      pod: { namespace: 'shop', name: 'web-1' },
    });
    endpoint = createWhispererEndpoint({
      directory: dir,
      registry,
      port: 0,
      host: '127.0.0.1',
      limits: { recheckMs: 50, maxLongPollsPerIp: 2 },
    });
    port = (await endpoint.start()).port;
  });
  afterEach(() => endpoint.stop());

  it('serves the configuration to the pod carrying the whisperer', async () => {
    const res = await httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att1');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ attachmentId: 'att1', container: 'spider-att1', stop: false, captureFilter: 'tcp' });
  });

  it('refuses a caller from another address, and a pod asking about a container it lacks', async () => {
    expect((await httpFrom(STRANGER, port, 'GET', '/v1/whisperers/spider-att1')).status).toBe(403);
    expect((await httpFrom(STRANGER, port, 'GET', '/v1/whisperers/spider-att1/stop?wait=0')).status).toBe(403);
    expect((await httpFrom(STRANGER, port, 'POST', '/v1/whisperers/spider-att1/state', '{"state":"running"}')).status).toBe(403);
    expect((await httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-other')).status).toBe(403);
    // Headers claiming another origin change nothing: the TCP peer decides.
    const spoof = await httpFrom(STRANGER, port, 'GET', '/v1/whisperers/spider-att1', undefined, {
      'X-Forwarded-For': POD_IP,
      'X-Real-IP': POD_IP,
    });
    expect(spoof.status).toBe(403);
    expect(registry.reports).toHaveLength(0);
    expect(endpoint.stats().refused).toBe(5);
  });

  it('stops trusting a pod once it is gone from the directory', async () => {
    dir.removePod(POD_IP);
    expect((await httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att1')).status).toBe(403);
  });

  it('answers a held long-poll as soon as the attachment is detached', async () => {
    const poll = httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att1/stop?wait=30');
    await new Promise(r => setTimeout(r, 100));
    expect(endpoint.stats().waiting).toBe(1);
    const started = Date.now();
    registry.stop('att1', 'detached');
    const res = await poll;
    expect(Date.now() - started).toBeLessThan(500);
    expect(res).toMatchObject({ status: 200, json: { stop: true, reason: 'detached' } });
    expect(endpoint.stats().waiting).toBe(0);
    // and the configuration says so too
    expect((await httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att1')).json).toMatchObject({ stop: true, stopReason: 'detached' });
  });

  it('tells the whisperer to stop on expiry (no event, found by the recheck)', async () => {
    registry.add({
      attachmentId: 'att9',
      container: 'spider-att9',
      pod: { namespace: 'shop', name: 'web-1' },
      expiresAt: new Date(Date.now() + 300).toISOString(),
    });
    const res = await httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att9/stop?wait=10');
    expect(res.json).toEqual({ stop: true, reason: 'expired' });
  });

  it('answers stop:false when the wait runs out', async () => {
    const res = await httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att1/stop?wait=1');
    expect(res.json).toEqual({ stop: false, reason: null });
  });

  it('says 410/stop for a whisperer whose attachment is gone, 503 before the desired set is known', async () => {
    expect(await httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att9')).toMatchObject({ status: 410, json: { stop: true } });
    expect((await httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att9/stop')).json).toEqual({ stop: true, reason: 'deleted' });
    registry.desiredSet = false;
    const res = await httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att9');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
  });

  it('records state reports and validates them', async () => {
    const ok = await httpFrom(POD_IP, port, 'POST', '/v1/whisperers/spider-att1/state', JSON.stringify({ state: 'terminated', exitCode: 0 }));
    expect(ok.status).toBe(204);
    expect(registry.reports).toEqual([
      { podNamespace: 'shop', podName: 'web-1', container: 'spider-att1', state: 'terminated', message: null, exitCode: 0 },
    ]);
    expect((await httpFrom(POD_IP, port, 'POST', '/v1/whisperers/spider-att1/state', '{"state":"bogus"}')).status).toBe(400);
    expect((await httpFrom(POD_IP, port, 'POST', '/v1/whisperers/spider-att1/state', 'not json')).status).toBe(400);
    expect(
      (await httpFrom(POD_IP, port, 'POST', '/v1/whisperers/spider-att1/state', '{}', { 'Content-Type': 'text/plain' })).status,
    ).toBe(415);
    const big = JSON.stringify({ state: 'failed', message: 'x'.repeat(10_000) });
    expect((await httpFrom(POD_IP, port, 'POST', '/v1/whisperers/spider-att1/state', big)).status).toBe(413);
    expect(registry.reports).toHaveLength(1);
  });

  it('caps long-polls per pod and frees a slot when the caller hangs up', async () => {
    const held = [1, 2].map(() => httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att1/stop?wait=30'));
    await new Promise(r => setTimeout(r, 100));
    expect((await httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att1/stop?wait=30')).status).toBe(429);
    // a raw client that disconnects
    registry.stop('att1', 'detached');
    await Promise.all(held);
    const sock = net.connect({ host: '127.0.0.1', port, localAddress: POD_IP });
    registry.add({ attachmentId: 'att9', container: 'spider-att9', pod: { namespace: 'shop', name: 'web-1' } });
    await new Promise<void>(r => sock.on('connect', () => r()));
    sock.write('GET /v1/whisperers/spider-att9/stop?wait=30 HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise(r => setTimeout(r, 100));
    expect(endpoint.stats().waiting).toBe(1);
    sock.destroy();
    await new Promise(r => setTimeout(r, 100));
    expect(endpoint.stats().waiting).toBe(0);
  });

  it('answers held long-polls with 503 when it shuts down', async () => {
    const poll = httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att1/stop?wait=30');
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
    expect((await httpFrom(POD_IP, port, 'GET', '/v1/whisperers/spider-att1')).status).toBe(200);
  });
});
