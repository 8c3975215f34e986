// Optimizer: passes over the Program that never change a verdict nor which rule decides it
// (test/optimize.property.test.ts checks both on random programs and packets).
//
//   1. canonicalise each match: address lists merged to minimal prefix lists (adjacent and contained CIDRs),
//      port lists merged, constraints that hold anyway dropped (notPeer disjoint from peer);
//   2. drop rules that can never match (empty address set, empty port set, proto == notProto, ...);
//   3. drop rules shadowed by an earlier rule of the same tier whose action decides (Allow, Deny, Pass) and
//      whose match contains theirs (this also removes duplicates);
// Tiers are all kept, even when left empty: which policies selected the endpoint is part of what a default
// decision says ("no policy decided" vs "no policy selects the pod").
import type { Family, PortRange } from '../model/types';
import type { Chain, Match, Program, Rule, TierChain } from '../ir/types';
import {
  canonicalSetOf, difference, familyUniverse, fromCidrs, intersect, isEmpty, isSubset, toCidrs, UNIVERSE, type IpSet,
} from '../resolve/cidr';
import { ALL_PORTS, normalizePorts, portsSubset, subtractPorts } from '../resolve/ports';
import { sameCidrs } from '../ir/parts';

const PORT_PROTOCOLS = [6, 17, 132, 136];
const ICMP_PROTOCOLS = [1, 58];
/** how many earlier deciding rules each rule is compared with for containment */
const SHADOW_WINDOW = 64;
/** elements of an address list that pick its group (ChainMemo.cidrListId) */
const LIST_SAMPLES = 16;
/** lists in one group beyond which they are told apart by hash before element by element */
const CROWDED_GROUP = 4;

export function optimize(p: Program): Program {
  const memo = new ChainMemo();
  return {
    ...p,
    endpoints: p.endpoints.map((ep) => {
      const [ingress, egress] = [memo.chain(ep.ingress), memo.chain(ep.egress)];
      return ingress === ep.ingress && egress === ep.egress ? ep : { ...ep, ingress, egress };
    }),
  };
}

// Every field of a Match and how its value is compared (a field added to Match must be listed here: tsc checks).
const MATCH_FIELDS: Record<keyof Match, 'number' | 'cidrs' | 'ports' | 'icmp'> = {
  family: 'number', proto: 'number', notProto: 'number',
  peer: 'cidrs', notPeer: 'cidrs', local: 'cidrs', notLocal: 'cidrs',
  dports: 'ports', notDports: 'ports', sports: 'ports', notSports: 'ports',
  icmp: 'icmp', notIcmp: 'icmp',
};
const MATCH_FIELD_NAMES = Object.keys(MATCH_FIELDS) as (keyof Match)[];

/** What optimizing one distinct match gives: its canonical form, its sets, its key. */
interface MatchInfo {
  match: Match;
  /** undefined = never matches */
  n: Normal | undefined;
  /** id of the canonical match (equal canonical matches share it) */
  canon: number;
  /** the canonical match equals every input match of this structure, field by field (the rule is kept as it is) */
  same: boolean;
}

// Many endpoints are selected by the same policies and get the same rules: the optimizer works on each distinct
// tier (the sequence of actions and matches, compared by structure) once, and every other endpoint with that
// tier takes the same result. What the optimizer leaves as it was is returned as the very input object (rule,
// rule list, tier, chain, endpoint: the IR is never mutated), so an unchanged program costs no copies. A match is identified by a small number (interned by structure: address and port
// lists by identity first, then by content), so telling two tiers apart costs a few lookups per rule.
class ChainMemo {
  private readonly listIds = new Map<readonly unknown[], number>();
  /** port lists by their text ("from-to,..."), or for one range by from * 65536 + to */
  private readonly portListByText = new Map<string | number, number>();
  private nextListId = 0;
  /** address lists by a hash of their length and a few elements (lists of thousands of prefixes: no joined text to build and hold) */
  private readonly cidrLists = new Map<number, { list: readonly string[]; id: number; hash?: number }[]>();
  /** a small number for each prefix text met, for hashing lists */
  private readonly textIds = new Map<string, number>();
  private readonly matchIds = new Map<string, number>();
  /** lowering shares Match and Rule objects between endpoints: looked up by identity before by structure */
  private readonly matchObjIds = new Map<Match, number>();
  private readonly outRules = new Map<Rule, Rule>();
  private readonly tierRules = new Map<readonly Rule[], Rule[]>();
  /** content id of an address list -> its canonical list (one array for each content) */
  private readonly canonLists = new Map<number, string[]>();
  private readonly infos: MatchInfo[] = [];
  private readonly canonIds = new Map<string, number>();
  /** tier key -> indexes of the kept rules */
  private readonly tiers = new Map<string, number[]>();

