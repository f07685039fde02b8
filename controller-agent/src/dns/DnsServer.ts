import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import type { AnswerTable } from './AnswerTable';
import type { Forwarder } from './Forwarder';
import { FastPath } from './FastPath';
import { RelayedQuery, UdpWorkerPool, udpWorkerModule } from './UdpWorkerPool';
import {
  buildErrorResponse,
  buildResponse,
  DNS_CLASS_IN,
  parseQuery,
  RCODE,
  truncateResponse,
  udpLimit,
} from './wire';

export interface DnsServerLimits {
  /** Largest query accepted (UDP datagram or TCP message); queries are small. */
  maxQueryBytes: number;
  maxTcpConnections: number;
  /** RFC 7766 §6.2.3: idle connections are closed. */
  tcpIdleTimeoutMs: number;
  /** Pipelined queries answered at once per connection; reading pauses beyond. */
  maxTcpInflightPerConnection: number;
  /** A client that does not read its answers is disconnected past this. */
  maxTcpWriteBufferBytes: number;
}

export const DEFAULT_DNS_LIMITS: DnsServerLimits = {
  maxQueryBytes: 4096,
  maxTcpConnections: 256,
  tcpIdleTimeoutMs: 10_000,
  maxTcpInflightPerConnection: 32,
  maxTcpWriteBufferBytes: 256 * 1024,
};

export interface DnsServerThreads {
  /**
   * UDP worker threads beside the main thread's socket, all on the port with
   * SO_REUSEPORT (UdpWorkerPool). 0: the main thread alone.
   */
  udpWorkers: number;
  /** Names each worker remembers between directory changes. */
  workerMaxMemo: number;
  /**
   * The Go UDP fast path (FastPath.ts) to serve UDP with, instead of this thread and its
   * workers; null or absent: none. When it cannot start, UDP is served here (logged).
   */
  fastPath?: { binary: string; sockets: number } | null;
}

/** Where UDP answers go out: this thread's socket, or the fast path's. */
interface UdpSender {
  send(out: Buffer, port: number, address: string): void;
}

export interface DnsStats {
  udpQueries: number;
  tcpQueries: number;
  tcpConnections: number;
  local: number;
  forwarded: number;
  servfail: number;
  formerr: number;
  notimp: number;
  dropped: number;
  errors: number;
  /** Of `local`: answered by the Go UDP fast path (0 without it). */
  fastPathLocal: number;
  /** Gauges: TCP connections open now, forwarded queries awaiting an upstream now. */
  tcpOpen: number;
  forwardInflight: number;
}

