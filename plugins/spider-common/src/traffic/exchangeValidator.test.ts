import { capturedExchangeSchema, TRAFFIC_LIMITS } from './exchange';
import { exchangeIssue, fastExchangesSchema } from './exchangeValidator';
import { z } from 'zod';

/** A small deterministic PRNG, so a failure names its seed and reproduces. */
function prng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

type Rand = ReturnType<typeof prng>;
const pick = <T>(r: Rand, xs: readonly T[]): T =>
  xs[Math.floor(r() * xs.length)];
const str = (r: Rand, max: number) =>
  'abcXYZ-._:é€😀 \n'.repeat(4).slice(0, Math.floor(r() * Math.min(max, 40)));

function header(r: Rand): [string, string] {
  return [str(r, 20) || 'h', str(r, 40)];
}

function body(r: Rand) {
  if (r() < 0.3) return null;
  return {
    encoding: pick(r, ['utf8', 'base64'] as const),
    text: str(r, 100),
    truncated: r() < 0.5,
  };
}

function endpoint(r: Rand) {
  return {
    ip: pick(r, ['10.0.0.1', 'fe80::1', '::1', '10.255.255.255']),
    port: Math.floor(r() * 65536),
    name: r() < 0.5 ? null : str(r, 60),
  };
}

/** A valid exchange, varied over every optional part. */
function validExchange(r: Rand): any {
  const protocol = pick(r, ['http/1.0', 'http/1.1', 'h2', 'grpc'] as const);
  return {
    id: `${Math.floor(r() * 1e6)}.${pick(r, [
      'a',
      'B',
      '_',
      ':',
      '-',
    ])}${Math.floor(r() * 1e9)}`,
    attachmentId: str(r, 64),
    container: str(r, 63),
    pod: str(r, 253),
    namespace: str(r, 63),
    protocol,
    direction: pick(r, ['inbound', 'outbound'] as const),
    startedAt: new Date(1.7e12 + Math.floor(r() * 1e11)).toISOString(),
    durationMs: r() < 0.5 ? Math.floor(r() * 1000) : r() * 86_400_000,
    client: endpoint(r),
    server: endpoint(r),
    request: {
      method: pick(r, ['GET', 'POST', 'PRI', 'x']),
      path: str(r, 200),
      authority: str(r, 100),
      headers: Array.from({ length: Math.floor(r() * 5) }, () => header(r)),
      bodySize: Math.floor(r() * 1e6),
      body: body(r),
    },
    response:
      r() < 0.2
        ? null
        : {
            status: 100 + Math.floor(r() * 900),
            headers: Array.from({ length: Math.floor(r() * 5) }, () =>
              header(r),
            ),
            trailers: Array.from({ length: Math.floor(r() * 2) }, () =>
              header(r),
            ),
            bodySize: Math.floor(r() * 1e6),
            body: body(r),
          },
    grpc:
      protocol === 'grpc' && r() < 0.8
        ? {
            service: str(r, 50),
            method: str(r, 50),
            status: r() < 0.3 ? null : Math.floor(r() * 1001),
            message: r() < 0.5 ? null : str(r, 50),
          }
        : null,
    error:
      r() < 0.7 ? null : pick(r, ['reset', 'timeout', 'truncated', 'unparsed']),
  };
}

/** Every path to a value inside `v` (objects and arrays included). */
function paths(
  v: any,
  at: Array<string | number> = [],
): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v && typeof v === 'object')
    for (const k of Object.keys(v)) out.push(...paths(v[k], [...at, k]));
  return out;
}

const s = (n: number) => 'x'.repeat(n);
/** Values a mutation puts somewhere: wrong types, and the edges of every limit. */
const REPLACEMENTS: unknown[] = [
  null,
  undefined,
  true,
  0,
  -1,
  -0,
  0.5,
  1.5,
  99,
  100,
  999,
  1000,
  1001,
  65535,
  65536,
  86_400_000,
  86_400_001,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  1e300,
  NaN,
  Infinity,
  '',
  'a',
  '1',
  'GET',
  'h2',
  'grpc',
  'inbound',
  'reset',
  'utf8',
  'base64',
  'bad id!',
  'a.b:c_d-e',
  s(1),
  s(2),
  s(40),
  s(41),
  s(44),
  s(45),
  s(46),
  s(63),
  s(64),
  s(65),
  s(253),
  s(254),
  s(256),
  s(257),
  s(1024),
  s(1025),
  s(4096),
  s(4097),
  s(TRAFFIC_LIMITS.maxPathChars),
  s(TRAFFIC_LIMITS.maxPathChars + 1),
  s(TRAFFIC_LIMITS.maxHeaderValueChars + 1),
  [],
  ['a'],
  ['a', 'b'],
  ['a', 'b', 'c'],
  ['a', 1],
  [['a', 'b']],
  Array.from({ length: TRAFFIC_LIMITS.maxHeaders }, () => ['a', 'b']),
  Array.from({ length: TRAFFIC_LIMITS.maxHeaders + 1 }, () => ['a', 'b']),
  {},
  { encoding: 'utf8', text: '', truncated: false },
  { encoding: 'utf8', text: '', truncated: 'no' },
  { ip: '1.1.1.1', port: 1, name: null },
  { service: '', method: '', status: null, message: null },
];

