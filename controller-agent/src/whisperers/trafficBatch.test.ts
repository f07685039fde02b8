import { exchange, STATS } from '../testUtils/trafficFixtures';
import { parseTrafficBatch } from './trafficBatch';

const INSTANCE = {
  attachmentId: 'att1',
  container: 'spider-att1',
  pod: 'web-1',
  namespace: 'shop',
};

describe('parseTrafficBatch', () => {
  it('accepts a valid batch of this instance', () => {
    const body = {
      exchanges: [exchange('r.1'), exchange('r.2')],
      flows: [],
      stats: STATS,
    };
    expect(parseTrafficBatch(body, INSTANCE)).toEqual({
      ok: true,
      batch: body,
    });
  });

  it.each([
    ['a body that is not an object', [], /^\(body\): /],
    ['a missing field', { exchanges: [], flows: [] }, /^stats: /],
    [
      'an unknown top-level field',
      { exchanges: [], flows: [], stats: null, extra: 1 },
      /extra/,
    ],
    [
      'an unknown nested field',
      {
        exchanges: [{ ...exchange('r.1'), colour: 'red' }],
        flows: [],
        stats: null,
      },
      /^exchanges\[0\].*colour/,
    ],
    [
      'a wrongly typed nested field',
      {
        exchanges: [
          exchange('r.1'),
          exchange('r.2', 0, { durationMs: -1 } as any),
        ],
        flows: [],
        stats: null,
      },
      /^exchanges\[1\]\.durationMs: /,
    ],
    [
      'a bad header',
      {
        exchanges: [
          exchange('r.1', 0, {
            request: { ...exchange('r.1').request, headers: [['a', 1 as any]] },
          }),
        ],
        flows: [],
        stats: null,
      },
      /^exchanges\[0\]\.request\.headers\[0\]\[1\]: /,
    ],
  ])('refuses %s, naming the field', (_what, body, message) => {
    const r = parseTrafficBatch(body, INSTANCE);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toMatch(message);
  });

  it.each([
    ['attachmentId', 'att2'],
    ['container', 'spider-att2'],
    ['pod', 'web-2'],
    ['namespace', 'bank'],
  ] as const)('refuses an exchange claiming another %s', (field, value) => {
    const body = {
      exchanges: [exchange('r.1'), exchange('r.2', 0, { [field]: value })],
      flows: [],
      stats: null,
    };
    expect(parseTrafficBatch(body, INSTANCE)).toEqual({
      ok: false,
      message: `exchanges[1].${field}: must be "${INSTANCE[field]}" (this whisperer instance), got "${value}"`,
    });
  });
});
