// IR Program -> the contents of the datapath's maps (docs/design.md, "The BPF datapath: classify once, decide
// by table"). For each endpoint, direction and local address (one endpoint entry, one ep_id each):
//   1. the rules that can match at all for that local address (family, local/notLocal resolved here),
//   2. classes of the peer address and of (protocol, destination port) [and of the source port],
//   3. for every combination of classes that shares a rule, the verdict of the tier walk over exactly the
//      rules of that combination (a miss = no rule matches = the endpoint's miss verdict).
// Entries whose steps 1-3 give the same result (same chain shape, family and admitted rules) share one table:
// its classes and decisions are written once under a table_id, with rule indexes relative to the chain's first
// rule row; each entry carries its own rule_base, so counters and rule rows stay per endpoint.
import type { Direction, Family, PortRange } from '../../model/types';
import type { Chain, Endpoint, Match, Program, Rule, RuleSource } from '../../ir/types';
import { cidrParts, sameCidrs } from '../../ir/parts';
import { DIR, EP_FLAG, VERDICT } from './codes';
import { computeClasses, classesOfRule, type ClassOptions, type DimClasses, type DimRule } from './classes';
import { cidrFamily, cidrToPrefix, complementRanges, contains, familyWidth, PORT_WIDTH, protoPortPrefixes, protoPrefix, type Prefix } from './prefix';
import { chainTemplate, RuleRows, type RowTemplate } from './rows';

export type { RuleRow } from './rows';

const PORT_PROTOS = [6, 17, 132, 136];
const ICMP_PROTOS = [1, 58];

export interface TableOptions {
  /** first id to hand out, to ep_ids and table_ids alike (the loader uses fresh ids per update); default 1 */
  epIdBase?: number;
  /** most decision entries one endpoint/direction/address may need before compile fails; default 1,000,000 */
  maxDecisionsPerEndpoint?: number;
  /** tests only: the tag generator of the class hash (see classes.ts), to force hash collisions */
  classTags?: ClassOptions['tags'];
}

export interface EndpointEntry {
  endpoint: string;
  iface?: string;
  direction: Direction;
  family: Family;
  addr: string;
  epId: number;
  /** the table (classes and decisions) this entry looks up; shared by entries with equal tables */
  tableId: number;
  /** rule index of this entry's first rule row: decision rules of its table are relative to it */
  ruleBase: number;
  /** absolute rule index */
  missRule: number;
  missVerdict: number;
  flags: number;
  stats: { rules: number; peerClasses: number; portClasses: number; sportClasses: number; decisions: number };
}

export interface ClassEntry {
  tableId: number;
  p: Prefix;
  cls: number;
}

export interface DecisionEntry {
  tableId: number;
  peer: number;
  port: number;
  sport: number;
  /** relative to the rule_base of the entry that looks it up */
  rule: number;
  verdict: number;
}

export interface BpfTables {
  rules: RuleRows;
  endpoints: EndpointEntry[];
  peer4: ClassEntry[];
  peer6: ClassEntry[];
  ports: ClassEntry[];
  sports: ClassEntry[];
  decisions: DecisionEntry[];
  /** whether any endpoint uses source ports (the sport trie is compiled in only then) */
  haveSports: boolean;
}

export class DecisionCeilingError extends Error {
  constructor(
    readonly endpoint: string,
    readonly direction: Direction,
    readonly needed: number,
    readonly ceiling: number,
    readonly policies: string[],
  ) {
    super(
      `endpoint ${endpoint} ${direction}: expected at most ${ceiling} decision entries, found ${needed} ` +
        `(peer classes x port classes of the rules); the policies contributing most: ${policies.join(', ')}`,
    );
  }
}

export function policyName(s: RuleSource): string {
  return `${s.kind} ${s.namespace ? `${s.namespace}/` : ''}${s.name}`;
}

export interface Flat {
  rule: Rule;
  tier: number;
  index: number; // rule table index
}

/** A chain's rules flattened, with the rule indexes of its tier ends and default row (from base on). */
interface ChainRows {
  flat: Flat[];
  ends: number[];
  def: number;
  base: number;
}

/** Row 0: the rule index of decisions no rule made. */
const NO_RULE: readonly RowTemplate[] = [{ tier: '', tierIndex: -1, kind: 'default', action: 'none', reason: 'no rule (conntrack, unmanaged, not IP)' }];