  chain(c: Chain): Chain {
    const tiers = c.tiers.map((t) => this.tier(t));
    return tiers.every((t, i) => t === c.tiers[i]) ? c : { tiers };
  }

  private tier(t: TierChain): TierChain {
    let rules = this.tierRules.get(t.rules);
    if (!rules) this.tierRules.set(t.rules, (rules = this.tierByStructure(t.rules)));
    return rules === t.rules ? t : { ...t, rules };
  }

  private tierByStructure(rules: Rule[]): Rule[] {
    const ids = rules.map((r) => this.matchId(r.match));
    let key = '';
    for (let i = 0; i < ids.length; i++) key += `${rules[i].action[0]}${ids[i]} `;
    let kept = this.tiers.get(key);
    if (!kept) this.tiers.set(key, (kept = this.keep(rules, ids)));
    const out = kept.map((i) => this.outRule(rules[i], ids[i]));
    return out.length === rules.length && out.every((r, i) => r === rules[i]) ? rules : out;
  }

  /** The rule with its canonical match (one object per input rule: the output shares as the input does). */
  private outRule(r: Rule, id: number): Rule {
    if (this.infos[id].same) return r;
    let o = this.outRules.get(r);
    if (!o) this.outRules.set(r, (o = { ...r, match: this.infos[id].match }));
    return o;
  }

  /** Indexes of the rules that stay: those that can match and are not shadowed by an earlier deciding rule. */
  private keep(rules: readonly Rule[], ids: readonly number[]): number[] {
    const deciding: Normal[] = []; // kept rules that decide (Log rules shadow nothing)
    // ... with their protocol and destination port span (-1: any), to pass over most of them with two compares
    const dProto: number[] = [];
    const dLo: number[] = [];
    const dHi: number[] = [];
    const out: number[] = [];
    const decisive = new Set<number>(); // canonical matches of earlier deciding rules (duplicates of any age)
    for (let r = 0; r < rules.length; r++) {
      const info = this.infos[ids[r]];
      const n = info.n;
      if (!n) continue; // never matches
      if (decisive.has(info.canon)) continue; // duplicate of an earlier deciding rule
      // containment against the nearest deciding rules only: quadratic work stays bounded on huge tiers
      let shadowed = false;
      const [proto, lo, hi] = [n.proto ?? -1, n.dports ? n.dports[0].from : -1, n.dports ? n.dports[n.dports.length - 1].to : -1];
      for (let i = deciding.length - 1; i >= 0 && i >= deciding.length - SHADOW_WINDOW; i--) {
        // a rule for one protocol, or for some ports, contains only rules within them (port lists are never empty)
        if (dProto[i] >= 0 && dProto[i] !== proto) continue;
        if (dLo[i] >= 0 && (lo < dLo[i] || hi > dHi[i])) continue;
        if (this.contains(deciding[i], n)) {
          shadowed = true;
          break;
        }
      }
      if (shadowed) continue;
      out.push(r);
      if (rules[r].action === 'Log') continue;
      deciding.push(n);
      dProto.push(proto);
      dLo.push(lo);
      dHi.push(hi);
      decisive.add(info.canon);
    }
    return out;
  }

