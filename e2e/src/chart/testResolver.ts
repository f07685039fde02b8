import dgram from 'node:dgram';

/**
 * A minimal local DNS resolver standing in for "the internet" behind the agent: answers A
 * queries for the names it is given (UDP only), NXDOMAIN for everything else, and
 * records what it was asked.
 */
export async function startTestResolver(
  records: Record<string, string>,
): Promise<{
  port: number;
  asked: string[];
  close(): Promise<void>;
}> {
  const asked: string[] = [];
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    if (msg.length < 17) return;
    // Question name (queries carry no compression there).
    const labels: string[] = [];
    let o = 12;
    while (o < msg.length && msg[o] !== 0) {
      labels.push(msg.subarray(o + 1, o + 1 + msg[o]).toString('latin1'));
      o += msg[o] + 1;
    }
    const qEnd = o + 5;
    if (qEnd > msg.length) return;
    const name = labels.join('.').toLowerCase();
    const qtype = msg.readUInt16BE(o + 1);
    asked.push(name);
    const ip = qtype === 1 ? records[name] : undefined;
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0);
    header.writeUInt16BE(0x8180 | (ip || records[name] ? 0 : 3), 2); // QR RD RA, NXDOMAIN if unknown
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(ip ? 1 : 0, 6);
    const parts = [header, msg.subarray(12, qEnd)];
    if (ip) {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0);
      rr.writeUInt16BE(1, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(60, 6);
      rr.writeUInt16BE(4, 10);
      ip.split('.').forEach((b, i) => (rr[12 + i] = Number(b)));
      parts.push(rr);
    }
    sock.send(Buffer.concat(parts), rinfo.port, rinfo.address);
  });
  await new Promise<void>(r => sock.bind(0, '127.0.0.1', () => r()));
  return {
    port: sock.address().port,
    asked,
    close: () => new Promise<void>(r => sock.close(() => r())),
  };
}
