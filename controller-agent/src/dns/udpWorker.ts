/**
 * A DNS UDP worker thread (see UdpWorkerPool): its own SO_REUSEPORT socket on the
 * server's port, local answers from a memo of entries the main thread taught it, the
 * rest relayed to the main thread. The same wire codec and answer logic as the main
 * thread's server, so both answer alike.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { AnswerEntry, answerFromEntry } from './AnswerTable';
import type {
  UdpMainMessage,
  UdpWorkerData,
  UdpWorkerMessage,
  WorkerCounter,
} from './UdpWorkerPool';
import { WORKER_COUNTERS } from './UdpWorkerPool';
import {
  buildErrorResponse,
  buildResponse,
  DNS_CLASS_IN,
  parseQuery,
  RCODE,
  udpLimit,
} from './wire';

const data = workerData as UdpWorkerData;
const port = parentPort!;
const generation = new Int32Array(data.generation);
const counters = new Float64Array(data.counters);
const slot = (name: WorkerCounter) => WORKER_COUNTERS.indexOf(name);
const UDP = slot('udpQueries');
const LOCAL = slot('local');
const DROPPED = slot('dropped');
const FORMERR = slot('formerr');
const NOTIMP = slot('notimp');
const ERRORS = slot('errors');

const memo = new Map<string, AnswerEntry | null>();
let memoGeneration = Atomics.load(generation, 0);

const post = (m: UdpWorkerMessage) => port.postMessage(m);
const asBuffer = (b: Uint8Array | null) =>
  b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength) : null;

/** The memo when it is of the current generation; undefined while a refresh is due. */
function currentMemo(): Map<string, AnswerEntry | null> | undefined {
  return Atomics.load(generation, 0) === memoGeneration ? memo : undefined;
}

const fromClone = (e: AnswerEntry | null): AnswerEntry | null =>
  e && {
    ...e,
    ptr: asBuffer(e.ptr),
    a: asBuffer(e.a),
    aaaa: asBuffer(e.aaaa),
  };

// Replies go to the address a datagram came from (always an IP): resolve it in place
// rather than through dns.lookup's next-tick round.
const socket = dgram.createSocket({
  type: data.type,
  reusePort: true,
  lookup: (address, _options, callback) => {
    const family = net.isIP(address);
    if (family) (callback as (...a: unknown[]) => void)(null, address, family);
    else
      (callback as (...a: unknown[]) => void)(
        new Error(`not an IP: ${address}`),
      );
  },
});

function onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
  counters[UDP]++;
  if (msg.length > data.maxQueryBytes) {
    counters[DROPPED]++;
    return;
  }
  const parsed = parseQuery(msg);
  if (parsed.kind === 'drop') {
    counters[DROPPED]++;
    return;
  }
  if (parsed.kind === 'error') {
    counters[parsed.rcode === RCODE.NOTIMP ? NOTIMP : FORMERR]++;
    socket.send(
      buildErrorResponse(parsed.id, parsed.flags, parsed.rcode),
      rinfo.port,
      rinfo.address,
    );
    return;
  }
  const query = parsed.query;
  let learn: string | null = null;
  if (query.qclass === DNS_CLASS_IN) {
    const current = currentMemo();
    const entry = current?.get(query.name);
    if (entry) {
      const local = answerFromEntry(entry, query.qtype);
      counters[LOCAL]++;
      socket.send(
        buildResponse(msg, query, RCODE.NOERROR, local.records, local.count, {
          authoritative: true,
          limit: udpLimit(query),
        }),
        rinfo.port,
        rinfo.address,
      );
      return;
    }
    // Learn only into a current memo: during a refresh the name may be in it already.
    if (current && entry === undefined) learn = query.name;
  }
  post({
    type: 'relay',
    raw: msg,
    address: rinfo.address,
    port: rinfo.port,
    learn,
  });
}

port.on('message', (m: UdpMainMessage) => {
  if (m.type === 'stop') {
    socket.close(() => process.exit(0));
    return;
  }
  if (m.type === 'refresh') {
    // Refreshes come in order, each relative to the one before: apply every one.
    if (m.reset) memo.clear();
    for (const [name, entry] of m.changes) memo.set(name, fromClone(entry));
    memoGeneration = m.generation;
    return;
  }
  // An entry computed at another generation than the memo's is not kept (the main
  // thread's next refresh, or the next relay, brings it).
  if (m.generation !== memoGeneration) return;
  if (memo.size >= data.maxMemo) memo.clear();
  memo.set(m.name, fromClone(m.entry));
});

socket.once('error', err => post({ type: 'failed', error: err.message }));
socket.bind(data.port, data.host, () => {
  socket.removeAllListeners('error');
  // send() failures are per datagram; keep serving.
  socket.on('error', () => counters[ERRORS]++);
  try {
    socket.setRecvBufferSize(4 * 1024 * 1024);
  } catch {
    // keep the default
  }
  socket.on('message', (msg, rinfo) => {
    try {
      onDatagram(msg, rinfo);
    } catch {
      counters[ERRORS]++;
    }
  });
  post({ type: 'ready' });
});
