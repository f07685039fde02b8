import { makeExchange } from '../../__testUtils__/FakeSpiderApi';
import { mergeExchanges, newExchanges } from './useTrafficFeed';

const at = (ms: number) => Date.parse('2026-12-01T10:00:00.000Z') + ms;

describe('mergeExchanges', () => {
  const list = [3000, 2000, 2000, 1000].map((t, i) =>
    makeExchange({ id: `old-${i}`, at: at(t) }),
  );

  it('puts new exchanges in time order and drops ids it already has', () => {
    const incoming = [
      makeExchange({ id: 'new-1', at: at(2500) }),
      { ...list[1] },
      makeExchange({ id: 'new-2', at: at(4000) }),
      makeExchange({ id: 'new-2', at: at(4000) }),
    ];
    expect(mergeExchanges(list, incoming).map(e => e.id)).toEqual([
      'new-2',
      'old-0',
      'new-1',
      'old-1',
      'old-2',
      'old-3',
    ]);
  });

  it('appends an older page at the end and keeps the list when nothing is new', () => {
    const older = [{ ...list[3] }, makeExchange({ id: 'older', at: at(500) })];
    expect(mergeExchanges(list, older).map(e => e.id)).toEqual([
      'old-0',
      'old-1',
      'old-2',
      'old-3',
      'older',
    ]);
    expect(mergeExchanges(list, [{ ...list[0] }, { ...list[2] }])).toBe(list);
  });

  it('finds repeats among many exchanges of the same time', () => {
    const same = Array.from({ length: 50 }, (_, i) =>
      makeExchange({ id: `s-${i}`, at: at(1000) }),
    );
    const current = [makeExchange({ id: 'top', at: at(2000) }), ...same];
    expect(
      newExchanges(current, [
        { ...same[49] },
        makeExchange({ id: 'x', at: at(1000) }),
      ]).map(e => e.id),
    ).toEqual(['x']);
  });
});
