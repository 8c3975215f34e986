// Hand-built IR programs for the BPF tests (the lowering pass is another owner's; these do not depend on it).
import type { Action, Endpoint, Match, Program, Rule, TierChain, TierKind } from '../compiler/ir/types';

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
