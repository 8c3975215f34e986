// CIDR algebra over both address families, exact, with bigint arithmetic (IPv4 sorted and printed as doubles,
// exact below 2^53).
//
// A set of addresses is kept as sorted, disjoint, non-adjacent closed intervals per family ([lo, hi] as
// bigints). Union, intersection and difference are linear merges over those lists (a union of many sets sorts
// once), containment is a merge after a few binary searches, membership one binary search; interval tuples and
// lists are shared between sets and never changed in place. `toCidrs` turns a set back into the minimal list of
// prefixes that covers exactly its addresses (each interval split greedily into the largest aligned blocks; no
// shorter list of prefixes covers the same set).
import * as ipaddr from 'ipaddr.js';
import type { Cidr, Family } from '../model/types';

export type Interval = readonly [bigint, bigint];

/** A set of addresses of both families. */
export interface IpSet {
  v4: Interval[];
  v6: Interval[];
}

export const WIDTH: Record<Family, number> = { 4: 32, 6: 128 };
const MAX: Record<Family, bigint> = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n };

export interface Prefix {
  family: Family;
  /** network address, host bits zero */
  addr: bigint;
  len: number;
}

export function familyOf(addrOrCidr: string): Family {
  return addrOrCidr.includes(':') ? 6 : 4;
}