export interface DnsServerLog {
  warn(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * Replies go to the address a datagram came from, always an IP: resolved in place rather
 * than through dns.lookup's next-tick round. Host names (bind) still go to dns.lookup.
 */
const ipLookup: dgram.SocketOptions['lookup'] = (
  address,
  options,
  callback,
) => {
  const family = net.isIP(address);
  if (family) callback(null, address, family);
  else dns.lookup(address, options, callback);
};

/**
 * The agent's DNS server: UDP and TCP (with pipelining) on one port. Names it knows are
 * answered synchronously from the AnswerTable (the fast path: parse, look up, copy);
 * anything else goes to the Forwarder. Every failure is contained per query.
 */
export class DnsServer {
  private udp: dgram.Socket | undefined;
  private pool: UdpWorkerPool | undefined;
  private fast: FastPath | undefined;
  /** The sender answers currently go through (a stopped one is ignored). */
  private sender: UdpSender | undefined;
  private tcp: net.Server | undefined;
  private stopPool: (() => void) | undefined;
  private readonly connections = new Set<net.Socket>();
  private readonly counters: Omit<
    DnsStats,
    'tcpOpen' | 'forwardInflight' | 'fastPathLocal'
  > = {
    udpQueries: 0,
    tcpQueries: 0,
    tcpConnections: 0,
    local: 0,
    forwarded: 0,
    servfail: 0,
    formerr: 0,
    notimp: 0,
    dropped: 0,
    errors: 0,
  };

  constructor(
    private readonly table: AnswerTable,
    private readonly forwarder: Forwarder,
    private readonly limits: DnsServerLimits = DEFAULT_DNS_LIMITS,
    private readonly log?: DnsServerLog,
    private readonly threads: DnsServerThreads = {
      udpWorkers: 0,
      workerMaxMemo: 100_000,
    },
  ) {}

  stats(): DnsStats {
    const pool = this.pool;
    const c = this.counters;
    const fast = this.fast?.counters;
    return {
      ...c,
      ...(fast && {
        // The JS side counts only what the fast path relayed (not as received).
        udpQueries: c.udpQueries + fast.queries,
        local: c.local + fast.local,
        dropped: c.dropped + fast.dropped,
        errors: c.errors + fast.errors,
      }),
      fastPathLocal: fast?.local ?? 0,
      ...(pool && {
        udpQueries: c.udpQueries + pool.count('udpQueries'),
        local: c.local + pool.count('local'),
        dropped: c.dropped + pool.count('dropped'),
        formerr: c.formerr + pool.count('formerr'),
        notimp: c.notimp + pool.count('notimp'),
        errors: c.errors + pool.count('errors'),
      }),
      tcpOpen: this.connections.size,
      forwardInflight: this.forwarder.inflight,
    };
  }

  /**
   * The answer to one query: a Buffer now (local names, errors), a Promise (forwarded),
   * or null to send nothing. `remember` false: a query a fast path or worker relayed
   * (it is taught the name; the table's memo need not hold it too).
   */
  answer(
    raw: Buffer,
    viaTcp: boolean,
    remember = true,
  ): Buffer | null | Promise<Buffer | null> {
    const c = this.counters;
    if (raw.length > this.limits.maxQueryBytes) {
      c.dropped++;
      return null;
    }
    const parsed = parseQuery(raw);
    if (parsed.kind === 'drop') {
      c.dropped++;
      return null;
    }
    if (parsed.kind === 'error') {
      if (parsed.rcode === RCODE.NOTIMP) c.notimp++;
      else c.formerr++;
      return buildErrorResponse(parsed.id, parsed.flags, parsed.rcode);
    }
    const query = parsed.query;
    const limit = viaTcp ? 65_535 : udpLimit(query);
    if (query.qclass === DNS_CLASS_IN) {
      const local = this.table.lookup(query.name, query.qtype, remember);
      if (local) {
        c.local++;
        return buildResponse(
          raw,
          query,
          RCODE.NOERROR,
          local.records,
          local.count,
          {
            authoritative: true,
            limit,
          },
        );
      }
    }
    c.forwarded++;
    const servfail = () => {
      c.servfail++;
      return buildResponse(raw, query, RCODE.SERVFAIL, null, 0, {
        authoritative: false,
        limit,
      });
    };
    return this.forwarder.forward(raw, query, viaTcp).then(
      response => {
        if (!response) return servfail();
        return viaTcp
          ? response
          : truncateResponse(response, limit) ?? servfail();
      },
      () => servfail(),
    );
  }

  /** Binds UDP and TCP on `port` (0: one free port for both). Returns the port. */
  async start(port: number, host = '0.0.0.0'): Promise<number> {
    const fastPath = this.threads.fastPath;
    if (fastPath) {
      try {
        return await this.startFast(port, host, fastPath);
      } catch (e) {
        this.log?.warn('dns: UDP fast path did not start; serving UDP here', {
          binary: fastPath.binary,
          error: (e as Error).message,
        });
      }
    }
    for (let attempt = 0; ; attempt++) {
      let workers = this.threads.udpWorkers;
      if (workers > 0 && !udpWorkerModule()) {
        // A bundle shipped without dns-udp-worker.cjs: serve, on one thread.
        this.log?.warn('dns: udp worker module missing; main thread only', {
          udpWorkers: workers,
        });
        workers = 0;
      }
      const udp = await this.bindUdp(port, host, workers > 0);
      const bound = udp.address().port;
      let pool: UdpWorkerPool | undefined;
      try {
        this.tcp = await this.listenTcp(bound, host);
        if (workers > 0) {
          pool = new UdpWorkerPool(
            this.table,
            q => this.onRelayed(udp, q),
            err => {
              this.counters.errors++;
              this.log?.warn('dns udp worker error', { error: err.message });
            },
          );
          const unsubscribe = this.table.onInvalidate(() => pool!.invalidate());
          try {
            await pool.start(workers, {
              host,
              port: bound,
              type: net.isIPv6(host) ? 'udp6' : 'udp4',
              maxQueryBytes: this.limits.maxQueryBytes,
              maxMemo: this.threads.workerMaxMemo,
            });
          } catch (e) {
            unsubscribe();
            // Not a port clash: retrying on another port would not help.
            (e as { workers?: true }).workers = true;
            throw e;
          }
          this.pool = pool;
          this.stopPool = unsubscribe;
        }
        this.udp = udp;
        this.sender = udp;
        return bound;
      } catch (e) {
        udp.close();
        const tcp = this.tcp;
        this.tcp = undefined;
        if (tcp) await new Promise<void>(r => tcp.close(() => r()));
        // With port 0 the UDP port may be taken for TCP; pick another. A fixed port fails.
        if (port !== 0 || attempt >= 10 || (e as { workers?: true }).workers)
          throw e;
      }
    }
  }

  /** UDP on the fast path, TCP here, both on one port (0: a free one, retried). */
  private async startFast(
    port: number,
    host: string,
    options: { binary: string; sockets: number },
  ): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const fast: FastPath = new FastPath({
        binary: options.binary,
        host,
        port,
        sockets: options.sockets,
        maxMemo: this.threads.workerMaxMemo,
        table: this.table,
        onRelay: d => {
          if (this.sender === fast) this.onDatagram(fast, d.raw, d, true);
        },
        onFailure: err => {
          if (this.fast !== fast) return;
          this.counters.errors++;
          this.log?.warn('dns: UDP fast path failed; serving UDP here', {
            error: err.message,
          });
          void this.fallBackToJs(fast, host);
        },
      });
      const unsubscribe = this.table.onInvalidate(() => fast.invalidate());
      let bound: number;
      try {
        bound = await fast.start();
      } catch (e) {
        unsubscribe();
        await fast.stop();
        throw e;
      }
      try {
        this.tcp = await this.listenTcp(bound, host);
      } catch (e) {
        unsubscribe();
        await fast.stop();
        // With port 0 the UDP port may be taken for TCP; pick another. A fixed port fails.
        if (port !== 0 || attempt >= 10) throw e;
        continue;
      }
      this.fast = fast;
      this.sender = fast;
      this.stopPool = unsubscribe;
      return bound;
    }
  }

