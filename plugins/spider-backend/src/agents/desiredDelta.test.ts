import { desiredDelta } from './desiredDelta';

describe('desiredDelta', () => {
  it('lists the ids the agent lacks and the ones it must drop, in the order given', () => {
    expect(
      desiredDelta(new Set(['a', 'b', 'c']), ['b', 'd', 'c', 'e']),
    ).toEqual({ added: ['d', 'e'], removed: ['a'] });
  });

  it('is empty when nothing changed (a revision bump that touched no attachment)', () => {
    expect(desiredDelta(new Set(['a', 'b']), ['b', 'a'])).toEqual({
      added: [],
      removed: [],
    });
  });

  it('drops everything when the set became empty, and adds everything to an empty one', () => {
    expect(desiredDelta(new Set(['a', 'b']), [])).toEqual({
      added: [],
      removed: ['a', 'b'],
    });
    expect(desiredDelta(new Set(), ['a', 'b'])).toEqual({
      added: ['a', 'b'],
      removed: [],
    });
  });

  it('adds an id listed twice once', () => {
    expect(desiredDelta(new Set(), ['a', 'a'])).toEqual({
      added: ['a'],
      removed: [],
    });
  });
});
