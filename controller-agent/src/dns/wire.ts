/**
 * DNS wire format (RFC 1035, EDNS RFC 6891): strict parsing of a query and building of
 * the few responses the agent writes itself. Pure functions over Buffers, no I/O.
 *
 * Hand-written rather than dns2's Packet because this runs for every query: dns2 decodes
 * bit by bit and re-encodes lossily (drops EDNS options it has no codec for), while the
 * proxy only needs the header, the one question and the OPT record, and forwards
 * everything else byte for byte.
 */

export const DNS_TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
  ANY: 255,
} as const;

export const DNS_CLASS_IN = 1;
const DNS_CLASS_ANY = 255;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

/** Extended RCODE BADVERS (16), carried in the OPT record's upper 8 bits. */
const BADVERS_HIGH_BITS = 1;

export const HEADER_BYTES = 12;
/** Largest name in wire form (RFC 1035 §2.3.4). */
const MAX_NAME_BYTES = 255;
const MAX_LABEL_BYTES = 63;
/** Classic UDP payload limit without EDNS. */
export const UDP_CLASSIC_LIMIT = 512;
/** The EDNS payload size the agent advertises (the DNS Flag Day 2020 value). */
export const EDNS_ADVERTISED_SIZE = 1232;

const FLAG_QR = 0x8000;
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;
const FLAG_RA = 0x0080;
const FLAG_CD = 0x0010;

export interface Edns {
  /** Requestor's UDP payload size (clamped up to 512 as RFC 6891 §6.2.5 says). */
  udpSize: number;
  version: number;
}

export interface Query {
  id: number;
  /** The raw flags word of the query (opcode, RD, CD are echoed from it). */
  flags: number;
  /**
   * The question name, ASCII lower-cased, without the trailing dot ('' for the root).
   * Bytes outside printable ASCII, '.' and '\' inside a label are written `\DDD`, so
   * the string is unambiguous and never equals a name the agent serves.
   */
  name: string;
  qtype: number;
  qclass: number;
  /** Offset just past the question: bytes 12..questionEnd are echoed in the answer. */
  questionEnd: number;
  edns: Edns | null;
}

export type ParsedQuery =
  | { kind: 'query'; query: Query }
  /** Not worth an answer: too short to carry an ID, or itself a response (no loops). */
  | { kind: 'drop'; reason: string }
  /** Answer with a bare header carrying this RCODE (FORMERR, NOTIMP). */
  | { kind: 'error'; id: number; flags: number; rcode: number; reason: string };

/** Reads a name that may end in a compression pointer; returns the offset after it. */
function skipName(msg: Buffer, start: number): number {
  let offset = start;
  let total = 0;
  for (;;) {
    if (offset >= msg.length) return -1;
    const len = msg[offset];
    if (len === 0) return offset + 1;
    if ((len & 0xc0) === 0xc0) {
      // A pointer ends the name in place; where it points is irrelevant for skipping.
      return offset + 2 <= msg.length ? offset + 2 : -1;
    }
    if ((len & 0xc0) !== 0) return -1; // 01/10 label types are obsolete or unassigned
    total += len + 1;
    if (total > MAX_NAME_BYTES) return -1;
    offset += len + 1;
  }
}

function labelText(msg: Buffer, start: number, end: number): string {
  let out = '';
  for (let i = start; i < end; i++) {
    let c = msg[i];
    if (c >= 0x41 && c <= 0x5a) c += 0x20; // ASCII case folding only (RFC 4343)
    if (c <= 0x20 || c >= 0x7f || c === 0x2e || c === 0x5c) {
      out += `\\${c.toString().padStart(3, '0')}`;
    } else {
      out += String.fromCharCode(c);
    }
  }
  return out;
}

/** Scratch space for the question name: one string allocation per query, no concatenation. */
const nameScratch = Buffer.alloc(MAX_NAME_BYTES);

/**
 * Reads the uncompressed question name at offset 12 into its lower-cased dotted text.
 * Returns an error text when it is cut, has a bad label or is too long.
 */
