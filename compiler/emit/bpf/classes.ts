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
import { cidrFamily, cidrToPrefix, type Prefix } from './prefix';

export interface DimRule {
  /** index of the rule in the endpoint's flattened chain */
  rule: number;
  /** 'all' = the whole space */
  pos: Prefix[] | 'all';
  neg: Prefix[];
  /**
   * Address dimensions: positive CIDR texts instead of pos (then ignored); those of the dimension's family
   * (width 32: IPv4, 128: IPv6) are the positive prefixes. Each text is looked up once per call, not per rule.
   */
  cidrs?: readonly string[];
  /**
   * cidrs as the part lists it is exactly the prefixes of (ir/parts.ts); absent: cidrs is one part. A part is
   * made into nodes once per call, however many rules' lists hold it.
   */
  cidrParts?: readonly (readonly string[])[];
}

export interface DimClasses {
  width: number;
  /** trie entries: prefix -> class id */
  entries: { p: Prefix; cls: number; tableId?: number }[];
  /** number of classes, ids 0..count-1 */
  count: number;
  /** classes each constrained rule matches (unconstrained rules match all classes) */
  classesOf: Map<number, number[]>;
  unconstrained: Set<number>;
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
  /** the entries are made with this table_id first (tables.ts's ClassEntry), so they go into the maps as they are */
  tableId?: number;
}

// A node: a prefix of one space (width), kept across calls, since a build's tables name the same prefixes over
// and over (the same pod addresses, the same ports). It is its own node in each call that reaches it: `stamp`
// says which call its per-call fields (units, parts, class) belong to; they are reset when a call first reaches
// it, so a table allocates no node and looks no prefix up but the ones new to the build. computeClasses is not
// reentrant (nothing it calls calls it).
interface Node {
  p: Prefix;
  /** first and last value the prefix covers: numbers for widths up to 32 bits, else bigints */
  lo: number | bigint;
  hi: number | bigint;
  /** the call the fields below belong to */
  stamp: number;
  /** units with the prefix in their positive, negative list; parts (of cidrs lists) holding the prefix */
  pos: number[];
  neg: number[];
  parts: number[];
  cls: number;
}

/** The nodes of one width: by Prefix object (cidrToPrefix and portDim share them), else by value. */
interface Space {
  small: boolean;
  byObject: WeakMap<Prefix, Node>;
  byValue: Map<number | string, Node>;
}

// DimRule.cidrs texts: each parsed once, to its family and its node in that family's space.
interface TextNode {
  family: number;
  node: Node;
}

/** Nodes kept (about) before the next call starts afresh: a bound on what a long-lived process holds. */
const NODE_LIMIT = 1_000_000;
const SPACES = new Map<number, Space>();
const TEXT_NODES = new Map<string, TextNode>();
// The text nodes of a part list, kept with the list (the IR is immutable): the tables of a build that hold a part
// go through it without a text lookup. `gen`: the nodes' generation (they are dropped past NODE_LIMIT).
const LIST_NODES = new WeakMap<readonly string[], { gen: number; nodes: TextNode[] }>();
let gen = 0;
let nodeCount = 0;
let calls = 0;

function spaceOf(width: number): Space {
  let s = SPACES.get(width);
  if (!s) SPACES.set(width, (s = { small: width <= 32, byObject: new WeakMap(), byValue: new Map() }));
  return s;
}

function nodeIn(width: number, p: Prefix): Node {
  const s = spaceOf(width);
  let n = s.byObject.get(p);
  if (n) return n;
  // a node's key among equal prefixes: value and length (numbers up to 32 bits)
  const k = s.small ? Number(p.v) * 256 + p.len : `${p.v}/${p.len}`;
  n = s.byValue.get(k);
  if (!n) {
    const lo = s.small ? Number(p.v) : p.v;
    const hi = s.small ? (lo as number) + 2 ** (width - p.len) - 1 : p.v + (1n << BigInt(width - p.len)) - 1n;
    n = { p, lo, hi, stamp: 0, pos: [], neg: [], parts: [], cls: 0 };
    s.byValue.set(k, n);
    nodeCount++;
  }
  s.byObject.set(p, n);
  return n;
}

function textNode(c: string): TextNode {
  let t = TEXT_NODES.get(c);
  if (t === undefined) {
    const family = cidrFamily(c);
    TEXT_NODES.set(c, (t = { family, node: nodeIn(family === 4 ? 32 : 128, cidrToPrefix(c)) }));
  }
  return t;
}

function textNodesOf(list: readonly string[]): TextNode[] {
  let l = LIST_NODES.get(list);
  if (l === undefined || l.gen !== gen) LIST_NODES.set(list, (l = { gen, nodes: list.map(textNode) }));
  return l.nodes;
}

const ROOT: Prefix = { v: 0n, len: 0 };

