import { namespaceInScope } from './namespaceScope';

describe('namespaceInScope', () => {
  it.each([
    [{ include: '*' as const, exclude: [] }, 'a', true],
    [{ include: '*' as const, exclude: ['a'] }, 'a', false],
    [{ include: [], exclude: [] }, 'a', false],
    [{ include: ['a'], exclude: [] }, 'b', false],
    [{ include: ['a', 'b'], exclude: ['b'] }, 'b', false],
    [{ include: ['a', 'b'], exclude: [] }, 'b', true],
  ])('namespaceInScope(%j, %s) = %s', (scope, ns, expected) => {
    expect(namespaceInScope(scope, ns)).toBe(expected);
  });
});
