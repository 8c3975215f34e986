// The reference evaluator: the ground truth every engine (BPF test runs, real traffic) is checked against.
// It reads the IR rule by rule, the walk described in ir/types.ts and docs/semantics.md, and says what decided.
import type { Direction } from '../model/types';
import type { Chain, Decision, Endpoint, Match, Packet, Program, Rule, TierChain } from './types';
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

/** decidedBy of a tier's end: `tier t: t end`. */
export function tierEndText(tier: TierChain): string {
  return `tier ${tier.name}: ${tier.end.reason}`;
}

/** decidedBy when no tier decided: the default allow. */
export function defaultText(chain: Chain): string {
  return chain.tiers.length === 0 ? 'no policy selects the pod: allow' : 'no policy decided: allow';
}

/**
 * A verdict reached outside the IR (the kernel's, from its rule index) that a walk is made to end with: at rule
 * `position` of tier `tierIndex`, at that tier's end (no position), or at the default (tierIndex = the number of
 * tiers).
 */
export interface Outcome {
  tierIndex: number;
  position?: number;
  allowed: boolean;
  /** who reached it, in the steps' words ("the kernel") */
  by: string;
}

function verdictWord(allowed: boolean): string {
  return allowed ? 'allowed' : 'denied';
}

/**
 * The walk of docs/semantics.md: tier by tier, the rules whose match holds, Log rules noted, a Pass rule or a
 * passing tier end leaving the tier, the first Allow or Deny (rule or tier end) deciding, else the default.
 * Given an outcome, the walk goes to the outcome's point instead and decides there with its verdict; a rule or
 * tier end where the IR's walk would have stopped (or left the outcome's tier) before that point is a step that
 * says the outcome's judge went on, never hidden.
 */
function walk(chain: Chain, dir: Direction, pkt: Packet, outcome?: Outcome): Decision {
  const steps: string[] = [];
  const byRule = (rule: Rule, tier: TierChain, allowed: boolean): Decision => {
    const line = describeRule(rule, tier);
    steps.push(`${line} [${rule.id}]: ${verdictWord(allowed)}`);
    return { allowed, decidedBy: line, ruleId: rule.id, tier: tier.name, steps };
  };
  const byEnd = (tier: TierChain, allowed: boolean): Decision => {
    const line = tierEndText(tier);
    steps.push(`${line}: ${verdictWord(allowed)}`);
    return { allowed, decidedBy: line, tier: tier.name, steps };
  };
  const wentOn = (what: string): string => `${what}, yet ${outcome?.by} went on (the IR's walk would stop here)`;
  for (let ti = 0; ti < chain.tiers.length; ti++) {
    const tier = chain.tiers[ti];
    const deciding = outcome !== undefined && outcome.tierIndex === ti;
    const stopAt = deciding ? (outcome.position ?? tier.rules.length) : tier.rules.length;
    let left = false;
    for (let pos = 0; pos < stopAt; pos++) {
      const rule = tier.rules[pos];
      if (!matches(rule.match, dir, pkt)) continue;
      const line = `${describeRule(rule, tier)} [${rule.id}]`;
      if (rule.action === 'Log') {
        steps.push(`${line}: logged, continue`);
        continue;
      }
      left = true;
      if (rule.action === 'Pass' && !deciding) steps.push(`${line}: pass to the next tier`);
      else if (outcome) steps.push(wentOn(`${line}: matches`));
      else return byRule(rule, tier, rule.action === 'Allow');
      break;
    }
    if (deciding) {
      if (outcome.position === undefined) return byEnd(tier, outcome.allowed);
      const rule = tier.rules[outcome.position];
      if (!rule) throw new Error(`tier ${tier.name} has no rule at position ${outcome.position}`);
      return byRule(rule, tier, outcome.allowed);
    }
    if (left) continue;
    if (tier.end.action === 'Pass') steps.push(`${tierEndText(tier)}: pass`);
    else if (outcome) steps.push(wentOn(`${tierEndText(tier)}: ${tier.end.action}`));
    else return byEnd(tier, tier.end.action === 'Allow');
  }
  const line = defaultText(chain);
  steps.push(line);
  return { allowed: outcome?.allowed ?? true, decidedBy: line, steps };
}

/** The verdict of one direction of one endpoint for a packet, with what decided it and every step taken. */
export function evaluate(ep: Endpoint, dir: Direction, pkt: Packet): Decision {
  return walk(dir === 'ingress' ? ep.ingress : ep.egress, dir, pkt);
}

/**
 * The Decision of one direction of one endpoint that ends with an outcome reached elsewhere, the steps to it
 * explained by the IR's rules: the tiers left by a Pass rule or a passing tier end, the Log rules before it, and
 * every point where the IR's walk would have stopped first.
 */
export function walkTo(ep: Endpoint, dir: Direction, pkt: Packet, outcome: Outcome): Decision {
  return walk(dir === 'ingress' ? ep.ingress : ep.egress, dir, pkt, outcome);
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