// Nodes of widths up to 32 bits in address order, shorter first, by a numeric sort of one number per node:
// (lo * 64 + length) * 2^15 + its place, below 2^53 (lo < 2^32, length <= 32) while there are at most 2^15 nodes
// (a Float64Array sorts natively; a comparator is called per comparison). More nodes: the comparator.
const PLACES = 2 ** 15;
function sortSmall(nodes: Node[]): void {
  if (nodes.length > PLACES) {
    nodes.sort((a, b) => (a.lo as number) - (b.lo as number) || a.p.len - b.p.len);
    return;
  }
  const keys = new Float64Array(nodes.length);
  for (let i = 0; i < nodes.length; i++) keys[i] = ((nodes[i].lo as number) * 64 + nodes[i].p.len) * PLACES + i;
  keys.sort();
  const was = nodes.slice();
  for (let i = 0; i < keys.length; i++) nodes[i] = was[keys[i] % PLACES];
}

export function computeClasses(width: number, rules: DimRule[], nRules: number, opts: ClassOptions = {}): DimClasses {
  if (nodeCount > NODE_LIMIT || TEXT_NODES.size > NODE_LIMIT) {
    // only between calls: a node of a call must stay the one node of its prefix until the call returns (texts
    // are bounded too: several texts may name one prefix)
    SPACES.clear();
    TEXT_NODES.clear();
    nodeCount = 0;
    gen++;
  }
  const stamp = ++calls;
  const nodes: Node[] = []; // the nodes of this call
  const visit = (n: Node): Node => {
    if (n.stamp !== stamp) {
      n.stamp = stamp;
      // (setting an array's length is a runtime call even when it is 0 already)
      if (n.pos.length !== 0) n.pos.length = 0;
      if (n.neg.length !== 0) n.neg.length = 0;
      if (n.parts.length !== 0) n.parts.length = 0;
      n.cls = 0;
      nodes.push(n);
    }
    return n;
  };
  const node = (p: Prefix): Node => visit(nodeIn(width, p));
  const root = node(ROOT);
  const family = width === 32 ? 4 : width === 128 ? 6 : 0;
  // the parts of cidrs lists: each part's nodes reached once, and the units whose lists hold it
  const partOf = new Map<readonly string[], number>();
  const partUnits: number[][] = [];
  const partId = (list: readonly string[]): number => {
    let id = partOf.get(list);
    if (id === undefined) {
      id = partUnits.length;
      partOf.set(list, id);
      partUnits.push([]);
      for (const t of textNodesOf(list)) {
        if (t.family !== family) continue;
        const parts = visit(t.node).parts;
        // a part's texts are added together: a text repeated (or two texts of one prefix) is next to itself
        if (parts[parts.length - 1] !== id) parts.push(id);
      }
    }
    return id;
  };
  const unconstrained = new Set<number>();
  const tag = opts.tags ? opts.tags(nRules) : tags(nRules, 0x9e3779b9);
  const { tableId } = opts;
  // Rules with the same positive list (the same array) and no negative one match in the same regions (the rules
  // of one policy share its peer list): they are one unit here, tagged with the XOR of their rules' tags, so a
  // set of units hashes as its set of rules does. The nodes, counts and active list hold units.
  const unitRules: number[][] = [];
  const unitTag: number[] = [];
  const unitOfList = new Map<readonly unknown[], number>();
  for (const r of rules) {
    const list = r.cidrs ?? (r.pos === 'all' ? undefined : r.pos); // the positive list, if any
    if (!list && r.neg.length === 0) {
      unconstrained.add(r.rule);
      continue;
    }
    const shared = list !== undefined && r.neg.length === 0;
    const same = shared ? unitOfList.get(list) : undefined;
    if (same !== undefined) {
      unitRules[same].push(r.rule);
      unitTag[2 * same] ^= tag[2 * r.rule];
      unitTag[2 * same + 1] ^= tag[2 * r.rule + 1];
      continue;
    }
    const u = unitRules.length;
    unitRules.push([r.rule]);
    unitTag.push(tag[2 * r.rule], tag[2 * r.rule + 1]);
    if (shared) unitOfList.set(list, u);
    if (r.cidrs) {
      for (const part of r.cidrParts ?? [r.cidrs]) partUnits[partId(part)].push(u);
    } else if (r.pos === 'all') root.pos.push(u);
    else for (const p of r.pos) node(p).pos.push(u);
    for (const p of r.neg) node(p).neg.push(u);
  }
  // Address order, shorter first: ancestors come before their descendants, and each subtree is contiguous.
  if (width <= 32) sortSmall(nodes);
  else nodes.sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : a.p.len - b.p.len));

  const nUnits = unitRules.length;
  const posCount = new Int32Array(nUnits); // nodes (and parts with a node) on the stack that hold the unit
  const partCount = new Int32Array(partUnits.length); // nodes on the stack that hold the part
  const negCount = new Int32Array(nUnits);
  // the active units (those matching the current node): a list, and each unit's place in it (-1: inactive)
  const activeList = new Int32Array(nUnits);
  const activeAt = new Int32Array(nUnits).fill(-1);
  let activeN = 0;
  let h1 = 0;
  let h2 = 0;
  const refresh = (r: number): void => {
    const on = posCount[r] > 0 && negCount[r] === 0;
    const at = activeAt[r];
    if (on === at >= 0) return;
    h1 ^= unitTag[2 * r];
    h2 ^= unitTag[2 * r + 1];
    if (on) {
      activeAt[r] = activeN;
      activeList[activeN++] = r;
    } else {
      const last = activeList[--activeN];
      activeList[at] = last;
      activeAt[last] = at;
      activeAt[r] = -1;
    }
  };
  const enter = (n: Node, d: 1 | -1): void => {
    const { pos, neg, parts } = n;
    for (let i = 0; i < pos.length; i++) posCount[pos[i]] += d;
    for (let i = 0; i < neg.length; i++) negCount[neg[i]] += d;
    // a part counts for its units while some node of it is on the stack (a node holds a part at most once)
    const edge = d === 1 ? 1 : 0;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if ((partCount[p] += d) !== edge) continue;
      const us = partUnits[p];
      for (let j = 0; j < us.length; j++) posCount[us[j]] += d;
    }
    for (let i = 0; i < pos.length; i++) refresh(pos[i]);
    for (let i = 0; i < neg.length; i++) refresh(neg[i]);
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (partCount[p] !== edge) continue;
      const us = partUnits[p];
      for (let j = 0; j < us.length; j++) refresh(us[j]);
    }
  };

  // hash -> the classes with that hash; members[c] = the units of class c (its canonical set). A hash only
  // finds candidates: a class is reused only when its set equals the active one, so two sets that collide
  // get distinct ids (the next free one, in the deterministic walk order), never a shared class.
  const classIds = new Map<number, number>([[0, 0]]); // the first class with each hash
  const collided = new Map<number, number[]>(); // further classes whose hash equals an earlier one's
  const members: Int32Array[] = [new Int32Array(0)];
  const isActive = (set: Int32Array): boolean => {
    if (set.length !== activeN) return false;
    for (let i = 0; i < set.length; i++) if (activeAt[set[i]] < 0) return false;
    return true;
  };
  const classesOfRule: (number[] | undefined)[] = new Array(nRules);
  const entries: DimClasses['entries'] = [];
  const stack: number[] = []; // indexes in nodes
  const classOfActive = (): number => {
    // 53 bits of the two tags (21 of the second): a key that stays a small number
    const key = (h1 >>> 0) * 0x200000 + ((h2 >>> 0) >>> 11);
    const first = classIds.get(key);
    let cls = first === undefined || isActive(members[first]) ? first : collided.get(key)?.find((c) => isActive(members[c]));
    if (cls === undefined) {
      cls = members.length;
      const set = activeList.slice(0, activeN);
      for (let i = 0; i < set.length; i++) for (const r of unitRules[set[i]]) (classesOfRule[r] ??= []).push(cls);
      members.push(set);
      if (first === undefined) classIds.set(key, cls);
      else {
        const more = collided.get(key);
        if (more) more.push(cls);
        else collided.set(key, [cls]);
      }
    }
    return cls;
  };
  // The children of a node are entered from the same counts (the node's own, siblings all left): a leaf holding
  // one part and nothing else gets the same class as every such leaf of that part under that node, found
  // without entering it (the many addresses of a set of pods, side by side, cost one count of its units). Kept
  // per part for the last node it was found under.
  const leafTop = new Int32Array(partUnits.length).fill(-2); // per part: the node (index) its leaf class is under
  const leafCls = new Int32Array(partUnits.length);
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i];
    // prefixes nest or are disjoint, and n comes after the top in address order: n is inside it or past its end
    while (stack.length > 0 && n.lo > nodes[stack[stack.length - 1]].hi) enter(nodes[stack.pop() as number], -1);
    const top = stack.length > 0 ? stack[stack.length - 1] : -1;
    const parentCls = top >= 0 ? nodes[top].cls : 0;
    const leaf = i + 1 === nodes.length || nodes[i + 1].lo > n.hi;
    const part = leaf && n.parts.length === 1 && n.pos.length === 0 && n.neg.length === 0 ? n.parts[0] : -1;
    let cls = part >= 0 && leafTop[part] === top ? leafCls[part] : -1;
    if (cls < 0) {
      enter(n, 1);
      cls = classOfActive();
      if (leaf) enter(n, -1);
      else stack.push(i);
      if (part >= 0) {
        leafTop[part] = top;
        leafCls[part] = cls;
      }
    }
    n.cls = cls;
    if (cls !== parentCls) entries.push(tableId === undefined ? { p: n.p, cls } : { tableId, p: n.p, cls });
  }
  const classesOf = new Map<number, number[]>();
  classesOfRule.forEach((l, r) => l && classesOf.set(r, l));
  return { width, entries, count: members.length, classesOf, unconstrained };
}

/** Classes a rule matches in a dimension. */
export function classesOfRule(d: DimClasses, rule: number): number[] | 'all' {
  if (d.unconstrained.has(rule)) return 'all';
  return d.classesOf.get(rule) ?? [];
}
