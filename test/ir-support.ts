// Builds Model objects in code for IR, evaluator and optimizer tests (independent of the YAML loader).
import type { Selector } from '../compiler/model/selector/ast';
import type {
  AdminNetworkPolicy, AnpPeer, AnpPort, AnpRule, CalicoEntity, CalicoPolicy, CalicoRule, ContainerPort, Direction, K8sNetworkPolicy, K8sPeer, K8sPort, K8sRule, Model, Namespace, Pod, Tier,
} from '../compiler/model/types';
import { PROTO } from '../compiler/model/types';
import { Diagnostics } from '../compiler/model/diagnostics';
import { lowerModel } from '../compiler/ir/lower';
import type { Packet, Program } from '../compiler/ir/types';

const origin = (kind: string, name: string, namespace?: string) => ({ ref: { kind, name, namespace }, location: { file: 'test.yaml', line: 1, col: 1 } });

/** matchLabels as a selector (the empty map = all) */
export function sel(labels: Record<string, string> = {}): Selector {
  const args: Selector[] = Object.entries(labels).map(([key, value]) => ({ op: 'eq', key, value }));
  return args.length === 0 ? { op: 'all' } : args.length === 1 ? args[0] : { op: 'and', args };
}

export function emptyModel(): Model {
  return {
    namespaces: [], pods: [], serviceAccounts: [], nodes: [], networkSets: [], hostEndpoints: [], ipPools: [],
    networkPolicies: [], calicoPolicies: [], tiers: [{ name: 'default', order: 1_000_000, defaultAction: 'Deny' }], adminPolicies: [],
  };
}

export function ns(name: string, labels: Record<string, string> = {}): Namespace {
  return { name, labels: { 'kubernetes.io/metadata.name': name, ...labels }, origin: origin('Namespace', name) };
}

export function pod(id: string, ips: string[], labels: Record<string, string> = {}, ports: Partial<ContainerPort>[] = [], extra: Partial<Pod> = {}): Pod {
  const [namespace, name] = id.split('/');
  return {
    namespace, name, labels, annotations: {}, serviceAccount: 'default', ips,
    ports: ports.map((p) => ({ port: p.port ?? 80, protocol: p.protocol ?? PROTO.TCP, ...(p.name ? { name: p.name } : {}) })),
    hostNetwork: false, bandwidth: {}, origin: origin('Pod', name, namespace), ...extra,
  };
}

export function knp(id: string, podSelector: Selector, spec: { ingress?: K8sRule[]; egress?: K8sRule[]; types?: Direction[] }): K8sNetworkPolicy {
  const [namespace, name] = id.split('/');
  return {
    kind: 'NetworkPolicy', namespace, name, podSelector,
    policyTypes: spec.types ?? (spec.egress ? ['ingress', 'egress'] : ['ingress']),
    ingress: spec.ingress ?? [], egress: spec.egress ?? [], origin: origin('NetworkPolicy', name, namespace),
  };
}

export function krule(peers?: K8sPeer[], ports?: K8sPort[]): K8sRule {
  return { ...(peers ? { peers } : {}), ...(ports ? { ports } : {}), path: [] };
}

export function tcp(port?: number | string, endPort?: number): K8sPort {
  if (port === undefined) return { protocol: PROTO.TCP };
  if (typeof port === 'string') return { protocol: PROTO.TCP, port: { kind: 'named', name: port } };
  return { protocol: PROTO.TCP, port: { kind: 'range', from: port, to: endPort ?? port } };
}

export function entity(e: Partial<CalicoEntity> = {}): CalicoEntity {
  return { nets: [], notNets: [], ports: [], notPorts: [], ...e };
}

export function crule(action: CalicoRule['action'], r: Partial<Omit<CalicoRule, 'action'>> = {}): CalicoRule {
  return { action, source: entity(), destination: entity(), path: [], ...r };
}

export function gnp(name: string, p: Partial<CalicoPolicy>): CalicoPolicy {
  return {
    kind: 'GlobalNetworkPolicy', name, tier: 'default', selector: { op: 'all' }, types: p.egress && !p.ingress ? ['egress'] : ['ingress'],
    ingress: [], egress: [], applyOnForward: false, preDNAT: false, doNotTrack: false, origin: origin('GlobalNetworkPolicy', name), ...p,
  };
}

export function cnp(id: string, p: Partial<CalicoPolicy>): CalicoPolicy {
  const [namespace, name] = id.split('/');
  return { ...gnp(name, p), kind: 'NetworkPolicy', namespace, origin: origin('NetworkPolicy', name, namespace) };
}

export function tier(name: string, order: number | undefined, defaultAction: Tier['defaultAction'] = 'Deny'): Tier {
  return { name, order, defaultAction, origin: origin('Tier', name) };
}

export function anp(name: string, priority: number, subject: { ns?: Selector; pods?: Selector }, spec: { ingress?: AnpRule[]; egress?: AnpRule[] }, kind: AdminNetworkPolicy['kind'] = 'AdminNetworkPolicy'): AdminNetworkPolicy {
  return {
    kind, name, priority, subject: { namespaceSelector: subject.ns ?? { op: 'all' }, podSelector: subject.pods ?? { op: 'all' } },
    ingress: spec.ingress ?? [], egress: spec.egress ?? [], origin: origin(kind, name),
  };
}

export function arule(action: AnpRule['action'], peers: AnpPeer[], ports?: AnpPort[], name?: string): AnpRule {
  return { action, peers, ...(ports ? { ports } : {}), ...(name ? { name } : {}), path: [] };
}

export function lower(m: Model): Program {
  const d = new Diagnostics();
  const p = lowerModel(m, d);
  if (d.hasErrors()) throw new Error(d.errors.map((e) => e.message).join('\n'));
  return p;
}

export function tcpPacket(src: string, dst: string, dport: number, sport = 40000): Packet {
  return { src, dst, proto: PROTO.TCP, sport, dport };
}

/**
 * The Kubernetes e2e netpol world: namespaces x, y, z (label ns=<name>), pods a, b, c (label pod=<name>),
 * each serving TCP 80 (serve-80-tcp), TCP 81, UDP 80 and SCTP 80; IPv4 10.0.<ns>.<pod>, IPv6 fd00::<ns>:<pod>.
 */
export function e2eWorld(): Model {
  const m = emptyModel();
  const nss = ['x', 'y', 'z'];
  const pods = ['a', 'b', 'c'];
  nss.forEach((n, i) => {
    m.namespaces.push(ns(n, { ns: n }));
    pods.forEach((p, j) => {
      m.pods.push(
        pod(`${n}/${p}`, [`10.0.${i + 1}.${j + 1}`, `fd00::${i + 1}:${j + 1}`], { pod: p }, [
          { name: 'serve-80-tcp', port: 80, protocol: PROTO.TCP },
          { name: 'serve-81-tcp', port: 81, protocol: PROTO.TCP },
          { name: 'serve-80-udp', port: 80, protocol: PROTO.UDP },
          { name: 'serve-80-sctp', port: 80, protocol: PROTO.SCTP },
        ]),
      );
    });
  });
  return m;
}

export function ipOf(m: Model, id: string, family: 4 | 6 = 4): string {
  const p = m.pods.find((x) => `${x.namespace}/${x.name}` === id);
  if (!p) throw new Error(`no pod ${id}`);
  const ip = p.ips.find((a) => (family === 6) === a.includes(':'));
  if (!ip) throw new Error(`no IPv${family} for ${id}`);
  return ip;
}
