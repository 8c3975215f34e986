// Map contents as the loader writes them: packed keys and values per map (BpfMap.updateBatch takes exactly
// that), in files with a 16-byte header: "TGM1", key size, value size, count (u32 little-endian each).
import type { Family } from '../../model/types';
import { DIR } from './codes';
import { addrBytes, epValue, LAYOUT } from './layout';
import { prefixBytes, PORT_WIDTH, type Prefix } from './prefix';
import type { BpfTables, ClassEntry, EndpointEntry } from './tables';

export interface MapContents {
  map: string;
  keySize: number;
  valueSize: number;
  count: number;
  keys: Buffer;
  values: Buffer;
}

/** Endpoint entries need the ifindex, known only on the node: the loader passes a resolver. */
export function endpointContents(eps: EndpointEntry[], ifindexOf: (e: EndpointEntry) => number): MapContents {
  const K = LAYOUT.tg_ep_key;
  return inPlace('tg_endpoints', K.size, LAYOUT.tg_ep_value.size, eps, (e, keys, k, values, v) => {
    keys.writeUInt32LE(ifindexOf(e), k + K.ifindex);
    keys.writeUInt8(e.direction === 'ingress' ? DIR.INGRESS : DIR.EGRESS, k + K.direction);
    keys.writeUInt8(e.family, k + K.family);
    addrBytes(e.addr).bytes.copy(keys, k + K.addr);
    epValue(e).copy(values, v);
  });
}

// Entries of several tables may share one Prefix object (classes computed by the same rules): its IPv6 address
// bytes are computed once (an IPv4 address is written as a number).
const addrOf = [new WeakMap<Prefix, Buffer>(), new WeakMap<Prefix, Buffer>()];

/** Keys and values written in place, entry i at i * keySize and i * valueSize. */
function inPlace<T>(map: string, keySize: number, valueSize: number, items: T[], write: (x: T, keys: Buffer, k: number, values: Buffer, v: number) => void): MapContents {
  const keys = Buffer.alloc(items.length * keySize);
  const values = Buffer.alloc(items.length * valueSize);
  items.forEach((x, i) => write(x, keys, i * keySize, values, i * valueSize));
  return { map, keySize, valueSize, count: items.length, keys, values };
}

// The maps are written in place as peerKey, portKey, classValue, decisionKey, decisionValue and epKey lay them out
// (test/emit-bpf-shared.test.ts checks against those).
function peerContents(map: string, family: Family, es: ClassEntry[]): MapContents {
  const width = family === 4 ? 32 : 128;
  const cache = addrOf[family === 4 ? 0 : 1];
  // prefixlen is written as is: full-length entries (the *_exact hashes) carry the maximum, 64 or 160
  const L = family === 4 ? LAYOUT.tg_peer4_key : LAYOUT.tg_peer6_key;
  const V = LAYOUT.tg_class_value;
  return inPlace(map, L.size, V.size, es, (e, keys, k, values, v) => {
    keys.writeUInt32LE(32 + e.p.len, k + L.prefixlen);
    keys.writeUInt32LE(e.tableId, k + L.table_id);
    if (family === 4) keys.writeUInt32BE(Number(e.p.v), k + L.addr);
    else {
      let a = cache.get(e.p);
      if (!a) cache.set(e.p, (a = prefixBytes(e.p, width)));
      a.copy(keys, k + L.addr);
    }
    values.writeUInt32LE(e.cls, v + V.class_id);
  });
}

function portContents(map: string, es: ClassEntry[]): MapContents {
  const L = LAYOUT.tg_port_key;
  const V = LAYOUT.tg_class_value;
  return inPlace(map, L.size, V.size, es, (e, keys, k, values, v) => {
    const pp = Number(e.p.v); // protocol << 16 | port
    keys.writeUInt32LE(32 + e.p.len, k + L.prefixlen);
    keys.writeUInt32LE(e.tableId, k + L.table_id);
    keys.writeUInt8(pp >>> 16, k + L.proto);
    keys.writeUInt16BE(pp & 0xffff, k + L.port);
    values.writeUInt32LE(e.cls, v + V.class_id);
  });
}

function decisionContents(ds: BpfTables['decisions']): MapContents {
  const L = LAYOUT.tg_decision_key;
  const V = LAYOUT.tg_decision_value;
  return inPlace('tg_decisions', L.size, V.size, ds, (d, keys, k, values, v) => {
    keys.writeUInt32LE(d.tableId, k + L.table_id);
    keys.writeUInt32LE(d.peer, k + L.peer_class);
    keys.writeUInt32LE(d.port, k + L.port_class);
    keys.writeUInt32LE(d.sport, k + L.sport_class);
    values.writeUInt32LE(d.rule, v + V.rule);
    values.writeUInt8(d.verdict, v + V.verdict);
  });
}

/** Every map whose contents do not depend on the node (all but tg_endpoints and tg_ifaces). */
export function policyContents(t: BpfTables): MapContents[] {
  const full = (w: number) => (e: ClassEntry): boolean => e.p.len === w;
  const part = (w: number) => (e: ClassEntry): boolean => e.p.len !== w;
  const out = [
    peerContents('tg_peer4', 4, t.peer4.filter(part(32))),
    peerContents('tg_peer4_exact', 4, t.peer4.filter(full(32))),
    peerContents('tg_peer6', 6, t.peer6.filter(part(128))),
    peerContents('tg_peer6_exact', 6, t.peer6.filter(full(128))),
    portContents('tg_ports', t.ports.filter(part(PORT_WIDTH))),
    portContents('tg_port_exact', t.ports.filter(full(PORT_WIDTH))),
    decisionContents(t.decisions),
  ];
  if (t.haveSports) out.push(portContents('tg_sports', t.sports));
  return out;
}

export function toFile(m: MapContents): Buffer {
  const h = Buffer.alloc(16);
  h.write('TGM1', 0, 'ascii');
  h.writeUInt32LE(m.keySize, 4);
  h.writeUInt32LE(m.valueSize, 8);
  h.writeUInt32LE(m.count, 12);
  return Buffer.concat([h, m.keys, m.values]);
}

export function fromFile(map: string, b: Buffer): MapContents {
  if (b.length < 16 || b.toString('ascii', 0, 4) !== 'TGM1') throw new Error(`${map}: expected a TGM1 map file, found ${b.length} bytes without the header`);
  const keySize = b.readUInt32LE(4);
  const valueSize = b.readUInt32LE(8);
  const count = b.readUInt32LE(12);
  const want = 16 + count * (keySize + valueSize);
  if (b.length !== want) throw new Error(`${map}: expected ${want} bytes for ${count} entries, found ${b.length}`);
  return { map, keySize, valueSize, count, keys: b.subarray(16, 16 + count * keySize), values: b.subarray(16 + count * keySize) };
}
