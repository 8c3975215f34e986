// The typed model: what the manifests mean, with every default applied as the API servers apply it,
// so later passes never guess. Nothing here refers to YAML; `origin` leads back to the source text.
import type { Labels, Selector } from './selector/ast';
import type { Location, ObjectRef } from './diagnostics';

/** IANA protocol numbers used throughout the model and IR. */
export const PROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPv6: 58, SCTP: 132, UDPLite: 136 } as const;
export type Family = 4 | 6;

/** A CIDR in canonical text form (host bits zero, IPv6 compressed lower-case), e.g. "10.0.0.0/8". */
export type Cidr = string;

export interface Origin {
  ref: ObjectRef;
  location: Location;
}

export interface PortRange {
  from: number;
  to: number;
} // inclusive, 0..65535

/** A port as written in a rule: a number range, or a name resolved later against container ports. */
export type PortSpec = { kind: 'range'; from: number; to: number } | { kind: 'named'; name: string };

// ---------------------------------------------------------------------------------------------------------
// Cluster state

export interface Namespace {
  name: string;
  labels: Labels; // includes kubernetes.io/metadata.name, as the API server sets it
  /** not declared in the input; assumed because objects live in it (origin = the first such object) */
  implicit?: boolean;
  origin: Origin;
}

export interface ContainerPort {
  name?: string;
  port: number;
  protocol: number; // PROTO.TCP by default
}

export interface Pod {
  namespace: string;
  name: string;
  labels: Labels;
  annotations: Readonly<Record<string, string>>;
  serviceAccount: string; // 'default' when unset
  ips: string[]; // canonical addresses, status.podIPs (or podIP); empty = cannot be enforced (a warning)
  ports: ContainerPort[]; // from all containers (and initContainers with restartPolicy Always)
  hostNetwork: boolean;
  nodeName?: string;
  /** bits per second, from kubernetes.io/ingress-bandwidth / egress-bandwidth */
  bandwidth: { ingress?: number; egress?: number };
  origin: Origin;
}

export interface ServiceAccount {
  namespace: string;
  name: string;
  labels: Labels;
  origin: Origin;
}

/** Calico NetworkSet (namespaced) and GlobalNetworkSet (namespace undefined). */
export interface NetworkSet {
  namespace?: string;
  name: string;
  labels: Labels;
  nets: Cidr[];
  origin: Origin;
}

export interface HostEndpoint {
  name: string;
  labels: Labels;
  node?: string;
  interfaceName?: string;
  expectedIPs: string[];
  ports: ContainerPort[];
  origin: Origin;
}

export interface IPPool {
  name: string;
  cidr: Cidr;
  family: Family;
  blockSize: number;
  ipipMode: 'Never' | 'Always' | 'CrossSubnet';
  vxlanMode: 'Never' | 'Always' | 'CrossSubnet';
  natOutgoing: boolean;
  disabled: boolean;
  nodeSelector: Selector;
  allowedUses: string[];
  /** per-pool bandwidth limits (bits per second), from tollgate.dev/ingress-bandwidth / egress-bandwidth annotations */
  bandwidth: { ingress?: number; egress?: number };
  origin: Origin;
}

// ---------------------------------------------------------------------------------------------------------
// Kubernetes NetworkPolicy (networking.k8s.io/v1)

export type Direction = 'ingress' | 'egress';

export type K8sPeer =
  | {
      kind: 'pods';
      /** undefined = the policy's own namespace */
      namespaceSelector?: Selector;
      /** undefined = all pods (in the selected namespaces) */
      podSelector?: Selector;
    }
  | { kind: 'ipBlock'; cidr: Cidr; except: Cidr[] };

export interface K8sPort {
  protocol: number; // TCP by default
  port?: PortSpec; // undefined = all ports of the protocol; with endPort it is a range
}

export interface K8sRule {
  /** undefined (field absent or empty) = every peer */
  peers?: K8sPeer[];
  /** undefined (field absent or empty) = every port and protocol */
  ports?: K8sPort[];
  path: (string | number)[];
}

export interface K8sNetworkPolicy {
  kind: 'NetworkPolicy';
  namespace: string;
  name: string;
  podSelector: Selector;
  policyTypes: Direction[]; // defaulted: Ingress always, plus Egress when spec.egress is set
  ingress: K8sRule[];
  egress: K8sRule[];
  origin: Origin;
}

