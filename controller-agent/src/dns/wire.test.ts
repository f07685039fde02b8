import { decode, makeQuery, Packet } from '../testUtils/dnsMessages';
import {
  buildErrorResponse,
  buildResponse,
  DNS_TYPE,
  encodeAnswerRecord,
  encodeName,
  parseQuery,
  RCODE,
  responseQuestion,
  truncateResponse,
  udpLimit,
} from './wire';

function mustParse(buf: Buffer) {
  const r = parseQuery(buf);
  if (r.kind !== 'query')
    throw new Error(`expected a query, got ${JSON.stringify(r)}`);
  return r.query;
}

describe('parseQuery', () => {
  it('reads id, lower-cased name, type, class and the question end', () => {
    const raw = makeQuery('4.3.2.10.In-Addr.ARPA', DNS_TYPE.PTR, { id: 777 });
    const q = mustParse(raw);
    expect(q).toMatchObject({
      id: 777,
      name: '4.3.2.10.in-addr.arpa',
      qtype: DNS_TYPE.PTR,
      qclass: 1,
      edns: null,
    });
    expect(q.questionEnd).toBe(raw.length);
  });

  it('reads the EDNS payload size, clamped to at least 512', () => {
    const q = mustParse(makeQuery('example.org', DNS_TYPE.A, { edns: true }));
    expect(q.edns).toEqual({ udpSize: 4096, version: 0 });
    const small = makeQuery('example.org', DNS_TYPE.A, { edns: true });
    small.writeUInt16BE(100, small.length - 11 + 3); // OPT class = payload size
    expect(mustParse(small).edns!.udpSize).toBe(512);
  });

  it('escapes dots and control bytes inside labels so they cannot alias a real name', () => {
    // one label "a.b" (not two labels a and b)
    const raw = Buffer.concat([
      Buffer.from('000100000001000000000000', 'hex'),
      Buffer.from([3, 0x61, 0x2e, 0x62, 0]),
      Buffer.from('00010001', 'hex'),
    ]);
    expect(mustParse(raw).name).toBe('a\\046b');
  });

  it('drops messages too short for a header, and responses', () => {
    expect(parseQuery(Buffer.alloc(11)).kind).toBe('drop');
    const response = makeQuery('a.b', DNS_TYPE.A);
    response[2] |= 0x80;
    expect(parseQuery(response)).toEqual({ kind: 'drop', reason: 'response' });
  });

  it.each([
    ['no question', (b: Buffer) => b.writeUInt16BE(0, 4), RCODE.FORMERR],
    ['two questions', (b: Buffer) => b.writeUInt16BE(2, 4), RCODE.FORMERR],
    [
      'claimed additional record missing',
      (b: Buffer) => b.writeUInt16BE(1, 10),
      RCODE.FORMERR,
    ],
    ['opcode STATUS', (b: Buffer) => (b[2] |= 0x10), RCODE.NOTIMP],
  ])('answers %s with its RCODE', (_what, mutate, rcode) => {
    const raw = makeQuery('example.org', DNS_TYPE.A, { id: 42 });
    mutate(raw);
    const r = parseQuery(raw);
    expect(r).toMatchObject({ kind: 'error', id: 42, rcode });
  });

  it('rejects cut, compressed, over-long and trailing-garbage questions', () => {
    const raw = makeQuery('example.org', DNS_TYPE.A);
    expect(parseQuery(raw.subarray(0, raw.length - 2))).toMatchObject({
      rcode: RCODE.FORMERR,
    });
    expect(parseQuery(Buffer.concat([raw, Buffer.from([0])]))).toMatchObject({
      rcode: RCODE.FORMERR,
    });
    const pointer = Buffer.concat([
      raw.subarray(0, 12),
      Buffer.from('c00c00010001', 'hex'),
    ]);
    expect(parseQuery(pointer)).toMatchObject({ rcode: RCODE.FORMERR });
    const long = Buffer.concat([
      raw.subarray(0, 12),
      ...Array.from({ length: 5 }, () =>
        Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)]),
      ),
      Buffer.from('0000010001', 'hex'),
    ]);
    expect(parseQuery(long)).toMatchObject({ rcode: RCODE.FORMERR });
  });

  it('accepts a name of exactly 255 octets and refuses 256', () => {
    const name = (last: number) =>
      [63, 63, 63, last]
        .map((n, i) => String.fromCharCode(97 + i).repeat(n))
        .join('.');
    const ok = mustParse(makeQuery(name(61), DNS_TYPE.A));
    expect(ok.name).toBe(name(61));
    const header = makeQuery('x', DNS_TYPE.A).subarray(0, 12);
    const tooLong = Buffer.concat([
      header,
      ...[63, 63, 63, 62].map((n, i) =>
        Buffer.concat([Buffer.from([n]), Buffer.alloc(n, 97 + i)]),
      ),
      Buffer.from('0000010001', 'hex'),
    ]);
    expect(parseQuery(tooLong)).toMatchObject({
      kind: 'error',
      rcode: RCODE.FORMERR,
    });
  });

  it('rejects two OPT records', () => {
    const raw = makeQuery('example.org', DNS_TYPE.A, { edns: true });
    const opt = raw.subarray(raw.length - 11);
    const two = Buffer.concat([raw, opt]);
    two.writeUInt16BE(2, 10);
    expect(parseQuery(two)).toMatchObject({ rcode: RCODE.FORMERR });
  });
});

