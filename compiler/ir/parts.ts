// How an address list of the IR was made, kept beside the IR (not part of it: a Program prints and compares the
// same with or without it). Lowering unions a rule's peers (pods of a selector, an ipBlock, ...) into one flat
// prefix list per rule, so rules naming the same peer sets among others hold different lists. When the flat list
// is exactly the prefixes of some shared part lists put together (no prefix of one part touches or overlaps
// another's), lowering records those parts here; the BPF emit then works per part (emit/bpf/classes.ts), once
// for every rule that shares it, instead of per prefix of every rule's list.
import type { Cidr } from '../model/types';

const partsOf = new WeakMap<readonly Cidr[], readonly (readonly Cidr[])[]>();

/**
 * Records that `list` holds exactly the prefixes of `parts` (each prefix of each part once, no other prefix).
 * The caller vouches for it; a list with fewer than two non-empty parts is not recorded (it is its own part).
 */
export function recordParts(list: readonly Cidr[], parts: readonly (readonly Cidr[])[]): void {
  const nonEmpty = parts.filter((p) => p.length > 0);
  if (nonEmpty.length > 1) partsOf.set(list, nonEmpty);
}

/** The parts a list was recorded as made of, or undefined (then the list is one part). */
export function cidrParts(list: readonly Cidr[]): readonly (readonly Cidr[])[] | undefined {
  return partsOf.get(list);
}

/** Two address lists with the same prefixes in the same order (the content test behind identity caches of lists). */
export function sameCidrs(a: readonly Cidr[], b: readonly Cidr[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