function setAt(root: any, path: Array<string | number>, value: unknown): any {
  if (path.length === 0) return value;
  const copy = structuredClone(root);
  let cur = copy;
  for (const k of path.slice(0, -1)) cur = cur[k];
  const last = path[path.length - 1];
  if (value === undefined && !Array.isArray(cur)) delete cur[last];
  else cur[last] = value;
  return copy;
}

function mutate(r: Rand, e: any): any {
  const all = paths(e);
  const at = pick(r, all);
  const kind = r();
  if (kind < 0.1) {
    // An extra key on an object on the way.
    const target = all.filter(p => {
      let v = e;
      for (const k of p) v = v[k];
      return v && typeof v === 'object' && !Array.isArray(v);
    });
    if (!target.length) return e;
    const p = pick(r, target);
    const copy = structuredClone(e);
    let v = copy;
    for (const k of p) v = v[k];
    // An own key, as JSON.parse makes even for __proto__.
    Object.defineProperty(
      v,
      pick(r, ['extra', 'Id', '__proto__', 'constructor']),
      {
        value: 1,
        enumerable: true,
        writable: true,
        configurable: true,
      },
    );
    return copy;
  }
  return setAt(e, at, pick(r, REPLACEMENTS));
}

function agree(value: unknown, label: string) {
  const zod = capturedExchangeSchema.safeParse(value);
  const fast = exchangeIssue(value);
  if (zod.success !== (fast === undefined)) {
    throw new Error(
      `${label}: zod ${
        zod.success
          ? 'accepts'
          : `rejects (${JSON.stringify(zod.error?.issues.map(i => i.path))})`
      }, the fast check ${
        fast ? `rejects at ${fast.path.join('.')}: ${fast.message}` : 'accepts'
      }: ${JSON.stringify(value)?.slice(0, 400)}`,
    );
  }
  if (fast) {
    // The path it names is one zod names too (zod may name more than one).
    const zodPaths = zod.error!.issues.map(i => i.path.join('.'));
    if (!zodPaths.includes(fast.path.join('.')))
      throw new Error(
        `${label}: fast path ${fast.path.join(
          '.',
        )} not among zod's ${JSON.stringify(zodPaths)}: ${JSON.stringify(
          value,
        )?.slice(0, 400)}`,
      );
  }
  return zod.success;
}

describe('exchangeIssue agrees with capturedExchangeSchema', () => {
  it('accepts every generated valid exchange', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const e = validExchange(prng(seed));
      expect(agree(e, `valid seed ${seed}`)).toBe(true);
    }
  });

  it('rejects exactly what zod rejects over mutated exchanges, naming a path zod names', () => {
    let rejected = 0;
    let accepted = 0;
    for (let seed = 1; seed <= 20_000; seed++) {
      const r = prng(seed * 7919);
      let e = validExchange(r);
      const mutations = 1 + Math.floor(r() * 3);
      for (let m = 0; m < mutations; m++) e = mutate(r, e);
      if (agree(e, `mutation seed ${seed}`)) accepted++;
      else rejected++;
    }
    // Both sides of the boundary are exercised, not only garbage.
    expect(rejected).toBeGreaterThan(10_000);
    expect(accepted).toBeGreaterThan(500);
  });

  it('says where and why', () => {
    const e = validExchange(prng(3));
    expect(exchangeIssue(setAt(e, ['request', 'method'], ''))).toEqual({
      path: ['request', 'method'],
      message: 'too short: at least 1 characters',
    });
    expect(exchangeIssue({ ...e, extra: 1 })).toEqual({
      path: [],
      message: 'unrecognized key "extra"',
    });
    expect(exchangeIssue(setAt(e, ['client', 'port'], 70000), [4])).toEqual({
      path: [4, 'client', 'port'],
      message: 'out of range: 0 to 65535',
    });
  });
});

describe('fastExchangesSchema', () => {
  const reference = z.array(capturedExchangeSchema).max(3);
  const fast = fastExchangesSchema(3);

  it('accepts and rejects as z.array(capturedExchangeSchema).max(n), with the exchange index in the path', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = prng(seed);
      const items = Array.from({ length: Math.floor(r() * 5) }, () =>
        r() < 0.3 ? mutate(r, validExchange(r)) : validExchange(r),
      );
      const a = reference.safeParse(items);
      const b = fast.safeParse(items);
      expect({ seed, ok: b.success }).toEqual({ seed, ok: a.success });
      // Same output when valid; when not, the path it names is one zod names.
      expect(b.data).toEqual(a.data);
      const zodPaths = a.error?.issues.map(i => i.path.join('.')) ?? [];
      const fastPath = b.error?.issues[0].path.join('.');
      expect(fastPath === undefined || zodPaths.includes(fastPath)).toBe(true);
    }
  });
});
