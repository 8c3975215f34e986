// Crafted packets for BPF_PROG_TEST_RUN: Ethernet + IPv4/IPv6 + TCP/UDP/SCTP/ICMP. Checksums are left zero:
// tc programs do not verify them. Used by the bpf engine, the kernel tests and the bench.
import type { Packet } from '../../ir/types';
import { addrBytes } from './layout';

export interface CraftOptions {
  /** TCP flags byte (default SYN = 0x02) */
  tcpFlags?: number;
  /** ICMP echo identifier */
  echoId?: number;
  payload?: number;
}

export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, ACK: 0x10 } as const;

export function craft(p: Packet, o: CraftOptions = {}): Buffer {
  const src = addrBytes(p.src);
  const dst = addrBytes(p.dst);
  if (src.family !== dst.family) throw new Error(`packet: expected one address family, found ${p.src} and ${p.dst}`);
  let l4: Buffer;
  if (p.proto === 6) {
    l4 = Buffer.alloc(20 + (o.payload ?? 0));
    l4.writeUInt16BE(p.sport ?? 40000, 0);
    l4.writeUInt16BE(p.dport ?? 0, 2);
    l4.writeUInt8(5 << 4, 12);
    l4.writeUInt8(o.tcpFlags ?? TCP.SYN, 13);
    l4.writeUInt16BE(65535, 14);
  } else if (p.proto === 17 || p.proto === 136) {
    l4 = Buffer.alloc(8 + (o.payload ?? 0));
    l4.writeUInt16BE(p.sport ?? 40000, 0);
    l4.writeUInt16BE(p.dport ?? 0, 2);
    l4.writeUInt16BE(l4.length, 4);
  } else if (p.proto === 132) {
    l4 = Buffer.alloc(12 + (o.payload ?? 0));
    l4.writeUInt16BE(p.sport ?? 40000, 0);
    l4.writeUInt16BE(p.dport ?? 0, 2);
  } else if (p.proto === 1 || p.proto === 58) {
    l4 = Buffer.alloc(8 + (o.payload ?? 0));
    l4.writeUInt8(p.icmpType ?? (p.proto === 1 ? 8 : 128), 0);
    l4.writeUInt8(p.icmpCode ?? 0, 1);
    l4.writeUInt16BE(o.echoId ?? 0x1234, 4);
  } else {
    l4 = Buffer.alloc(8 + (o.payload ?? 0));
  }
  const eth = Buffer.alloc(14);
  Buffer.from([0x02, 0, 0, 0, 0, 2]).copy(eth, 0);
  Buffer.from([0x02, 0, 0, 0, 0, 1]).copy(eth, 6);
  if (src.family === 4) {
    eth.writeUInt16BE(0x0800, 12);
    const ip = Buffer.alloc(20);
    ip.writeUInt8(0x45, 0);
    ip.writeUInt16BE(20 + l4.length, 2);
    ip.writeUInt8(64, 8);
    ip.writeUInt8(p.proto, 9);
    src.bytes.copy(ip, 12);
    dst.bytes.copy(ip, 16);
    return Buffer.concat([eth, ip, l4]);
  }
  eth.writeUInt16BE(0x86dd, 12);
  const ip6 = Buffer.alloc(40);
  ip6.writeUInt32BE(0x60000000, 0);
  ip6.writeUInt16BE(l4.length, 4);
  ip6.writeUInt8(p.proto, 6);
  ip6.writeUInt8(64, 7);
  src.bytes.copy(ip6, 8);
  dst.bytes.copy(ip6, 24);
  return Buffer.concat([eth, ip6, l4]);
}
