// networking.k8s.io/v1 NetworkPolicy, validated as the API server validates it (pkg/apis/networking/validation)
// and defaulted as it defaults it (policyTypes, protocol TCP).
import { ALL } from '../selector/ast';
import { cidrContains } from '../addresses';
import { describe, isPortName, Reader, sub, sub2, type Path } from '../fields';
import type { Direction, K8sNetworkPolicy, K8sPeer, K8sPort, K8sRule, PortSpec } from '../types';
import { readCidr, readK8sProtocol, type Meta } from './common';
import { fitted } from '../../manifests/fast';

export function readNetworkPolicy(r: Reader, obj: Record<string, unknown>, meta: Meta): K8sNetworkPolicy {
  const spec = r.map(obj.spec, ['spec']) ?? {};
  r.knownFields(spec, ['spec'], ['podSelector', 'policyTypes', 'ingress', 'egress']);
  // podSelector is required by the API; an empty (or omitted, which decodes to empty) selector selects every pod.
  const podSelector = r.labelSelector(spec.podSelector, ['spec', 'podSelector']) ?? ALL;
  const ingress = r.list(spec.ingress, ['spec', 'ingress']).map((rule, i) => readRule(r, rule, ['spec', 'ingress', i], 'from'));
  const egress = r.list(spec.egress, ['spec', 'egress']).map((rule, i) => readRule(r, rule, ['spec', 'egress', i], 'to'));

  let policyTypes: Direction[] = [];
  const types = r.list(spec.policyTypes, ['spec', 'policyTypes']);
  if (types.length === 0) {
    // SetDefaults_NetworkPolicySpec: Ingress always, Egress when there are egress rules.
    policyTypes = egress.length > 0 ? ['ingress', 'egress'] : ['ingress'];
  } else {
    // ValidateNetworkPolicySpec: each entry Ingress or Egress, at most two entries (a repeat is not an error).
    if (types.length > 2) r.error('bad-value', ['spec', 'policyTypes'], `expected at most 2 policy types, found ${types.length}`);
    types.forEach((t, i) => {
      const v = r.oneOf(t, ['spec', 'policyTypes', i], ['Ingress', 'Egress'] as const, 'a policy type');
      if (v === undefined) return;
      const d: Direction = v === 'Ingress' ? 'ingress' : 'egress';
      if (policyTypes.includes(d)) r.warn('bad-value', ['spec', 'policyTypes', i], `${v} is listed twice; read once`);
      else policyTypes.push(d);
    });
    // in this order, in an array of its own length (the model keeps it; a filter's result has room for more)
    const [ing, eg] = [policyTypes.includes('ingress'), policyTypes.includes('egress')];
    policyTypes = ing ? (eg ? ['ingress', 'egress'] : ['ingress']) : eg ? ['egress'] : [];
  }
  // Rules of a direction the policy does not declare are ignored by every implementation; say so.
  if (types.length > 0) {
    if (ingress.length > 0 && !policyTypes.includes('ingress')) r.warn('not-enforced', ['spec', 'ingress'], 'ingress rules are ignored: policyTypes does not include Ingress');
    if (egress.length > 0 && !policyTypes.includes('egress')) r.warn('not-enforced', ['spec', 'egress'], 'egress rules are ignored: policyTypes does not include Egress');
  }
  return { kind: 'NetworkPolicy', namespace: meta.namespace ?? 'default', name: meta.name, podSelector, policyTypes, ingress, egress, origin: r.origin };
}

function readRule(r: Reader, v: unknown, path: Path, peersKey: 'from' | 'to'): K8sRule {
  const m = r.map(v, path) ?? {};
  r.knownFields(m, path, [peersKey, 'ports']);
  const peerList = r.list(m[peersKey], sub(path, peersKey));
  const portList = r.list(m.ports, sub(path, 'ports'));
  const peers: K8sPeer[] = [];
  peerList.forEach((p, i) => {
    const peer = readPeer(r, p, sub2(path, peersKey, i));
    if (peer) peers.push(peer);
  });
  const ports: K8sPort[] = [];
  portList.forEach((p, i) => {
    const port = readPort(r, p, sub2(path, 'ports', i));
    if (port) ports.push(port);
  });
  // Egress named ports resolve per destination pod; an ipBlock peer has none to look the name up in. The API leaves
  // it undefined (Calico matches pods inside the block that have the name); Tollgate takes the safe reading, the
  // ipBlock matches no named port (NetworkPolicy rules only allow). Said, since the rule then allows less.
  if (peersKey === 'to' && peers.some((p) => p.kind === 'ipBlock')) {
    const i = ports.findIndex((p) => p.port?.kind === 'named');
    const named = ports[i]?.port;
    if (named?.kind === 'named') {
      r.warn('not-enforced', [...path, 'ports', i, 'port'], `named port ${JSON.stringify(named.name)} is resolved per destination pod; the rule's ipBlock peers match no named port (no pod to take the name from), only the pod peers do`);
    }
  }
  // An absent or empty list matches everything. (Literals, not `{ ...(c ? { peers } : {}), ... }`: an object that
  // starts with a spread of a new literal gets a hidden class of its own in V8, slow to make and to read.)
  if (!peerList.length) return portList.length ? { ports: fitted(ports), path } : { path };
  return portList.length ? { peers: fitted(peers), ports: fitted(ports), path } : { peers: fitted(peers), path };
}

