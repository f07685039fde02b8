import dgram from 'node:dgram';
import net from 'node:net';
import { MemoryPodDirectory, pod } from '../testUtils/MemoryPodDirectory';
import { decode, makeQuery } from '../testUtils/dnsMessages';
import { udpExchange } from '../testUtils/dnsClients';
import { startFakeUpstream } from '../testUtils/fakeUpstream';
import { AnswerTable } from './AnswerTable';
import { DnsServer } from './DnsServer';
import { Forwarder } from './Forwarder';
import { createDnsServer } from './index';
import { fastPathBinaryForTests } from './testFastPath';
import { DNS_TYPE, HEADER_BYTES } from './wire';

/** mulberry32: a seeded PRNG so a failing case can be replayed from the printed seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(process.env.DNS_FUZZ_SEED ?? Date.now() % 1_000_000);
const rand = prng(SEED);
const int = (n: number) => Math.floor(rand() * n);

const seeds = [
  makeQuery('7.1.244.10.in-addr.arpa', DNS_TYPE.PTR),
  makeQuery('db.internal', DNS_TYPE.A, { edns: true }),
  makeQuery('public.example', DNS_TYPE.AAAA, { edns: true }),
  makeQuery(`${'a'.repeat(63)}.${'b'.repeat(63)}.example`, DNS_TYPE.ANY),
];

/** A random packet: pure noise, or a valid query with bytes flipped, cut, grown or counts forged. */
function randomPacket(): Buffer {
  const kind = int(6);
  if (kind === 0)
    return Buffer.from(Array.from({ length: int(700) }, () => int(256)));
  const p = Buffer.from(seeds[int(seeds.length)]);
  switch (kind) {
    case 1:
      for (let i = 0, n = 1 + int(8); i < n; i++) p[int(p.length)] = int(256);
      return p;
    case 2:
      return p.subarray(0, int(p.length));
    case 3:
      return Buffer.concat([
        p,
        Buffer.from(Array.from({ length: 1 + int(300) }, () => int(256))),
      ]);
    case 4:
      p.writeUInt16BE(int(65_536), 4 + 2 * int(4)); // QD/AN/NS/AR count
      return p;
    default:
      // compression pointers and label lengths in odd places
      p[HEADER_BYTES + int(Math.max(1, p.length - HEADER_BYTES))] = [
        0xc0, 0x3f, 0x40, 0x80, 0xff,
      ][int(5)];
      return p;
  }
}

// Worker threads load the TypeScript sources through tsx when they start: seconds on a
// loaded machine, before the first query.
jest.setTimeout(60_000);

