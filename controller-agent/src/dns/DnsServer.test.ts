import net from 'node:net';
import { MemoryPodDirectory, pod } from '../testUtils/MemoryPodDirectory';
import { decode, makeQuery } from '../testUtils/dnsMessages';
import { tcpExchange, udpExchange } from '../testUtils/dnsClients';
import { startFakeUpstream } from '../testUtils/fakeUpstream';
import { AgentDnsServer, createDnsServer } from './index';
import { fastPathBinaryForTests } from './testFastPath';
import { DNS_TYPE, RCODE } from './wire';

// Worker threads load the TypeScript sources through tsx when they start: seconds on a
// loaded machine, before the first query.
jest.setTimeout(60_000);

// The main thread alone; two UDP worker threads beside it on the same port; the Go UDP
// fast path (two SO_REUSEPORT sockets) in front of the main thread.
describe.each([
  { udp: '0 UDP workers', udpWorkers: 0, fastSockets: 0 },
  { udp: '2 UDP workers', udpWorkers: 2, fastSockets: 0 },
  { udp: 'the Go UDP fast path', udpWorkers: 0, fastSockets: 2 },
])(
  'DNS server (UDP and TCP on one port, $udp)',
  ({ udpWorkers, fastSockets }) => {
    let upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
    let dns: AgentDnsServer;
    let port: number;
    const dir = new MemoryPodDirectory().setPod(
      pod('10.244.1.7', 'web-abc', 'shop'),
    );

    beforeAll(async () => {
      upstream = await startFakeUpstream({
        'public.example': ['93.184.216.34'],
      });
      dns = createDnsServer({
        directory: dir,
        port: 0,
        host: '127.0.0.1',
        hostAliases: [{ ip: '10.0.0.5', hostnames: ['db.internal'] }],
        upstreams: [`127.0.0.1:${upstream.port}`],
        udpWorkers,
        udpFastPath: fastSockets
          ? { binary: fastPathBinaryForTests(), sockets: fastSockets }
          : null,
        logger: {
          warn: (msg, fields) => {
            throw new Error(
              `unexpected warning: ${msg} ${JSON.stringify(fields)}`,
            );
          },
        },
      });
      port = (await dns.start()).port;
    });
    afterAll(async () => {
      await dns.stop();
      await upstream.close();
    });

    it('answers PTR from the directory over UDP, and follows pod changes at once', async () => {
      const reply = decode(
        (await udpExchange(
          port,
          makeQuery('7.1.244.10.in-addr.arpa', DNS_TYPE.PTR),
        ))!,
      );
      expect(reply.header).toMatchObject({ aa: 1, rcode: 0 });
      expect(reply.answers[0].domain).toBe(
        'web-abc.web.deployment.shop.pod.cluster.local',
      );

      dir.setPod(pod('10.244.1.8', 'web-new', 'shop'));
      const added = decode(
        (await udpExchange(
          port,
          makeQuery('8.1.244.10.in-addr.arpa', DNS_TYPE.PTR),
        ))!,
      );
      expect(added.answers[0].domain).toMatch(/^web-new\./);
      dir.removePod('10.244.1.8');
      // Gone from the directory: no longer answered locally, so it is forwarded (NXDOMAIN there).
      const gone = decode(
        (await udpExchange(
          port,
          makeQuery('8.1.244.10.in-addr.arpa', DNS_TYPE.PTR),
        ))!,
      );
      expect(gone.header.rcode).toBe(RCODE.NXDOMAIN);
      expect(gone.answers).toHaveLength(0);
    });

    it('answers alike from many client sockets (spread over the UDP sockets), and all follow the IP changing pods and going', async () => {
      dir.setPod(pod('10.244.1.9', 'web-many', 'shop'));
      const ask = () =>
        Promise.all(
          Array.from({ length: 24 }, async (_, i) =>
            decode(
              (await udpExchange(
                port,
                makeQuery('9.1.244.10.in-addr.arpa', DNS_TYPE.PTR, { id: i }),
              ))!,
            ),
          ),
        );
      // Past the workers' refresh after the change (50 ms), then twice: the second round
      // is answered from what the workers learnt in the first.
      await new Promise(r => setTimeout(r, 200));
      for (const round of [await ask(), await ask()]) {
        for (const reply of round)
          expect(reply.answers[0]?.domain).toMatch(/^web-many\./);
      }
      // The IP now belongs to another pod: every socket answers the new name at once,
      // and again once the workers' memos were refreshed (at most 50 ms later).
      dir.setPod(pod('10.244.1.9', 'web-next', 'shop'));
      for (const reply of await ask())
        expect(reply.answers[0]?.domain).toMatch(/^web-next\./);
      await new Promise(r => setTimeout(r, 200));
      for (const reply of await ask())
        expect(reply.answers[0]?.domain).toMatch(/^web-next\./);
      dir.removePod('10.244.1.9');
      for (const reply of await ask()) {
        expect(reply.header.rcode).toBe(RCODE.NXDOMAIN);
        expect(reply.answers).toHaveLength(0);
      }
      expect(dns.stats().errors).toBe(0);
      // The fast path's counters come every 100 ms: it answered the second rounds
      // (and nothing else counts there).
      await new Promise(r => setTimeout(r, 300));
      expect(dns.stats().fastPathLocal >= 24).toBe(fastSockets > 0);
    });

    it('answers host aliases and forwards everything else', async () => {
      const alias = decode(
        (await udpExchange(port, makeQuery('db.internal', DNS_TYPE.A)))!,
      );
      expect(alias.answers[0].address).toBe('10.0.0.5');
      const fwd = decode(
        (await udpExchange(
          port,
          makeQuery('Public.Example', DNS_TYPE.A, { id: 4321 }),
        ))!,
      );
      expect(fwd.header).toMatchObject({ id: 4321, rcode: 0 });
      expect(fwd.answers[0].address).toBe('93.184.216.34');
      expect(upstream.queries).toContain('udp:public.example');
    });

    it('answers pipelined queries on one TCP connection, in any order, by ID', async () => {
      const queries = [
        makeQuery('7.1.244.10.in-addr.arpa', DNS_TYPE.PTR, { id: 1 }),
        makeQuery('public.example', DNS_TYPE.A, { id: 2 }),
        makeQuery('db.internal', DNS_TYPE.A, { id: 3 }),
      ];
      const { replies } = await tcpExchange(port, queries);
      const byId = new Map(replies.map(r => [decode(r).header.id, decode(r)]));
      expect([...byId.keys()].sort()).toEqual([1, 2, 3]);
      expect(byId.get(1).answers[0].domain).toMatch(/^web-abc\./);
      expect(byId.get(2).answers[0].address).toBe('93.184.216.34');
      expect(byId.get(3).answers[0].address).toBe('10.0.0.5');
    });

    it('answers FORMERR to a malformed query and keeps serving', async () => {
      const bad = makeQuery('x.example', DNS_TYPE.A, { id: 99 });
      bad.writeUInt16BE(3, 4); // three questions claimed, one present
      const reply = decode((await udpExchange(port, bad))!);
      expect(reply.header).toMatchObject({ id: 99, rcode: RCODE.FORMERR });
      expect(await udpExchange(port, Buffer.from([1, 2, 3]), 200)).toBeNull(); // dropped
      expect(
        await udpExchange(port, makeQuery('db.internal', DNS_TYPE.A)),
      ).not.toBeNull();
      expect(dns.stats()).toMatchObject({ formerr: 1, dropped: 1 });
    });

    it('closes a TCP connection announcing an oversized message', async () => {
      const huge = Buffer.alloc(2);
      huge.writeUInt16BE(60_000);
      const closed = await new Promise<boolean>(resolve => {
        const s = net.connect(port, '127.0.0.1', () => s.write(huge));
        s.on('close', () => resolve(true));
        s.on('error', () => {});
        setTimeout(() => resolve(false), 1000);
      });
      expect(closed).toBe(true);
    });
  },
);