  /** The fast path died after it was serving: this thread takes the UDP port over. */
  private async fallBackToJs(fast: FastPath, host: string): Promise<void> {
    const port = this.tcp?.address();
    this.stopPool?.();
    this.stopPool = undefined;
    this.fast = undefined;
    this.sender = undefined;
    await fast.stop();
    if (!port || typeof port === 'string' || !this.tcp) return;
    try {
      const udp = await this.bindUdp(port.port, host, false);
      this.udp = udp;
      this.sender = udp;
    } catch (e) {
      this.log?.warn('dns: cannot bind UDP after the fast path failed', {
        error: (e as Error).message,
      });
    }
  }

  async stop(): Promise<void> {
    const udp = this.udp;
    const tcp = this.tcp;
    const pool = this.pool;
    const fast = this.fast;
    this.fast = undefined;
    this.sender = undefined;
    this.udp = undefined;
    this.tcp = undefined;
    this.pool = undefined;
    this.stopPool?.();
    this.stopPool = undefined;
    await pool?.stop();
    await fast?.stop();
    for (const s of this.connections) s.destroy();
    this.connections.clear();
    await Promise.all([
      udp ? new Promise<void>(r => udp.close(() => r())) : undefined,
      tcp ? new Promise<void>(r => tcp.close(() => r())) : undefined,
    ]);
  }

  private bindUdp(
    port: number,
    host: string,
    reusePort: boolean,
  ): Promise<dgram.Socket> {
    return new Promise((resolve, reject) => {
      const udp = dgram.createSocket({
        type: net.isIPv6(host) ? 'udp6' : 'udp4',
        reusePort,
        lookup: ipLookup,
      });
      udp.once('error', reject);
      udp.bind(port, host, () => {
        udp.removeListener('error', reject);
        udp.on('error', err => {
          // send() failures (e.g. EPERM, ENOBUFS) are per datagram; keep serving.
          this.counters.errors++;
          this.log?.warn('dns udp error', { error: err.message });
        });
        try {
          udp.setRecvBufferSize(4 * 1024 * 1024); // absorbs bursts; the kernel may cap it
        } catch {
          // keep the default
        }
        udp.on('message', (msg, rinfo) => this.onDatagram(udp, msg, rinfo));
        resolve(udp);
      });
    });
  }