  /**
   * No memo: tiers are optimised once per distinct structure, so a pair of matches rarely comes back (10000
   * policies over 5000 pods remembered ~0.6M pairs, none met twice), and the address check is a few binary
   * searches, then one merge (isSubset).
   */
  private contains(a: Normal, b: Normal): boolean {
    // the checks that cost little first: most pairs differ in protocol or ports
    return containsApartFromAddrs(a, b) && containsAddrs(a, b);
  }

  /** The canonical form of an address list: computed once per content, and one array for each result. */
  private readonly canonicalList = (v: readonly string[]): string[] => {
    const id = this.cidrListId(v);
    let c = this.canonLists.get(id);
    if (!c) {
      // lowering writes canonical lists already (printed by toCidrs): the input is kept as it is, and so is a
      // list canonical by chance (no second copy of its strings to hold; setOf has its set)
      const printed: readonly string[] = canonicalSetOf(v) ? v : toCidrs(setOf(v));
      const same = printed === v || sameCidrs(printed, v);
      const cid = same ? id : this.cidrListId(printed);
      c = this.canonLists.get(cid) ?? ((same ? v : printed) as string[]);
      this.canonLists.set(cid, c);
      this.canonLists.set(id, c);
    }
    return c;
  };

  /** An id of a port list: equal content, equal id. */
  private portListId(v: readonly PortRange[]): number {
    let id = this.listIds.get(v);
    if (id === undefined) {
      let k: string | number = '';
      // one range (most lists): a number, no text
      if (v.length === 1 && Number.isInteger(v[0].from) && Number.isInteger(v[0].to) && v[0].to >= 0 && v[0].to < 65536) k = v[0].from * 65536 + v[0].to;
      else for (const r of v) k += `${r.from}-${r.to},`;
      id = this.portListByText.get(k);
      if (id === undefined) this.portListByText.set(k, (id = this.nextListId++));
      this.listIds.set(v, id);
    }
    return id;
  }

  /**
   * An id of an address list: equal content, equal id. Lists are grouped by length and up to LIST_SAMPLES
   * elements spread over the list (different lists mostly differ there, so a new content mostly finds its group
   * empty and costs no pass over its elements); a list that meets others in its group is compared with them
   * element by element, or, in a crowded group, by a hash of the whole list first.
   */
  private cidrListId(v: readonly string[]): number {
    let id = this.listIds.get(v);
    if (id !== undefined) return id;
    const n = v.length;
    let key = n;
    if (n <= LIST_SAMPLES) for (const x of v) key = mix(key, this.textId(x));
    else for (let k = 0; k < LIST_SAMPLES; k++) key = mix(key, this.textId(v[Math.floor((k * (n - 1)) / (LIST_SAMPLES - 1))]));
    let group = this.cidrLists.get(key);
    if (!group) this.cidrLists.set(key, (group = []));
    if (group.length > CROWDED_GROUP) {
      const h = this.listHash(v);
      id = group.find((e) => (e.hash ??= this.listHash(e.list)) === h && sameCidrs(e.list, v))?.id;
    } else if (group.length > 0) id = group.find((e) => sameCidrs(e.list, v))?.id;
    if (id === undefined) group.push({ list: v, id: (id = this.nextListId++) });
    this.listIds.set(v, id);
    return id;
  }

  private listHash(v: readonly string[]): number {
    let h = v.length;
    for (const x of v) h = mix(h, this.textId(x));
    return h;
  }

  private textId(x: string): number {
    let t = this.textIds.get(x);
    if (t === undefined) this.textIds.set(x, (t = this.textIds.size));
    return t;
  }

  private matchId(m: Match): number {
    let id = this.matchObjIds.get(m);
    if (id === undefined) this.matchObjIds.set(m, (id = this.matchIdByStructure(m)));
    return id;
  }