describe('DNS forwarding failures', () => {
  it('answers SERVFAIL when the upstream does not answer in time', async () => {
    const silent = await startFakeUpstream({}, { silent: true });
    const dns = createDnsServer({
      directory: new MemoryPodDirectory(),
      port: 0,
      host: '127.0.0.1',
      upstreams: [`127.0.0.1:${silent.port}`],
      upstreamAttemptTimeoutMs: 100,
      upstreamTotalTimeoutMs: 300,
    });
    const { port } = await dns.start();
    try {
      const started = Date.now();
      const reply = decode(
        (await udpExchange(
          port,
          makeQuery('slow.example', DNS_TYPE.A, { id: 7 }),
          2000,
        ))!,
      );
      expect(reply.header).toMatchObject({ id: 7, rcode: RCODE.SERVFAIL });
      expect(Date.now() - started).toBeLessThan(1500);
      expect(silent.queries.length).toBe(2); // tried twice (one upstream, one retry)
    } finally {
      await dns.stop();
      await silent.close();
    }
  });

  it('retries over TCP when a TCP client gets a truncated UDP answer, and relays TC to UDP clients', async () => {
    const up = await startFakeUpstream(
      { 'big.example': ['10.1.1.1'] },
      { truncateUdp: true },
    );
    const dns = createDnsServer({
      directory: new MemoryPodDirectory(),
      port: 0,
      host: '127.0.0.1',
      upstreams: [`127.0.0.1:${up.port}`],
    });
    const { port } = await dns.start();
    try {
      const viaUdp = decode(
        (await udpExchange(port, makeQuery('big.example', DNS_TYPE.A)))!,
      );
      expect(viaUdp.header.tc).toBe(1);
      const { replies } = await tcpExchange(port, [
        makeQuery('big.example', DNS_TYPE.A),
      ]);
      expect(decode(replies[0]).answers[0].address).toBe('10.1.1.1');
      expect(up.queries).toEqual([
        'udp:big.example',
        'udp:big.example',
        'tcp:big.example',
      ]);
    } finally {
      await dns.stop();
      await up.close();
    }
  });

  it('reads upstreams from resolv.conf by default and rejects bad configured ones', () => {
    const fs = require('node:fs');
    const os = require('node:os');
    const path = require('node:path');
    const file = path.join(
      fs.mkdtempSync(path.join(os.tmpdir(), 'dns-')),
      'resolv.conf',
    );
    fs.writeFileSync(
      file,
      'search svc.cluster.local\nnameserver 10.96.0.10\nnameserver fd00::a\noptions ndots:5\n',
    );
    const dns = createDnsServer({
      directory: new MemoryPodDirectory(),
      port: 0,
      resolvConfPath: file,
    });
    expect(dns.upstreams).toEqual([
      { address: '10.96.0.10', port: 53, family: 4 },
      { address: 'fd00::a', port: 53, family: 6 },
    ]);
    expect(() =>
      createDnsServer({
        directory: new MemoryPodDirectory(),
        port: 0,
        upstreams: ['dns.example'],
      }),
    ).toThrow(/invalid DNS upstreams/);
    const fromEnv = createDnsServer({
      directory: new MemoryPodDirectory(),
      port: 0,
      resolvConfPath: file,
      env: { SPIDER_DNS_UPSTREAMS: '127.0.0.1:5300, [::1]:5301' },
    });
    expect(fromEnv.upstreams).toEqual([
      { address: '127.0.0.1', port: 5300, family: 4 },
      { address: '::1', port: 5301, family: 6 },
    ]);
  });
});