export function buildTables(program: Program, opts: TableOptions = {}): BpfTables {
  const ceiling = opts.maxDecisionsPerEndpoint ?? 1_000_000;
  const t: BpfTables = { rules: new RuleRows(), endpoints: [], peer4: [], peer6: [], ports: [], sports: [], decisions: [], haveSports: false };
  t.rules.add('', 'ingress', NO_RULE);
  const memo = new TableMemo();
  const ids = { next: opts.epIdBase ?? 1 };
  for (const ep of program.endpoints) {
    for (const direction of ['ingress', 'egress'] as const) {
      const chain = ep[direction];
      const base = t.rules.add(ep.id, direction, memo.rowTemplate(chain));
      const chainKey = memo.chainKey(direction, chain);
      let rows: ChainRows | undefined; // only a new table needs them
      const rowsOf = (): ChainRows => (rows ??= flatten(chain, base));
      for (const addr of ep.ips) {
        const family = cidrFamily(addr) as Family;
        emitEndpoint(t, memo, chainKey, ep, direction, chain, base, rowsOf, addr, family, ids, ceiling, { tags: opts.classTags });
      }
    }
  }
  return t;
}

/** One table: what endpoint entries with equal policy share; rule indexes are relative to the chain's first row. */
interface Written {
  tableId: number;
  flags: number;
  miss: { verdict: number; rule: number };
  stats: EndpointEntry['stats'];
}

type PortDims = { port: ReturnType<typeof portDim>; sport: ReturnType<typeof portDim> };

// Endpoints selected by the same policies have the same chains (the optimizer shares their matches): the
// classes and decisions of an (endpoint, direction, address) are computed and written once per distinct chain,
// direction, family and set of rules the local address admits (one table_id), and every other entry with the
// same key points at that table with its own ep_id and its own rule rows.
class TableMemo {
  private readonly matchIds = new Map<Match, number>();
  /** match ids by key (see matchId) */
  private readonly byKey = new Map<string, number>();
  private nextMatchId = 0;
  /** address lists: ids by identity, and by content in groups of equal length and sampled elements */
  private readonly listIds = new WeakMap<readonly string[], number>();
  private readonly listGroups = new Map<string, { list: readonly string[]; id: number }[]>();
  private nextListId = 0;
  private readonly ports = new Map<Match, PortDims>();
  private readonly admitted = [new Map<Match, boolean>(), new Map<Match, boolean>()];
  private readonly policies = new Map<RuleSource, string>();
  private readonly policyLists = new WeakMap<readonly Rule[], string[]>();
  private readonly rowTemplates = new WeakMap<Chain, readonly RowTemplate[]>();
  readonly written = new Map<string, Written>();
  /** chain keys of the chains with a rule on local addresses (their entries' rules depend on the address) */
  private readonly localChains = new Set<string>();

  // the part of a chain key for a tier's rules; the optimizer shares rule lists between endpoints' tiers
  private readonly listKeys = new Map<readonly Rule[], { k: string; local: boolean }>();

  // chain keys by chain object (endpoints alike share their chains), and the keys of their tables per family:
  // one string each, so a long key is built and hashed once, not per endpoint
  private readonly chainKeys = { ingress: new WeakMap<Chain, string>(), egress: new WeakMap<Chain, string>() };
  private readonly tableKeys = new Map<string, string[]>();

  /** Equal for two chains whose walk is the same: tier ends, rule actions and matches, in order. */
  chainKey(direction: Direction, chain: Chain): string {
    let k = this.chainKeys[direction].get(chain);
    if (k === undefined) this.chainKeys[direction].set(chain, (k = this.newChainKey(direction, chain)));
    return k;
  }

  /** `${family}|${chainKey}`, one string per chain key and family. */
  tableKey(chainKey: string, family: Family): string {
    let ks = this.tableKeys.get(chainKey);
    if (!ks) this.tableKeys.set(chainKey, (ks = []));
    return (ks[family === 4 ? 0 : 1] ??= `${family}|${chainKey}`);
  }

  private newChainKey(direction: Direction, chain: Chain): string {
    let k: string = direction;
    let local = false;
    for (const tier of chain.tiers) {
      let l = this.listKeys.get(tier.rules);
      if (!l) {
        l = { k: '', local: false };
        for (const r of tier.rules) {
          l.k += `${r.action[0]}${this.matchId(r.match)},`;
          if (r.match.local || r.match.notLocal) l.local = true;
        }
        this.listKeys.set(tier.rules, l);
      }
      k += `;${tier.end.action}:${l.k}`;
      local ||= l.local;
    }
    if (local) this.localChains.add(k);
    return k;
  }

