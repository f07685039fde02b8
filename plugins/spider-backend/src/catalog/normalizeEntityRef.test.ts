import { normalizeEntityRef } from './normalizeEntityRef';

describe('normalizeEntityRef', () => {
  it.each([
    ['component:default/payments', 'component:default/payments'],
    ['Component:Default/Payments', 'component:default/payments'],
    ['group:default/Team-B', 'group:default/team-b'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeEntityRef(input)).toBe(expected);
  });
});