  private matchIdByStructure(m: Match): number {
    const key = this.structKey(m);
    let id = this.matchIds.get(key);
    if (id === undefined) {
      id = this.infos.length;
      this.matchIds.set(key, id);
      const canonical = canonicalMatch(m, this.canonicalList);
      // canonical already (lowering writes canonical lists): m itself, and its key
      const unchanged = MATCH_FIELD_NAMES.every((f) => canonical[f] === m[f]);
      const match = unchanged ? m : canonical;
      const ck = unchanged ? key : this.structKey(match);
      let canon = this.canonIds.get(ck);
      if (canon === undefined) this.canonIds.set(ck, (canon = this.canonIds.size));
      this.infos.push({ match, n: normal(match), canon, same: ck === key });
    }
    return id;
  }

  /** Equal for two matches exactly when they are equal field by field (lists compared by content). */
  private structKey(m: Match): string {
    let key = '';
    for (const f of MATCH_FIELD_NAMES) {
      const v = m[f];
      if (v === undefined) key += '|';
      else if (MATCH_FIELDS[f] === 'cidrs') key += `${this.cidrListId(v as string[])}|`;
      else if (MATCH_FIELDS[f] === 'ports') key += `${this.portListId(v as PortRange[])}|`;
      else if (MATCH_FIELDS[f] === 'icmp') key += `${(v as { type: number }).type}/${(v as { code?: number }).code ?? ''}|`;
      else key += `${v as number}|`;
    }
    return key;
  }
}

/** A running hash of small numbers. */
function mix(h: number, x: number): number {
  return (Math.imul(h ^ x, 0x9e3779b1) + 0x7f4a7c15) | 0;
}

/** Equal lengths and elements (prefix texts: mostly one shared string per prefix, compared by pointer). */

// ---------------------------------------------------------------------------------------------------------
// Canonical matches

// Lowering shares one address list between every rule whose peer is the same set: parsing once per list (by
// identity; canonicalising once per content, in ChainMemo) keeps the optimizer's work proportional to the rules,
// not to their addresses.
const setCache = new WeakMap<readonly string[], IpSet>();

function setOf(cidrs: readonly string[]): IpSet {
  let s = setCache.get(cidrs) ?? canonicalSetOf(cidrs);
  if (!s) setCache.set(cidrs, (s = fromCidrs(cidrs)));
  return s;
}

/** The list itself when it is canonical already (sorted, disjoint, non-adjacent: as lowering writes most), else normalizePorts's copy. */
function canonicalPorts(v: PortRange[]): PortRange[] {
  for (let i = 0; i < v.length; i++) if (v[i].from > v[i].to || (i > 0 && v[i].from <= v[i - 1].to + 1)) return normalizePorts(v);
  return v;
}

function canonicalMatch(m: Match, canonicalCidrs: (v: readonly string[]) => string[]): Match {
  const out: Match = { ...m };
  for (const k of ['peer', 'notPeer', 'local', 'notLocal'] as const) {
    const v = m[k];
    if (v) out[k] = canonicalCidrs(v);
  }
  for (const k of ['dports', 'notDports', 'sports', 'notSports'] as const) {
    const v = m[k];
    if (v) out[k] = canonicalPorts(v);
  }
  // negations that exclude nothing the positive side admits
  if (out.peer && out.notPeer && isEmpty(intersect(setOf(out.peer), setOf(out.notPeer)))) delete out.notPeer;
  if (out.local && out.notLocal && isEmpty(intersect(setOf(out.local), setOf(out.notLocal)))) delete out.notLocal;
  if (out.notPeer && out.notPeer.length === 0) delete out.notPeer;
  if (out.notLocal && out.notLocal.length === 0) delete out.notLocal;
  if (out.proto !== undefined && out.notProto !== undefined && out.proto !== out.notProto) delete out.notProto;
  return out;
}

/** A match as sets: what it admits in each dimension. `undefined` = never matches. */
interface Normal {
  family?: Family;
  peer: IpSet;
  local: IpSet;
  proto?: number;
  notProto?: number;
  /** undefined = no port constraint (any protocol, ports or not) */
  dports?: PortRange[];
  sports?: PortRange[];
  icmp?: { type: number; code?: number };
  notIcmp?: { type: number; code?: number };
}