  /** Whether which rules an entry of the chain admits depends on more than the family (see chainKey). */
  hasLocal(chainKey: string): boolean {
    return this.localChains.has(chainKey);
  }

  // Equal JSON texts are equal matches (fields in another order only cost a second computation). A match's key
  // is its fields as JSON.stringify writes them, in order (undefined ones left out), but an address list (of
  // thousands, shared between rules) stands for the id of its content: equal keys, equal texts, and back.
  private matchId(m: Match): number {
    let id = this.matchIds.get(m);
    if (id === undefined) {
      let k = '';
      for (const f of Object.keys(m) as (keyof Match)[]) {
        const v = m[f];
        if (v === undefined) continue;
        k += `${f}:${ADDRESS_FIELDS.has(f) ? `#${this.listId(v as readonly string[])}` : JSON.stringify(v)};`;
      }
      id = this.byKey.get(k);
      if (id === undefined) this.byKey.set(k, (id = this.nextMatchId++));
      this.matchIds.set(m, id);
    }
    return id;
  }

  /** An id of an address list's content: by identity, else among the lists of its length and sampled elements. */
  private listId(v: readonly string[]): number {
    let id = this.listIds.get(v);
    if (id === undefined) {
      const n = v.length;
      const k = `${n}|${v[0]}|${v[n >> 1]}|${v[n - 1]}`;
      let group = this.listGroups.get(k);
      if (!group) this.listGroups.set(k, (group = []));
      id = group.find((g) => sameCidrs(g.list, v))?.id;
      if (id === undefined) group.push({ list: v, id: (id = this.nextListId++) });
      this.listIds.set(v, id);
    }
    return id;
  }

  portsOf(m: Match): PortDims {
    let d = this.ports.get(m);
    if (!d) this.ports.set(m, (d = { port: portDim(m, 'd'), sport: portDim(m, 's') }));
    return d;
  }

  /** Whether every dimension of the match admits some packet of the family (peerDim, portDim not null). */
  admits(m: Match, family: Family): boolean {
    const cache = this.admitted[family === 4 ? 0 : 1];
    let ok = cache.get(m);
    if (ok === undefined) {
      const d = this.portsOf(m);
      ok = !!d.port && !!d.sport && (!m.peer || m.peer.some((c) => cidrFamily(c) === family));
      cache.set(m, ok);
    }
    return ok;
  }

  /** The chain's rule rows less index, endpoint and direction, once per chain object (rows.ts). */
  rowTemplate(chain: Chain): readonly RowTemplate[] {
    let rows = this.rowTemplates.get(chain);
    if (!rows) this.rowTemplates.set(chain, (rows = chainTemplate(chain, (rules) => this.policiesOf(rules))));
    return rows;
  }

  /** policyOf of each rule of a list, once per list (the optimizer and lowering share lists between tiers) */
  policiesOf(rules: readonly Rule[]): string[] {
    let names = this.policyLists.get(rules);
    if (!names) this.policyLists.set(rules, (names = rules.map((r) => this.policyOf(r.source))));
    return names;
  }

  /** policyName, once per source (rules are shared by the chains of many endpoints) */
  policyOf(s: RuleSource): string {
    let name = this.policies.get(s);
    if (name === undefined) this.policies.set(s, (name = policyName(s)));
    return name;
  }
}

const ADDRESS_FIELDS: ReadonlySet<keyof Match> = new Set<keyof Match>(['peer', 'notPeer', 'local', 'notLocal']);

/** The rule rows of the chain (rows.ts), numbered from base, as the tier walk reads them. */
export function flatten(chain: Chain, base = 0): ChainRows {
  const flat: Flat[] = [];
  const ends: number[] = [];
  let index = base;
  chain.tiers.forEach((tier, ti) => {
    for (const rule of tier.rules) flat.push({ rule, tier: ti, index: index++ });
    ends.push(index++);
  });
  return { flat, ends, def: index, base };
}

