import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

const MAX_PROXY_HEADER_BYTES = 16 * 1024;

/**
 * An https.Agent whose connections go through an HTTP CONNECT proxy (http or https
 * proxy URL, optional user:password in it), then TLS to the apiserver inside the tunnel.
 */
export class TunnelAgent extends https.Agent {
  constructor(private readonly proxy: URL, options: https.AgentOptions) {
    super(options);
  }

  createConnection(
    options: any,
    callback?: (err: Error | null, socket: Duplex) => void,
  ): undefined {
    if (!callback) throw new Error('TunnelAgent connects asynchronously only');
    const cb = callback;
    const host: string = options.host;
    const port: number = Number(options.port) || 443;
    const proxyPort =
      Number(this.proxy.port) || (this.proxy.protocol === 'https:' ? 443 : 80);
    const proxyHost = this.proxy.hostname.replace(/^\[|\]$/g, '');
    const raw: net.Socket =
      this.proxy.protocol === 'https:'
        ? tls.connect({
            host: proxyHost,
            port: proxyPort,
            servername: proxyHost,
          })
        : net.connect({ host: proxyHost, port: proxyPort });
    let done = false;
    const fail = (e: Error) => {
      if (done) return;
      done = true;
      raw.destroy();
      cb(new Error(`proxy ${this.proxy.host}: ${e.message}`), raw);
    };
    raw.once('error', fail);
    const target = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const auth = this.proxy.username
      ? `Proxy-Authorization: Basic ${Buffer.from(
          `${decodeURIComponent(this.proxy.username)}:${decodeURIComponent(
            this.proxy.password,
          )}`,
        ).toString('base64')}\r\n`
      : '';
    raw.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_PROXY_HEADER_BYTES)
          fail(new Error('answer to CONNECT too long'));
        return;
      }
      raw.off('data', onData);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head.toString('latin1'));
      if (!status || status[1] !== '200') {
        fail(
          new Error(
            `CONNECT ${target} refused: ${
              head
                .subarray(0, Math.min(end, 200))
                .toString('latin1')
                .split('\r\n')[0]
            }`,
          ),
        );
        return;
      }
      if (end + 4 < head.length) raw.unshift(head.subarray(end + 4));
      raw.off('error', fail);
      done = true;
      const secure = tls.connect({ ...options, socket: raw });
      cb(null, secure);
    };
    raw.on('data', onData);
    return undefined;
  }
}