function readPeer(r: Reader, v: unknown, path: Path): K8sPeer | undefined {
  const m = r.map(v, path);
  if (!m) {
    if (v === null || v === undefined) r.error('required', path, 'expected a peer (podSelector, namespaceSelector or ipBlock), found nothing');
    return undefined;
  }
  r.knownFields(m, path, ['podSelector', 'namespaceSelector', 'ipBlock']);
  if (has(m, 'ipBlock')) {
    if (has(m, 'podSelector') || has(m, 'namespaceSelector')) {
      r.error('bad-value', path, 'expected ipBlock alone, found ipBlock together with podSelector/namespaceSelector');
    }
    return readIpBlock(r, m.ipBlock, sub(path, 'ipBlock'));
  }
  if (!has(m, 'podSelector') && !has(m, 'namespaceSelector')) {
    r.error('required', path, `expected one of podSelector, namespaceSelector or ipBlock, found ${Object.keys(m).length ? `only ${Object.keys(m).join(', ')}` : 'an empty peer'}`);
    return undefined;
  }
  const podSelector = r.labelSelector(m.podSelector, sub(path, 'podSelector'));
  const namespaceSelector = r.labelSelector(m.namespaceSelector, sub(path, 'namespaceSelector'));
  return {
    kind: 'pods',
    ...(namespaceSelector ? { namespaceSelector } : {}),
    ...(podSelector ? { podSelector } : {}),
  };
}

/** Is the field present (not absent, not null)? */
function has(m: Record<string, unknown>, k: string): boolean {
  return m[k] !== undefined && m[k] !== null;
}

function readIpBlock(r: Reader, v: unknown, path: Path): K8sPeer | undefined {
  const m = r.map(v, path);
  if (!m) return undefined;
  r.knownFields(m, path, ['cidr', 'except']);
  const cidr = readCidr(r, m.cidr, sub(path, 'cidr'));
  const except: string[] = [];
  r.list(m.except, sub(path, 'except')).forEach((e, i) => {
    const ep: Path = [...path, 'except', i];
    const ex = readCidr(r, e, ep);
    if (!ex || !cidr) return;
    if (ex.family !== cidr.family) {
      r.error('mixed-family', ep, `expected an IPv${cidr.family} CIDR like the ipBlock's cidr ${cidr.cidr}, found IPv${ex.family} ${describe(e)}`);
    } else if (!cidrContains(cidr, ex) || ex.prefix <= cidr.prefix) {
      r.error('bad-except', ep, `expected a strict subset of cidr ${cidr.cidr}, found ${describe(e)}`);
    } else except.push(ex.cidr);
  });
  return cidr ? { kind: 'ipBlock', cidr: cidr.cidr, except } : undefined;
}

function readPort(r: Reader, v: unknown, path: Path): K8sPort | undefined {
  const m = r.map(v, path);
  if (!m) return undefined;
  r.knownFields(m, path, ['protocol', 'port', 'endPort']);
  const protocol = readK8sProtocol(r, m.protocol, sub(path, 'protocol'));
  let port: PortSpec | undefined;
  const pv = m.port;
  if (typeof pv === 'number') {
    const n = r.int(pv, sub(path, 'port'), 1, 65535, 'a port number', 'port-range');
    if (n !== undefined) port = { kind: 'range', from: n, to: n };
  } else if (typeof pv === 'string') {
    if (isPortName(pv)) port = { kind: 'named', name: pv };
    else r.error('bad-name', [...path, 'port'], `expected a port number 1..65535 or a port name (1-15 characters a-z, 0-9, '-', with a letter), found ${describe(pv)}`);
  } else if (pv !== undefined && pv !== null) {
    r.error('bad-type', [...path, 'port'], `expected a port number or name, found ${describe(pv)}`);
  }
  if (m.endPort !== undefined && m.endPort !== null) {
    const ep: Path = [...path, 'endPort'];
    if (typeof pv === 'string') r.error('bad-end-port', ep, `expected no endPort with a named port, found endPort ${describe(m.endPort)} with port ${describe(pv)}`);
    else if (pv === undefined || pv === null) r.error('bad-end-port', ep, `expected a numeric port with endPort, found endPort ${describe(m.endPort)} without port`);
    else {
      const end = r.int(m.endPort, ep, 1, 65535, 'an end port', 'port-range');
      if (end !== undefined && port?.kind === 'range') {
        if (end < port.from) r.error('bad-end-port', ep, `expected endPort >= port ${port.from}, found ${end}`);
        else port = { kind: 'range', from: port.from, to: end };
      }
    }
  }
  if (protocol === undefined) return undefined;
  return { protocol, ...(port ? { port } : {}) };
}