/** The tier walk over the rules that match (flat indexes, ascending), as compiler/ir/evaluate.ts walks. */
export function walk(chain: Chain, flat: Flat[], matching: number[], ends: number[], def: number): { verdict: number; rule: number } {
  let i = 0;
  for (let ti = 0; ti < chain.tiers.length; ti++) {
    let passed = false;
    while (i < matching.length && flat[matching[i]].tier < ti) i++;
    while (i < matching.length && flat[matching[i]].tier === ti) {
      const f = flat[matching[i]];
      if (f.rule.action === 'Allow') return { verdict: VERDICT.ALLOW, rule: f.index };
      if (f.rule.action === 'Deny') return { verdict: VERDICT.DENY, rule: f.index };
      if (f.rule.action === 'Pass') {
        passed = true;
        break;
      }
      i++; // Log: go on
    }
    if (passed) continue;
    const end = chain.tiers[ti].end.action;
    if (end === 'Allow') return { verdict: VERDICT.ALLOW, rule: ends[ti] };
    if (end === 'Deny') return { verdict: VERDICT.DENY, rule: ends[ti] };
  }
  return { verdict: VERDICT.ALLOW, rule: def };
}

function inRanges(port: number, ranges: PortRange[]): boolean {
  return ranges.some((r) => port >= r.from && port <= r.to);
}

function addrIn(addr: string, cidrs: string[]): boolean {
  const fam = cidrFamily(addr) as Family;
  const a = cidrToPrefix(`${addr}/${fam === 4 ? 32 : 128}`);
  return cidrs.some((c) => cidrFamily(c) === fam && contains(cidrToPrefix(c), a, familyWidth(fam)));
}

/** Peer dimension of a rule for one family; null = the rule can never match. */
export function peerDim(m: Match, family: Family): { pos: Prefix[] | 'all'; neg: Prefix[] } | null {
  let pos: Prefix[] | 'all' = 'all';
  if (m.peer) {
    pos = familyPrefixes(m.peer, family);
    if (pos.length === 0) return null;
  }
  const neg = m.notPeer ? familyPrefixes(m.notPeer, family) : [];
  return { pos, neg };
}

function familyPrefixes(cidrs: readonly string[], family: Family): Prefix[] {
  const out: Prefix[] = [];
  for (const c of cidrs) if (cidrFamily(c) === family) out.push(cidrToPrefix(c));
  return out;
}

/**
 * (protocol, port) dimension of a rule: destination ports, or ICMP type << 8 | code. A port constraint only
 * matches protocols that carry ports (TCP, UDP, SCTP, UDP-Lite); an ICMP constraint only ICMP and ICMPv6.
 */
export function portDim(m: Match, which: 'd' | 's'): { pos: Prefix[] | 'all'; neg: Prefix[] } | null {
  const ports = which === 'd' ? m.dports : m.sports;
  const notPorts = which === 'd' ? m.notDports : m.notSports;
  const icmp = which === 'd' ? (m.icmp || m.notIcmp ? { icmp: m.icmp, notIcmp: m.notIcmp } : undefined) : undefined;
  const protoOk = (p: number): boolean => (m.proto === undefined || m.proto === p) && m.notProto !== p;
  // ports and ICMP on one rule: no packet carries both (the evaluator requires both): never matches
  if ((m.dports || m.notDports || m.sports || m.notSports) && (m.icmp || m.notIcmp)) return null;
  if (ports || notPorts) {
    const protos = PORT_PROTOS.filter(protoOk);
    const ranges = complementRangesOf(ports ?? [{ from: 0, to: 65535 }], notPorts ?? []);
    const pos = protos.flatMap((p) => protoPortPrefixes(p, ranges));
    return pos.length ? { pos, neg: [] } : null;
  }
  if (icmp) {
    const protos = ICMP_PROTOS.filter(protoOk);
    const pos: Prefix[] = [];
    const neg: Prefix[] = [];
    for (const p of protos) {
      const base = BigInt(p) << 16n;
      if (icmp.icmp) pos.push(icmpPrefix(base, icmp.icmp));
      else pos.push(protoPrefix(p));
      if (icmp.notIcmp) neg.push(icmpPrefix(base, icmp.notIcmp));
    }
    return pos.length ? { pos, neg } : null;
  }
  if (which === 's') return { pos: 'all', neg: [] };
  if (m.proto !== undefined) return m.notProto === m.proto ? null : { pos: [protoPrefix(m.proto)], neg: [] };
  if (m.notProto !== undefined) return { pos: 'all', neg: [protoPrefix(m.notProto)] };
  return { pos: 'all', neg: [] };
}

function icmpPrefix(base: bigint, i: { type: number; code?: number }): Prefix {
  return i.code === undefined ? { v: base | (BigInt(i.type) << 8n), len: 16 } : { v: base | (BigInt(i.type) << 8n) | BigInt(i.code), len: 24 };
}