describe(`DNS fuzz (seed ${SEED}; replay with DNS_FUZZ_SEED=${SEED})`, () => {
  it('answer() never throws; every reply it writes parses and carries the query ID', async () => {
    const dir = new MemoryPodDirectory().setPod(pod('10.244.1.7', 'web-abc'));
    const table = new AnswerTable(
      dir,
      [{ ip: '10.0.0.5', hostnames: ['db.internal'] }],
      {
        zone: 'cluster.local',
        ptrTtl: 5,
        aliasTtl: 30,
        maxMemo: 100,
      },
    );
    // No upstreams: forwarded queries fail fast with SERVFAIL, which is also checked.
    const server = new DnsServer(
      table,
      new Forwarder({
        upstreams: [],
        attemptTimeoutMs: 10,
        totalTimeoutMs: 10,
        maxInflight: 10,
      }),
    );
    let replies = 0;
    let largestUdpReply = 0;
    for (let i = 0; i < 8_000; i++) {
      const packet = randomPacket();
      for (const viaTcp of [false, true]) {
        let out = server.answer(packet, viaTcp);
        if (out instanceof Promise) out = await out;
        if (out === null) continue;
        replies++;
        expect(out.readUInt16BE(0)).toBe(packet.readUInt16BE(0));
        expect(out[2] & 0x80).toBe(0x80); // QR
        if (!viaTcp) largestUdpReply = Math.max(largestUdpReply, out.length);
        expect(() => decode(out as Buffer)).not.toThrow();
      }
    }
    expect(replies).toBeGreaterThan(1000);
    expect(largestUdpReply).toBeLessThanOrEqual(4096);
    expect(server.stats().errors).toBe(0);
  });

  // Two UDP worker threads beside the main one (the kernel spreads the client sockets
  // below over the three, so every thread's path takes the fuzz); the Go UDP fast path
  // with two sockets in front of the main thread.
  it.each([
    { udp: 'UDP workers', udpWorkers: 2, fastSockets: 0 },
    { udp: 'the Go UDP fast path', udpWorkers: 0, fastSockets: 2 },
  ])(
    'a live server ($udp) takes random UDP datagrams and TCP streams, keeps serving and leaks nothing',
    async ({ udpWorkers, fastSockets }) => {
      const upstream = await startFakeUpstream({
        'public.example': ['93.184.216.34'],
      });
      const dns = createDnsServer({
        directory: new MemoryPodDirectory().setPod(
          pod('10.244.1.7', 'web-abc'),
        ),
        port: 0,
        host: '127.0.0.1',
        upstreams: [`127.0.0.1:${upstream.port}`],
        upstreamAttemptTimeoutMs: 200,
        upstreamTotalTimeoutMs: 400,
        limits: { tcpIdleTimeoutMs: 500 },
        udpWorkers,
        udpFastPath: fastSockets
          ? { binary: fastPathBinaryForTests(), sockets: fastSockets }
          : null,
        // The fast path must not have fallen back to the main thread's socket.
        logger: fastSockets
          ? {
              warn: (msg, fields) => {
                throw new Error(
                  `unexpected warning: ${msg} ${JSON.stringify(fields)}`,
                );
              },
            }
          : undefined,
      });
      const { port } = await dns.start();
      try {
        const socks = await Promise.all(
          Array.from({ length: 8 }, async () => {
            const s = dgram.createSocket('udp4');
            s.on('message', () => {});
            await new Promise<void>(r => s.bind(0, '127.0.0.1', () => r()));
            return s;
          }),
        );
        for (let i = 0; i < 3000; i++) {
          socks[i % socks.length].send(randomPacket(), port, '127.0.0.1');
          if (i % 200 === 0) await new Promise(r => setImmediate(r));
        }
        // oversized datagrams
        for (const s of socks) s.send(Buffer.alloc(9000, 7), port, '127.0.0.1');

        const streams = Array.from(
          { length: 40 },
          () =>
            new Promise<void>(resolve => {
              const s = net.connect(port, '127.0.0.1', () => {
                const frames = Array.from({ length: 1 + int(5) }, () => {
                  const body = randomPacket();
                  const len = Buffer.alloc(2);
                  len.writeUInt16BE(int(4) === 0 ? int(65_536) : body.length); // sometimes lie
                  return Buffer.concat([len, body]);
                });
                const all = Buffer.concat(frames);
                s.end(int(2) ? all : all.subarray(0, int(all.length))); // sometimes cut mid-frame
              });
              s.on('data', () => {});
              s.on('error', () => {});
              s.on('close', () => resolve());
            }),
        );
        await Promise.all(streams);
        for (const s of socks) s.close();

        const reply = await udpExchange(
          port,
          makeQuery('7.1.244.10.in-addr.arpa', DNS_TYPE.PTR, { id: 31337 }),
        );
        expect(decode(reply!).answers[0].domain).toMatch(/^web-abc\./);
        // Learnt by now: with the fast path, it answers this one itself (its counters
        // come every 100 ms, read below).
        const again = await udpExchange(
          port,
          makeQuery('7.1.244.10.in-addr.arpa', DNS_TYPE.PTR, { id: 31338 }),
        );
        expect(decode(again!).answers[0].domain).toMatch(/^web-abc\./);
        // Everything in flight settles (timeouts ≤ 400 ms, idle TCP closed at 500 ms).
        await new Promise(r => setTimeout(r, 900));
        const stats = dns.stats();
        expect(stats).toMatchObject({
          errors: 0,
          tcpOpen: 0,
          forwardInflight: 0,
        });
        expect(stats.udpQueries).toBeGreaterThanOrEqual(3000);
        expect(stats.formerr + stats.dropped).toBeGreaterThan(100);
        expect(stats.fastPathLocal >= 1).toBe(fastSockets > 0);
      } finally {
        await dns.stop();
        await upstream.close();
      }
    },
  );
});