// ---------------------------------------------------------------------------------------------------------
// Calico v3 (projectcalico.org/v3)

export type CalicoAction = 'Allow' | 'Deny' | 'Log' | 'Pass';

export interface IcmpMatch {
  type?: number;
  code?: number;
}

export interface CalicoEntity {
  nets: Cidr[];
  notNets: Cidr[];
  selector?: Selector;
  notSelector?: Selector;
  namespaceSelector?: Selector;
  ports: PortSpec[];
  notPorts: PortSpec[];
  serviceAccounts?: { names: string[]; selector?: Selector };
}

export interface CalicoRule {
  action: CalicoAction;
  /**
   * As written, else the family of the rule's nets/notNets (felix FilterRuleToIPVersion renders a rule only for
   * the IP version of its CIDRs; one rule cannot mix families).
   */
  ipVersion?: Family;
  protocol?: number;
  notProtocol?: number;
  icmp?: IcmpMatch;
  notICMP?: IcmpMatch;
  source: CalicoEntity;
  destination: CalicoEntity;
  path: (string | number)[];
}

export interface CalicoPolicy {
  kind: 'NetworkPolicy' | 'GlobalNetworkPolicy'; // Calico's kinds
  /** namespaced NetworkPolicy only */
  namespace?: string;
  name: string;
  tier: string; // 'default' when unset
  order?: number; // undefined = after every ordered policy
  selector: Selector; // 'all()' when unset
  /** GlobalNetworkPolicy only: limits the endpoints the policy applies to by their namespace's labels */
  namespaceSelector?: Selector;
  serviceAccountSelector?: Selector;
  types: Direction[];
  ingress: CalicoRule[];
  egress: CalicoRule[];
  applyOnForward: boolean;
  preDNAT: boolean;
  doNotTrack: boolean;
  origin: Origin;
}

export interface Tier {
  name: string;
  order?: number; // undefined = after every ordered tier
  defaultAction: 'Deny' | 'Pass';
  origin?: Origin; // undefined for the implicit 'default' tier
}

// ---------------------------------------------------------------------------------------------------------
// AdminNetworkPolicy / BaselineAdminNetworkPolicy (policy.networking.k8s.io/v1alpha1)

/** Subject or peer: pods in namespaces. `namespaces` form = every pod in the selected namespaces. */
export interface AnpPods {
  namespaceSelector: Selector;
  podSelector: Selector;
}

export type AnpPeer =
  | { kind: 'pods'; pods: AnpPods }
  | { kind: 'nodes'; nodeSelector: Selector }
  | { kind: 'networks'; cidrs: Cidr[] };

export type AnpPort =
  | { kind: 'number'; protocol: number; port: number }
  | { kind: 'named'; name: string }
  | { kind: 'range'; protocol: number; from: number; to: number };

export interface AnpRule {
  name?: string;
  action: 'Allow' | 'Deny' | 'Pass';
  peers: AnpPeer[];
  /** undefined = all ports */
  ports?: AnpPort[];
  path: (string | number)[];
}

export interface AdminNetworkPolicy {
  kind: 'AdminNetworkPolicy' | 'BaselineAdminNetworkPolicy';
  name: string;
  priority: number; // ANP 0..1000; BANP has none (0 here, unused)
  subject: AnpPods;
  ingress: AnpRule[];
  egress: AnpRule[];
  origin: Origin;
}

export interface Node {
  name: string;
  labels: Labels;
  addresses: string[];
  origin: Origin;
}

// ---------------------------------------------------------------------------------------------------------

/** Everything the manifests said, typed and defaulted. */
export interface Model {
  namespaces: Namespace[];
  pods: Pod[];
  serviceAccounts: ServiceAccount[];
  nodes: Node[];
  networkSets: NetworkSet[]; // NetworkSet and GlobalNetworkSet
  hostEndpoints: HostEndpoint[];
  ipPools: IPPool[];
  networkPolicies: K8sNetworkPolicy[];
  calicoPolicies: CalicoPolicy[]; // Calico NetworkPolicy and GlobalNetworkPolicy
  tiers: Tier[]; // includes the implicit 'default' tier unless declared
  adminPolicies: AdminNetworkPolicy[]; // ANP
  baselinePolicy?: AdminNetworkPolicy; // the BANP named 'default'
}
