// Incremental table updates (issue #6): the entries of the LIVE tables that change when rules are modified in
// place, instead of every table built anew under fresh ids. Pure compute: the loader's handle
// (compiler/load/dataplane.ts) writes the result into the pinned maps.
//
// An index of what a full build wrote (buildIndex, from buildTables' output and the Program) keeps, per table:
// the nodes of each dimension (every prefix a rule names, with the rules naming it), the class of every node,
// the members of every class, the class entries and the decisions. A change of rule R in one dimension D is
// recomputed only inside the region R's old and new prefixes cover: the rules active at a region's start come
// from its ancestors (a map lookup per prefix length), its descendants from the sorted node list. Regions whose
// rule set is unchanged keep their class id; a set seen nowhere before gets a fresh id (ids are never reused,
// so an id always stands for the same rule set; its decisions change only when a rule of the set changes its
// action alone, and then in place: see the end of this comment). Decisions are computed only for the new
// classes, by the tier walk of the full build (tables.ts `walk`), over the same combinations.
//
// Why a packet sees the old policy or the new one, never a mix, while the ops are written (in order):
//   1. decisions of new classes: no class entry names those classes yet, so no lookup reaches them;
//   2. class entries of D, longest prefix first (a full-length entry is always the longest match, and the
//      datapath asks the exact hash first). Entries the new table drops are first rewritten with the class the
//      new table gives their prefix (so the table already answers as the new one with redundant entries). A
//      lookup of point x returns the value of the longest entry containing x. Let E be the longest entry
//      containing x in the old and the new table together (a dropped old entry may be longer than every new
//      one containing x). The writes go down the lengths: until the one at E's length, no written entry
//      contains x (they are all longer than E), so x gets its old class; from it on x gets E's written value,
//      which is x's new class (E is either the longest new entry containing x, or a dropped one rewritten with
//      the class the new table gives its prefix: that of the longest new entry containing the prefix, which
//      also contains x and is the longest new one that does; if E is in both tables with one class, x's old
//      and new classes are the same). Only D changes, so the other lookups return the same class before and
//      after, and every class id returned maps to the decisions of its own rule set: the answer is the old or
//      the new one.
//      (An endpoint whose flags must gain a map to look up gets the wider flags first, with its old ep_id: the
//      map holds nothing for it yet, so its answers stay the same; an old entry that did not ask the exact hash
//      would otherwise miss a new full-length entry while seeing rewritten shorter ones.)
//   3. the endpoint entries: fresh ep_ids (conntrack re-checks flows allowed under the old policy), same
//      table_id and rule_base, the new flags. From here on every lookup gives the new answer;
//   4. after a grace period: entries no longer wanted (redundant by then) and decisions of dead classes.
// An action-only change rewrites the decisions of the class combinations containing the rule, in place: a
// packet does one decision lookup, which is the old value or the new one.
import type { Direction, Family } from '../../model/types';
import type { Chain, Match, Program, Rule } from '../../ir/types';
import { EP_FLAG } from './codes';
import { classValue, decisionKey, decisionValue, peerKey, portKey } from './layout';
import { contains, familyWidth, mask, prefixBytes, PORT_WIDTH, type Prefix } from './prefix';
import { admitsAddr, buildTables, flatten, mergeSorted, peerDim, portDim, usesL4, walk, type BpfTables, type ClassEntry, type EndpointEntry, type Flat } from './tables';

export type DimName = 'peer' | 'port' | 'sport';
const DIMS: readonly DimName[] = ['peer', 'port', 'sport'];
type DimSet = { pos: Prefix[] | 'all'; neg: Prefix[] } | null;

interface Node {
  p: Prefix;
  key: string;
  pos: number[];
  neg: number[];
  cls: number;
}

interface Cls {
  members: number[];
  hash: string;
  refs: number;
}

class DimIndex {
  readonly nodes = new Map<string, Node>();
  /** address order, shorter first: a subtree is contiguous */
  readonly sorted: Node[] = [];
  /** class entries as written: node key -> class */
  readonly entries = new Map<string, { p: Prefix; cls: number }>();
  readonly classes = new Map<number, Cls>();
  readonly byHash = new Map<string, number[]>();
  /** rule -> the classes it is a member of (rules that do not constrain this dimension are in none) */
  readonly of = new Map<number, Set<number>>();
  readonly unconstrained = new Set<number>();
  nextId = 1;
  /** entries by map: full-length (exact hash) and shorter (trie) */
  exact = 0;
  lpm = 0;
  constructor(readonly width: number) {}
}

export interface Decision {
  peer: number;
  port: number;
  sport: number;
  rule: number;
  verdict: number;
}

export interface TableIndex {
  id: number;
  family: Family;
  chain: Chain;
  flat: Flat[];
  ends: number[];
  def: number;
  included: Set<number>;
  constrained: Set<number>;
  everywhere: number[];
  /** constrained rules that do not constrain a dimension (they are in every class of it), ascending */
  uncon: Record<DimName, number[]>;
  dims: Record<DimName, DimIndex>;
  decisions: Map<string, Decision>;
  miss: { rule: number; verdict: number };
  flags: number;
  /** the full build's decision bound (decisionBound) and each constrained rule's term of it */
  needed: number;
  term: Float64Array;
  /** included rules that use L4 fields / source ports (the L4_RULES and SPORTS flags) */
  l4: number;
  sp: number;
  /** the endpoint entries that look this table up (live values) */
  entries: EndpointEntry[];
  /** "endpoint|direction" of the chains whose entries look it up */
  chains: Set<string>;
}

