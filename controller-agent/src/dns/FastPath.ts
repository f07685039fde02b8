import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { AnswerEntry, AnswerTable } from './AnswerTable';
import { MemoPeer, MemoTeacher } from './MemoTeacher';
import { parseQuery } from './wire';

/**
 * The UDP fast path: `spider-dns-fastpath` (controller-agent/dnsfast, Go), a child
 * process the agent starts and owns. It binds the UDP port (SO_REUSEPORT sockets,
 * recvmmsg/sendmmsg in batches), answers the names the agent taught it from pre-encoded
 * entries, and relays every other datagram here over its control socket; the agent
 * answers those exactly as on its own socket and the fast path sends the answer from the
 * port. Frames: dnsfast/fastpath/control.go. Freshness: MemoTeacher.
 */

export const FAST_PATH_BINARY = 'spider-dns-fastpath';
/** Environment variable naming the binary (tests, dev); `off` disables the fast path. */
export const FAST_PATH_ENV = 'SPIDER_DNS_FASTPATH_BIN';

/**
 * The binary: `SPIDER_DNS_FASTPATH_BIN` when set (`off`: none), else the one beside the
 * bundle (the image puts it next to agent.cjs). Null: the agent serves UDP itself.
 */
export function fastPathBinary(
  env: Record<string, string | undefined> = process.env,
): string | null {
  const configured = env[FAST_PATH_ENV];
  if (configured === 'off') return null;
  if (configured) return configured;
  // eslint-disable-next-line no-restricted-syntax -- the bundle's own directory (the image puts the binary there)
  const beside = path.join(__dirname, FAST_PATH_BINARY);
  return fs.existsSync(beside) ? beside : null;
}

export interface FastPathCounters {
  queries: number;
  local: number;
  relayed: number;
  errors: number;
  /** Relays the helper dropped because the agent lagged 4096 frames behind. */
  dropped: number;
}

export interface RelayedDatagram {
  raw: Buffer;
  address: string;
  port: number;
}

const FRAME = {
  ready: 0x59, // 'Y'
  relay: 0x52, // 'R'
  counters: 0x43, // 'C'
  send: 0x53, // 'S'
  entry: 0x45, // 'E'
  refresh: 0x46, // 'F'
};
const MAX_FRAME_BYTES = 64 << 20;

function entryBytes(e: AnswerEntry | null): Buffer[] {
  if (!e) return [Buffer.from([0])];
  const u16 = (n: number) => {
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16BE(n);
    return b;
  };
  const ptr = e.ptr ?? Buffer.alloc(0);
  const a = e.a ?? Buffer.alloc(0);
  const aaaa = e.aaaa ?? Buffer.alloc(0);
  return [
    Buffer.from([1]),
    u16(ptr.length),
    ptr,
    u16(a.length),
    a,
    u16(e.aCount),
    u16(aaaa.length),
    aaaa,
    u16(e.aaaaCount),
  ];
}

function nameBytes(name: string): Buffer[] {
  const text = Buffer.from(name, 'latin1');
  const len = Buffer.allocUnsafe(2);
  len.writeUInt16BE(text.length);
  return [len, text];
}

