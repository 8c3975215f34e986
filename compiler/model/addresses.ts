// IP addresses and CIDRs as the model keeps them: canonical text (IPv4 dotted quad, IPv6 RFC 5952 lower-case
// compressed), host bits cleared. Parsing never throws; callers turn a failure into a located diagnostic.
import * as ipaddr from 'ipaddr.js';
import type { Cidr, Family } from './types';

export interface ParsedIp {
  addr: string;
  family: Family;
  ip: ipaddr.IPv4 | ipaddr.IPv6;
}

export interface ParsedCidr {
  cidr: Cidr;
  family: Family;
  prefix: number;
  network: ipaddr.IPv4 | ipaddr.IPv6;
  /** the text had host bits set ("10.0.0.1/24"); `cidr` has them cleared */
  hostBits: boolean;
}

export function parseIp(text: string): ParsedIp | undefined {
  const s = text.trim();
  if (s !== text || s === '') return undefined;
  // A four-part decimal never holds ':' and an IPv6 address always does. Asked first, the IPv4 check would
  // throw and catch inside ipaddr.js for every IPv6 address (costly on thousands of pods).
  if (!s.includes(':')) {
    const octets = plainIpv4(s);
    if (octets) return { addr: s, family: 4, ip: new ipaddr.IPv4(octets) };
    if (!ipaddr.IPv4.isValidFourPartDecimal(s)) return undefined;
    const ip = ipaddr.IPv4.parse(s);
    return { addr: ip.toString(), family: 4, ip };
  }
  if (ipaddr.IPv6.isValid(s) && !s.includes('%')) {
    const ip = ipaddr.IPv6.parse(s);
    return { addr: ip.toRFC5952String(), family: 6, ip };
  }
  return undefined;
}

/**
 * The octets of a dotted quad written as ipaddr.js prints it (decimal octets 0..255, no leading zeros), which is
 * then its own canonical text; undefined for any other text (ipaddr.js decides those, slower: regexes, and a parser
 * that reads 010 as octal).
 */
function plainIpv4(s: string): number[] | undefined {
  const octets: number[] = [];
  let n = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || n > 255 || octets.length === 4) return undefined;
      octets.push(n);
      n = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && n === 0) return undefined; // a leading zero
      n = n * 10 + c - 48;
      if (++digits > 3) return undefined;
    } else return undefined;
  }
  return octets.length === 4 ? octets : undefined;
}

/**
 * "a.b.c.d/n" or "x::y/n"; with `bareIp`, an address alone is a host route (/32 or /128), as Calico accepts it.
 * Returns an error text ("expected ..." is added by the caller) when it does not parse.
 */
export function parseCidr(text: string, opts: { bareIp?: boolean } = {}): ParsedCidr | { error: string } {
  // Large inputs repeat the same CIDRs in thousands of policies; results are never mutated, so they are shared.
  // One map per reading, by the text alone (a marker prefixed to the text would meet texts that start with it).
  const cache = opts.bareIp ? CIDR_CACHE.bareIp : CIDR_CACHE.cidr;
  let r = cache.get(text);
  if (r === undefined) {
    if (cache.size > 100_000) cache.clear();
    r = parseCidrUncached(text, opts);
    cache.set(text, r);
  }
  return r;
}

const CIDR_CACHE = { cidr: new Map<string, ParsedCidr | { error: string }>(), bareIp: new Map<string, ParsedCidr | { error: string }>() };

function parseCidrUncached(text: string, opts: { bareIp?: boolean }): ParsedCidr | { error: string } {
  const slash = text.indexOf('/');
  if (slash < 0) {
    const ip = parseIp(text);
    if (!ip) return { error: 'not an IP address or CIDR' };
    if (!opts.bareIp) return { error: 'an address without a /prefix length' };
    const prefix = ip.family === 4 ? 32 : 128;
    return { cidr: `${ip.addr}/${prefix}`, family: ip.family, prefix, network: ip.ip, hostBits: false };
  }
  const ip = parseIp(text.slice(0, slash));
  const plen = text.slice(slash + 1);
  if (!ip) return { error: 'the address part does not parse' };
  const max = ip.family === 4 ? 32 : 128;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(plen) || Number(plen) > max) return { error: `the prefix length is not 0..${max}` };
  const prefix = Number(plen);
  // the address's bytes (a copy), the bits past the prefix cleared in place
  const masked = ip.ip.toByteArray();
  let hostBits = false;
  for (let i = 0; i < masked.length; i++) {
    const bitsHere = Math.max(0, Math.min(8, prefix - i * 8));
    const b = masked[i] & ((0xff << (8 - bitsHere)) & 0xff);
    if (b !== masked[i]) {
      hostBits = true;
      masked[i] = b;
    }
  }
  const network = ipaddr.fromByteArray(masked);
  // IPv4 prints as its octets joined by dots (ipaddr's toString)
  const addr = ip.family === 6 ? (network as ipaddr.IPv6).toRFC5952String() : masked.join('.');
  return { cidr: `${addr}/${prefix}`, family: ip.family, prefix, network, hostBits };
}

/** Is `inner` inside `outer` (same family, longer or equal prefix, network bits agree)? */
export function cidrContains(outer: ParsedCidr, inner: ParsedCidr): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false;
  if (outer.network.kind() === 'ipv4') return (inner.network as ipaddr.IPv4).match(outer.network as ipaddr.IPv4, outer.prefix);
  return (inner.network as ipaddr.IPv6).match(outer.network as ipaddr.IPv6, outer.prefix);
}