export interface TablesIndex {
  tables: Map<number, TableIndex>;
  /** "endpoint|direction" -> the tables of its entries */
  byChain: Map<string, Set<TableIndex>>;
  /** ids of the endpoints the tables were built for (the node's endpoints) */
  local: Set<string>;
}

export class IndexError extends Error {}

const ROOT: Prefix = { v: 0n, len: 0 };
const pkey = (p: Prefix): string => `${p.v}/${p.len}`;
const dkey = (p: number, q: number, s: number): string => `${p},${q},${s}`;
const chainKeyOf = (endpoint: string, direction: Direction): string => `${endpoint}|${direction}`;

// Zobrist tags of a rule (two 32-bit halves): a set is found by the XOR of its members' tags, confirmed by
// comparing the members.
function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Stands for a dimension known to be unchanged and not null (never named or compared as prefixes). */
const UNCHANGED: NonNullable<DimSet> = { pos: [], neg: [] };

function dimsOf(m: Match, family: Family, peer = true): Record<DimName, DimSet> {
  return { peer: peer ? peerDim(m, family) : null, port: portDim(m, 'd'), sport: portDim(m, 's') };
}

function isConstrained(s: NonNullable<DimSet>): boolean {
  return s.pos !== 'all' || s.neg.length > 0;
}

function dimText(s: DimSet): string {
  if (!s) return 'null';
  const ps = (l: Prefix[]): string => l.map(pkey).join(',');
  return `${s.pos === 'all' ? 'all' : ps(s.pos)}-${ps(s.neg)}`;
}

// ---------------------------------------------------------------------------------------------------------
// Nodes and the sorted walk

function cmp(a: Prefix, b: Prefix): number {
  return a.v < b.v ? -1 : a.v > b.v ? 1 : a.len - b.len;
}

function lowerBound(sorted: Node[], p: Prefix): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cmp(sorted[mid].p, p) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function nodeOf(d: DimIndex, p: Prefix, insert: boolean): Node {
  const key = pkey(p);
  let n = d.nodes.get(key);
  if (!n) {
    n = { p, key, pos: [], neg: [], cls: 0 };
    d.nodes.set(key, n);
    if (insert) d.sorted.splice(lowerBound(d.sorted, p), 0, n);
    else d.sorted.push(n);
  }
  return n;
}

function name(d: DimIndex, rule: number, s: NonNullable<DimSet>, insert: boolean): void {
  if (s.pos === 'all') nodeOf(d, ROOT, insert).pos.push(rule);
  else for (const p of s.pos) nodeOf(d, p, insert).pos.push(rule);
  for (const p of s.neg) nodeOf(d, p, insert).neg.push(rule);
}

function unname(d: DimIndex, rule: number, s: NonNullable<DimSet>): void {
  const drop = (p: Prefix, list: 'pos' | 'neg'): void => {
    const n = d.nodes.get(pkey(p));
    if (!n) throw new IndexError(`no node ${pkey(p)} for rule ${rule}`);
    const i = n[list].indexOf(rule);
    if (i < 0) throw new IndexError(`rule ${rule} not at node ${pkey(p)}`);
    n[list].splice(i, 1);
    if (n.pos.length === 0 && n.neg.length === 0 && n.p.len > 0) {
      d.nodes.delete(n.key);
      const at = lowerBound(d.sorted, n.p);
      d.sorted.splice(at, 1);
    }
  };
  if (s.pos === 'all') drop(ROOT, 'pos');
  else for (const p of s.pos) drop(p, 'pos');
  for (const p of s.neg) drop(p, 'neg');
}

/** The longest node containing p (p itself included). */
function nodeAt(d: DimIndex, p: Prefix): Node {
  for (let l = p.len; l >= 0; l--) {
    const n = d.nodes.get(`${mask(p.v, l, d.width)}/${l}`);
    if (n) return n;
  }
  throw new IndexError('no root node');
}

/**
 * The nodes inside `top` in address order, each with the hash and the set of rules that match its region and
 * its parent's class, as computeClasses walks (rules of the ancestors of `top` counted first).
 * visit returns the node's class.
 */
function walkRegion(d: DimIndex, nRules: number, top: Prefix, visit: (n: Node, hash: string, active: Set<number>, parentCls: number) => number): void {
  const posCount = new Int32Array(nRules);
  const negCount = new Int32Array(nRules);
  const active = new Set<number>();
  let h1 = 0;
  let h2 = 0;
  const refresh = (r: number): void => {
    const on = posCount[r] > 0 && negCount[r] === 0;
    if (on !== active.has(r)) {
      h1 ^= mix(2 * r + 1);
      h2 ^= mix(2 * r + 0x9e3779b9);
      if (on) active.add(r);
      else active.delete(r);
    }
  };
  const enter = (n: Node, k: 1 | -1): void => {
    for (const r of n.pos) posCount[r] += k;
    for (const r of n.neg) negCount[r] += k;
    for (const r of n.pos) refresh(r);
    for (const r of n.neg) refresh(r);
  };
  let outer = 0;
  for (let l = 0; l < top.len; l++) {
    const a = d.nodes.get(`${mask(top.v, l, d.width)}/${l}`);
    if (a) {
      enter(a, 1);
      outer = a.cls;
    }
  }
  const end = top.v + (1n << BigInt(d.width - top.len)) - 1n;
  const stack: Node[] = [];
  for (let i = lowerBound(d.sorted, top); i < d.sorted.length && d.sorted[i].p.v <= end; i++) {
    const n = d.sorted[i];
    while (stack.length > 0 && !contains(stack[stack.length - 1].p, n.p, d.width)) enter(stack.pop() as Node, -1);
    const parentCls = stack.length > 0 ? stack[stack.length - 1].cls : outer;
    enter(n, 1);
    stack.push(n);
    n.cls = visit(n, `${h1 >>> 0}:${h2 >>> 0}`, active, parentCls);
  }
}