function complementRangesOf(ports: PortRange[], notPorts: PortRange[]): PortRange[] {
  // ports minus notPorts, as ranges
  const holes = complementRanges(notPorts);
  const out: PortRange[] = [];
  for (const a of ports) for (const h of holes) {
    const from = Math.max(a.from, h.from);
    const to = Math.min(a.to, h.to);
    if (from <= to) out.push({ from, to });
  }
  return out;
}

export function usesL4(m: Match): boolean {
  return m.proto !== undefined || m.notProto !== undefined || !!m.dports || !!m.notDports || !!m.sports || !!m.notSports || !!m.icmp || !!m.notIcmp;
}

function emitEndpoint(
  t: BpfTables, memo: TableMemo, chainKey: string, ep: Endpoint, direction: Direction, chain: Chain, base: number,
  rowsOf: () => ChainRows, addr: string, family: Family, ids: { next: number }, ceiling: number, co: ClassOptions,
): void {
  // Which rules the entry admits depends on its chain and family only, unless a rule names local addresses:
  // then the admitted rules are part of the key.
  let included: number[] | undefined;
  const key = memo.hasLocal(chainKey) ? `${family}|${chainKey}|${(included = admitted(memo, chain, addr, family)).join(',')}` : memo.tableKey(chainKey, family);
  let w = memo.written.get(key);
  if (!w) {
    // a new table: its entries are written into t once, under a fresh id; the memo keeps only what entries share
    included ??= admitted(memo, chain, addr, family);
    memo.written.set(key, (w = computeWritten(t, memo, ep, direction, chain, rowsOf(), included, family, ceiling, co, ids.next++)));
  }
  // rule indexes of the table are relative to the chain's first row; this entry's own rows start at base
  t.endpoints.push({
    endpoint: ep.id, iface: ep.iface, direction, family, addr, epId: ids.next++, tableId: w.tableId, ruleBase: base,
    missRule: w.miss.rule + base, missVerdict: w.miss.verdict, flags: w.flags, stats: { ...w.stats },
  });
}

/** Whether a match's family and local addresses admit packets of this local address (its other fields aside). */
export function admitsAddr(m: Match, family: Family, addr: string): boolean {
  if (m.family !== undefined && m.family !== family) return false;
  if (m.local && !addrIn(addr, m.local)) return false;
  return !(m.notLocal && addrIn(addr, m.notLocal));
}

/** Positions (in the flattened chain) of the rules that can match packets of this local address. */
function admitted(memo: TableMemo, chain: Chain, addr: string, family: Family): number[] {
  const out: number[] = [];
  let i = 0;
  for (const tier of chain.tiers) {
    for (const rule of tier.rules) {
      if (admitsAddr(rule.match, family, addr) && memo.admits(rule.match, family)) out.push(i);
      i++;
    }
  }
  return out;
}