function frame(type: number, parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const head = Buffer.allocUnsafe(5);
  head.writeUInt32BE(body.length + 1, 0);
  head[4] = type;
  return Buffer.concat([head, body]);
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export interface FastPathOptions {
  binary: string;
  host: string;
  port: number;
  sockets: number;
  maxMemo: number;
  table: AnswerTable;
  onRelay: (d: RelayedDatagram) => void;
  /** The helper exited or broke its protocol after it was ready. */
  onFailure: (error: Error) => void;
}

export class FastPath implements MemoPeer {
  private child: ChildProcess | undefined;
  private control: (Readable & Writable) | undefined;
  private generations: Writable | undefined;
  private teacher: MemoTeacher | undefined;
  private readonly counterValues: FastPathCounters = {
    queries: 0,
    local: 0,
    relayed: 0,
    errors: 0,
    dropped: 0,
  };
  private stopping = false;

  constructor(private readonly options: FastPathOptions) {}

  get counters(): Readonly<FastPathCounters> {
    return this.counterValues;
  }

  /** Starts the helper; resolves with the UDP port it bound. */
  start(): Promise<number> {
    const o = this.options;
    const listen = o.host.includes(':')
      ? `[${o.host}]:${o.port}`
      : `${o.host}:${o.port}`;
    const child = spawn(
      o.binary,
      [
        '-listen',
        listen,
        '-sockets',
        String(o.sockets),
        '-max-memo',
        String(o.maxMemo),
      ],
      // 3: control (both ways), 4: generations (agent → helper).
      { stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'pipe'] },
    );
    this.child = child;
    this.control = child.stdio[3] as Readable & Writable;
    this.generations = child.stdio[4] as Writable;
    this.teacher = new MemoTeacher(o.table, this, o.maxMemo);
    return new Promise<number>((resolve, reject) => {
      let ready = false;
      const fail = (e: Error) => {
        if (!ready) {
          reject(e);
          return;
        }
        if (!this.stopping) o.onFailure(e);
      };
      child.once('error', e => fail(e));
      child.once('exit', (code, signal) =>
        fail(
          new Error(
            `${FAST_PATH_BINARY} exited (${signal ?? code})${
              ready ? '' : ' before ready'
            }`,
          ),
        ),
      );
      this.control!.on('error', e => fail(e));
      this.generations!.on('error', e => fail(e));
      let buffered: Buffer = Buffer.alloc(0);
      this.control!.on('data', (chunk: Buffer) => {
        buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
        while (buffered.length >= 4) {
          const n = buffered.readUInt32BE(0);
          if (n === 0 || n > MAX_FRAME_BYTES) {
            fail(new Error(`${FAST_PATH_BINARY}: bad frame length ${n}`));
            child.kill('SIGKILL');
            return;
          }
          if (buffered.length < 4 + n) break;
          const body = buffered.subarray(4, 4 + n);
          buffered = buffered.subarray(4 + n);
          if (body[0] === FRAME.ready && body.length === 3) {
            ready = true;
            resolve(body.readUInt16BE(1));
          } else if (body[0] === FRAME.relay) {
            this.onRelayFrame(body);
          } else if (body[0] === FRAME.counters && body.length === 41) {
            const c = this.counterValues;
            c.queries = Number(body.readBigUInt64BE(1));
            c.local = Number(body.readBigUInt64BE(9));
            c.relayed = Number(body.readBigUInt64BE(17));
            c.errors = Number(body.readBigUInt64BE(25));
            c.dropped = Number(body.readBigUInt64BE(33));
          } else {
            fail(new Error(`${FAST_PATH_BINARY}: bad frame`));
            child.kill('SIGKILL');
            return;
          }
        }
      });
    });
  }

  /** Called in the same tick as the AnswerTable's own invalidation. */
  invalidate(): void {
    this.teacher?.invalidate();
  }

  /** Sends an answer to a relayed query from the port's socket. */
  send(out: Buffer, port: number, address: string): void {
    const ip = Buffer.from(address, 'latin1');
    const head = Buffer.allocUnsafe(3);
    head[0] = ip.length;
    this.write(
      frame(FRAME.send, [
        head.subarray(0, 1),
        ip,
        Buffer.from([port >> 8, port & 0xff]),
        out,
      ]),
    );
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.teacher?.stop();
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>(resolve => {
      child.once('exit', () => resolve());
      // Closing the control socket ends it; a helper stuck in a syscall still goes.
      this.control?.destroy();
      this.generations?.destroy();
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    });
  }

  // MemoPeer
  entry(generation: number, name: string, entry: AnswerEntry | null): void {
    this.write(
      frame(FRAME.entry, [
        u32(generation),
        ...nameBytes(name),
        ...entryBytes(entry),
      ]),
    );
  }

  refresh(
    generation: number,
    reset: boolean,
    changes: Array<[string, AnswerEntry | null]>,
  ): void {
    const parts = [
      u32(generation),
      Buffer.from([reset ? 1 : 0]),
      u32(changes.length),
    ];
    for (const [name, entry] of changes)
      parts.push(...nameBytes(name), ...entryBytes(entry));
    this.write(frame(FRAME.refresh, parts));
  }

  generation(generation: number): void {
    // A pipe write is attempted at once (libuv writes synchronously when nothing is
    // queued), so the generation is in the helper's descriptor before this tick ends.
    if (this.generations?.writable) this.generations.write(u32(generation));
  }

  private write(b: Buffer): void {
    if (this.control?.writable) this.control.write(b);
  }

  private onRelayFrame(body: Buffer): void {
    // 'R', u8 learn, u8 n, n bytes IP, u16 port, datagram.
    if (body.length < 5) return;
    const learn = body[1] === 1;
    const n = body[2];
    if (body.length < 3 + n + 2) return;
    const address = body.toString('latin1', 3, 3 + n);
    const port = body.readUInt16BE(3 + n);
    // A copy: the control buffer is reused for the following frames.
    const raw = Buffer.from(body.subarray(5 + n));
    if (learn) {
      const parsed = parseQuery(raw);
      if (parsed.kind === 'query') this.teacher?.learn(parsed.query.name);
    }
    this.options.onRelay({ raw, address, port });
  }
}