  /** A query a UDP worker relayed (it counted it): answered through this thread's socket. */
  private onRelayed(udp: dgram.Socket, q: RelayedQuery): void {
    if (this.sender === udp) this.onDatagram(udp, q.raw, q, true);
  }

  private onDatagram(
    udp: UdpSender,
    msg: Buffer,
    rinfo: { address: string; port: number },
    relayed = false,
  ): void {
    if (!relayed) this.counters.udpQueries++;
    let out: Buffer | null | Promise<Buffer | null>;
    try {
      out = this.answer(msg, false, !relayed);
    } catch (e) {
      this.counters.errors++;
      this.log?.warn('dns query failed', { error: (e as Error).message });
      return;
    }
    if (out === null) return;
    if (Buffer.isBuffer(out)) {
      udp.send(out, rinfo.port, rinfo.address);
      return;
    }
    out.then(
      buf => {
        if (buf && this.sender === udp)
          udp.send(buf, rinfo.port, rinfo.address);
      },
      () => {
        this.counters.errors++;
      },
    );
  }

  private listenTcp(port: number, host: string): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const server = net.createServer(
        { allowHalfOpen: true, noDelay: true },
        socket => this.onConnection(socket),
      );
      server.maxConnections = this.limits.maxTcpConnections;
      server.once('error', reject);
      server.listen(port, host, () => {
        server.removeListener('error', reject);
        server.on('error', err => {
          this.counters.errors++;
          this.log?.warn('dns tcp error', { error: err.message });
        });
        resolve(server);
      });
    });
  }

  private onConnection(socket: net.Socket): void {
    const limits = this.limits;
    this.counters.tcpConnections++;
    this.connections.add(socket);
    let buffered: Buffer = Buffer.alloc(0);
    // Queries of this connection still being answered; an object so the answer callbacks
    // created in pump's loop share the one count rather than capture a loop-modified `let`.
    const pending = { inflight: 0 };
    let peerEnded = false;
    const close = () => {
      if (!socket.destroyed) socket.destroy();
    };
    const finishIfDone = () => {
      if (peerEnded && pending.inflight === 0 && !socket.destroyed)
        socket.end();
    };
    const write = (out: Buffer) => {
      if (socket.destroyed || !socket.writable) return;
      const frame = Buffer.allocUnsafe(out.length + 2);
      frame.writeUInt16BE(out.length, 0);
      out.copy(frame, 2);
      socket.write(frame);
      if (socket.writableLength > limits.maxTcpWriteBufferBytes) close();
    };
    const pump = () => {
      while (
        !socket.destroyed &&
        buffered.length >= 2 &&
        pending.inflight < limits.maxTcpInflightPerConnection
      ) {
        const need = buffered.readUInt16BE(0);
        if (need > limits.maxQueryBytes) {
          // Oversized: the framing cannot be trusted past it; drop the connection.
          this.counters.dropped++;
          close();
          return;
        }
        if (buffered.length < need + 2) break;
        const msg = Buffer.from(buffered.subarray(2, need + 2));
        buffered = buffered.subarray(need + 2);
        this.counters.tcpQueries++;
        let out: Buffer | null | Promise<Buffer | null>;
        try {
          out = this.answer(msg, true);
        } catch (e) {
          this.counters.errors++;
          this.log?.warn('dns query failed', { error: (e as Error).message });
          close();
          return;
        }
        if (out === null) continue;
        if (Buffer.isBuffer(out)) {
          write(out);
          continue;
        }
        pending.inflight++;
        out.then(
          buf => {
            pending.inflight--;
            if (buf) write(buf);
            pump();
            finishIfDone();
          },
          () => {
            pending.inflight--;
            this.counters.errors++;
            close();
          },
        );
      }
      // Pipelined queries beyond the in-flight cap wait in the socket, not in memory.
      if (pending.inflight >= limits.maxTcpInflightPerConnection)
        socket.pause();
      else if (socket.isPaused()) socket.resume();
    };
    socket.setTimeout(limits.tcpIdleTimeoutMs, close);
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      if (buffered.length > limits.maxQueryBytes * 2 + 65_536) {
        this.counters.dropped++;
        close();
        return;
      }
      pump();
    });
    socket.on('end', () => {
      peerEnded = true;
      finishIfDone();
    });
    socket.on('error', close);
    socket.on('close', () => this.connections.delete(socket));
  }
}
