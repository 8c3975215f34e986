// The rule IR: per endpoint and direction, an ordered list of tiers of ordered rules. Plain data
// (JSON-serialisable) so that every backend and the reference evaluator read the same thing.
//
// Evaluation of one direction (docs/semantics.md gives the upstream references):
//   for each tier in order:
//     for each rule in order: if the rule matches the packet:
//        Allow / Deny -> verdict, decided by this rule
//        Pass         -> leave this tier at once, go on with the next tier
//        Log          -> note it and go on with the next rule
//     no rule decided: apply tier.end ('Pass' = go on with the next tier; 'Allow'/'Deny' = verdict)
//   no tier decided: allow (no policy selects the endpoint in this direction).
import type { Cidr, Direction, Family, PortRange } from '../model/types';

export type Action = 'Allow' | 'Deny' | 'Pass' | 'Log';

/** Where a rule came from: enough to name the object, the direction and the rule index in messages. */
export interface RuleSource {
  kind: 'NetworkPolicy' | 'CalicoNetworkPolicy' | 'GlobalNetworkPolicy' | 'AdminNetworkPolicy' | 'BaselineAdminNetworkPolicy';
  namespace?: string;
  name: string;
  direction: Direction;
  /** index of the rule in spec.ingress / spec.egress */
  index: number;
  /** the ANP rule's name, when it has one */
  ruleName?: string;
  file?: string;
  line?: number;
}

/**
 * A rule's match. Every present field must hold (AND). An absent field does not constrain.
 * Address sets are unions of canonical CIDRs of either family; `[]` matches nothing.
 * `peer` is the remote address (source for ingress, destination for egress);
 * `local` is the endpoint's own address (destination for ingress, source for egress).
 */
export interface Match {
  family?: Family;
  proto?: number;
  notProto?: number;
  peer?: Cidr[];
  notPeer?: Cidr[];
  local?: Cidr[];
  notLocal?: Cidr[];
  dports?: PortRange[];
  notDports?: PortRange[];
  sports?: PortRange[];
  notSports?: PortRange[];
  /** ICMP (v4 type/code for proto 1, v6 for 58); absent code = any code */
  icmp?: { type: number; code?: number };
  notIcmp?: { type: number; code?: number };
}

export interface Rule {
  /** Stable id, unique in the program: leads back to the object and rule, e.g. "knp/tenant-a/web/ingress/0".
   *  Rules split from one source rule (named ports, several protocols) share the source and get "#n" suffixes. */
  id: string;
  action: Action;
  match: Match;
  source: RuleSource;
}

export type TierKind = 'admin' | 'calico' | 'default' | 'baseline';

export interface TierEnd {
  action: 'Allow' | 'Deny' | 'Pass';
  /** why, in words, e.g. "NetworkPolicy tenant-a/default-deny selects the pod and no rule allowed" */
  reason: string;
  /** the policies (kind ns/name) that selected the endpoint in this tier */
  policies: string[];
}

export interface TierChain {
  name: string; // 'adminnetworkpolicy', a Calico tier name, 'default', 'baselineadminnetworkpolicy'
  kind: TierKind;
  rules: Rule[];
  end: TierEnd;
}

export interface Chain {
  tiers: TierChain[];
}

export interface Endpoint {
  /** "namespace/name" */
  id: string;
  namespace: string;
  name: string;
  ips: string[];
  labels: Record<string, string>;
  /** host-side interface, from the tollgate.dev/interface annotation when present */
  iface?: string;
  /** declared container ports (for probes and named-port resolution) */
  ports: { name?: string; port: number; protocol: number }[];
  ingress: Chain;
  egress: Chain;
}

export interface Program {
  version: 1;
  endpoints: Endpoint[];
}

/** A packet as the evaluator and every engine see it. Addresses in canonical text form. */
export interface Packet {
  src: string;
  dst: string;
  proto: number;
  sport?: number;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
}

export interface Decision {
  allowed: boolean;
  /** One line naming what decided: the tier, the object and rule, or which default. */
  decidedBy: string;
  /** The deciding rule's id, absent for defaults. */
  ruleId?: string;
  tier?: string;
  /** every step that was taken, tier by tier (for `trace`) */
  steps: string[];
}
