import { namespaceAllowed, resolveNamespaceAccess } from './namespaceAccess';
import { Grant } from '@spider/backstage-plugin-spider-common';

const grants: Grant[] = [
  {
    principal: 'group:default/team-b',
    rights: ['read', 'use'],
    namespaces: ['team-b'],
  },
  { principal: 'user:default/jane', rights: ['read'], namespaces: ['team-c'] },
  { principal: 'group:default/ops', rights: ['read', 'use'], namespaces: '*' },
];

describe('resolveNamespaceAccess', () => {
  const base = { isOwner: false, grants, installScope: null };

  it('gives an owner every namespace the install covers', () => {
    const a = resolveNamespaceAccess({
      ...base,
      isOwner: true,
      claims: ['user:default/owner'],
      right: 'use',
      installScope: { include: ['a', 'b'], exclude: ['b'] },
    });
    expect(a).toEqual({ include: ['a'], exclude: [] });
  });

  it('unions the grants matching user and group refs that carry the right', () => {
    const a = resolveNamespaceAccess({
      ...base,
      claims: ['user:default/jane', 'group:default/team-b'],
      right: 'read',
    });
    expect(a).toEqual({ include: ['team-b', 'team-c'], exclude: [] });
    const use = resolveNamespaceAccess({
      ...base,
      claims: ['user:default/jane', 'group:default/team-b'],
      right: 'use',
    });
    expect(use).toEqual({ include: ['team-b'], exclude: [] });
  });

  it('gives nothing to a caller without a matching grant', () => {
    const a = resolveNamespaceAccess({
      ...base,
      claims: ['user:default/bob'],
      right: 'read',
    });
    expect(a.include).toEqual([]);
    expect(namespaceAllowed(a, 'team-b')).toBe(false);
  });

  it('intersects a "*" grant with the install scope', () => {
    const a = resolveNamespaceAccess({
      ...base,
      claims: ['group:default/ops'],
      right: 'use',
      installScope: { include: '*', exclude: ['kube-system'] },
    });
    expect(namespaceAllowed(a, 'anything')).toBe(true);
    expect(namespaceAllowed(a, 'kube-system')).toBe(false);
  });

  it('never widens beyond the install scope', () => {
    const a = resolveNamespaceAccess({
      ...base,
      claims: ['group:default/team-b'],
      right: 'use',
      installScope: { include: ['team-a'], exclude: [] },
    });
    expect(a.include).toEqual([]);
  });
});
