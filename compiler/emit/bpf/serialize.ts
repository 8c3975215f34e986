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
  return inPlace('tg_endpoints', K.size, LAYOUT.tg_ep_value.size, eps, (e, o, k, v) => {
    o.k.setUint32(k + K.ifindex, ifindexOf(e), true);
    o.k.setUint8(k + K.direction, e.direction === 'ingress' ? DIR.INGRESS : DIR.EGRESS);
    o.k.setUint8(k + K.family, e.family);
    addrBytes(e.addr).bytes.copy(o.keys, k + K.addr);
    epValue(e).copy(o.values, v);
  });
}

// Entries of several tables may share one Prefix object (classes computed by the same rules): its IPv6 address
// bytes are computed once (an IPv4 address is written as a number).
const addrOf = [new WeakMap<Prefix, Buffer>(), new WeakMap<Prefix, Buffer>()];

/** The two buffers of a map's contents, with DataViews over them (their setters are inlined; Buffer's checked writes are calls). */
interface Out {
  keys: Buffer;
  values: Buffer;
  k: DataView;
  v: DataView;
}

/** Keys and values written in place, entry i at i * keySize and i * valueSize. */
function inPlace<T>(map: string, keySize: number, valueSize: number, items: readonly T[], write: (x: T, o: Out, k: number, v: number) => void): MapContents {
  const keys = Buffer.alloc(items.length * keySize);
  const values = Buffer.alloc(items.length * valueSize);
  const o: Out = { keys, values, k: new DataView(keys.buffer, keys.byteOffset, keys.length), v: new DataView(values.buffer, values.byteOffset, values.length) };
  for (let i = 0; i < items.length; i++) write(items[i], o, i * keySize, i * valueSize);
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
  return inPlace(map, L.size, V.size, es, (e, o, k, v) => {
    o.k.setUint32(k + L.prefixlen, 32 + e.p.len, true);
    o.k.setUint32(k + L.table_id, e.tableId, true);
    if (family === 4) o.k.setUint32(k + L.addr, Number(e.p.v)); // big-endian: network order
    else {
      let a = cache.get(e.p);
      if (!a) cache.set(e.p, (a = prefixBytes(e.p, width)));
      a.copy(o.keys, k + L.addr);
    }
    o.v.setUint32(v + V.class_id, e.cls, true);
  });
}

function portContents(map: string, es: ClassEntry[]): MapContents {
  const L = LAYOUT.tg_port_key;
  const V = LAYOUT.tg_class_value;
  return inPlace(map, L.size, V.size, es, (e, o, k, v) => {
    const pp = Number(e.p.v); // protocol << 16 | port
    o.k.setUint32(k + L.prefixlen, 32 + e.p.len, true);
    o.k.setUint32(k + L.table_id, e.tableId, true);
    o.k.setUint8(k + L.proto, pp >>> 16);
    o.k.setUint16(k + L.port, pp & 0xffff); // big-endian: network order
    o.v.setUint32(v + V.class_id, e.cls, true);
  });
}

function decisionContents(ds: BpfTables['decisions']): MapContents {
  const L = LAYOUT.tg_decision_key;
  const V = LAYOUT.tg_decision_value;
  return inPlace('tg_decisions', L.size, V.size, ds, (d, o, k, v) => {
    o.k.setUint32(k + L.table_id, d.tableId, true);
    o.k.setUint32(k + L.peer_class, d.peer, true);
    o.k.setUint32(k + L.port_class, d.port, true);
    o.k.setUint32(k + L.sport_class, d.sport, true);
    o.v.setUint32(v + V.rule, d.rule, true);
    o.v.setUint8(v + V.verdict, d.verdict);
  });
}

/** Entries shorter than the width (the LPM tries), then the full-length ones (the exact-match hashes), in order. */
function byLength(es: readonly ClassEntry[], width: number): [ClassEntry[], ClassEntry[]] {
  const part: ClassEntry[] = [];
  const full: ClassEntry[] = [];
  for (let i = 0; i < es.length; i++) (es[i].p.len === width ? full : part).push(es[i]);
  return [part, full];
}

/** Every map whose contents do not depend on the node (all but tg_endpoints and tg_ifaces). */
export function policyContents(t: BpfTables): MapContents[] {
  const [peer4, peer4Exact] = byLength(t.peer4, 32);
  const [peer6, peer6Exact] = byLength(t.peer6, 128);
  const [ports, portsExact] = byLength(t.ports, PORT_WIDTH);
  const out = [
    peerContents('tg_peer4', 4, peer4),
    peerContents('tg_peer4_exact', 4, peer4Exact),
    peerContents('tg_peer6', 6, peer6),
    peerContents('tg_peer6_exact', 6, peer6Exact),
    portContents('tg_ports', ports),
    portContents('tg_port_exact', portsExact),
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
