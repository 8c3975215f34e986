// The reference evaluator: the ground truth every engine (BPF test runs, real traffic) is checked against.
// It reads the IR rule by rule, the walk described in ir/types.ts and docs/semantics.md, and says what decided.
import type { Direction } from '../model/types';
import type { Decision, Endpoint, Match, Packet, Program, Rule, TierChain } from './types';
import { containsAddr, fromCidrs, type IpSet } from '../resolve/cidr';
import { portIn } from '../resolve/ports';
import { policyLabel } from './lower';

/** Protocols whose packets carry ports (a port constraint matches only these). */
export const PORT_PROTOCOLS: readonly number[] = [6, 17, 132, 136];
export const ICMP_PROTOCOLS: readonly number[] = [1, 58];

const setCache = new WeakMap<readonly string[], IpSet>();
function setOf(cidrs: readonly string[]): IpSet {
  let s = setCache.get(cidrs);
  if (!s) {
    s = fromCidrs(cidrs);
    setCache.set(cidrs, s);
  }
  return s;
}

function icmpHit(i: { type: number; code?: number }, pkt: Packet): boolean {
  return pkt.icmpType === i.type && (i.code === undefined || pkt.icmpCode === i.code);
}

/** Does the match hold for the packet seen in this direction of the endpoint? Every present field must hold. */
export function matches(m: Match, dir: Direction, pkt: Packet): boolean {
  const family = pkt.src.includes(':') ? 6 : 4;
  if (m.family !== undefined && m.family !== family) return false;
  if (m.proto !== undefined && m.proto !== pkt.proto) return false;
  if (m.notProto !== undefined && m.notProto === pkt.proto) return false;
  const peer = dir === 'ingress' ? pkt.src : pkt.dst;
  const local = dir === 'ingress' ? pkt.dst : pkt.src;
  if (m.peer && !containsAddr(setOf(m.peer), peer)) return false;
  if (m.notPeer && containsAddr(setOf(m.notPeer), peer)) return false;
  if (m.local && !containsAddr(setOf(m.local), local)) return false;
  if (m.notLocal && containsAddr(setOf(m.notLocal), local)) return false;
  const ported = PORT_PROTOCOLS.includes(pkt.proto);
  if (m.dports || m.notDports || m.sports || m.notSports) {
    if (!ported) return false;
    if (m.dports && !portIn(pkt.dport ?? 0, m.dports)) return false;
    if (m.notDports && portIn(pkt.dport ?? 0, m.notDports)) return false;
    if (m.sports && !portIn(pkt.sport ?? 0, m.sports)) return false;
    if (m.notSports && portIn(pkt.sport ?? 0, m.notSports)) return false;
  }
  if (m.icmp || m.notIcmp) {
    if (!ICMP_PROTOCOLS.includes(pkt.proto)) return false;
    if (m.icmp && !icmpHit(m.icmp, pkt)) return false;
    if (m.notIcmp && icmpHit(m.notIcmp, pkt)) return false;
  }
  return true;
}

/** One line naming a rule: `AdminNetworkPolicy x ingress[0] "name" Deny`, `tier t: GlobalNetworkPolicy p egress[1] Deny`. */
export function describeRule(rule: Rule, tier: TierChain): string {
  const s = rule.source;
  const what = `${policyLabel(s)} ${s.direction}[${s.index}]${s.ruleName ? ` "${s.ruleName}"` : ''} ${rule.action}`;
  return tier.kind === 'admin' || tier.kind === 'baseline' ? what : `tier ${tier.name}: ${what}`;
}

function tierEndText(tier: TierChain): string {
  return `tier ${tier.name}: ${tier.end.reason}`;
}

/** The verdict of one direction of one endpoint for a packet, with what decided it and every step taken. */
export function evaluate(ep: Endpoint, dir: Direction, pkt: Packet): Decision {
  const chain = dir === 'ingress' ? ep.ingress : ep.egress;
  const steps: string[] = [];
  for (const tier of chain.tiers) {
    let passed = false;
    for (const rule of tier.rules) {
      if (!matches(rule.match, dir, pkt)) continue;
      const line = describeRule(rule, tier);
      if (rule.action === 'Log') {
        steps.push(`${line} [${rule.id}]: logged, continue`);
        continue;
      }
      if (rule.action === 'Pass') {
        steps.push(`${line} [${rule.id}]: pass to the next tier`);
        passed = true;
        break;
      }
      steps.push(`${line} [${rule.id}]: ${rule.action === 'Allow' ? 'allowed' : 'denied'}`);
      return { allowed: rule.action === 'Allow', decidedBy: line, ruleId: rule.id, tier: tier.name, steps };
    }
    if (passed) continue;
    if (tier.end.action === 'Pass') {
      steps.push(`${tierEndText(tier)}: pass`);
      continue;
    }
    const line = tierEndText(tier);
    steps.push(`${line}: ${tier.end.action === 'Allow' ? 'allowed' : 'denied'}`);
    return { allowed: tier.end.action === 'Allow', decidedBy: line, tier: tier.name, steps };
  }
  const line = chain.tiers.length === 0 ? 'no policy selects the pod: allow' : 'no policy decided: allow';
  steps.push(line);
  return { allowed: true, decidedBy: line, steps };
}

/** The endpoint that owns an address (first in program order), if any. */
export function endpointByAddr(program: Program, addr: string): Endpoint | undefined {
  return program.endpoints.find((e) => e.ips.includes(addr));
}

export interface ConnectionVerdict {
  allowed: boolean;
  /** the source endpoint's egress verdict; absent when the source is not a local endpoint */
  egress?: Decision;
  /** the destination endpoint's ingress verdict; absent when the destination is not a local endpoint */
  ingress?: Decision;
}

/**
 * A new connection: allowed iff the source endpoint's egress and the destination endpoint's ingress both allow
 * it; a side that is not a local endpoint (an external address) does not take part. Replies of an allowed
 * connection are allowed by connection tracking and are not evaluated here.
 */
export function evaluateConnection(program: Program, pkt: Packet): ConnectionVerdict {
  const from = endpointByAddr(program, pkt.src);
  const to = endpointByAddr(program, pkt.dst);
  const egress = from ? evaluate(from, 'egress', pkt) : undefined;
  const ingress = to ? evaluate(to, 'ingress', pkt) : undefined;
  return { allowed: (egress?.allowed ?? true) && (ingress?.allowed ?? true), ...(egress ? { egress } : {}), ...(ingress ? { ingress } : {}) };
}
