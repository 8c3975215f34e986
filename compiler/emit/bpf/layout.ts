// Binary serializers for every struct of bpf/include/tollgate_maps.h (field order and padding explained
// there). test/emit-bpf-layout.test.ts compiles the header, prints sizeof/offsetof and checks these against it.
import * as ipaddr from 'ipaddr.js';
import type { Family } from '../../model/types';

/** sizeof and offsetof of each struct, as the header lays them out (checked against the C compiler). */
export const LAYOUT = {
  tg_ep_key: { size: 24, ifindex: 0, direction: 4, family: 5, pad: 6, addr: 8 },
  tg_ep_value: { size: 20, ep_id: 0, miss_rule: 4, table_id: 8, rule_base: 12, miss_verdict: 16, flags: 17, pad: 18 },
  tg_iface_value: { size: 4, flags: 0 },
  tg_peer4_key: { size: 12, prefixlen: 0, table_id: 4, addr: 8 },
  tg_peer6_key: { size: 24, prefixlen: 0, table_id: 4, addr: 8 },
  tg_class_value: { size: 4, class_id: 0 },
  tg_port_key: { size: 12, prefixlen: 0, table_id: 4, proto: 8, port: 9, pad: 11 },
  tg_decision_key: { size: 16, table_id: 0, peer_class: 4, port_class: 8, sport_class: 12 },
  tg_decision_value: { size: 8, rule: 0, verdict: 4, pad: 5 },
  tg_ct_key: { size: 40, local: 0, peer: 16, local_port: 32, peer_port: 34, proto: 36, family: 37, origin: 38, pad: 39 },
  tg_ct_value: { size: 32, last_seen_ns: 0, ep_id: 8, rule: 12, ifindex: 16, gen: 20, flags: 24, pad: 25 },
  tg_counter: { size: 16, packets: 0, bytes: 8 },
  tg_last: { size: 16, rule: 0, ep_id: 4, verdict: 8, reason: 9, pad: 10, seq: 12 },
} as const;
export type StructName = keyof typeof LAYOUT;

/** Address bytes in network order: 4 for IPv4, 16 for IPv6. */
export function addrBytes(addr: string): { family: Family; bytes: Buffer } {
  const a = ipaddr.parse(addr);
  return a.kind() === 'ipv4' ? { family: 4, bytes: Buffer.from(a.toByteArray()) } : { family: 6, bytes: Buffer.from(a.toByteArray()) };
}

export interface EpKey {
  ifindex: number;
  direction: number;
  family: Family;
  addr: string;
}
export function epKey(k: EpKey): Buffer {
  const L = LAYOUT.tg_ep_key;
  const b = Buffer.alloc(L.size);
  b.writeUInt32LE(k.ifindex, L.ifindex);
  b.writeUInt8(k.direction, L.direction);
  b.writeUInt8(k.family, L.family);
  addrBytes(k.addr).bytes.copy(b, L.addr);
  return b;
}

export interface EpValue {
  epId: number;
  missRule: number;
  /** key of the class and decision maps (shared by entries with equal tables) */
  tableId: number;
  /** rule index of the entry's first rule row: decision rules are relative to it */
  ruleBase: number;
  missVerdict: number;
  flags: number;
}
export function epValue(v: EpValue): Buffer {
  const L = LAYOUT.tg_ep_value;
  const b = Buffer.alloc(L.size);
  b.writeUInt32LE(v.epId, L.ep_id);
  b.writeUInt32LE(v.missRule, L.miss_rule);
  b.writeUInt32LE(v.tableId, L.table_id);
  b.writeUInt32LE(v.ruleBase, L.rule_base);
  b.writeUInt8(v.missVerdict, L.miss_verdict);
  b.writeUInt8(v.flags, L.flags);
  return b;
}
export function readEpValue(b: Buffer): EpValue {
  const L = LAYOUT.tg_ep_value;
  return {
    epId: b.readUInt32LE(L.ep_id), missRule: b.readUInt32LE(L.miss_rule), tableId: b.readUInt32LE(L.table_id), ruleBase: b.readUInt32LE(L.rule_base), missVerdict: b.readUInt8(L.miss_verdict), flags: b.readUInt8(L.flags) };
}

export function ifaceKey(ifindex: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(ifindex, 0);
  return b;
}
export function ifaceValue(flags = 0): Buffer {
  const b = Buffer.alloc(LAYOUT.tg_iface_value.size);
  b.writeUInt32LE(flags, LAYOUT.tg_iface_value.flags);
  return b;
}