function computeWritten(
  t: BpfTables, memo: TableMemo, ep: Endpoint, direction: Direction, chain: Chain, rt: ChainRows,
  included: number[], family: Family, ceiling: number, co: ClassOptions, tableId: number,
): Written {
  const { flat, ends, def, base } = rt;
  const peerRules: DimRule[] = [];
  const portRules: DimRule[] = [];
  const sportRules: DimRule[] = [];
  let flags = 0;
  for (const i of included) {
    const m = flat[i].rule.match;
    const d = memo.portsOf(m);
    // peerDim, the peer list left as text: computeClasses parses each address once for the table (the lists of a
    // table name the same addresses over and over; the rules of one policy share their list), and takes a list
    // lowering made of shared parts (ir/parts.ts) part by part
    const neg = m.notPeer ? familyPrefixes(m.notPeer, family) : [];
    peerRules.push(m.peer ? { rule: i, pos: [], neg, cidrs: m.peer, cidrParts: cidrParts(m.peer) } : { rule: i, pos: 'all', neg });
    portRules.push({ rule: i, ...d.port! });
    sportRules.push({ rule: i, ...d.sport! });
    if (usesL4(m)) flags |= EP_FLAG.L4_RULES;
    if (m.sports || m.notSports) flags |= EP_FLAG.SPORTS;
  }
  const n = flat.length;
  co = { ...co, tableId }; // the entries are ClassEntry of this table
  const peerC = computeClasses(familyWidth(family), peerRules, n, co);
  const portC = computeClasses(PORT_WIDTH, portRules, n, co);
  // Without source-port rules every rule is unconstrained here: one class (0), and no trie entries.
  const sportC = computeClasses(PORT_WIDTH, sportRules, n, co);
  // Rules that constrain no dimension match every packet of this ep_id: they are folded into the miss verdict
  // and into every combination's walk instead of being spread over every combination of classes.
  const everywhere = included.filter((r) => peerC.unconstrained.has(r) && portC.unconstrained.has(r) && sportC.unconstrained.has(r));
  const constrained = included.filter((r) => !(peerC.unconstrained.has(r) && portC.unconstrained.has(r) && sportC.unconstrained.has(r)));
  const miss = walk(chain, flat, everywhere, ends, def);

  // The bound, before any work: sum over rules of |peer classes| x |port classes| x |sport classes|.
  const size = (d: DimClasses, r: number): number => {
    const c = classesOfRule(d, r);
    return c === 'all' ? d.count : c.length;
  };
  const cost = (r: number): number => size(peerC, r) * size(portC, r) * size(sportC, r);
  let needed = 0;
  for (const r of constrained) needed += cost(r);
  if (needed > ceiling) {
    const perPolicy = new Map<string, number>();
    for (const r of constrained) {
      const name = memo.policyOf(flat[r].rule.source);
      perPolicy.set(name, (perPolicy.get(name) ?? 0) + cost(r));
    }
    const top = [...perPolicy.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([p, k]) => `${p} (${k})`);
    throw new DecisionCeilingError(ep.id, direction, needed, ceiling, top);
  }

  const all = (d: DimClasses): number[] => Array.from({ length: d.count }, (_, i) => i);
  const list = (d: DimClasses, r: number): number[] => {
    const c = classesOfRule(d, r);
    return c === 'all' ? all(d) : c;
  };
  // a combination's key: its number in the space of combinations (text only where that number could be inexact)
  const [nq, ns] = [portC.count, sportC.count];
  const exact = peerC.count * nq * ns <= Number.MAX_SAFE_INTEGER;
  const combos = new Map<number | string, { p: number; q: number; s: number; rules: number[] }>();
  for (const r of constrained) {
    const ps = list(peerC, r);
    const qs = list(portC, r);
    const ss = list(sportC, r);
    for (const p of ps) for (const q of qs) for (const s of ss) {
      const k = exact ? (p * nq + q) * ns + s : `${p},${q},${s}`;
      let c = combos.get(k);
      if (!c) combos.set(k, (c = { p, q, s, rules: [] }));
      c.rules.push(r);
    }
  }
  let decisions = 0;
  for (const c of combos.values()) {
    const w = walk(chain, flat, mergeSorted(c.rules, everywhere), ends, def);
    if (w.rule === miss.rule && w.verdict === miss.verdict) continue;
    t.decisions.push({ tableId, peer: c.p, port: c.q, sport: c.s, rule: w.rule - base, verdict: w.verdict });
    decisions++;
  }
  // Full-length entries go to the exact-match hashes, the rest to the tries; the flags say which to look up.
  const fullPeer = familyWidth(family);
  const peers = family === 4 ? t.peer4 : t.peer6;
  for (const e of peerC.entries) {
    flags |= e.p.len === fullPeer ? EP_FLAG.PEER_EXACT : EP_FLAG.PEER_LPM;
    peers.push(e as ClassEntry);
  }
  for (const e of portC.entries) {
    flags |= e.p.len === PORT_WIDTH ? EP_FLAG.PORT_EXACT : EP_FLAG.PORT_LPM;
    t.ports.push(e as ClassEntry);
  }
  if (flags & EP_FLAG.SPORTS) t.haveSports = true;
  if (flags & EP_FLAG.SPORTS) for (const e of sportC.entries) t.sports.push(e as ClassEntry);
  return {
    tableId, flags, miss: { verdict: miss.verdict, rule: miss.rule - base },
    stats: { rules: included.length, peerClasses: peerC.count, portClasses: portC.count, sportClasses: sportC.count, decisions },
  };
}

/** Two ascending lists as one (one of them as it is when the other is empty). */
export function mergeSorted(a: number[], b: number[]): number[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) out.push(j >= b.length || (i < a.length && a[i] < b[j]) ? a[i++] : b[j++]);
  return out;
}

export function dirCode(d: Direction): number {
  return d === 'ingress' ? DIR.INGRESS : DIR.EGRESS;
}