function sameSet(members: number[], active: Set<number>): boolean {
  return members.length === active.size && members.every((r) => active.has(r));
}

function addClass(d: DimIndex, id: number, hash: string, active: Set<number>): void {
  const members = [...active].sort((a, b) => a - b);
  d.classes.set(id, { members, hash, refs: 0 });
  const l = d.byHash.get(hash);
  if (l) l.push(id);
  else d.byHash.set(hash, [id]);
  for (const r of members) {
    let s = d.of.get(r);
    if (!s) d.of.set(r, (s = new Set()));
    s.add(id);
  }
  if (id >= d.nextId) d.nextId = id + 1;
}

function dropClass(d: DimIndex, id: number): void {
  const c = d.classes.get(id)!;
  d.classes.delete(id);
  const l = d.byHash.get(c.hash)!;
  l.splice(l.indexOf(id), 1);
  if (l.length === 0) d.byHash.delete(c.hash);
  for (const r of c.members) d.of.get(r)?.delete(id);
}

function setEntry(d: DimIndex, p: Prefix, cls: number | undefined): void {
  const key = pkey(p);
  const had = d.entries.has(key);
  const full = p.len === d.width;
  if (had) {
    if (full) d.exact--;
    else d.lpm--;
    d.entries.delete(key);
  }
  if (cls !== undefined) {
    d.entries.set(key, { p, cls });
    if (full) d.exact++;
    else d.lpm++;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The index of a full build

/** Indexes the tables of a full build of `program` (whose endpoints are those the tables were built for). */
export function buildIndex(t: BpfTables, program: Program): TablesIndex {
  const eps = new Map(program.endpoints.map((e) => [e.id, e]));
  const group = (es: ClassEntry[]): Map<number, ClassEntry[]> => {
    const m = new Map<number, ClassEntry[]>();
    for (const e of es) {
      const l = m.get(e.tableId);
      if (l) l.push(e);
      else m.set(e.tableId, [e]);
    }
    return m;
  };
  const classEntries = { peer4: group(t.peer4), peer6: group(t.peer6), ports: group(t.ports), sports: group(t.sports) };
  const decisions = new Map<number, Decision[]>();
  for (const d of t.decisions) {
    const l = decisions.get(d.tableId);
    const x = { peer: d.peer, port: d.port, sport: d.sport, rule: d.rule, verdict: d.verdict };
    if (l) l.push(x);
    else decisions.set(d.tableId, [x]);
  }
  const idx: TablesIndex = { tables: new Map(), byChain: new Map(), local: new Set(program.endpoints.map((e) => e.id)) };
  for (const e0 of t.endpoints) {
    const e = { ...e0, stats: { ...e0.stats } };
    const ck = chainKeyOf(e.endpoint, e.direction);
    let ti = idx.tables.get(e.tableId);
    if (!ti) {
      const ep = eps.get(e.endpoint);
      if (!ep) throw new IndexError(`endpoint ${e.endpoint} of the tables is not in the Program`);
      ti = indexTable(e, ep[e.direction], {
        peer: classEntries[e.family === 4 ? 'peer4' : 'peer6'].get(e.tableId) ?? [],
        port: classEntries.ports.get(e.tableId) ?? [],
        sport: classEntries.sports.get(e.tableId) ?? [],
      }, decisions.get(e.tableId) ?? []);
      idx.tables.set(e.tableId, ti);
    }
    ti.entries.push(e);
    ti.chains.add(ck);
    let s = idx.byChain.get(ck);
    if (!s) idx.byChain.set(ck, (s = new Set()));
    s.add(ti);
  }
  return idx;
}

function indexTable(e: EndpointEntry, chain: Chain, entries: Record<DimName, ClassEntry[]>, decisions: Decision[]): TableIndex {
  const { flat, ends, def } = flatten(chain); // rows relative to the chain's first row (decisions store relative rules)
  const family = e.family;
  const t: TableIndex = {
    id: e.tableId, family, chain, flat, ends, def, included: new Set(), constrained: new Set(), everywhere: [], uncon: { peer: [], port: [], sport: [] },
    dims: { peer: new DimIndex(familyWidth(family)), port: new DimIndex(PORT_WIDTH), sport: new DimIndex(PORT_WIDTH) },
    decisions: new Map(decisions.map((d) => [dkey(d.peer, d.port, d.sport), d])),
    miss: { rule: e.missRule - e.ruleBase, verdict: e.missVerdict }, flags: e.flags, needed: 0, term: new Float64Array(flat.length), l4: 0, sp: 0,
    entries: [], chains: new Set(),
  };
  for (const D of DIMS) nodeOf(t.dims[D], ROOT, false);
  flat.forEach((f, i) => {
    const m = f.rule.match;
    if (!admitsAddr(m, family, e.addr)) return;
    const ds = dimsOf(m, family);
    if (!ds.peer || !ds.port || !ds.sport) return;
    t.included.add(i);
    if (usesL4(m)) t.l4++;
    if (m.sports || m.notSports) t.sp++;
    let any = false;
    for (const D of DIMS) {
      const s = ds[D]!;
      if (isConstrained(s)) {
        any = true;
        name(t.dims[D], i, s, false);
      } else t.dims[D].unconstrained.add(i);
    }
    if (any) {
      t.constrained.add(i);
      for (const D of DIMS) if (t.dims[D].unconstrained.has(i)) t.uncon[D].push(i);
    } else t.everywhere.push(i);
  });
  for (const D of DIMS) {
    const d = t.dims[D];
    d.sorted.sort((a, b) => cmp(a.p, b.p));
    const want = new Map(entries[D].map((x) => [pkey(x.p), x]));
    if (want.size !== entries[D].length) throw new IndexError(`table ${t.id} ${D}: duplicate class entries`);
    let seen = 0;
    addClass(d, 0, '0:0', new Set());
    walkRegion(d, flat.length, ROOT, (n, hash, active, parentCls) => {
      const x = want.get(n.key);
      if (x) seen++;
      const cls = x ? x.cls : n.p.len === 0 ? 0 : parentCls;
      const c = d.classes.get(cls);
      if (c) {
        if (c.hash !== hash || c.members.length !== active.size) throw new IndexError(`table ${t.id} ${D}: class ${cls} stands for two rule sets`);
      } else {
        if (d.byHash.get(hash)?.some((o) => sameSet(d.classes.get(o)!.members, active))) throw new IndexError(`table ${t.id} ${D}: one rule set has two classes`);
        addClass(d, cls, hash, active);
      }
      d.classes.get(cls)!.refs++;
      if (x) setEntry(d, x.p, x.cls);
      return cls;
    });
    if (seen !== entries[D].length) throw new IndexError(`table ${t.id} ${D}: ${entries[D].length - seen} class entries name no rule prefix`);
  }
  for (const r of t.constrained) t.needed += (t.term[r] = termOf(t, r));
  return t;
}

// ---------------------------------------------------------------------------------------------------------
// Program diff

export interface RuleChange {
  endpoint: string;
  direction: Direction;
  /** position in the chain's flattened rules */
  flat: number;
  /** row relative to the chain's first row */
  row: number;
  before: Rule;
  after: Rule;
}

export type DiffResult = { changes: RuleChange[] } | { reason: string };

/**
 * Equal plain data (IR values: objects, arrays, strings, numbers), identical parts first: a rule changed in its
 * ports keeps its peer list object, and a Program compiled anew is compared without text built for it.
 * Absent fields and fields set to undefined are equal.
 */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k in x) if (!same(x[k], y[k])) return false;
  for (const k in y) if (!(k in x) && y[k] !== undefined) return false;
  return true;
}

