// policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy and BaselineAdminNetworkPolicy, validated as the
// network-policy-api CRDs validate them (OpenAPI bounds and CEL rules).
import { ALL } from '../selector/ast';
import { describe, isMapValue, Reader, type Path } from '../fields';
import type { AdminNetworkPolicy, AnpPeer, AnpPods, AnpPort, AnpRule } from '../types';
import { parseCidr } from '../addresses';
import { readK8sProtocol, type Meta } from './common';

export const MAX_ANP_RULES = 100;

export function readAdminPolicy(r: Reader, obj: Record<string, unknown>, meta: Meta, kind: AdminNetworkPolicy['kind']): AdminNetworkPolicy | undefined {
  const baseline = kind === 'BaselineAdminNetworkPolicy';
  const spec = r.map(obj.spec, ['spec']) ?? {};
  r.knownFields(spec, ['spec'], baseline ? ['subject', 'ingress', 'egress'] : ['priority', 'subject', 'ingress', 'egress']);
  let priority: number | undefined = 0;
  if (!baseline) {
    if (spec.priority === undefined || spec.priority === null) r.error('required', ['spec', 'priority'], 'expected a priority 0..1000, found nothing');
    priority = r.int(spec.priority, ['spec', 'priority'], 0, 1000, 'a priority', 'priority-range');
  } else if (meta.name !== 'default') {
    r.error('banp-name', ['metadata', 'name'], `expected the name "default" (there is one BaselineAdminNetworkPolicy per cluster), found ${describe(meta.name)}`);
  }
  const subject = readPodsOrNamespaces(r, spec.subject, ['spec', 'subject'], 'subject');
  const actions = baseline ? (['Allow', 'Deny'] as const) : (['Allow', 'Deny', 'Pass'] as const);
  const rules = (dir: 'ingress' | 'egress'): AnpRule[] => {
    const list = r.list(spec[dir], ['spec', dir]);
    if (list.length > MAX_ANP_RULES) r.error('too-many-rules', ['spec', dir], `expected at most ${MAX_ANP_RULES} ${dir} rules, found ${list.length}`);
    return list.map((v, i) => readRule(r, v, ['spec', dir, i], dir, actions)).filter((x): x is AnpRule => !!x);
  };
  const ingress = rules('ingress');
  const egress = rules('egress');
  // Without a valid priority the policy has no place in the order; it is reported and left out.
  if (!subject || priority === undefined) return undefined;
  return { kind, name: meta.name, priority, subject, ingress, egress, origin: r.origin };
}

/** `{namespaces: LabelSelector}` or `{pods: {namespaceSelector, podSelector}}`: exactly one. */
function readPodsOrNamespaces(r: Reader, v: unknown, path: Path, what: string): AnpPods | undefined {
  const m = r.map(v, path);
  if (!m) {
    r.error('required', path, `expected a ${what} with namespaces or pods, found nothing`);
    return undefined;
  }
  // As a subject the map has these two fields only (a peer's own fields are checked by readPeer).
  if (what === 'subject' && !r.knownFields(m, path, ['namespaces', 'pods'])) return undefined;
  const present = ['namespaces', 'pods'].filter((k) => m[k] !== undefined && m[k] !== null);
  if (present.length !== 1) {
    r.error('bad-value', path, `expected exactly one of namespaces, pods, found ${present.length ? present.join(' and ') : 'neither'}`);
    return undefined;
  }
  if (present[0] === 'namespaces') {
    const ns = r.labelSelector(m.namespaces, [...path, 'namespaces']);
    return ns ? { namespaceSelector: ns, podSelector: ALL } : undefined;
  }
  const pods = r.map(m.pods, [...path, 'pods']);
  if (!pods) return undefined;
  r.knownFields(pods, [...path, 'pods'], ['namespaceSelector', 'podSelector']);
  if (pods.podSelector === undefined || pods.podSelector === null) r.error('required', [...path, 'pods', 'podSelector'], 'expected a podSelector, found nothing');
  if (pods.namespaceSelector === undefined || pods.namespaceSelector === null) r.error('required', [...path, 'pods', 'namespaceSelector'], 'expected a namespaceSelector, found nothing');
  const namespaceSelector = r.labelSelector(pods.namespaceSelector, [...path, 'pods', 'namespaceSelector']);
  const podSelector = r.labelSelector(pods.podSelector, [...path, 'pods', 'podSelector']);
  return namespaceSelector && podSelector ? { namespaceSelector, podSelector } : undefined;
}

