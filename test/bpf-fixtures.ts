// Hand-built IR programs for the BPF tests (the lowering pass is another owner's; these do not depend on it).
import * as fc from 'fast-check';
import type { Action, Endpoint, Match, Packet, Program, Rule, TierChain, TierKind } from '../compiler/ir/types';

export function rule(id: string, action: Action, match: Match, policy = 'p', direction: 'ingress' | 'egress' = 'ingress'): Rule {
  return { id, action, match, source: { kind: 'CalicoNetworkPolicy', namespace: 'ns', name: policy, direction, index: 0 } };
}

export function tier(name: string, rules: Rule[], end: 'Allow' | 'Deny' | 'Pass', kind: TierKind = 'calico'): TierChain {
  return { name, kind, rules, end: { action: end, reason: `${name} end`, policies: [] } };
}

export function endpoint(id: string, ips: string[], ingress: TierChain[] = [], egress: TierChain[] = []): Endpoint {
  const [namespace, name] = id.split('/');
  return { id, namespace, name, ips, labels: {}, ports: [], ingress: { tiers: ingress }, egress: { tiers: egress } };
}

export function program(...endpoints: Endpoint[]): Program {
  return { version: 1, endpoints };
}

/** Random chains and packets for the differential tests: overlapping CIDRs of both families, port ranges, ICMP. */
export function arbitraries(): {
  tiers: fc.Arbitrary<{ rules: [Action, Match][]; end: 'Allow' | 'Deny' | 'Pass' }[]>;
  pkt: fc.Arbitrary<{ peer: string; proto: number; sport: number; dport: number; icmpType: number; icmpCode: number }>;
} {
  const cidrs = ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.3/32', '10.200.0.0/14', '0.0.0.0/0', '192.168.0.0/16', 'fd00::/8', 'fd00:1::/32', 'fd00:1::3/128', '::/0'];
  const addrs = ['10.1.2.3', '10.1.2.4', '10.1.9.9', '10.201.0.1', '10.3.3.3', '192.168.4.4', '8.8.8.8', 'fd00:1::3', 'fd00:1::4', 'fd00:2::1', '2001:db8::1'];
  const range = fc.oneof(fc.constantFrom({ from: 80, to: 80 }, { from: 443, to: 443 }, { from: 53, to: 53 }, { from: 1000, to: 2000 }, { from: 0, to: 1023 }, { from: 8000, to: 65535 }));
  const match: fc.Arbitrary<Match> = fc.record({
    family: fc.constantFrom(4, 6),
    proto: fc.constantFrom(6, 17, 1, 132, 58),
    notProto: fc.constantFrom(6, 17),
    peer: fc.array(fc.constantFrom(...cidrs), { minLength: 1, maxLength: 3 }),
    notPeer: fc.array(fc.constantFrom(...cidrs), { minLength: 1, maxLength: 2 }),
    dports: fc.array(range, { minLength: 1, maxLength: 3 }),
    notDports: fc.array(range, { minLength: 1, maxLength: 2 }),
    sports: fc.array(range, { minLength: 1, maxLength: 2 }),
    notSports: fc.array(range, { minLength: 1, maxLength: 1 }),
    local: fc.array(fc.constantFrom('10.1.2.0/24', '10.9.0.0/16', 'fd00:1::/32', 'fd00:9::/32'), { minLength: 1, maxLength: 2 }),
    notLocal: fc.array(fc.constantFrom('10.1.2.3/32', '10.9.0.0/16', 'fd00:1::3/128'), { minLength: 1, maxLength: 1 }),
    icmp: fc.record({ type: fc.constantFrom(0, 8, 128), code: fc.option(fc.constantFrom(0, 1), { nil: undefined }) }, { requiredKeys: ['type'] }),
    notIcmp: fc.record({ type: fc.constantFrom(0, 8, 128), code: fc.option(fc.constantFrom(0, 1), { nil: undefined }) }, { requiredKeys: ['type'] }),
  }, { requiredKeys: [] }).map((m) => {
    // mostly what the IR says (ICMP matches with an ICMP protocol, ports with a port protocol), and now and
    // then the odd combination as it is, which the evaluator decides too
    const out: Match = { ...m };
    for (const k of ['icmp', 'notIcmp'] as const) if (out[k] && out[k]!.code === undefined) delete out[k]!.code;
    const odd = (m.peer?.length ?? 0) === 3;
    if (!odd && (out.icmp || out.notIcmp)) { delete out.dports; delete out.notDports; delete out.sports; delete out.notSports; out.proto = out.family === 6 ? 58 : 1; }
    if (!odd && (out.dports || out.notDports || out.sports || out.notSports) && ![6, 17, 132].includes(out.proto ?? 0)) out.proto = 6;
    return out;
  });
  const action = fc.constantFrom<Action>('Allow', 'Deny', 'Pass', 'Log', 'Allow', 'Deny');
  const tiers = fc.array(fc.record({ rules: fc.array(fc.tuple(action, match), { maxLength: 6 }), end: fc.constantFrom<'Allow' | 'Deny' | 'Pass'>('Allow', 'Deny', 'Pass') }), { maxLength: 3 });
  const pkt = fc.record({
    peer: fc.constantFrom(...addrs),
    proto: fc.constantFrom(6, 17, 1, 58, 132, 47),
    sport: fc.constantFrom(53, 80, 1500, 40000),
    dport: fc.constantFrom(53, 80, 443, 1500, 9000, 22),
    icmpType: fc.constantFrom(0, 8, 128, 3),
    icmpCode: fc.constantFrom(0, 1),
  });
  return { tiers, pkt };
}

/** A random chain made concrete: rule ids r0, r1, ... */
export function chainOf(ts: { rules: [Action, Match][]; end: 'Allow' | 'Deny' | 'Pass' }[]): TierChain[] {
  let n = 0;
  return ts.map((t, i) => tier(`t${i}`, t.rules.map(([a, m]) => rule(`r${n++}`, a, m)), t.end));
}

/** The packet of a random draw, seen from an endpoint with addresses 10.1.2.3 and fd00:1::3, in one direction. */
export function packetOf(k: { peer: string; proto: number; sport: number; dport: number; icmpType: number; icmpCode: number }, dir: 'ingress' | 'egress'): Packet {
  const v6 = k.peer.includes(':');
  const local = v6 ? 'fd00:1::3' : '10.1.2.3';
  const proto = k.proto === 1 && v6 ? 58 : k.proto === 58 && !v6 ? 1 : k.proto;
  const icmp = proto === 1 || proto === 58;
  return {
    src: dir === 'ingress' ? k.peer : local, dst: dir === 'ingress' ? local : k.peer, proto,
    ...(icmp ? { icmpType: k.icmpType, icmpCode: k.icmpCode } : [6, 17, 132].includes(proto) ? { sport: k.sport, dport: k.dport } : {}),
  };
}
