import dgram from 'node:dgram';
import net from 'node:net';
import { Packet } from 'dns2';

/**
 * A tiny upstream resolver for tests: answers A queries for the names in `records` over
 * UDP and TCP (NXDOMAIN otherwise). With `silent` it receives and never answers; with
 * `truncateUdp` its UDP answers only say TC (so clients must come back over TCP).
 */
export async function startFakeUpstream(
  records: Record<string, string[]>,
  options: { silent?: boolean; truncateUdp?: boolean } = {},
): Promise<{ port: number; queries: string[]; close(): Promise<void> }> {
  const queries: string[] = [];
  const answer = (msg: Buffer, viaTcp: boolean): Buffer | null => {
    let q: any;
    try {
      q = Packet.parse(msg);
    } catch {
      return null;
    }
    const name = String(q.questions[0]?.name ?? '').toLowerCase();
    queries.push(`${viaTcp ? 'tcp' : 'udp'}:${name}`);
    if (options.silent) return null;
    const r = Packet.createResponseFromRequest(q);
    r.header.ra = 1;
    const ips = records[name];
    if (!ips) r.header.rcode = Packet.RCODE.NXDOMAIN;
    else if (options.truncateUdp && !viaTcp) r.header.tc = 1;
    else
      for (const address of ips)
        r.answers.push({
          name: q.questions[0].name,
          type: 1,
          class: 1,
          ttl: 60,
          address,
        } as any);
    return r.toBuffer();
  };
  const udp = dgram.createSocket('udp4');
  udp.on('message', (msg, rinfo) => {
    const out = answer(msg, false);
    if (out) udp.send(out, rinfo.port, rinfo.address);
  });
  await new Promise<void>(r => udp.bind(0, '127.0.0.1', () => r()));
  const port = udp.address().port;
  const tcp = net.createServer(socket => {
    let buf: Buffer = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
        const n = buf.readUInt16BE(0);
        const out = answer(buf.subarray(2, n + 2), true);
        buf = buf.subarray(n + 2);
        if (out) {
          const len = Buffer.alloc(2);
          len.writeUInt16BE(out.length);
          socket.write(Buffer.concat([len, out]));
        }
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port,
    queries,
    close: async () => {
      await new Promise<void>(r => udp.close(() => r()));
      await new Promise<void>(r => tcp.close(() => r()));
    },
  };
}