function readRule(r: Reader, v: unknown, path: Path, dir: 'ingress' | 'egress', actions: readonly ('Allow' | 'Deny' | 'Pass')[]): AnpRule | undefined {
  const m = r.map(v, path);
  if (!m) return undefined;
  r.knownFields(m, path, ['name', 'action', dir === 'ingress' ? 'from' : 'to', 'ports']);
  const name = r.string(m.name, [...path, 'name']);
  if (name !== undefined && name.length > 100) r.error('bad-value', [...path, 'name'], `expected a rule name of at most 100 characters, found ${name.length}`);
  if (m.action === undefined || m.action === null) r.error('required', [...path, 'action'], `expected an action (one of ${actions.join(', ')}), found nothing`);
  const action = r.oneOf(m.action, [...path, 'action'], actions, 'an action');
  const peersKey = dir === 'ingress' ? 'from' : 'to';
  const peerList = r.list(m[peersKey], [...path, peersKey]);
  if (peerList.length === 0) r.error('required', [...path, peersKey], `expected 1..100 peers, found none`);
  if (peerList.length > 100) r.error('bad-value', [...path, peersKey], `expected 1..100 peers, found ${peerList.length}`);
  const peers: AnpPeer[] = [];
  peerList.forEach((p, i) => {
    const peer = readPeer(r, p, [...path, peersKey, i], dir);
    if (peer) peers.push(peer);
  });
  let ports: AnpPort[] | undefined;
  if (m.ports !== undefined && m.ports !== null) {
    const list = r.list(m.ports, [...path, 'ports']);
    if (list.length === 0 || list.length > 100) r.error('bad-value', [...path, 'ports'], `expected 1..100 ports, found ${list.length}`);
    ports = list.map((p, i) => readPort(r, p, [...path, 'ports', i])).filter((x): x is AnpPort => !!x);
    // The CRD's CEL rule on egress rules: "networks/nodes peer cannot be set with namedPorts since there are no
    // namedPorts for networks/nodes". Refused: read as "matches nothing" a Deny or Pass rule would let traffic by.
    const addressPeer = peers.find((p) => p.kind === 'networks' || p.kind === 'nodes');
    const named = list.findIndex((p) => isMapValue(p) && p.namedPort !== undefined && p.namedPort !== null);
    if (addressPeer && named >= 0) {
      r.error('bad-value', [...path, 'ports', named, 'namedPort'], `expected no namedPort in a rule with networks or nodes peers (they have no named ports), found namedPort ${describe((list[named] as Record<string, unknown>).namedPort)} with a ${addressPeer.kind} peer`);
    }
  }
  if (action === undefined) return undefined;
  // not `{ ...(name ? { name } : {}), ... }`: one starting with a spread gets a hidden class of its own (see readRule)
  return name !== undefined ? { name, action, peers, ...(ports ? { ports } : {}), path } : { action, peers, ...(ports ? { ports } : {}), path };
}

