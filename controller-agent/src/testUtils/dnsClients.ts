import dgram from 'node:dgram';
import net from 'node:net';

/** Sends one datagram to 127.0.0.1:port; resolves with the reply, or null after timeoutMs. */
export function udpExchange(
  port: number,
  query: Buffer,
  timeoutMs = 1000,
): Promise<Buffer | null> {
  return new Promise(resolve => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(null);
    }, timeoutMs);
    s.on('message', msg => {
      clearTimeout(timer);
      s.close();
      resolve(msg);
    });
    s.send(query, port, '127.0.0.1');
  });
}

/**
 * Writes `queries` on one TCP connection (pipelined, in one write) and collects `expect`
 * length-prefixed replies, or what came before the connection closed or timed out.
 */
export function tcpExchange(
  port: number,
  queries: Buffer[],
  expect = queries.length,
  timeoutMs = 2000,
): Promise<{ replies: Buffer[]; closed: boolean }> {
  return new Promise(resolve => {
    const replies: Buffer[] = [];
    let buffered: Buffer = Buffer.alloc(0);
    let closed = false;
    const socket = net.connect(port, '127.0.0.1');
    const timer = setTimeout(done, timeoutMs);
    function done() {
      clearTimeout(timer);
      socket.destroy();
      resolve({ replies, closed });
    }
    socket.on('connect', () => {
      socket.write(
        Buffer.concat(
          queries.map(q => {
            const len = Buffer.alloc(2);
            len.writeUInt16BE(q.length);
            return Buffer.concat([len, q]);
          }),
        ),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (
        buffered.length >= 2 &&
        buffered.length >= buffered.readUInt16BE(0) + 2
      ) {
        const n = buffered.readUInt16BE(0);
        replies.push(buffered.subarray(2, n + 2));
        buffered = buffered.subarray(n + 2);
      }
      if (replies.length >= expect) done();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      done();
    });
  });
}