/** What one address side admits: its list within the family, less its negation (the list's own set when that is all). */
function addressSide(list: readonly string[] | undefined, not: readonly string[] | undefined, universe: IpSet): IpSet {
  const pos = !list ? universe : universe === UNIVERSE ? setOf(list) : intersect(setOf(list), universe);
  return not ? difference(pos, setOf(not)) : pos;
}

function normal(m: Match): Normal | undefined {
  let universe = UNIVERSE;
  if (m.family) universe = familyUniverse(m.family);
  const peer = addressSide(m.peer, m.notPeer, universe);
  const local = addressSide(m.local, m.notLocal, universe);
  if (isEmpty(peer) || isEmpty(local)) return undefined;
  if (m.proto !== undefined && m.notProto === m.proto) return undefined;
  const ported = !!(m.dports || m.notDports || m.sports || m.notSports);
  const icmpish = !!(m.icmp || m.notIcmp);
  if (ported && icmpish) return undefined;
  if (ported && m.proto !== undefined && !PORT_PROTOCOLS.includes(m.proto)) return undefined;
  if (icmpish && m.proto !== undefined && !ICMP_PROTOCOLS.includes(m.proto)) return undefined;
  const n: Normal = { peer, local };
  if (m.family) n.family = m.family;
  if (m.proto !== undefined) n.proto = m.proto;
  if (m.notProto !== undefined) n.notProto = m.notProto;
  if (ported) {
    // m's lists are canonical already: only a negation makes new ones
    n.dports = m.notDports?.length ? subtractPorts(m.dports ?? ALL_PORTS, m.notDports) : (m.dports ?? ALL_PORTS);
    n.sports = m.notSports?.length ? subtractPorts(m.sports ?? ALL_PORTS, m.notSports) : (m.sports ?? ALL_PORTS);
    if (n.dports.length === 0 || n.sports.length === 0) return undefined;
  }
  if (m.icmp) n.icmp = m.icmp;
  if (m.notIcmp) n.notIcmp = m.notIcmp;
  if (m.icmp && m.notIcmp && m.icmp.type === m.notIcmp.type && (m.notIcmp.code === undefined || m.notIcmp.code === m.icmp.code)) return undefined;
  return n;
}

// Does every packet that `b` matches also match `a`? (sound: `false` when unsure) Both parts must hold.

/** Containment in family, protocol, ports and ICMP. */
function containsApartFromAddrs(a: Normal, b: Normal): boolean {
  if (a.family !== undefined && a.family !== b.family) {
    // b may still be confined to a's family by its address sets
    if (b.peer.v4.length + b.local.v4.length > 0 && a.family === 6) return false;
    if (b.peer.v6.length + b.local.v6.length > 0 && a.family === 4) return false;
  }
  if (a.proto !== undefined && a.proto !== b.proto) return false;
  if (a.notProto !== undefined && !(b.notProto === a.notProto || (b.proto !== undefined && b.proto !== a.notProto))) return false;
  if (a.dports) {
    if (!b.dports || !b.sports || !a.sports) return false;
    if (!portsSubset(b.dports, a.dports) || !portsSubset(b.sports, a.sports)) return false;
  }
  if (a.icmp || a.notIcmp) {
    if (!b.icmp && !b.notIcmp) return false;
    if (a.icmp) {
      if (!b.icmp || b.icmp.type !== a.icmp.type) return false;
      if (a.icmp.code !== undefined && b.icmp.code !== a.icmp.code) return false;
    }
    if (a.notIcmp) {
      const sameNeg = b.notIcmp && b.notIcmp.type === a.notIcmp.type && (b.notIcmp.code === undefined || b.notIcmp.code === a.notIcmp.code);
      const disjoint = b.icmp && (b.icmp.type !== a.notIcmp.type || (a.notIcmp.code !== undefined && b.icmp.code !== undefined && b.icmp.code !== a.notIcmp.code));
      if (!sameNeg && !disjoint) return false;
    }
  }
  return true;
}

/** Containment in the address sets (the costly part). */
function containsAddrs(a: Normal, b: Normal): boolean {
  return isSubset(b.peer, a.peer) && isSubset(b.local, a.local);
}