function readPeer(r: Reader, v: unknown, path: Path, dir: 'ingress' | 'egress'): AnpPeer | undefined {
  const m = r.map(v, path);
  if (!m) return undefined;
  const allowed = dir === 'ingress' ? ['namespaces', 'pods'] : ['namespaces', 'pods', 'nodes', 'networks'];
  if (!r.knownFields(m, path, allowed)) return undefined;
  const present = allowed.filter((k) => m[k] !== undefined && m[k] !== null);
  if (present.length !== 1) {
    r.error('bad-value', path, `expected exactly one of ${allowed.join(', ')}, found ${present.length ? present.join(' and ') : 'none'}`);
    return undefined;
  }
  if (present[0] === 'nodes') {
    const nodeSelector = r.labelSelector(m.nodes, [...path, 'nodes']);
    return nodeSelector ? { kind: 'nodes', nodeSelector } : undefined;
  }
  if (present[0] === 'networks') {
    const list = r.list(m.networks, [...path, 'networks']);
    if (list.length === 0 || list.length > 25) r.error('bad-value', [...path, 'networks'], `expected 1..25 CIDRs, found ${list.length}`);
    // The CRD's CIDR type: isCIDR(self) && cidr(self) == cidr(self).masked(): a prefix length, no host bits.
    const cidrs: string[] = [];
    list.forEach((c, i) => {
      const cp: Path = [...path, 'networks', i];
      if (typeof c !== 'string') return void r.error('bad-cidr', cp, `expected a CIDR like 10.0.0.0/8 or fd00::/64, found ${describe(c)}`);
      const p = parseCidr(c);
      if ('error' in p) r.error('bad-cidr', cp, `expected a CIDR like 10.0.0.0/8 or fd00::/64, found ${describe(c)} (${p.error})`);
      else if (p.hostBits) r.error('bad-cidr', cp, `expected a masked CIDR (no host bits set, e.g. ${p.cidr}), found ${describe(c)}`);
      else cidrs.push(p.cidr);
    });
    return { kind: 'networks', cidrs };
  }
  const pods = readPodsOrNamespaces(r, m, path, 'peer');
  return pods ? { kind: 'pods', pods } : undefined;
}

function readPort(r: Reader, v: unknown, path: Path): AnpPort | undefined {
  const m = r.map(v, path);
  if (!m || !r.knownFields(m, path, ['portNumber', 'namedPort', 'portRange'])) return undefined;
  const present = ['portNumber', 'namedPort', 'portRange'].filter((k) => m[k] !== undefined && m[k] !== null);
  if (present.length !== 1) {
    r.error('bad-value', path, `expected exactly one of portNumber, namedPort, portRange, found ${present.length ? present.join(' and ') : 'none'}`);
    return undefined;
  }
  if (present[0] === 'namedPort') {
    const name = r.string(m.namedPort, [...path, 'namedPort']);
    return name ? { kind: 'named', name } : undefined;
  }
  if (present[0] === 'portNumber') {
    const pp: Path = [...path, 'portNumber'];
    const pn = r.map(m.portNumber, pp);
    if (!pn) return undefined;
    r.knownFields(pn, pp, ['protocol', 'port']);
    const protocol = readK8sProtocol(r, pn.protocol, [...pp, 'protocol']);
    if (pn.port === undefined || pn.port === null) r.error('required', [...pp, 'port'], 'expected a port number 1..65535, found nothing');
    const port = r.int(pn.port, [...pp, 'port'], 1, 65535, 'a port number', 'port-range');
    return protocol !== undefined && port !== undefined ? { kind: 'number', protocol, port } : undefined;
  }
  const pp: Path = [...path, 'portRange'];
  const pr = r.map(m.portRange, pp);
  if (!pr) return undefined;
  r.knownFields(pr, pp, ['protocol', 'start', 'end']);
  const protocol = readK8sProtocol(r, pr.protocol, [...pp, 'protocol']);
  for (const k of ['start', 'end']) if (pr[k] === undefined || pr[k] === null) r.error('required', [...pp, k], `expected a ${k} port 1..65535, found nothing`);
  const start = r.int(pr.start, [...pp, 'start'], 1, 65535, 'a start port', 'port-range');
  const end = r.int(pr.end, [...pp, 'end'], 1, 65535, 'an end port', 'port-range');
  if (start !== undefined && end !== undefined && start >= end) {
    r.error('port-range', [...pp, 'end'], `expected an end port above start ${start}, found ${end}`);
    return undefined;
  }
  return protocol !== undefined && start !== undefined && end !== undefined ? { kind: 'range', protocol, from: start, to: end } : undefined;
}
