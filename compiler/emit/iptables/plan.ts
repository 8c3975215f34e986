// One IR rule, seen from one address family: what the iptables and nftables writers need to know.
// The IR's Match is family-agnostic (address sets may mix IPv4 and IPv6); netfilter's tables are per family
// (iptables / ip6tables) or need a family per rule (nftables `ip` / `ip6` expressions), so each rule is planned
// once per family. A rule that can never match in a family (an address set with no address of that family, an
// ICMP match in the other family, ports on a protocol without ports) yields null and emits nothing.
import * as ipaddr from 'ipaddr.js';
import type { Cidr, Family, PortRange } from '../../model/types';
import type { Action, Rule } from '../../ir/types';

/** Protocols whose packets carry ports (the evaluator reads sport/dport only for these). */
export const PORT_PROTOS: readonly number[] = [6, 17, 132, 136];

export function icmpProto(family: Family): number {
  return family === 4 ? 1 : 58;
}

export function cidrFamily(c: Cidr): Family {
  return c.includes(':') ? 6 : 4;
}

export function isWholeSpace(c: Cidr): boolean {
  return c.endsWith('/0');
}

export interface IcmpSpec {
  type: number;
  code?: number;
}

/** A rule restricted to one family. `undefined` = no constraint; lists are never empty. */
export interface FamilyRule {
  id: string;
  action: Action;
  family: Family;
  peer?: Cidr[];
  notPeer: Cidr[];
  local?: Cidr[];
  notLocal: Cidr[];
  /** positive protocol alternatives; undefined = any protocol (never undefined when a port or ICMP field is set) */
  protos?: number[];
  notProto?: number;
  dports?: PortRange[];
  notDports: PortRange[];
  sports?: PortRange[];
  notSports: PortRange[];
  icmp?: IcmpSpec;
  notIcmp?: IcmpSpec;
}

/** Restricts `cidrs` to `family`: undefined stays undefined (no constraint); a set covering the whole family
 *  space becomes undefined; a set with no address of the family becomes []. */
function positiveSet(cidrs: Cidr[] | undefined, family: Family): Cidr[] | undefined {
  if (cidrs === undefined) return undefined;
  const mine = cidrs.filter((c) => cidrFamily(c) === family);
  if (mine.some(isWholeSpace)) return undefined;
  return minimalCidrs(mine);
}

export function planRule(rule: Rule, family: Family): FamilyRule | null {
  const m = rule.match;
  if (m.family !== undefined && m.family !== family) return null;

  const peer = positiveSet(m.peer, family);
  if (peer && peer.length === 0) return null;
  const local = positiveSet(m.local, family);
  if (local && local.length === 0) return null;
  const notPeer = minimalCidrs((m.notPeer ?? []).filter((c) => cidrFamily(c) === family));
  if (notPeer.some(isWholeSpace)) return null;
  const notLocal = minimalCidrs((m.notLocal ?? []).filter((c) => cidrFamily(c) === family));
  if (notLocal.some(isWholeSpace)) return null;

  // As the reference evaluator (compiler/ir/evaluate.ts) reads a match: any port field, negated or not, holds
  // only for packets of a port protocol; any ICMP field, negated or not, only for ICMP packets. (ICMP is taken
  // as the family's own: ICMPv6 inside IPv4 and ICMPv4 inside IPv6 are not written.)
  const portField = m.dports !== undefined || m.notDports !== undefined || m.sports !== undefined || m.notSports !== undefined;
  const icmpField = m.icmp !== undefined || m.notIcmp !== undefined;
  let protos: number[] | undefined = m.proto !== undefined ? [m.proto] : undefined;
  if (portField) protos = (protos ?? PORT_PROTOS.slice()).filter((p) => PORT_PROTOS.includes(p));
  if (icmpField) protos = (protos ?? [icmpProto(family)]).filter((p) => p === icmpProto(family));
  if (m.notProto !== undefined && protos) protos = protos.filter((p) => p !== m.notProto);
  if (protos && protos.length === 0) return null;
  if (m.dports && m.dports.length === 0) return null;
  if (m.sports && m.sports.length === 0) return null;

  return {
    id: rule.id,
    action: rule.action,
    family,
    peer,
    notPeer,
    local,
    notLocal,
    protos,
    notProto: protos ? undefined : m.notProto,
    dports: m.dports ? mergeRanges(m.dports) : undefined,
    notDports: mergeRanges(m.notDports ?? []),
    sports: m.sports ? mergeRanges(m.sports) : undefined,
    notSports: mergeRanges(m.notSports ?? []),
    icmp: m.icmp,
    notIcmp: m.notIcmp,
  };
}

/** Sorted, overlapping and adjacent ranges joined. */
export function mergeRanges(rs: PortRange[]): PortRange[] {
  const sorted = rs.map((r) => ({ from: r.from, to: r.to })).sort((a, b) => a.from - b.from || a.to - b.to);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else out.push(r);
  }
  return out;
}

interface Span {
  cidr: Cidr;
  lo: bigint | number;
  hi: bigint | number;
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

function span(c: Cidr): Span {
  // IPv4 in plain numbers (fast for sets of a million members); IPv6 through ipaddr.js and BigInt
  const m = V4.exec(c);
  if (m) {
    const v = ((+m[1] * 256 + +m[2]) * 256 + +m[3]) * 256 + +m[4];
    const size = 2 ** (32 - +m[5]);
    const lo = v - (v % size);
    return { cidr: c, lo, hi: lo + size - 1 };
  }
  const [addr, len] = ipaddr.parseCIDR(c);
  const bytes = addr.toByteArray();
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  const hostBits = BigInt(bytes.length * 8) - BigInt(len);
  const lo = (v >> hostBits) << hostBits;
  return { cidr: c, lo, hi: lo + (1n << hostBits) - 1n };
}

/** Drops duplicates and CIDRs contained in another of the list (nftables interval sets reject overlaps).
 *  Keeps the input order of what remains. One family per call. */
export function minimalCidrs(cidrs: Cidr[]): Cidr[] {
  const unique = [...new Set(cidrs)];
  if (unique.length <= 1) return unique;
  const spans = unique.map(span).sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : a.hi > b.hi ? -1 : a.hi < b.hi ? 1 : 0));
  const drop = new Set<Cidr>();
  let cover: Span | undefined;
  for (const s of spans) {
    if (cover && s.hi <= cover.hi) {
      drop.add(s.cidr);
      continue;
    }
    cover = s;
  }
  return drop.size === 0 ? unique : unique.filter((c) => !drop.has(c));
}

/** Printable, shell- and restore-safe text for comments and log prefixes. */
export function safeText(s: string, max: number): string {
  return s.replace(/[^A-Za-z0-9/._:#@=+-]/g, '_').slice(0, max);
}

export function protoName(p: number, family: Family): string {
  switch (p) {
    case 6:
      return 'tcp';
    case 17:
      return 'udp';
    case 132:
      return 'sctp';
    case 136:
      return 'udplite';
    case 1:
      return 'icmp';
    case 58:
      return family === 6 ? 'ipv6-icmp' : '58';
    default:
      return String(p);
  }
}

export function portText(r: PortRange, sep: string): string {
  return r.from === r.to ? String(r.from) : `${r.from}${sep}${r.to}`;
}
