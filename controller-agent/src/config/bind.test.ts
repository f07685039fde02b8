import net from 'node:net';
import dgram from 'node:dgram';
import { startHttpServer } from '../http/server';
import { createDnsServer } from '../dns';
import { createMetrics } from '../status/metrics';
import { MemoryPodDirectory } from '../testUtils/MemoryPodDirectory';
import { MemoryWhispererRegistry } from '../testUtils/MemoryWhispererRegistry';
import { createWhispererEndpoint, InstanceSecrets } from '../whisperers';
import { loadConfig } from './config';

const base = {
  SPIDER_CONTROLS_URL: 'https://portal.example.com/api/spider',
  SPIDER_TOKEN: 'tok123',
};

function tcpReachable(host: string, port: number): Promise<boolean> {
  return new Promise(resolve => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Whether a DNS query to host:port gets any answer within a second. */
function udpAnswers(host: string, port: number): Promise<boolean> {
  return new Promise(resolve => {
    const sock = dgram.createSocket('udp4');
    // A query for "db.internal." type A (a host alias, answered by the agent itself).
    const q = Buffer.concat([
      Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
      Buffer.from([2, ...Buffer.from('db'), 8, ...Buffer.from('internal'), 0]),
      Buffer.from([0, 1, 0, 1]),
    ]);
    const timer = setTimeout(() => {
      sock.close();
      resolve(false);
    }, 1000);
    const done = (v: boolean) => {
      clearTimeout(timer);
      sock.close();
      resolve(v);
    };
    sock.once('message', () => done(true));
    sock.once('error', () => done(false));
    sock.send(q, port, host);
  });
}

/**
 * The three listeners the agent opens, bound as the config says, probed from another
 * address of this machine: 127.0.0.2 is loopback too, but a socket bound to 127.0.0.1
 * does not accept it, while one bound to all interfaces does. So what 127.0.0.2 cannot
 * reach, the network cannot either.
 */
async function listen(env: Record<string, string>) {
  const config = loadConfig(env, []);
  const host = config.bindAddress ?? undefined;
  const http = await startHttpServer({
    port: 0,
    host,
    registry: createMetrics().registry,
    ready: () => ({ ready: true, detail: {} }),
  });
  const endpoint = createWhispererEndpoint({
    directory: new MemoryPodDirectory(),
    registry: new MemoryWhispererRegistry(),
    secrets: InstanceSecrets.random(),
    port: 0,
    host,
  });
  const endpointPort = (await endpoint.start()).port;
  const dns = createDnsServer({
    directory: new MemoryPodDirectory(),
    port: 0,
    host,
    hostAliases: [{ ip: '10.0.0.5', hostnames: ['db.internal'] }],
    upstreams: ['127.0.0.1:9'],
    udpWorkers: 0,
  });
  const dnsPort = (await dns.start()).port;
  return {
    ports: { http: http.port, endpoint: endpointPort, dns: dnsPort },
    async close() {
      await Promise.all([http.close(), endpoint.stop(), dns.stop()]);
    },
  };
}

describe('listener binding (a real socket each)', () => {
  it('a host process: DNS, endpoint and metrics answer on loopback only', async () => {
    const l = await listen(base);
    try {
      for (const port of [l.ports.http, l.ports.endpoint, l.ports.dns]) {
        expect(await tcpReachable('127.0.0.1', port)).toBe(true);
        expect(await tcpReachable('127.0.0.2', port)).toBe(false);
      }
      expect(await udpAnswers('127.0.0.1', l.ports.dns)).toBe(true);
      expect(await udpAnswers('127.0.0.2', l.ports.dns)).toBe(false);
    } finally {
      await l.close();
    }
  });

  it('in a pod: all interfaces, as whisperers in other pods must reach it', async () => {
    const l = await listen({ ...base, KUBERNETES_SERVICE_HOST: '10.96.0.1' });
    try {
      for (const port of [l.ports.http, l.ports.endpoint, l.ports.dns]) {
        expect(await tcpReachable('127.0.0.2', port)).toBe(true);
      }
      expect(await udpAnswers('127.0.0.2', l.ports.dns)).toBe(true);
    } finally {
      await l.close();
    }
  });
});