function bytesToBigint(bytes: number[]): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function bigintToBytes(v: bigint, n: number): number[] {
  const out = new Array<number>(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

const V4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

// Parsing and printing addresses is most of the work of resolving big clusters (the same pod addresses are
// parsed for every selector that reaches them): both are memoised. Results are immutable values.
const CACHE_LIMIT = 1 << 20;
const addrCache = new Map<string, { family: Family; value: bigint }>();
const prefixCache = new Map<string, Prefix>();
const formatCache: Record<Family, Map<bigint, string>> = { 4: new Map(), 6: new Map() };

function remember<K, V>(m: Map<K, V>, k: K, v: V): V {
  if (m.size >= CACHE_LIMIT) m.clear();
  m.set(k, v);
  return v;
}

/** Parses an address (either family) to its family and numeric value; throws on text that is not an address. */
export function parseAddr(text: string): { family: Family; value: bigint } {
  const hit = addrCache.get(text);
  if (hit) return hit;
  return remember(addrCache, text, Object.freeze(parseAddrUncached(text)));
}

function parseAddrUncached(text: string): { family: Family; value: bigint } {
  const q = V4_RE.exec(text);
  if (q) {
    const b = [Number(q[1]), Number(q[2]), Number(q[3]), Number(q[4])];
    if (b.every((x) => x <= 255)) return { family: 4, value: BigInt(((b[0] * 256 + b[1]) * 256 + b[2]) * 256 + b[3]) };
  }
  const ip = ipaddr.parse(text);
  if (ip.kind() === 'ipv4') return { family: 4, value: bytesToBigint(ip.toByteArray()) };
  return { family: 6, value: bytesToBigint(ip.toByteArray()) };
}

export function formatAddr(family: Family, value: bigint): string {
  const m = formatCache[family];
  const hit = m.get(value);
  if (hit !== undefined) return hit;
  return remember(m, value, formatAddrUncached(family, value));
}

function formatAddrUncached(family: Family, value: bigint): string {
  if (family === 4) {
    const n = Number(value);
    return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  return (ipaddr.fromByteArray(bigintToBytes(value, 16)) as ipaddr.IPv6).toRFC5952String();
}

/** "10.1.2.3/8" -> prefix 10.0.0.0/8 (host bits cleared); a bare address is a host prefix. */
export function parsePrefix(text: string): Prefix {
  const hit = prefixCache.get(text);
  if (hit) return hit;
  return remember(prefixCache, text, Object.freeze(parsePrefixUncached(text)));
}

function parsePrefixUncached(text: string): Prefix {
  const slash = text.indexOf('/');
  const { family, value } = parseAddr(slash < 0 ? text : text.slice(0, slash));
  const len = slash < 0 ? WIDTH[family] : Number(text.slice(slash + 1));
  if (!Number.isInteger(len) || len < 0 || len > WIDTH[family]) throw new Error(`bad prefix length in ${JSON.stringify(text)}`);
  const hostBits = BigInt(WIDTH[family] - len);
  return { family, addr: (value >> hostBits) << hostBits, len };
}

export function formatPrefix(p: Prefix): Cidr {
  return `${formatAddr(p.family, p.addr)}/${p.len}`;
}

/** Canonical text of a CIDR: host bits cleared, IPv6 compressed lower-case. */
export function canonicalCidr(text: string): Cidr {
  return formatPrefix(parsePrefix(text));
}

function prefixInterval(p: Prefix): Interval {
  return [p.addr, p.addr + (1n << BigInt(WIDTH[p.family] - p.len)) - 1n];
}

// ---------------------------------------------------------------------------------------------------------
// Interval lists

function normalize(list: Interval[]): Interval[] {
  const sorted = [...list].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Interval[] = [];
  for (const iv of sorted) pushMerged(out, iv);
  return out;
}

/**
 * Appends an interval that starts at or after the last one of `out`, merging it with the last when they overlap
 * or touch. Intervals are immutable and shared between sets: one left as it is goes in as the same tuple.
 */
function pushMerged(out: Interval[], iv: Interval): void {
  const n = out.length;
  if (n === 0) {
    out.push(iv);
    return;
  }
  const last = out[n - 1];
  if (iv[0] <= last[1] + 1n) {
    if (iv[1] > last[1]) out[n - 1] = [last[0], iv[1]];
  } else out.push(iv);
}

/** Union of two normalised lists, by one merge (no sort). */
function unionList(a: Interval[], b: Interval[]): Interval[] {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  // lists apart (one ends before the other begins, not touching: pods and an ipBlock elsewhere): one after the
  // other, as the merge would give them (no bigint made per interval)
  if (apart(a, b)) return a.concat(b);
  if (apart(b, a)) return b.concat(a);
  const out: Interval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) pushMerged(out, j >= b.length || (i < a.length && a[i][0] <= b[j][0]) ? a[i++] : b[j++]);
  return out;
}

/** Whether the last interval of `a` ends before the first of `b` begins, without touching it. */
function apart(a: readonly Interval[], b: readonly Interval[]): boolean {
  return a[a.length - 1][1] + 1n < b[0][0];
}

function intersectList(a: Interval[], b: Interval[]): Interval[] {
  if (b.length === 1 && a.length > 0 && b[0][0] <= a[0][0] && b[0][1] >= a[a.length - 1][1]) return a;
  if (a.length === 1 && b.length > 0 && a[0][0] <= b[0][0] && a[0][1] >= b[b.length - 1][1]) return b;
  const out: Interval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = a[i][0] > b[j][0] ? a[i][0] : b[j][0];
    const hi = a[i][1] < b[j][1] ? a[i][1] : b[j][1];
    if (lo <= hi) out.push(lo === a[i][0] && hi === a[i][1] ? a[i] : lo === b[j][0] && hi === b[j][1] ? b[j] : [lo, hi]);
    if (a[i][1] < b[j][1]) i++;
    else j++;
  }
  return out;
}

function subtractList(a: Interval[], b: Interval[]): Interval[] {
  if (b.length === 0 || a.length === 0) return a;
  const out: Interval[] = [];
  let j = 0;
  for (const iv of a) {
    const [alo, ahi] = iv;
    let lo = alo;
    while (j < b.length && b[j][1] < lo) j++;
    let k = j;
    while (k < b.length && b[k][0] <= ahi && lo <= ahi) {
      if (b[k][0] > lo) out.push([lo, b[k][0] - 1n]);
      lo = b[k][1] + 1n;
      if (b[k][1] >= ahi) break;
      k++;
    }
    if (lo <= ahi) out.push(lo === alo ? iv : [lo, ahi]);
  }
  return out;
}

/** The index of the interval of a normalised list that holds `v` (binary search), or -1. */
function findInterval(list: readonly Interval[], v: bigint): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (v < list[mid][0]) hi = mid - 1;
    else if (v > list[mid][1]) lo = mid + 1;
    else return mid;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------------------
// Sets

export const EMPTY: IpSet = Object.freeze<IpSet>({ v4: [], v6: [] });
export const UNIVERSE: IpSet = Object.freeze<IpSet>({ v4: [[0n, MAX[4]] as const], v6: [[0n, MAX[6]] as const] });

export function familyUniverse(f: Family): IpSet {
  return f === 4 ? { v4: [[0n, MAX[4]]], v6: [] } : { v4: [], v6: [[0n, MAX[6]]] };
}

/** The set of addresses covered by some CIDRs (or bare addresses), either family mixed. */
export function fromCidrs(cidrs: readonly string[]): IpSet {
  const v4: Interval[] = [];
  const v6: Interval[] = [];
  for (const c of cidrs) {
    const p = parsePrefix(c);
    (p.family === 4 ? v4 : v6).push(prefixInterval(p));
  }
  return { v4: normalize(v4), v6: normalize(v6) };
}

export function union(...sets: IpSet[]): IpSet {
  if (sets.length > 8) return { v4: normalize(sets.flatMap((s) => s.v4)), v6: normalize(sets.flatMap((s) => s.v6)) };
  let v4: Interval[] = [];
  let v6: Interval[] = [];
  for (const s of sets) {
    v4 = unionList(v4, s.v4);
    v6 = unionList(v6, s.v6);
  }
  return { v4, v6 };
}

/**
 * Whether `u`, the union of `parts`, holds every interval of every part as it is (no two parts overlap or touch:
 * else intervals merge and `u` has fewer than the parts together). toCidrs prints a set interval by interval, so
 * toCidrs(u) is then exactly the prefixes of the parts' toCidrs.
 */
export function keepsParts(u: IpSet, parts: readonly IpSet[]): boolean {
  let n = 0;
  for (const p of parts) n += p.v4.length + p.v6.length;
  return n === u.v4.length + u.v6.length;
}

export function intersect(a: IpSet, b: IpSet): IpSet {
  return { v4: intersectList(a.v4, b.v4), v6: intersectList(a.v6, b.v6) };
}

export function difference(a: IpSet, b: IpSet): IpSet {
  return { v4: subtractList(a.v4, b.v4), v6: subtractList(a.v6, b.v6) };
}

export function isEmpty(s: IpSet): boolean {
  return s.v4.length === 0 && s.v6.length === 0;
}

/** Is every interval of `a` inside one interval of `b` (both normalised: disjoint, non-adjacent)? No allocation. */
function listSubset(a: Interval[], b: Interval[]): boolean {
  if (a.length === 0) return true;
  // sets that differ mostly differ at an end or in the middle: three lookups before the whole merge
  if (!insideOne(b, a[0]) || !insideOne(b, a[a.length - 1]) || !insideOne(b, a[a.length >> 1])) return false;
  let j = 0;
  for (const [lo, hi] of a) {
    while (j < b.length && b[j][1] < lo) j++;
    if (j === b.length || b[j][0] > lo || b[j][1] < hi) return false;
  }
  return true;
}

/** Is the interval inside one interval of the normalised list? */
function insideOne(list: readonly Interval[], iv: Interval): boolean {
  const i = findInterval(list, iv[0]);
  return i >= 0 && iv[1] <= list[i][1];
}

/** a ⊆ b */
export function isSubset(a: IpSet, b: IpSet): boolean {
  return (a === b || (listSubset(a.v4, b.v4) && listSubset(a.v6, b.v6)));
}

export function equalSets(a: IpSet, b: IpSet): boolean {
  return isSubset(a, b) && isSubset(b, a);
}

export function containsAddr(s: IpSet, addr: string): boolean {
  const { family, value } = parseAddr(addr);
  return findInterval(family === 4 ? s.v4 : s.v6, value) >= 0;
}

/** Number of addresses in the set of one family (for tests and sizes). */
export function size(s: IpSet, f: Family): bigint {
  return (f === 4 ? s.v4 : s.v6).reduce((n, [lo, hi]) => n + hi - lo + 1n, 0n);
}

function intervalToPrefixes(family: Family, lo: bigint, hi: bigint, out: Prefix[]): void {
  const width = WIDTH[family];
  while (lo <= hi) {
    // the largest block aligned at lo that does not pass hi
    let bits = 0;
    while (bits < width) {
      const size = 1n << BigInt(bits + 1);
      if ((lo & (size - 1n)) !== 0n || lo + size - 1n > hi) break;
      bits++;
    }
    out.push({ family, addr: lo, len: width - bits });
    lo += 1n << BigInt(bits);
  }
}

/** The minimal prefix list covering exactly the set: IPv4 first, each family in address order. */
export function toPrefixes(s: IpSet): Prefix[] {
  const out: Prefix[] = [];
  for (const [lo, hi] of s.v4) intervalToPrefixes(4, lo, hi, out);
  for (const [lo, hi] of s.v6) intervalToPrefixes(6, lo, hi, out);
  return out;
}

// Lists printed by toCidrs are canonical (minimal, IPv4 first, each family in address order) and remember the
// set they were printed from: the optimizer takes them as they are instead of parsing and merging them again.
// Lists are never changed in place (the IR is immutable data), so the set stays the list's.
const printedFrom = new WeakMap<readonly string[], IpSet>();

/** The set a list was printed from by toCidrs (the list is then canonical), or undefined. */
export function canonicalSetOf(cidrs: readonly string[]): IpSet | undefined {
  return printedFrom.get(cidrs);
}

export function toCidrs(s: IpSet): Cidr[] {
  const out: Cidr[] = [];
  for (const iv of s.v4) {
    // intervals are shared between sets (a pod's address is in every set of pods holding it): printed once each
    let t = v4IntervalTexts.get(iv);
    if (t === undefined) {
      const texts: Cidr[] = [];
      v4IntervalToCidrs(Number(iv[0]), Number(iv[1]), texts);
      v4IntervalTexts.set(iv, (t = texts.length === 1 ? texts[0] : texts));
    }
    if (typeof t === 'string') out.push(t);
    else for (const x of t) out.push(x);
  }
  if (s.v6.length) for (const p of toPrefixes({ v4: [], v6: s.v6 })) out.push(formatPrefix(p));
  printedFrom.set(out, s);
  return out;
}

/**
 * toCidrs(u) from the lists toCidrs printed for some sets whose union is `u` (the caller's word), when the sets
 * lie apart: in each family, every set's addresses before the next set's, none touching (pods and an ipBlock
 * elsewhere). u's intervals are then the sets' one after another, so its list is theirs one after another in
 * each family, nothing printed again. undefined when a list was not printed by toCidrs or the sets do not lie so.
 */
export function toCidrsApart(u: IpSet, lists: readonly (readonly Cidr[])[]): Cidr[] | undefined {
  const sets = new Array<IpSet>(lists.length);
  let anyV6 = false;
  for (let i = 0; i < lists.length; i++) {
    const s = printedFrom.get(lists[i]);
    if (!s) return undefined;
    sets[i] = s;
    if (s.v6.length) anyV6 = true;
  }
  const v4 = apartOrder(sets, 4, u.v4.length);
  const v6 = v4 && apartOrder(sets, 6, u.v6.length);
  if (!v4 || !v6) return undefined;
  // a printed list holds its IPv4 texts first: each list's runs of each family, copied by concat (long lists)
  const runs: (readonly Cidr[])[] = [];
  if (!anyV6) for (const i of v4) runs.push(lists[i]);
  else {
    const split = lists.map((l, i) => l.length - v6Count(l, sets[i]));
    for (const i of v4) runs.push(split[i] === lists[i].length ? lists[i] : lists[i].slice(0, split[i]));
    for (const i of v6) runs.push(split[i] === 0 ? lists[i] : lists[i].slice(split[i]));
  }
  const out = runs.length ? runs[0].concat(...runs.slice(1)) : [];
  printedFrom.set(out, u);
  return out;
}

/**
 * The indices of the sets holding intervals of one family, in address order, if they lie apart and hold `total`
 * intervals (a few sets: sorted by insertion).
 */
function apartOrder(sets: readonly IpSet[], family: Family, total: number): number[] | undefined {
  const order: number[] = [];
  let n = 0;
  for (let i = 0; i < sets.length; i++) {
    const l = family === 4 ? sets[i].v4 : sets[i].v6;
    if (l.length === 0) continue;
    n += l.length;
    const lo = l[0][0];
    let k = order.length;
    while (k > 0 && lo < first(sets[order[k - 1]], family)) k--;
    order.splice(k, 0, i);
  }
  if (n !== total) return undefined;
  for (let k = 1; k < order.length; k++) {
    const a = sets[order[k - 1]];
    const b = sets[order[k]];
    if (!apart(family === 4 ? a.v4 : a.v6, family === 4 ? b.v4 : b.v6)) return undefined;
  }
  return order;
}

/** The first address of a set's intervals of one family (the family has some). */
function first(s: IpSet, family: Family): bigint {
  return (family === 4 ? s.v4 : s.v6)[0][0];
}

/** How many IPv6 texts end a printed list: the texts holding ':' (IPv4 texts come first and hold none). */
function v6Count(list: readonly Cidr[], s: IpSet): number {
  if (s.v6.length === 0) return 0;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].includes(':')) hi = mid;
    else lo = mid + 1;
  }
  return list.length - lo;
}

