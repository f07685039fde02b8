import { GrantChanger, planGrantChange } from './grantChange';
import type { Grant } from './resources';

const OWNER = 'user:default/owner';
const ME = 'user:default/sharer';
const mine: Grant = {
  principal: ME,
  rights: ['read', 'use', 'share'],
  namespaces: ['shop', 'pay'],
};
const sharer: GrantChanger = { isOwner: false, owner: OWNER, held: [mine] };
const g = (
  principal: string,
  rights: Grant['rights'],
  namespaces: Grant['namespaces'],
): Grant => ({ principal, rights, namespaces });
const bob = (rights: Grant['rights'], namespaces: Grant['namespaces']) =>
  g('user:default/bob', rights, namespaces);

describe('planGrantChange', () => {
  it.each<[string, GrantChanger, Grant[], Grant[], boolean, RegExp | null]>([
    [
      'owner may do anything',
      { ...sharer, isOwner: true },
      [mine],
      [bob(['delete', 'share'], '*')],
      true,
      null,
    ],
    [
      'sharer grants a subset of what they hold',
      sharer,
      [mine],
      [mine, bob(['read', 'use'], ['shop'])],
      true,
      null,
    ],
    [
      'sharer passes on share within their namespaces',
      sharer,
      [mine],
      [mine, bob(['share', 'read'], ['pay'])],
      true,
      null,
    ],
    [
      'sharer may not grant a right they lack',
      sharer,
      [mine],
      [mine, bob(['delete'], ['shop'])],
      false,
      /may not grant user:default\/bob "delete" \(you do not hold it\)/,
    ],
    [
      'sharer may not grant another namespace',
      sharer,
      [mine],
      [mine, bob(['use'], ['shop', 'bank'])],
      false,
      /"use" in bank \(you do not hold it there\)/,
    ],
    [
      'sharer may not grant every namespace',
      sharer,
      [mine],
      [mine, bob(['read'], '*')],
      false,
      /"read" in every namespace \(you hold it in pay, shop only\)/,
    ],
    [
      'sharer may not give share beyond their scope',
      sharer,
      [mine],
      [mine, bob(['share'], ['bank'])],
      false,
      /"share" in bank/,
    ],
    [
      'sharer may not widen their own grant',
      sharer,
      [mine],
      [{ ...mine, rights: ['read', 'use', 'share', 'delete'] }],
      false,
      /user:default\/sharer "delete"/,
    ],
    [
      'sharer may not widen their own namespaces',
      sharer,
      [mine],
      [{ ...mine, namespaces: '*' }],
      false,
      /every namespace/,
    ],
    [
      'sharer may narrow their own grant',
      sharer,
      [mine],
      [{ ...mine, rights: ['read'] }],
      true,
      null,
    ],
    [
      'sharer may remove a grant within theirs',
      sharer,
      [mine, bob(['read'], ['shop'])],
      [mine],
      true,
      null,
    ],
    [
      'sharer may not remove a wider grant',
      sharer,
      [mine, bob(['read'], '*')],
      [mine],
      false,
      /grant to user:default\/bob is wider than yours .*only the owner may remove it/,
    ],
    [
      'sharer may not narrow a wider grant either',
      sharer,
      [mine, bob(['delete'], ['shop'])],
      [mine, bob(['read'], ['shop'])],
      false,
      /only the owner may change it/,
    ],
    [
      'a wider grant left untouched is no problem',
      sharer,
      [mine, bob(['delete'], '*')],
      [bob(['delete'], '*'), mine, g('group:default/devs', ['read'], ['shop'])],
      true,
      null,
    ],
    [
      'order and spelling of an unchanged grant do not matter',
      sharer,
      [mine, bob(['delete', 'read'], ['b', 'a'])],
      [mine, g('User:default/Bob', ['read', 'delete'], ['a', 'b'])],
      true,
      null,
    ],
    [
      "only the owner edits the owner's grant",
      sharer,
      [mine],
      [mine, g(OWNER, ['read'], ['shop'])],
      false,
      /the grant to user:default\/owner is the owner's/,
    ],
    [
      'nor removes it',
      sharer,
      [mine, g(OWNER, ['read'], ['shop'])],
      [mine],
      false,
      /the owner's/,
    ],
    [
      'a caller holding nothing may change nothing',
      { isOwner: false, owner: OWNER, held: [] },
      [],
      [g(ME, ['read', 'use', 'share', 'delete'], '*')],
      false,
      /you do not hold it/,
    ],
    [
      "grants from several of the caller's groups add up",
      {
        isOwner: false,
        owner: OWNER,
        held: [
          g('group:default/a', ['use'], ['shop']),
          g('group:default/b', ['use', 'share'], ['pay']),
        ],
      },
      [],
      [bob(['use'], ['shop', 'pay'])],
      true,
      null,
    ],
    [
      'a caller-wide "*" grant covers every namespace',
      { isOwner: false, owner: OWNER, held: [g(ME, ['read', 'share'], '*')] },
      [],
      [bob(['read'], '*')],
      true,
      null,
    ],
  ])('%s', (_name, changer, before, after, allowed, problem) => {
    const d = planGrantChange(changer, before, after);
    expect(d.allowed).toBe(allowed);
    // Refusals say why; allowed changes carry no problems.
    const problems = d.allowed ? '' : d.problems.join('\n');
    expect(problems).toMatch(problem ?? /^$/);
  });
});
