// Prefixes over fixed-width bit strings: addresses (32 or 128 bits) and (protocol, port) pairs (24 bits).
// A prefix is its value with the host bits zero plus its length; ranges become the few prefixes that cover them.
import * as ipaddr from 'ipaddr.js';
import type { Family, PortRange } from '../../model/types';

export interface Prefix {
  /** the bits, host bits zero, as an unsigned integer of `width` bits */
  v: bigint;
  len: number;
}

export function familyWidth(f: Family): number {
  return f === 4 ? 32 : 128;
}

export function cidrFamily(cidr: string): Family {
  return cidr.includes(':') ? 6 : 4;
}

// Programs name the same CIDRs for many endpoints: each text is parsed once (prefixes are never mutated).
const PREFIX_CACHE = new Map<string, Prefix>();

export function cidrToPrefix(cidr: string): Prefix {
  let p = PREFIX_CACHE.get(cidr);
  if (p === undefined) {
    if (PREFIX_CACHE.size > 1_000_000) PREFIX_CACHE.clear();
    PREFIX_CACHE.set(cidr, (p = parsePrefix(cidr)));
  }
  return p;
}

// Dotted-quad IPv4 CIDRs as printed (decimal octets without leading zeros, which ipaddr would read as octal):
// read here; anything else goes to ipaddr (its reading and its errors).
const V4_CIDR = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\/(\d{1,2})$/;

function parsePrefix(cidr: string): Prefix {
  const q = V4_CIDR.exec(cidr);
  if (q) {
    const [a, b, c, d, len] = [Number(q[1]), Number(q[2]), Number(q[3]), Number(q[4]), Number(q[5])];
    if (a <= 255 && b <= 255 && c <= 255 && d <= 255 && len <= 32) return { v: mask(BigInt(((a * 256 + b) * 256 + c) * 256 + d), len, 32), len };
  }
  // By family: ipaddr.parseCIDR tries IPv6 first and throws (and catches) on every IPv4 text, which is slow.
  const [addr, lenText] = cidr.includes(':') ? ipaddr.IPv6.parseCIDR(cidr) : ipaddr.IPv4.parseCIDR(cidr);
  const bytes = addr.toByteArray();
  let v = 0n;
  for (const x of bytes) v = (v << 8n) | BigInt(x);
  const width = bytes.length * 8;
  return { v: mask(v, lenText, width), len: lenText };
}

export function mask(v: bigint, len: number, width: number): bigint {
  const host = BigInt(width - len);
  return (v >> host) << host;
}

export function contains(p: Prefix, q: Prefix, width: number): boolean {
  return p.len <= q.len && mask(q.v, p.len, width) === p.v;
}

/** Big-endian bytes of a prefix value. */
export function prefixBytes(p: Prefix, width: number): Buffer {
  const b = Buffer.alloc(width / 8);
  let v = p.v;
  for (let i = b.length - 1; i >= 0; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return b;
}

/** The minimal prefixes (of a `bits`-wide space) that cover [from, to] exactly. */
export function rangePrefixes(from: number, to: number, bits: number): { value: number; len: number }[] {
  const out: { value: number; len: number }[] = [];
  let lo = from;
  while (lo <= to) {
    let size = 1;
    let len = bits;
    // grow the block while it stays aligned and inside the range
    while (len > 0 && lo % (size * 2) === 0 && lo + size * 2 - 1 <= to) {
      size *= 2;
      len -= 1;
    }
    out.push({ value: lo, len });
    lo += size;
  }
  return out;
}

/** Sorted, merged complement of port ranges within 0..65535. */
export function complementRanges(ranges: PortRange[], max = 65535): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a.from - b.from);
  const out: PortRange[] = [];
  let next = 0;
  for (const r of sorted) {
    if (r.from > next) out.push({ from: next, to: r.from - 1 });
    next = Math.max(next, r.to + 1);
  }
  if (next <= max) out.push({ from: next, to: max });
  return out;
}

/** (protocol, port) space: 8 bits of protocol then 16 of port. */
export const PORT_WIDTH = 24;
export function protoPrefix(proto: number): Prefix {
  return { v: BigInt(proto) << 16n, len: 8 };
}
export function protoPortPrefixes(proto: number, ranges: PortRange[]): Prefix[] {
  const out: Prefix[] = [];
  for (const r of ranges) {
    for (const p of rangePrefixes(r.from, r.to, 16)) out.push({ v: (BigInt(proto) << 16n) | BigInt(p.value), len: 8 + p.len });
  }
  return out;
}