/** The prefix texts of an IPv4 interval (one text when it is one prefix). */
const v4IntervalTexts = new WeakMap<Interval, Cidr | readonly Cidr[]>();

/** IPv4 prefix texts by address * 64 + length: the same pod addresses are printed in many lists, kept once. */
const v4Texts = new Map<number, Cidr>();

/** intervalToPrefixes then formatPrefix for IPv4, in numbers (exact below 2^53): the same text, no bigint work. */
function v4IntervalToCidrs(lo: number, hi: number, out: Cidr[]): void {
  while (lo <= hi) {
    let bits = 0;
    while (bits < 32) {
      const size = 2 ** (bits + 1);
      if (lo % size !== 0 || lo + size - 1 > hi) break;
      bits++;
    }
    const k = lo * 64 + bits;
    let t = v4Texts.get(k);
    if (t === undefined) {
      t = `${Math.floor(lo / 16777216)}.${Math.floor(lo / 65536) % 256}.${Math.floor(lo / 256) % 256}.${lo % 256}/${32 - bits}`;
      remember(v4Texts, k, t);
    }
    out.push(t);
    lo += 2 ** bits;
  }
}

/** Host prefix of an address: "10.0.0.1" -> "10.0.0.1/32". */
export function hostCidr(addr: string): Cidr {
  const { family, value } = parseAddr(addr);
  return formatPrefix({ family, addr: value, len: WIDTH[family] });
}

/** Addresses as a set (each a host prefix). */
export function fromAddrs(addrs: readonly string[]): IpSet {
  const v4: number[] = [];
  const v6: Interval[] = [];
  for (const a of addrs) {
    const { family, value } = parseAddr(a);
    if (family === 4) v4.push(Number(value));
    else v6.push([value, value]);
  }
  return { v4: v4Intervals(v4), v6: normalize(v6) };
}

/** normalize() of IPv4 host intervals, sorted as numbers (exact below 2^53): runs of adjacent addresses merged. */
function v4Intervals(values: readonly number[]): Interval[] {
  const sorted = Float64Array.from(values).sort();
  const out: Interval[] = [];
  for (let i = 0; i < sorted.length; ) {
    const lo = sorted[i];
    let hi = lo;
    for (i++; i < sorted.length && sorted[i] <= hi + 1; i++) hi = sorted[i];
    out.push([BigInt(lo), BigInt(hi)]);
  }
  return out;
}

/** Minimal CIDR list of the union of some CIDRs: merges adjacent and contained prefixes. */
export function mergeCidrs(cidrs: readonly string[]): Cidr[] {
  return toCidrs(fromCidrs(cidrs));
}
