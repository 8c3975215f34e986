// Classes of one dimension (peer address, or (protocol, port)) for one endpoint: the regions of the space that
// no rule boundary crosses, grouped by the set of rules that match them.
//
// Every prefix that some rule names becomes a node; the region of a node is the addresses whose longest
// matching node it is. A rule's set is a union of positive prefixes minus a union of negative ones, so whether
// it matches is the same for the whole region (membership in any node is decided by the longest matching
// node). The trie gets one entry per node whose class differs from its nearest ancestor's (the root is
// written only when its class is not 0), so an LPM lookup returns the class of the packet's region.
//
// Class 0 is the region matched by no constrained rule. Rules that do not constrain the dimension at all
// ("unconstrained") match every class and are kept apart, so they cost nothing here.
import { contains, type Prefix } from './prefix';

export interface DimRule {
  /** index of the rule in the endpoint's flattened chain */
  rule: number;
  /** 'all' = the whole space */
  pos: Prefix[] | 'all';
  neg: Prefix[];
}

export interface DimClasses {
  width: number;
  /** trie entries: prefix -> class id */
  entries: { p: Prefix; cls: number }[];
  /** number of classes, ids 0..count-1 */
  count: number;
  /** classes each constrained rule matches (unconstrained rules match all classes) */
  classesOf: Map<number, number[]>;
  unconstrained: Set<number>;
}

interface Node {
  p: Prefix;
  pos: number[];
  neg: number[];
  cls: number;
}

// Two independent 32-bit random tags per rule; a class is found by the XOR of its rules' tags (Zobrist
// hashing), so moving between nodes costs only the rules that change. The hash only finds candidates: a hit
// is confirmed by comparing the sets (the size of the class, as a new class already costs).
function tags(n: number, seed: number): Uint32Array {
  const t = new Uint32Array(n * 2);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < t.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    t[i] = s;
  }
  return t;
}

export interface ClassOptions {
  /** the per-rule tag generator of the set hash (tests inject colliding ones); default: xorshift tags */
  tags?: (nRules: number) => Uint32Array;
}

export function computeClasses(width: number, rules: DimRule[], nRules: number, opts: ClassOptions = {}): DimClasses {
  const nodes = new Map<string, Node>();
  const node = (p: Prefix): Node => {
    const k = `${p.v}/${p.len}`;
    let n = nodes.get(k);
    if (!n) {
      n = { p, pos: [], neg: [], cls: 0 };
      nodes.set(k, n);
    }
    return n;
  };
  const root = node({ v: 0n, len: 0 });
  const unconstrained = new Set<number>();
  for (const r of rules) {
    if (r.pos === 'all' && r.neg.length === 0) {
      unconstrained.add(r.rule);
      continue;
    }
    if (r.pos === 'all') root.pos.push(r.rule);
    else for (const p of r.pos) node(p).pos.push(r.rule);
    for (const p of r.neg) node(p).neg.push(r.rule);
  }
  // Address order, shorter first: ancestors come before their descendants, and each subtree is contiguous.
  const sorted = [...nodes.values()].sort((a, b) => (a.p.v < b.p.v ? -1 : a.p.v > b.p.v ? 1 : a.p.len - b.p.len));

  const tag = opts.tags ? opts.tags(nRules) : tags(nRules, 0x9e3779b9);
  const posCount = new Int32Array(nRules);
  const negCount = new Int32Array(nRules);
  const active = new Set<number>();
  let h1 = 0;
  let h2 = 0;
  const flip = (r: number): void => {
    h1 ^= tag[2 * r];
    h2 ^= tag[2 * r + 1];
  };
  const refresh = (r: number): void => {
    const on = posCount[r] > 0 && negCount[r] === 0;
    if (on !== active.has(r)) {
      flip(r);
      if (on) active.add(r);
      else active.delete(r);
    }
  };
  const enter = (n: Node, d: 1 | -1): void => {
    for (const r of n.pos) posCount[r] += d;
    for (const r of n.neg) negCount[r] += d;
    for (const r of n.pos) refresh(r);
    for (const r of n.neg) refresh(r);
  };

  // hash -> the classes with that hash; members[c] = the rules of class c (its canonical set). A hash only
  // finds candidates: a class is reused only when its set equals the active one, so two sets that collide
  // get distinct ids (the next free one, in the deterministic walk order), never a shared class.
  const classIds = new Map<string, number>([['0:0', 0]]); // the first class with each hash
  const collided = new Map<string, number[]>(); // further classes whose hash equals an earlier one's
  const members: number[][] = [[]];
  const isActive = (set: number[]): boolean => set.length === active.size && set.every((r) => active.has(r));
  const classesOf = new Map<number, number[]>();
  const entries: { p: Prefix; cls: number }[] = [];
  const stack: Node[] = [];
  for (const n of sorted) {
    while (stack.length > 0 && !contains(stack[stack.length - 1].p, n.p, width)) enter(stack.pop() as Node, -1);
    const parentCls = stack.length > 0 ? stack[stack.length - 1].cls : 0;
    enter(n, 1);
    stack.push(n);
    const key = `${h1 >>> 0}:${h2 >>> 0}`;
    const first = classIds.get(key);
    let cls = first === undefined || isActive(members[first]) ? first : collided.get(key)?.find((c) => isActive(members[c]));
    if (cls === undefined) {
      cls = members.length;
      const set = new Array<number>(active.size);
      let i = 0;
      for (const r of active) {
        set[i++] = r;
        let l = classesOf.get(r);
        if (!l) classesOf.set(r, (l = []));
        l.push(cls);
      }
      members.push(set);
      if (first === undefined) classIds.set(key, cls);
      else {
        const more = collided.get(key);
        if (more) more.push(cls);
        else collided.set(key, [cls]);
      }
    }
    n.cls = cls;
    if (cls !== parentCls) entries.push({ p: n.p, cls });
  }
  return { width, entries, count: members.length, classesOf, unconstrained };
}

/** Classes a rule matches in a dimension. */
export function classesOfRule(d: DimClasses, rule: number): number[] | 'all' {
  if (d.unconstrained.has(rule)) return 'all';
  return d.classesOf.get(rule) ?? [];
}