/** LPM key of a peer trie: addrBits are the prefix's address bytes (network order, host bits zero). */
export function peerKey(family: Family, tableId: number, addr: Buffer, prefixLen: number): Buffer {
  const L = family === 4 ? LAYOUT.tg_peer4_key : LAYOUT.tg_peer6_key;
  const b = Buffer.alloc(L.size);
  b.writeUInt32LE(32 + prefixLen, L.prefixlen);
  b.writeUInt32LE(tableId, L.table_id);
  addr.copy(b, L.addr, 0, family === 4 ? 4 : 16);
  return b;
}

/** LPM key of a port trie; prefixLen counts bits of (protocol, port): 0..24. */
export function portKey(tableId: number, proto: number, port: number, prefixLen: number): Buffer {
  const L = LAYOUT.tg_port_key;
  const b = Buffer.alloc(L.size);
  b.writeUInt32LE(32 + prefixLen, L.prefixlen);
  b.writeUInt32LE(tableId, L.table_id);
  b.writeUInt8(proto, L.proto);
  b.writeUInt16BE(port, L.port);
  return b;
}

export function classValue(classId: number): Buffer {
  const b = Buffer.alloc(LAYOUT.tg_class_value.size);
  b.writeUInt32LE(classId, LAYOUT.tg_class_value.class_id);
  return b;
}

export function decisionKey(tableId: number, peerClass: number, portClass: number, sportClass: number): Buffer {
  const L = LAYOUT.tg_decision_key;
  const b = Buffer.alloc(L.size);
  b.writeUInt32LE(tableId, L.table_id);
  b.writeUInt32LE(peerClass, L.peer_class);
  b.writeUInt32LE(portClass, L.port_class);
  b.writeUInt32LE(sportClass, L.sport_class);
  return b;
}
export function decisionValue(rule: number, verdict: number): Buffer {
  const L = LAYOUT.tg_decision_value;
  const b = Buffer.alloc(L.size);
  b.writeUInt32LE(rule, L.rule);
  b.writeUInt8(verdict, L.verdict);
  return b;
}

export interface CtKey {
  local: string;
  peer: string;
  localPort: number;
  peerPort: number;
  proto: number;
  origin: number;
}
export function ctKey(k: CtKey): Buffer {
  const L = LAYOUT.tg_ct_key;
  const b = Buffer.alloc(L.size);
  const l = addrBytes(k.local);
  l.bytes.copy(b, L.local);
  addrBytes(k.peer).bytes.copy(b, L.peer);
  b.writeUInt16LE(k.localPort, L.local_port);
  b.writeUInt16LE(k.peerPort, L.peer_port);
  b.writeUInt8(k.proto, L.proto);
  b.writeUInt8(l.family, L.family);
  b.writeUInt8(k.origin, L.origin);
  return b;
}
export interface CtValue {
  lastSeenNs: bigint;
  epId: number;
  rule: number;
  flags: number;
  /** interface of the program that decided or last checked the entry (0: none, never the fast path) */
  ifindex?: number;
  /** tg_gen when it was decided or last checked */
  gen?: number;
}
export function ctValue(v: CtValue): Buffer {
  const L = LAYOUT.tg_ct_value;
  const b = Buffer.alloc(L.size);
  b.writeBigUInt64LE(v.lastSeenNs, L.last_seen_ns);
  b.writeUInt32LE(v.epId, L.ep_id);
  b.writeUInt32LE(v.rule, L.rule);
  b.writeUInt32LE(v.ifindex ?? 0, L.ifindex);
  b.writeUInt32LE(v.gen ?? 0, L.gen);
  b.writeUInt8(v.flags, L.flags);
  return b;
}
export function readCtValue(b: Buffer): CtValue {
  const L = LAYOUT.tg_ct_value;
  return {
    lastSeenNs: b.readBigUInt64LE(L.last_seen_ns), epId: b.readUInt32LE(L.ep_id), rule: b.readUInt32LE(L.rule), flags: b.readUInt8(L.flags),
    ifindex: b.readUInt32LE(L.ifindex), gen: b.readUInt32LE(L.gen),
  };
}

export function readCounter(b: Buffer): { packets: bigint; bytes: bigint } {
  const L = LAYOUT.tg_counter;
  return { packets: b.readBigUInt64LE(L.packets), bytes: b.readBigUInt64LE(L.bytes) };
}

export interface LastDecision {
  rule: number;
  epId: number;
  verdict: number;
  reason: number;
  seq: number;
}
export function readLast(b: Buffer): LastDecision {
  const L = LAYOUT.tg_last;
  return { rule: b.readUInt32LE(L.rule), epId: b.readUInt32LE(L.ep_id), verdict: b.readUInt8(L.verdict), reason: b.readUInt8(L.reason), seq: b.readUInt32LE(L.seq) };
}
