import type { ControllerRight, Grant } from './resources';

/**
 * Whether a caller may replace a Controller's grants with another set: grants cannot
 * escalate. The owner may change anything. Anyone else (a grantee with `share`, or a
 * caller a policy lets through without conditions) may add or change only grants within
 * what their own grants hold, right by right and namespace by namespace (`share`
 * included, so nobody hands out sharing wider than their own); may change or remove
 * only grants within their own; and never touches a grant to the owner. Pure: no I/O.
 */

export interface GrantChanger {
  /** The caller owns the Controller (its owner ref is among their claims). */
  isOwner: boolean;
  /** The Controller's owner ref: grants to it are the owner's to change. */
  owner: string;
  /** The grants that apply to the caller (those matching their ownership refs). */
  held: readonly Grant[];
}

export type GrantChangeDecision =
  | { allowed: true }
  | { allowed: false; problems: string[] };

type Held = Map<ControllerRight, '*' | Set<string>>;

const key = (principal: string) => principal.toLowerCase();

function holdings(held: readonly Grant[]): Held {
  const out: Held = new Map();
  for (const g of held) {
    for (const r of g.rights) {
      const now = out.get(r);
      if (now === '*') continue;
      if (g.namespaces === '*') out.set(r, '*');
      else {
        const set = now ?? new Set<string>();
        for (const ns of g.namespaces) set.add(ns);
        out.set(r, set);
      }
    }
  }
  return out;
}

/** The parts of a grant the caller does not hold, in words; empty when it is within. */
function beyond(g: Grant, held: Held): string[] {
  const out: string[] = [];
  for (const r of g.rights) {
    const mine = held.get(r);
    if (!mine) {
      out.push(`"${r}" (you do not hold it)`);
    } else if (mine !== '*') {
      if (g.namespaces === '*') {
        out.push(
          `"${r}" in every namespace (you hold it in ${[...mine]
            .sort()
            .join(', ')} only)`,
        );
      } else {
        const missing = g.namespaces.filter(ns => !mine.has(ns));
        if (missing.length)
          out.push(
            `"${r}" in ${missing.join(', ')} (you do not hold it there)`,
          );
      }
    }
  }
  return out;
}

function same(a: Grant, b: Grant): boolean {
  const norm = (g: Grant) =>
    JSON.stringify([
      [...g.rights].sort(),
      g.namespaces === '*' ? '*' : [...g.namespaces].sort(),
    ]);
  return norm(a) === norm(b);
}

export function planGrantChange(
  changer: GrantChanger,
  before: readonly Grant[],
  after: readonly Grant[],
): GrantChangeDecision {
  if (changer.isOwner) return { allowed: true };
  const held = holdings(changer.held);
  const owner = key(changer.owner);
  const old = new Map(before.map(g => [key(g.principal), g]));
  const next = new Map(after.map(g => [key(g.principal), g]));
  const problems: string[] = [];
  for (const principal of new Set([...old.keys(), ...next.keys()])) {
    const b = old.get(principal);
    const a = next.get(principal);
    if (a && b && same(a, b)) continue;
    const name = (a ?? b)!.principal;
    if (principal === owner) {
      problems.push(
        `the grant to ${name} is the owner's; only the owner changes it`,
      );
      continue;
    }
    if (b) {
      const wider = beyond(b, held);
      if (wider.length)
        problems.push(
          `the grant to ${name} is wider than yours (${wider.join(
            '; ',
          )}); only the owner may ${a ? 'change' : 'remove'} it`,
        );
    }
    if (a) {
      const wider = beyond(a, held);
      if (wider.length)
        problems.push(`you may not grant ${name} ${wider.join('; ')}`);
    }
  }
  return problems.length ? { allowed: false, problems } : { allowed: true };
}