function readQuestionName(msg: Buffer): { name: string; end: number } | string {
  let offset = HEADER_BYTES;
  let out = 0;
  let wire = 1; // the root label
  let plain = true;
  for (;;) {
    if (offset >= msg.length) return 'question cut short';
    const len = msg[offset];
    if (len === 0) break;
    if (len > MAX_LABEL_BYTES) return 'bad label in question';
    wire += len + 1;
    if (wire > MAX_NAME_BYTES) return 'question name too long';
    if (offset + 1 + len > msg.length) return 'question cut short';
    if (out > 0) nameScratch[out++] = 0x2e;
    for (let i = offset + 1; i <= offset + len; i++) {
      let c = msg[i];
      if (c >= 0x41 && c <= 0x5a)
        c += 0x20; // ASCII case folding only (RFC 4343)
      else if (c <= 0x20 || c >= 0x7f || c === 0x2e || c === 0x5c)
        plain = false;
      nameScratch[out++] = c;
    }
    offset += len + 1;
  }
  if (plain)
    return { name: nameScratch.toString('latin1', 0, out), end: offset + 1 };
  // Rare: bytes that need escaping; rebuild label by label.
  const labels: string[] = [];
  for (let o = HEADER_BYTES; msg[o] !== 0; o += msg[o] + 1)
    labels.push(labelText(msg, o + 1, o + 1 + msg[o]));
  return { name: labels.join('.'), end: offset + 1 };
}

function rejected(
  id: number,
  flags: number,
  rcode: number,
  reason: string,
): ParsedQuery {
  return { kind: 'error', id, flags, rcode, reason };
}

/**
 * Parses a query strictly: one question, no compression in it (nothing precedes it to
 * point at), well-formed records after it, at most one OPT, no trailing bytes.
 */
export function parseQuery(msg: Buffer): ParsedQuery {
  if (msg.length < HEADER_BYTES) return { kind: 'drop', reason: 'short' };
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  if (flags & FLAG_QR) return { kind: 'drop', reason: 'response' };
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0)
    return rejected(id, flags, RCODE.NOTIMP, `opcode ${opcode}`);
  const qdcount = msg.readUInt16BE(4);
  const ancount = msg.readUInt16BE(6);
  const nscount = msg.readUInt16BE(8);
  const arcount = msg.readUInt16BE(10);
  if (qdcount !== 1)
    return rejected(id, flags, RCODE.FORMERR, `${qdcount} questions`);

  // Question name.
  const qname = readQuestionName(msg);
  if (typeof qname === 'string')
    return rejected(id, flags, RCODE.FORMERR, qname);
  const name = qname.name;
  let offset = qname.end;
  if (offset + 4 > msg.length)
    return rejected(id, flags, RCODE.FORMERR, 'question cut short');
  const qtype = msg.readUInt16BE(offset);
  const qclass = msg.readUInt16BE(offset + 2);
  offset += 4;
  const questionEnd = offset;

  // Answer and authority records: unusual in a query but legal; skip them.
  for (let i = 0; i < ancount + nscount; i++) {
    offset = skipRecord(msg, offset);
    if (offset < 0)
      return rejected(id, flags, RCODE.FORMERR, 'record cut short');
  }
  let edns: Edns | null = null;
  for (let i = 0; i < arcount; i++) {
    const nameEnd = skipName(msg, offset);
    if (nameEnd < 0 || nameEnd + 10 > msg.length) {
      return rejected(id, flags, RCODE.FORMERR, 'record cut short');
    }
    const type = msg.readUInt16BE(nameEnd);
    const rdlength = msg.readUInt16BE(nameEnd + 8);
    const end = nameEnd + 10 + rdlength;
    if (end > msg.length)
      return rejected(id, flags, RCODE.FORMERR, 'record cut short');
    if (type === DNS_TYPE.OPT) {
      // RFC 6891 §6.1.1: one OPT, owned by the root.
      if (edns || nameEnd !== offset + 1)
        return rejected(id, flags, RCODE.FORMERR, 'bad OPT');
      edns = {
        udpSize: Math.max(UDP_CLASSIC_LIMIT, msg.readUInt16BE(nameEnd + 2)),
        version: msg[nameEnd + 5],
      };
    }
    offset = end;
  }
  if (offset !== msg.length)
    return rejected(id, flags, RCODE.FORMERR, 'trailing bytes');
  if (
    qclass !== DNS_CLASS_IN &&
    qclass !== DNS_CLASS_ANY &&
    qclass !== 3 &&
    qclass !== 4
  ) {
    return rejected(id, flags, RCODE.NOTIMP, `class ${qclass}`);
  }
  return {
    kind: 'query',
    query: { id, flags, name, qtype, qclass, questionEnd, edns },
  };
}