function sameRule(a: Rule, b: Rule): boolean {
  return a === b || (a.action === b.action && same(a.match, b.match));
}

/**
 * The rules of the node's endpoints modified in place between two Programs; a reason when the Programs differ
 * otherwise (endpoints, addresses, interfaces, tiers, rule counts). Rule and chain objects are shared between
 * Programs and never mutated: identical objects are skipped before any structural comparison.
 */
export function diffPrograms(before: Program, after: Program, local: Set<string>): DiffResult {
  if (before === after) return { changes: [] };
  if (before.endpoints.length !== after.endpoints.length) return { reason: `endpoints: ${before.endpoints.length} -> ${after.endpoints.length}` };
  const changes: RuleChange[] = [];
  for (let i = 0; i < before.endpoints.length; i++) {
    const a = before.endpoints[i];
    const b = after.endpoints[i];
    if (a === b) continue;
    if (a.id !== b.id) return { reason: `endpoint ${i}: ${a.id} -> ${b.id}` };
    if (a.iface !== b.iface) return { reason: `endpoint ${a.id}: interface ${a.iface ?? 'none'} -> ${b.iface ?? 'none'}` };
    if (!local.has(a.id)) continue; // not on this node: nothing of it is in the maps
    if (a.ips.length !== b.ips.length || a.ips.some((x, k) => x !== b.ips[k])) return { reason: `endpoint ${a.id}: addresses changed` };
    for (const direction of ['ingress', 'egress'] as const) {
      const r = diffChain(a.id, direction, a[direction], b[direction], changes);
      if (r) return { reason: r };
    }
  }
  return { changes };
}

/**
 * Runs the comparison over a copy of `program` that shares its rules (as the next Program of an agent will), a
 * few times, and a small delta of each kind: the code is then compiled before the first update needs it (64k
 * rules: the first updates took 3-8 ms in the comparison instead of 0.5). Off the enforcing path: after a full
 * load.
 */
export function warmUp(program: Program, local: Set<string>): void {
  const copy: Program = {
    ...program,
    endpoints: program.endpoints.map((e) => ({ ...e, ingress: { tiers: e.ingress.tiers.map((t) => ({ ...t })) }, egress: { tiers: e.egress.tiers.map((t) => ({ ...t })) } })),
  };
  for (let i = 0; i < 3; i++) diffPrograms(program, copy, local);
  // and one small delta of each kind, on tables of their own
  const r = (port: number, action: Rule['action'] = 'Allow'): Rule => ({
    id: 'warm', action, match: { peer: ['10.0.0.0/8'], proto: 6, dports: [{ from: port, to: port }] }, source: { kind: 'NetworkPolicy', name: 'warm', direction: 'ingress', index: 0 },
  });
  const p = (rule: Rule): Program => ({
    version: 1,
    endpoints: [{ id: 'w/w', namespace: 'w', name: 'w', ips: ['10.0.0.1'], labels: {}, ports: [], ingress: { tiers: [{ name: 't', kind: 'default', rules: [rule], end: { action: 'Deny', reason: '', policies: [] } }] }, egress: { tiers: [] } }],
  });
  const a = p(r(80));
  const idx = buildIndex(buildTables(a), a);
  let prev = a;
  for (const next of [p(r(81)), p(r(81, 'Deny'))]) {
    const d = diffPrograms(prev, next, idx.local);
    if ('changes' in d) computeDelta(idx, d.changes, 1 << 30);
    prev = next;
  }
}

