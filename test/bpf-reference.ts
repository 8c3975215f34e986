// A direct, rule-by-rule reading of the IR for one endpoint and direction: every rule's Match tested against
// the packet, then the tier walk. It shares no code with the class/decision tables, so the kernel agreeing
// with it checks the whole classify-once path. (TEMPORARY stand-in: compiler/ir/evaluate.ts is being
// written; once it lands the differential test should call evaluate() as well.)
import * as ipaddr from 'ipaddr.js';
import type { Chain, Match, Packet } from '../compiler/ir/types';
import type { PortRange } from '../compiler/model/types';

const PORT_PROTOS = [6, 17, 132, 136];

function inCidrs(addr: string, cidrs: string[]): boolean {
  const a = ipaddr.parse(addr);
  return cidrs.some((c) => {
    const [n, len] = ipaddr.parseCIDR(c);
    return n.kind() === a.kind() && a.match(n, len);
  });
}
const inRanges = (p: number, rs: PortRange[]): boolean => rs.some((r) => p >= r.from && p <= r.to);

export function matches(m: Match, pkt: Packet, dir: 'ingress' | 'egress'): boolean {
  const family = pkt.src.includes(':') ? 6 : 4;
  const peer = dir === 'ingress' ? pkt.src : pkt.dst;
  const local = dir === 'ingress' ? pkt.dst : pkt.src;
  if (m.family !== undefined && m.family !== family) return false;
  if (m.peer && !inCidrs(peer, m.peer)) return false;
  if (m.notPeer && inCidrs(peer, m.notPeer)) return false;
  if (m.local && !inCidrs(local, m.local)) return false;
  if (m.notLocal && inCidrs(local, m.notLocal)) return false;
  if (m.proto !== undefined && m.proto !== pkt.proto) return false;
  if (m.notProto !== undefined && m.notProto === pkt.proto) return false;
  const hasPorts = PORT_PROTOS.includes(pkt.proto);
  if ((m.dports || m.notDports) && !hasPorts) return false;
  if (m.dports && !inRanges(pkt.dport ?? 0, m.dports)) return false;
  if (m.notDports && inRanges(pkt.dport ?? 0, m.notDports)) return false;
  if ((m.sports || m.notSports) && !hasPorts) return false;
  if (m.sports && !inRanges(pkt.sport ?? 0, m.sports)) return false;
  if (m.notSports && inRanges(pkt.sport ?? 0, m.notSports)) return false;
  const isIcmp = pkt.proto === 1 || pkt.proto === 58;
  const icmpHit = (i: { type: number; code?: number }): boolean => pkt.icmpType === i.type && (i.code === undefined || pkt.icmpCode === i.code);
  if ((m.icmp || m.notIcmp) && !isIcmp) return false;
  if (m.icmp && !icmpHit(m.icmp)) return false;
  if (m.notIcmp && icmpHit(m.notIcmp)) return false;
  return true;
}

/** { allowed, what decided: 'rule:<id>' | 'end:<tier index>' | 'default' } */
export function referenceDecide(chain: Chain, pkt: Packet, dir: 'ingress' | 'egress'): { allowed: boolean; by: string } {
  for (let ti = 0; ti < chain.tiers.length; ti++) {
    const t = chain.tiers[ti];
    let passed = false;
    for (const r of t.rules) {
      if (!matches(r.match, pkt, dir)) continue;
      if (r.action === 'Allow') return { allowed: true, by: `rule:${r.id}` };
      if (r.action === 'Deny') return { allowed: false, by: `rule:${r.id}` };
      if (r.action === 'Pass') {
        passed = true;
        break;
      }
    }
    if (passed) continue;
    if (t.end.action !== 'Pass') return { allowed: t.end.action === 'Allow', by: `end:${ti}` };
  }
  return { allowed: true, by: 'default' };
}