describe('buildResponse', () => {
  const ptr = encodeAnswerRecord(
    DNS_TYPE.PTR,
    5,
    encodeName('web-1.web.deployment.shop.pod.cluster.local'),
  );

  it('echoes the question byte for byte and carries the answer (checked with dns2)', () => {
    const raw = makeQuery('4.3.2.10.IN-ADDR.arpa', DNS_TYPE.PTR, { id: 9 });
    const q = mustParse(raw);
    const out = buildResponse(raw, q, RCODE.NOERROR, ptr, 1, {
      authoritative: true,
      limit: 512,
    });
    expect(out.subarray(12, q.questionEnd)).toEqual(
      raw.subarray(12, q.questionEnd),
    );
    const p = decode(out);
    expect(p.header).toMatchObject({
      id: 9,
      qr: 1,
      aa: 1,
      rd: 1,
      ra: 1,
      rcode: 0,
    });
    expect(p.answers).toHaveLength(1);
    expect(p.answers[0]).toMatchObject({
      name: '4.3.2.10.IN-ADDR.arpa',
      type: DNS_TYPE.PTR,
      ttl: 5,
      domain: 'web-1.web.deployment.shop.pod.cluster.local',
    });
  });

  it('adds an OPT record when the query had one, and BADVERS for EDNS versions above 0', () => {
    const raw = makeQuery('a.example', DNS_TYPE.A, { edns: true });
    const q = mustParse(raw);
    const ok = decode(
      buildResponse(raw, q, 0, null, 0, {
        authoritative: true,
        limit: udpLimit(q),
      }),
    );
    expect(ok.additionals[0]).toMatchObject({
      type: DNS_TYPE.OPT,
      class: 1232,
    });
    raw[raw.length - 5] = 1; // EDNS version 1
    const v1 = mustParse(raw);
    const bad = buildResponse(raw, v1, 0, ptr, 1, {
      authoritative: true,
      limit: 4096,
    });
    expect(bad.readUInt16BE(6)).toBe(0); // no answers
    expect(bad[bad.length - 6]).toBe(1); // extended RCODE high bits: 16 = BADVERS
  });

  it('sets TC and leaves the answers out when they do not fit', () => {
    const raw = makeQuery('a.example', DNS_TYPE.A);
    const q = mustParse(raw);
    const out = buildResponse(
      raw,
      q,
      0,
      Buffer.concat(Array(40).fill(ptr)),
      40,
      {
        authoritative: true,
        limit: 512,
      },
    );
    expect(out.length).toBeLessThanOrEqual(512);
    expect(decode(out).header).toMatchObject({ tc: 1, ancount: 0 });
  });

  it('builds bare-header errors that echo id and RD', () => {
    const out = buildErrorResponse(5, 0x0100, RCODE.FORMERR);
    expect(decode(out).header).toMatchObject({
      id: 5,
      qr: 1,
      rd: 1,
      rcode: RCODE.FORMERR,
    });
  });
});

describe('responses from upstream', () => {
  function upstreamAnswer(answers: number): Buffer {
    const p = new Packet();
    p.header.id = 77;
    p.header.qr = 1;
    p.questions.push({
      name: 'big.example',
      type: DNS_TYPE.A,
      class: 1,
    } as any);
    for (let i = 0; i < answers; i++) {
      p.answers.push({
        name: 'big.example',
        type: DNS_TYPE.A,
        class: 1,
        ttl: 1,
        address: `10.0.${i >> 8}.${i & 255}`,
      } as any);
    }
    return p.toBuffer();
  }

  it('reads the question of a response to match it to its query', () => {
    expect(responseQuestion(upstreamAnswer(1))).toEqual({
      id: 77,
      name: 'big.example',
      qtype: DNS_TYPE.A,
      qclass: 1,
      truncated: false,
    });
    expect(responseQuestion(makeQuery('x', 1))).toBeNull(); // not a response
  });

  it('truncates an answer too big for the client to header + question with TC', () => {
    const big = upstreamAnswer(60);
    expect(big.length).toBeGreaterThan(512);
    const cut = truncateResponse(big, 512)!;
    const p = decode(cut);
    expect(p.header).toMatchObject({ tc: 1, ancount: 0, qdcount: 1 });
    expect(p.questions[0].name).toBe('big.example');
    expect(truncateResponse(upstreamAnswer(2), 512)).toEqual(upstreamAnswer(2));
  });
});

describe('encodeName', () => {
  it('refuses labels over 63 octets and names over 255', () => {
    expect(() => encodeName(`${'a'.repeat(64)}.x`)).toThrow(/label/);
    expect(() => encodeName(Array(5).fill('a'.repeat(63)).join('.'))).toThrow(
      /too long/,
    );
    expect(encodeName('a.bc.')).toEqual(
      Buffer.from([1, 0x61, 2, 0x62, 0x63, 0]),
    );
  });
});
