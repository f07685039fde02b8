import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import type { Upstream } from './upstreams';
import { canonicalIp } from './reverse';
import { Query, responseQuestion } from './wire';

export interface ForwarderOptions {
  upstreams: Upstream[];
  /** One try at one upstream. */
  attemptTimeoutMs: number;
  /** All tries together; after that the client gets SERVFAIL. */
  totalTimeoutMs: number;
  /** Queries waiting for upstreams at once; more get SERVFAIL straight away. */
  maxInflight: number;
  onEvent?: (event: 'timeout' | 'mismatch' | 'error' | 'overload') => void;
}

interface Pending {
  upstream: Upstream;
  name: string;
  qtype: number;
  qclass: number;
  settle: (response: Buffer | null) => void;
}

/**
 * Forwards queries byte for byte (so EDNS options, DNSSEC bits and record types the agent
 * knows nothing about pass through) to the upstream resolvers, in order, each try bounded
 * by a timeout. UDP first; over TCP when the client came by TCP and the UDP answer was
 * truncated. A reply is accepted only from the upstream asked, with the random ID and
 * the question of the query (RFC 5452), so off-path spoofing has to guess both.
 */
export class Forwarder {
  private readonly sockets = new Map<4 | 6, dgram.Socket>();
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(private readonly options: ForwarderOptions) {}

  get inflight(): number {
    return this.pending.size;
  }

  /** The upstream's response with the client's ID, or null (the caller answers SERVFAIL). */
  async forward(
    raw: Buffer,
    query: Query,
    viaTcp: boolean,
  ): Promise<Buffer | null> {
    const { upstreams, attemptTimeoutMs, totalTimeoutMs } = this.options;
    if (this.closed || upstreams.length === 0) return null;
    if (this.pending.size >= this.options.maxInflight) {
      this.options.onEvent?.('overload');
      return null;
    }
    const deadline = Date.now() + totalTimeoutMs;
    const attempts = Math.max(upstreams.length, 2);
    for (let i = 0; i < attempts; i++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.closed) break;
      const upstream = upstreams[i % upstreams.length];
      const timeout = Math.min(attemptTimeoutMs, remaining);
      let response = await this.viaUdp(raw, query, upstream, timeout);
      if (response && viaTcp && (response[2] & 0x02) !== 0) {
        response = await this.viaTcp(
          raw,
          query,
          upstream,
          Math.max(1, deadline - Date.now()),
        );
      }
      if (response) {
        response.writeUInt16BE(query.id, 0);
        return response;
      }
    }
    return null;
  }

  close(): void {
    this.closed = true;
    for (const p of [...this.pending.values()]) p.settle(null);
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }

  private socket(family: 4 | 6): dgram.Socket {
    let s = this.sockets.get(family);
    if (!s) {
      s = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
      s.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
      // An unconnected UDP socket reports no per-destination errors; anything here is
      // local (e.g. no route). Pending queries time out and fail over.
      s.on('error', () => this.options.onEvent?.('error'));
      s.unref();
      this.sockets.set(family, s);
    }
    return s;
  }

  private freeId(): number {
    for (let i = 0; i < 32; i++) {
      const id = randomInt(0, 65_536);
      if (!this.pending.has(id)) return id;
    }
    for (
      let id = randomInt(0, 65_536), n = 0;
      n < 65_536;
      n++, id = (id + 1) & 0xffff
    ) {
      if (!this.pending.has(id)) return id;
    }
    return -1;
  }

  private viaUdp(
    raw: Buffer,
    query: Query,
    upstream: Upstream,
    timeoutMs: number,
  ): Promise<Buffer | null> {
    return new Promise(resolve => {
      const id = this.freeId();
      if (id < 0) {
        resolve(null);
        return;
      }
      const pending = this.pending;
      const timer = setTimeout(() => {
        this.options.onEvent?.('timeout');
        settle(null);
      }, timeoutMs);
      // A declaration (hoisted), as the timer above and settle refer to each other.
      function settle(response: Buffer | null) {
        if (pending.get(id)?.settle !== settle) return;
        pending.delete(id);
        clearTimeout(timer);
        resolve(response);
      }
      this.pending.set(id, {
        upstream,
        name: query.name,
        qtype: query.qtype,
        qclass: query.qclass,
        settle,
      });
      const copy = Buffer.from(raw);
      copy.writeUInt16BE(id, 0);
      try {
        this.socket(upstream.family).send(
          copy,
          upstream.port,
          upstream.address,
          err => {
            if (err) {
              this.options.onEvent?.('error');
              settle(null);
            }
          },
        );
      } catch {
        settle(null);
      }
    });
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const q = responseQuestion(msg);
    const p = q && this.pending.get(q.id);
    if (!q || !p) {
      this.options.onEvent?.('mismatch');
      return;
    }
    if (
      rinfo.port !== p.upstream.port ||
      canonicalIp(rinfo.address) !== p.upstream.address ||
      q.name !== p.name ||
      q.qtype !== p.qtype ||
      q.qclass !== p.qclass
    ) {
      this.options.onEvent?.('mismatch');
      return;
    }
    p.settle(msg);
  }

  private viaTcp(
    raw: Buffer,
    query: Query,
    upstream: Upstream,
    timeoutMs: number,
  ): Promise<Buffer | null> {
    return new Promise(resolve => {
      let done = false;
      let buffered: Buffer = Buffer.alloc(0);
      const socket = net.connect({
        host: upstream.address,
        port: upstream.port,
      });
      const timer = setTimeout(() => {
        this.options.onEvent?.('timeout');
        finish(null);
      }, timeoutMs);
      // A declaration (hoisted), as the timer above and finish refer to each other.
      function finish(response: Buffer | null) {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(response);
      }
      socket.on('error', () => {
        this.options.onEvent?.('error');
        finish(null);
      });
      socket.on('close', () => finish(null));
      socket.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(raw.length);
        socket.write(Buffer.concat([len, raw]));
      });
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (buffered.length < 2) return;
        const need = buffered.readUInt16BE(0);
        if (buffered.length > need + 2) {
          finish(null); // an answer to one query, then more: not a DNS server we trust
          return;
        }
        if (buffered.length < need + 2) return;
        const msg = Buffer.from(buffered.subarray(2));
        const q = responseQuestion(msg);
        if (
          !q ||
          q.id !== query.id ||
          q.name !== query.name ||
          q.qtype !== query.qtype
        ) {
          this.options.onEvent?.('mismatch');
          finish(null);
          return;
        }
        finish(msg);
      });
    });
  }
}