function diffChain(endpoint: string, direction: Direction, a: Chain, b: Chain, out: RuleChange[]): string | undefined {
  if (a === b) return undefined;
  const where = `${endpoint} ${direction}`;
  if (a.tiers.length !== b.tiers.length) return `${where}: ${a.tiers.length} -> ${b.tiers.length} tiers`;
  let flat = 0;
  let row = 0;
  for (let ti = 0; ti < a.tiers.length; ti++) {
    const x = a.tiers[ti];
    const y = b.tiers[ti];
    if (x === y) {
      flat += x.rules.length;
      row += x.rules.length + 1;
      continue;
    }
    if (x.name !== y.name || x.kind !== y.kind || x.end.action !== y.end.action) return `${where}: tier ${x.name} changed (name, kind or end)`;
    if (x.rules.length !== y.rules.length) return `${where}: tier ${x.name} has ${x.rules.length} -> ${y.rules.length} rules (rules added, removed or moved)`;
    for (let k = 0; k < x.rules.length; k++, flat++, row++) {
      const r = x.rules[k];
      const s = y.rules[k];
      if (r === s || (r.id === s.id && sameRule(r, s) && same(r.source, s.source))) continue;
      out.push({ endpoint, direction, flat, row, before: r, after: s });
    }
    row++;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// The delta

/** One map entry to write or delete; `before` is what it held (null: absent), for a rollback. */
export type Op =
  | { kind: 'class'; dim: DimName; family: Family; tableId: number; p: Prefix; cls: number | null; before: number | null }
  | { kind: 'decision'; tableId: number; peer: number; port: number; sport: number; value: { rule: number; verdict: number } | null; before: { rule: number; verdict: number } | null };

export interface EntryFlip {
  before: EndpointEntry;
  after: EndpointEntry;
}

export interface Delta {
  /** endpoint entries whose flags must gain a map before the writes (same ep_id, same answers) */
  widen: EntryFlip[];
  /** before the flip, in this order */
  pre: Op[];
  /** the switch: fresh ep_ids */
  flips: EntryFlip[];
  /** after the grace period */
  post: Op[];
  tables: number;
  /** the next fresh id */
  nextId: number;
}

export type DeltaResult = { ok: true; delta: Delta } | { ok: false; reason: string; /** the index was modified: rebuild it */ dirty: boolean };

interface TableChange {
  c: RuleChange;
  old: Record<DimName, DimSet>;
  now: Record<DimName, DimSet>;
  kind: 'action' | DimName | 'none';
}

/**
 * The ops that turn the live tables into the tables of the Program with `changes` applied, or why they cannot
 * (then nothing of the index changed unless `dirty`). The index is updated to the new tables.
 */
export function computeDelta(idx: TablesIndex, changes: RuleChange[], nextId: number, ceiling = 1_000_000): DeltaResult {
  const byChain = new Map<string, RuleChange[]>();
  for (const c of changes) {
    const k = chainKeyOf(c.endpoint, c.direction);
    const l = byChain.get(k);
    if (l) l.push(c);
    else byChain.set(k, [c]);
  }
  // 1. What changes in which table; anything the incremental path does not cover is a reason, before any change.
  const plan: { t: TableIndex; list: TableChange[]; kind: 'action' | DimName; l4: number; sp: number }[] = [];
  const seen = new Set<TableIndex>();
  for (const [ck, list] of byChain) {
    for (const t of idx.byChain.get(ck) ?? []) {
      if (seen.has(t)) continue;
      seen.add(t);
      const same = (l: RuleChange[] | undefined): boolean => !!l && l.length === list.length && l.every((c, i) => c.flat === list[i].flat && sameRule(c.after, list[i].after));
      for (const other of t.chains) {
        if (other !== ck && !same(byChain.get(other))) return { ok: false, reason: `table ${t.id} is shared by ${ck} and ${other}, whose rules now differ`, dirty: false };
      }
      const tcs: TableChange[] = [];
      for (const c of list) {
        const r = classify(t, c);
        if (typeof r === 'string') return { ok: false, reason: `${c.endpoint} ${c.direction} rule ${c.after.id}: ${r}`, dirty: false };
        if (r.kind !== 'none') tcs.push(r);
      }
      if (tcs.length === 0) continue;
      const kinds = [...new Set(tcs.map((x) => x.kind))];
      if (kinds.length > 1) return { ok: false, reason: `table ${t.id}: its rules change in more than one way (${kinds.join(', ')}); one dimension at a time keeps a packet on the old or the new policy`, dirty: false };
      const l4 = t.l4 + tcs.reduce((n, x) => n + (usesL4(x.c.after.match) ? 1 : 0) - (usesL4(x.c.before.match) ? 1 : 0), 0);
      const sp = t.sp + tcs.reduce((n, x) => n + (x.c.after.match.sports || x.c.after.match.notSports ? 1 : 0) - (x.c.before.match.sports || x.c.before.match.notSports ? 1 : 0), 0);
      if ((l4 > 0) !== (t.l4 > 0) || (sp > 0) !== (t.sp > 0)) return { ok: false, reason: `table ${t.id}: the endpoint flags for L4 rules or source ports change`, dirty: false };
      plan.push({ t, list: tcs, kind: kinds[0] as 'action' | DimName, l4, sp });
    }
  }
  // 2. The new tables.
  const delta: Delta = { widen: [], pre: [], flips: [], post: [], tables: plan.length, nextId };
  const decisionsFirst: Op[] = [];
  const classWrites: Op[] = [];
  for (const { t, list, kind, l4, sp } of plan) {
    for (const x of list) t.flat[x.c.flat] = { ...t.flat[x.c.flat], rule: x.c.after };
    t.l4 = l4;
    t.sp = sp;
    if (kind === 'action') {
      decisionsFirst.push(...rewriteActions(t, list));
    } else {
      const r = recompute(t, kind, list, ceiling);
      if (typeof r === 'string') return { ok: false, reason: `table ${t.id}: ${r}`, dirty: true };
      decisionsFirst.push(...r.decisions);
      classWrites.push(...r.writes);
      delta.post.push(...r.post);
    }
    const flags = newFlags(t);
    for (const e of t.entries) {
      const after: EndpointEntry = { ...e, epId: delta.nextId++, flags, stats: { ...e.stats } };
      if ((flags & ~e.flags) !== 0) delta.widen.push({ before: { ...e }, after: { ...e, flags: e.flags | flags } });
      delta.flips.push({ before: { ...e }, after });
      Object.assign(e, after);
    }
    t.flags = flags;
  }
  // longest first; full-length entries (the exact hashes) are the longest of all
  classWrites.sort((a, b) => (b as { p: Prefix }).p.len - (a as { p: Prefix }).p.len);
  delta.pre = [...decisionsFirst, ...classWrites];
  return { ok: true, delta };
}

function classify(t: TableIndex, c: RuleChange): TableChange | string {
  const a = c.before.match;
  const b = c.after.match;
  if (a.family !== b.family || !same(a.local, b.local) || !same(a.notLocal, b.notLocal)) return 'its family or local addresses changed';
  const wasIn = t.included.has(c.flat);
  // A rule changed elsewhere keeps its peer list objects: its (possibly long) peer dimension is not built at all
  // when the rule was admitted (then it is not null, and it is not what changed).
  const samePeer = a.peer === b.peer && a.notPeer === b.notPeer;
  const oldPeer = samePeer && wasIn ? UNCHANGED : peerDim(a, t.family);
  const old = { ...dimsOf(a, t.family, false), peer: oldPeer };
  const now = { ...dimsOf(b, t.family, false), peer: samePeer ? oldPeer : peerDim(b, t.family) };
  // entries share a table because their addresses admit the same rules: each address must still agree
  for (const e of t.entries) {
    const isIn = admitsAddr(b, t.family, e.addr) && !!now.peer && !!now.port && !!now.sport;
    if (wasIn !== isIn) return `it ${isIn ? 'starts' : 'stops'} matching packets of table ${t.id} (${e.endpoint} ${e.addr})`;
  }
  if (!wasIn) return { c, old, now, kind: 'none' };
  const dims = DIMS.filter((D) => old[D] !== now[D] && dimText(old[D]) !== dimText(now[D]));
  if (dims.length > 1) return `changed in ${dims.length} dimensions (${dims.join(', ')})`;
  if (dims.length === 1) {
    const D = dims[0];
    if (c.before.action !== c.after.action) return `its action changed and its ${D} dimension too (the decisions of the classes it keeps would keep the old action)`;
    if (isConstrained(old[D]!) !== isConstrained(now[D]!)) return `it ${isConstrained(now[D]!) ? 'starts' : 'stops'} constraining the ${D} dimension`;
    return { c, old, now, kind: D };
  }
  if (c.before.action === c.after.action) return { c, old, now, kind: 'none' };
  if (!t.constrained.has(c.flat)) return 'its action changed and it matches every packet of the entry (the miss verdict)';
  return { c, old, now, kind: 'action' };
}

function newFlags(t: TableIndex): number {
  const keep = t.flags & ~(EP_FLAG.PEER_EXACT | EP_FLAG.PEER_LPM | EP_FLAG.PORT_EXACT | EP_FLAG.PORT_LPM);
  const p = t.dims.peer;
  const q = t.dims.port;
  return keep | (p.exact ? EP_FLAG.PEER_EXACT : 0) | (p.lpm ? EP_FLAG.PEER_LPM : 0) | (q.exact ? EP_FLAG.PORT_EXACT : 0) | (q.lpm ? EP_FLAG.PORT_LPM : 0);
}

/**
 * The class combinations with class `cls` in dimension D, and the rules of each (ascending), over the candidates:
 * the class's members and the constrained rules that do not constrain D.
 */
function combos(t: TableIndex, D: DimName, cls: number, members: number[]): Map<string, { p: number; q: number; s: number; rules: number[] }> {
  const others = DIMS.filter((x) => x !== D);
  const all = new Map<DimName, number[]>();
  const list = (X: DimName, r: number): Iterable<number> => {
    const d = t.dims[X];
    if (!d.unconstrained.has(r)) return d.of.get(r) ?? [];
    let l = all.get(X);
    if (!l) all.set(X, (l = [...d.classes.keys()]));
    return l;
  };
  const out = new Map<string, { p: number; q: number; s: number; rules: number[] }>();
  for (const r of mergeSorted(members, t.uncon[D])) {
    const la = list(others[0], r);
    const lb = list(others[1], r);
    for (const a of la) for (const b of lb) {
      const k: Record<DimName, number> = { peer: 0, port: 0, sport: 0 };
      k[D] = cls;
      k[others[0]] = a;
      k[others[1]] = b;
      const key = dkey(k.peer, k.port, k.sport);
      let c = out.get(key);
      if (!c) out.set(key, (c = { p: k.peer, q: k.port, s: k.sport, rules: [] }));
      c.rules.push(r);
    }
  }
  return out;
}

/** combos() restricted to the combinations rule r is in: r's own classes in the other dimensions, and for each
 *  combination the candidates in both of its classes. */
function combosOf(t: TableIndex, D: DimName, cls: number, members: number[], r: number): Map<string, { p: number; q: number; s: number; rules: number[] }> {
  const [X, Y] = DIMS.filter((x) => x !== D);
  const classesOf = (Z: DimName): Iterable<number> => (t.dims[Z].unconstrained.has(r) ? [...t.dims[Z].classes.keys()] : (t.dims[Z].of.get(r) ?? []));
  const isIn = (Z: DimName, q: number, c: number): boolean => t.dims[Z].unconstrained.has(q) || !!t.dims[Z].of.get(q)?.has(c);
  const candidates = mergeSorted(members, t.uncon[D]);
  const out = new Map<string, { p: number; q: number; s: number; rules: number[] }>();
  const bs = classesOf(Y);
  for (const a of classesOf(X)) {
    const inA = candidates.filter((q) => isIn(X, q, a));
    for (const b of bs) {
      const k: Record<DimName, number> = { peer: 0, port: 0, sport: 0 };
      k[D] = cls;
      k[X] = a;
      k[Y] = b;
      out.set(dkey(k.peer, k.port, k.sport), { p: k.peer, q: k.port, s: k.sport, rules: inA.filter((q) => isIn(Y, q, b)) });
    }
  }
  return out;
}

function decide(t: TableIndex, rules: number[]): { rule: number; verdict: number } | null {
  const w = walk(t.chain, t.flat, mergeSorted(rules, t.everywhere), t.ends, t.def);
  return w.rule === t.miss.rule && w.verdict === t.miss.verdict ? null : w;
}

function decisionOp(t: TableIndex, c: { p: number; q: number; s: number }, value: { rule: number; verdict: number } | null): Op | undefined {
  const key = dkey(c.p, c.q, c.s);
  const had = t.decisions.get(key);
  const before = had ? { rule: had.rule, verdict: had.verdict } : null;
  if (same(before, value)) return undefined;
  if (value) t.decisions.set(key, { peer: c.p, port: c.q, sport: c.s, ...value });
  else t.decisions.delete(key);
  return { kind: 'decision', tableId: t.id, peer: c.p, port: c.q, sport: c.s, value, before };
}

/** Action-only changes: the decisions of every combination containing a changed rule, in place. */
function rewriteActions(t: TableIndex, list: TableChange[]): Op[] {
  const ops: Op[] = [];
  const done = new Set<string>();
  for (const x of list) {
    const r = x.c.flat;
    // the dimension where the rule has the fewest classes (it constrains at least one)
    const D = DIMS.filter((X) => !t.dims[X].unconstrained.has(r)).sort((a, b) => (t.dims[a].of.get(r)?.size ?? 0) - (t.dims[b].of.get(r)?.size ?? 0))[0];
    for (const cls of t.dims[D].of.get(r) ?? []) {
      for (const [key, c] of combosOf(t, D, cls, t.dims[D].classes.get(cls)!.members, r)) {
        if (done.has(key)) continue;
        done.add(key);
        const op = decisionOp(t, c, decide(t, c.rules));
        if (op) ops.push(op);
      }
    }
  }
  return ops;
}

/** The maximal prefixes of a list (the others are inside one of them). */
function maximal(ps: Prefix[], width: number): Prefix[] {
  const sorted = [...new Map(ps.map((p) => [pkey(p), p])).values()].sort(cmp);
  const out: Prefix[] = [];
  for (const p of sorted) if (out.length === 0 || !contains(out[out.length - 1], p, width)) out.push(p);
  return out;
}

function recompute(t: TableIndex, D: DimName, list: TableChange[], ceiling: number): { decisions: Op[]; writes: Op[]; post: Op[] } | string {
  const d = t.dims[D];
  const ps: Prefix[] = [];
  for (const x of list) for (const s of [x.old[D]!, x.now[D]!]) {
    if (s.pos === 'all') ps.push(ROOT);
    else ps.push(...s.pos);
    ps.push(...s.neg);
  }
  const tops = maximal(ps, d.width);
  const count = d.classes.size;
  const inside = (top: Prefix, f: (n: Node) => void): void => {
    const end = top.v + (1n << BigInt(d.width - top.len)) - 1n;
    for (let i = lowerBound(d.sorted, top); i < d.sorted.length && d.sorted[i].p.v <= end; i++) f(d.sorted[i]);
  };
  // the old entries of the region, and its classes given back
  const oldE = new Map<string, { p: Prefix; cls: number }>();
  const touched = new Set<number>();
  for (const top of tops) {
    inside(top, (n) => {
      d.classes.get(n.cls)!.refs--;
      touched.add(n.cls);
      const e = d.entries.get(n.key);
      if (e) oldE.set(n.key, e);
    });
  }
  for (const x of list) unname(d, x.c.flat, x.old[D]!);
  for (const x of list) name(d, x.c.flat, x.now[D]!, true);
  const fresh = new Set<number>();
  const newE = new Map<string, { p: Prefix; cls: number }>();
  for (const top of tops) {
    walkRegion(d, t.flat.length, top, (n, hash, active, parentCls) => {
      let cls = d.byHash.get(hash)?.find((c) => sameSet(d.classes.get(c)!.members, active));
      if (cls === undefined) {
        cls = d.nextId;
        addClass(d, cls, hash, active);
        fresh.add(cls);
      }
      d.classes.get(cls)!.refs++;
      if (n.p.len === 0 ? cls !== 0 : cls !== parentCls) newE.set(n.key, { p: n.p, cls });
      return cls;
    });
  }
  // class entries: new and changed ones; dropped ones first take the class the new table gives their prefix
  const writes: Op[] = [];
  const post: Op[] = [];
  const op = (p: Prefix, cls: number | null, before: number | null): Op => ({ kind: 'class', dim: D, family: t.family, tableId: t.id, p, cls, before });
  for (const [k, e] of newE) {
    const o = oldE.get(k);
    if (!o || o.cls !== e.cls) writes.push(op(e.p, e.cls, o ? o.cls : null));
  }
  for (const [k, o] of oldE) {
    if (newE.has(k)) continue;
    const eff = nodeAt(d, o.p).cls;
    if (eff !== o.cls) writes.push(op(o.p, eff, o.cls));
    post.push(op(o.p, null, eff));
  }
  for (const o of oldE.values()) setEntry(d, o.p, undefined);
  for (const e of newE.values()) setEntry(d, e.p, e.cls);
  // dead classes go (their decisions after the switch); new ones get theirs
  const resized = new Set<number>();
  for (const c of fresh) for (const r of d.classes.get(c)!.members) resized.add(r);
  for (const c of touched) {
    const k = d.classes.get(c)!;
    if (c === 0 || k.refs > 0) continue;
    for (const r of k.members) resized.add(r);
    for (const [key, combo] of combos(t, D, c, k.members)) {
      const had = t.decisions.get(key);
      if (!had) continue;
      t.decisions.delete(key);
      post.push({ kind: 'decision', tableId: t.id, peer: combo.p, port: combo.q, sport: combo.s, value: null, before: { rule: had.rule, verdict: had.verdict } });
    }
    dropClass(d, c);
  }
  // the bound moves with the rules whose classes in D changed, and with D's class count for rules that do not constrain it
  if (d.classes.size !== count) for (const r of t.uncon[D]) resized.add(r);
  for (const r of resized) {
    const k = termOf(t, r);
    t.needed += k - t.term[r];
    t.term[r] = k;
  }
  const needed = t.needed;
  if (needed > ceiling) return `expected at most ${ceiling} decision entries, found ${needed} (the decision ceiling)`;
  const decisions: Op[] = [];
  for (const c of fresh) {
    for (const combo of combos(t, D, c, d.classes.get(c)!.members).values()) {
      const o = decisionOp(t, combo, decide(t, combo.rules));
      if (o) decisions.push(o);
    }
  }
  return { decisions, writes, post };
}

/** A constrained rule's term of the full build's bound (the sum of terms): its class counts multiplied. */
function termOf(t: TableIndex, r: number): number {
  let k = 1;
  for (const D of DIMS) {
    const d = t.dims[D];
    k *= d.unconstrained.has(r) ? d.classes.size : d.of.get(r)?.size ?? 0;
  }
  return k;
}

/** The index's current tables, as buildTables lays them out (tests compare them with a full build). */
export function tablesOf(idx: TablesIndex): Pick<BpfTables, 'endpoints' | 'peer4' | 'peer6' | 'ports' | 'sports' | 'decisions'> {
  const out: ReturnType<typeof tablesOf> = { endpoints: [], peer4: [], peer6: [], ports: [], sports: [], decisions: [] };
  for (const t of idx.tables.values()) {
    out.endpoints.push(...t.entries.map((e) => ({ ...e })));
    const add = (D: DimName, to: ClassEntry[]): void => {
      for (const e of t.dims[D].entries.values()) to.push({ tableId: t.id, p: e.p, cls: e.cls });
    };
    add('peer', t.family === 4 ? out.peer4 : out.peer6);
    add('port', out.ports);
    if (t.flags & EP_FLAG.SPORTS) add('sport', out.sports);
    for (const d of t.decisions.values()) out.decisions.push({ tableId: t.id, ...d });
  }
  return out;
}

/** An op as its map's key and value (null: delete) and what it held before (null: absent), as serialize.ts lays entries out. */
export interface OpEntry {
  map: string;
  key: Buffer;
  value: Buffer | null;
  before: Buffer | null;
}

export function opEntry(op: Op): OpEntry {
  if (op.kind === 'decision') {
    const v = (x: { rule: number; verdict: number } | null): Buffer | null => (x ? decisionValue(x.rule, x.verdict) : null);
    return { map: 'tg_decisions', key: decisionKey(op.tableId, op.peer, op.port, op.sport), value: v(op.value), before: v(op.before) };
  }
  const v = (c: number | null): Buffer | null => (c === null ? null : classValue(c));
  if (op.dim === 'peer') {
    const w = familyWidth(op.family);
    const map = `tg_peer${op.family}${op.p.len === w ? '_exact' : ''}`;
    return { map, key: peerKey(op.family, op.tableId, prefixBytes(op.p, w), op.p.len), value: v(op.cls), before: v(op.before) };
  }
  const b = prefixBytes(op.p, PORT_WIDTH);
  const map = op.dim === 'sport' ? 'tg_sports' : op.p.len === PORT_WIDTH ? 'tg_port_exact' : 'tg_ports';
  return { map, key: portKey(op.tableId, b[0], b.readUInt16BE(1), op.p.len), value: v(op.cls), before: v(op.before) };
}