function skipRecord(msg: Buffer, offset: number): number {
  const nameEnd = skipName(msg, offset);
  if (nameEnd < 0 || nameEnd + 10 > msg.length) return -1;
  const end = nameEnd + 10 + msg.readUInt16BE(nameEnd + 8);
  return end > msg.length ? -1 : end;
}

/** Encodes a dotted name (no escapes; the agent only encodes names it built) to wire form. */
export function encodeName(name: string): Buffer {
  const trimmed = name.replace(/\.$/, '');
  if (trimmed === '') return Buffer.from([0]);
  const labels = trimmed.split('.');
  const parts: Buffer[] = [];
  let total = 1;
  for (const label of labels) {
    const bytes = Buffer.from(label, 'ascii');
    if (bytes.length === 0 || bytes.length > MAX_LABEL_BYTES) {
      throw new Error(`invalid DNS label in "${name}"`);
    }
    total += bytes.length + 1;
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  if (total > MAX_NAME_BYTES) throw new Error(`DNS name too long: "${name}"`);
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/**
 * One resource record whose owner is the question name (a pointer to offset 12), ready
 * to be appended after the question of any response.
 */
export function encodeAnswerRecord(
  type: number,
  ttl: number,
  rdata: Buffer,
): Buffer {
  const rr = Buffer.alloc(12 + rdata.length);
  rr.writeUInt16BE(0xc00c, 0);
  rr.writeUInt16BE(type, 2);
  rr.writeUInt16BE(DNS_CLASS_IN, 4);
  rr.writeUInt32BE(ttl >>> 0, 6);
  rr.writeUInt16BE(rdata.length, 10);
  rdata.copy(rr, 12);
  return rr;
}

/** Bytes of the OPT record the agent appends when the query had one. */
const OPT_BYTES = 11;

function writeOpt(
  out: Buffer,
  offset: number,
  extendedRcodeHigh: number,
): void {
  out[offset] = 0; // root owner
  out.writeUInt16BE(DNS_TYPE.OPT, offset + 1);
  out.writeUInt16BE(EDNS_ADVERTISED_SIZE, offset + 3);
  out[offset + 5] = extendedRcodeHigh;
  out[offset + 6] = 0; // version 0
  out.writeUInt16BE(0, offset + 7); // no DO: the agent does not sign anything
  out.writeUInt16BE(0, offset + 9); // no options
}

function responseFlags(
  queryFlags: number,
  rcode: number,
  authoritative: boolean,
): number {
  return (
    FLAG_QR |
    (queryFlags & 0x7800) | // opcode
    (authoritative ? FLAG_AA : 0) |
    (queryFlags & FLAG_RD) |
    FLAG_RA |
    (queryFlags & FLAG_CD) |
    (rcode & 0xf)
  );
}

/** The UDP payload a response to this query may use. */
export function udpLimit(query: Pick<Query, 'edns'>): number {
  return query.edns ? Math.min(query.edns.udpSize, 65_535) : UDP_CLASSIC_LIMIT;
}

/**
 * A response to `query` (its question echoed byte for byte from `raw`, so a resolver
 * using 0x20 case randomisation accepts it) with the given answer records.
 * When it would not fit `limit`, the answers are left out and TC is set (RFC 2181 §9).
 */
export function buildResponse(
  raw: Buffer,
  query: Query,
  rcode: number,
  answers: Buffer | null,
  answerCount: number,
  options: { authoritative: boolean; limit: number },
): Buffer {
  const badVersion = query.edns !== null && query.edns.version > 0;
  const questionBytes = query.questionEnd - HEADER_BYTES;
  const optBytes = query.edns ? OPT_BYTES : 0;
  let answerBytes = badVersion || !answers ? 0 : answers.length;
  let count = answerBytes ? answerCount : 0;
  let flags = responseFlags(
    query.flags,
    badVersion ? 0 : rcode,
    options.authoritative,
  );
  if (HEADER_BYTES + questionBytes + answerBytes + optBytes > options.limit) {
    answerBytes = 0;
    count = 0;
    flags |= FLAG_TC;
  }
  const out = Buffer.allocUnsafe(
    HEADER_BYTES + questionBytes + answerBytes + optBytes,
  );
  out.writeUInt16BE(query.id, 0);
  out.writeUInt16BE(flags, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(count, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(query.edns ? 1 : 0, 10);
  raw.copy(out, HEADER_BYTES, HEADER_BYTES, query.questionEnd);
  let offset = query.questionEnd;
  if (answerBytes && answers) {
    answers.copy(out, offset);
    offset += answerBytes;
  }
  if (query.edns) writeOpt(out, offset, badVersion ? BADVERS_HIGH_BITS : 0);
  return out;
}

/** A bare header with `rcode` for a query that could not be parsed (FORMERR, NOTIMP). */
export function buildErrorResponse(
  id: number,
  queryFlags: number,
  rcode: number,
): Buffer {
  const out = Buffer.alloc(HEADER_BYTES);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(responseFlags(queryFlags, rcode, false), 2);
  return out;
}

/**
 * A relayed upstream response that does not fit the client's UDP limit: keep header and
 * question, set TC so the client retries over TCP. Returns null if even that is invalid.
 */
export function truncateResponse(
  response: Buffer,
  limit: number,
): Buffer | null {
  if (response.length <= limit) return response;
  if (response.length < HEADER_BYTES) return null;
  const qdcount = response.readUInt16BE(4);
  let end = HEADER_BYTES;
  for (let i = 0; i < qdcount; i++) {
    const nameEnd = skipName(response, end);
    if (nameEnd < 0 || nameEnd + 4 > response.length) return null;
    end = nameEnd + 4;
  }
  if (end > limit) return null;
  const out = Buffer.from(response.subarray(0, end));
  out.writeUInt16BE(out.readUInt16BE(2) | FLAG_TC, 2);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}

/**
 * Reads the ID, QR bit and first question of a response (to match it to the query that
 * was forwarded). Returns null when it is not a well-formed response.
 */
export function responseQuestion(msg: Buffer): {
  id: number;
  name: string;
  qtype: number;
  qclass: number;
  truncated: boolean;
} | null {
  if (msg.length < HEADER_BYTES) return null;
  const flags = msg.readUInt16BE(2);
  if (!(flags & FLAG_QR) || msg.readUInt16BE(4) !== 1) return null;
  let offset = HEADER_BYTES;
  let name = '';
  let wireLength = 0;
  for (;;) {
    if (offset >= msg.length) return null;
    const len = msg[offset];
    if (len === 0) {
      offset += 1;
      break;
    }
    if (len > MAX_LABEL_BYTES) return null;
    wireLength += len + 1;
    if (wireLength >= MAX_NAME_BYTES || offset + 1 + len > msg.length)
      return null;
    const text = labelText(msg, offset + 1, offset + 1 + len);
    name = name ? `${name}.${text}` : text;
    offset += len + 1;
  }
  if (offset + 4 > msg.length) return null;
  return {
    id: msg.readUInt16BE(0),
    name,
    qtype: msg.readUInt16BE(offset),
    qclass: msg.readUInt16BE(offset + 2),
    truncated: (flags & FLAG_TC) !== 0,
  };
}
