// projectcalico.org/v3: NetworkPolicy, GlobalNetworkPolicy, Tier, NetworkSet, GlobalNetworkSet, IPPool,
// HostEndpoint. Validation follows Calico's validator (libcalico-go lib/validator/v3); defaults follow its API
// server (tier 'default', selector all(), types from the rules present).
import { ALL } from '../selector/ast';
import { describe, DNS1123_LABEL, isPortName, Reader, type Path } from '../fields';
import { cidrContains, parseCidr } from '../addresses';

/** Order of the 'default' tier (Calico fixes it); build.ts uses it for the implicit default tier too. */
export const DEFAULT_TIER_ORDER = 1_000_000;
import { PROTO } from '../types';
import type { CalicoAction, CalicoEntity, CalicoPolicy, CalicoRule, ContainerPort, Direction, Family, HostEndpoint, IcmpMatch, IPPool, NetworkSet, PortSpec, Tier } from '../types';
import { PORT_PROTOCOLS, readBandwidthAnnotations, readCalicoProtocol, readCidr, readCidrList, readIp, readK8sProtocol, type Meta } from './common';

const ACTIONS = ['Allow', 'Deny', 'Log', 'Pass'] as const;

export function readCalicoPolicy(r: Reader, obj: Record<string, unknown>, meta: Meta, kind: 'NetworkPolicy' | 'GlobalNetworkPolicy'): CalicoPolicy {
  const spec = r.map(obj.spec, ['spec']) ?? {};
  const global = kind === 'GlobalNetworkPolicy';
  r.knownFields(spec, ['spec'], ['tier', 'order', 'selector', 'namespaceSelector', 'serviceAccountSelector', 'types', 'ingress', 'egress', 'applyOnForward', 'preDNAT', 'doNotTrack', 'performanceHints']);
  // Calico's CRD rules: global() selects non-namespaced endpoints and is meaningful only in an entity's namespaceSelector.
  for (const k of ['selector', 'serviceAccountSelector'] as const) {
    const v = spec[k];
    if (typeof v === 'string' && v.includes('global(')) {
      r.errorInString('bad-selector', ['spec', k], v.indexOf('global('), `expected global() only in a rule's namespaceSelector, found it in spec.${k} ${JSON.stringify(v)}`);
    }
  }
  const tier = r.string(spec.tier, ['spec', 'tier']) || 'default';
  const order = r.number(spec.order, ['spec', 'order'], 'an order');
  const selector = r.calicoSelector(spec.selector, ['spec', 'selector']) ?? ALL;
  let namespaceSelector = undefined;
  if (spec.namespaceSelector !== undefined && spec.namespaceSelector !== null) {
    if (global) namespaceSelector = r.calicoSelector(spec.namespaceSelector, ['spec', 'namespaceSelector']);
    else r.error('bad-value', ['spec', 'namespaceSelector'], 'expected no namespaceSelector on a namespaced NetworkPolicy (only GlobalNetworkPolicy has one), found one');
  }
  const serviceAccountSelector = r.calicoSelector(spec.serviceAccountSelector, ['spec', 'serviceAccountSelector']);
  const ingressRaw = r.list(spec.ingress, ['spec', 'ingress']);
  const egressRaw = r.list(spec.egress, ['spec', 'egress']);
  const ingress = ingressRaw.map((v, i) => readRule(r, v, ['spec', 'ingress', i])).filter((x): x is CalicoRule => !!x);
  const egress = egressRaw.map((v, i) => readRule(r, v, ['spec', 'egress', i])).filter((x): x is CalicoRule => !!x);

  let types: Direction[] = [];
  const typesRaw = r.list(spec.types, ['spec', 'types']);
  if (typesRaw.length === 0) {
    // Calico's defaulting: the directions that have rules; a policy with no rules at all is an ingress policy.
    if (ingressRaw.length > 0 || egressRaw.length === 0) types.push('ingress');
    if (egressRaw.length > 0) types.push('egress');
  } else {
    typesRaw.forEach((t, i) => {
      const v = r.oneOf(t, ['spec', 'types', i], ['Ingress', 'Egress'] as const, 'a policy type');
      if (v === undefined) return;
      const d: Direction = v === 'Ingress' ? 'ingress' : 'egress';
      if (types.includes(d)) r.error('bad-value', ['spec', 'types', i], `expected each type once, found ${v} again`);
      else types.push(d);
    });
    if (ingressRaw.length > 0 && !types.includes('ingress')) r.error('bad-value', ['spec', 'types'], 'expected Ingress in types because ingress rules are present, found no Ingress');
    if (egressRaw.length > 0 && !types.includes('egress')) r.error('bad-value', ['spec', 'types'], 'expected Egress in types because egress rules are present, found no Egress');
    types = (['ingress', 'egress'] as const).filter((d) => types.includes(d));
  }

  const applyOnForward = r.bool(spec.applyOnForward, ['spec', 'applyOnForward'], false);
  const preDNAT = r.bool(spec.preDNAT, ['spec', 'preDNAT'], false);
  const doNotTrack = r.bool(spec.doNotTrack, ['spec', 'doNotTrack'], false);
  for (const [flag, set] of [['preDNAT', preDNAT], ['doNotTrack', doNotTrack]] as const) {
    if (!set) continue;
    if (!global) r.error('bad-value', ['spec', flag], `expected ${flag} only on a GlobalNetworkPolicy, found it on a NetworkPolicy`);
    else if (!applyOnForward) r.error('bad-value', ['spec', flag], `expected applyOnForward: true with ${flag}: true, found applyOnForward ${applyOnForward}`);
    r.warn('not-enforced', ['spec', flag], `${flag} applies to host endpoints; it is not enforced on pod interfaces`);
  }
  if (preDNAT && doNotTrack) r.error('bad-value', ['spec', 'preDNAT'], 'expected at most one of preDNAT and doNotTrack, found both');
  if (preDNAT && (egressRaw.length > 0 || types.includes('egress'))) r.error('bad-value', ['spec', 'egress'], 'expected no egress rules or Egress type on a preDNAT policy, found some');
  if (applyOnForward) r.warn('not-enforced', ['spec', 'applyOnForward'], 'applyOnForward affects host endpoints only; pod interfaces are enforced as usual');

  return {
    kind,
    ...(global ? {} : { namespace: meta.namespace ?? 'default' }),
    name: meta.name,
    tier,
    ...(order !== undefined ? { order } : {}),
    selector,
    ...(namespaceSelector ? { namespaceSelector } : {}),
    ...(serviceAccountSelector ? { serviceAccountSelector } : {}),
    types,
    ingress,
    egress,
    applyOnForward,
    preDNAT,
    doNotTrack,
    origin: r.origin,
  };
}

function readRule(r: Reader, v: unknown, path: Path): CalicoRule | undefined {
  const m = r.map(v, path);
  if (!m) return undefined;
  r.knownFields(m, path, ['action', 'ipVersion', 'protocol', 'notProtocol', 'icmp', 'notICMP', 'source', 'destination', 'http', 'metadata']);
  if (m.action === undefined || m.action === null) r.error('required', [...path, 'action'], `expected an action (one of ${ACTIONS.join(', ')}), found nothing`);
  const action = r.oneOf(m.action, [...path, 'action'], ACTIONS, 'an action');
  let family: Family | undefined;
  if (m.ipVersion === 4 || m.ipVersion === 6) family = m.ipVersion;
  else if (m.ipVersion !== undefined && m.ipVersion !== null) r.error('bad-value', [...path, 'ipVersion'], `expected an IP version (4 or 6), found ${describe(m.ipVersion)}`);
  const protocol = readCalicoProtocol(r, m.protocol, [...path, 'protocol']);
  const notProtocol = readCalicoProtocol(r, m.notProtocol, [...path, 'notProtocol']);
  const icmp = readIcmp(r, m.icmp, [...path, 'icmp'], protocol, family);
  const notICMP = readIcmp(r, m.notICMP, [...path, 'notICMP'], protocol, family);
  if (m.http !== undefined && m.http !== null) r.error('unsupported', [...path, 'http'], 'expected no http match (valid in Calico with an L7 proxy; Tollgate filters at L3/L4 and will not widen the rule by ignoring it), found an http match');
  const source = readEntity(r, m.source, [...path, 'source'], protocol, family);
  const destination = readEntity(r, m.destination, [...path, 'destination'], protocol, family);
  if (source && destination) {
    // felix FilterRuleToIPVersion drops a rule for the IP version none of a nets/notNets field's CIDRs has: a rule
    // with CIDRs (all of one family, checked here) and no ipVersion is a rule of that family only.
    if (checkRuleFamilies(r, path, source, destination) && family === undefined) {
      const cidr = [source.nets, source.notNets, destination.nets, destination.notNets].flat()[0];
      if (cidr !== undefined) family = cidr.includes(':') ? 6 : 4;
    }
  }
  // Without a protocol felix looks names up as TCP; notPorts names then exclude TCP packets only, and the rest of
  // the rule matches every other protocol. With notProtocol other than TCP that rest is "neither TCP nor
  // notProtocol", which one IR rule cannot say (ir/lower.ts splitNamedNotPorts): refused rather than widened.
  if (source && destination && protocol === undefined && notProtocol !== undefined && notProtocol !== PROTO.TCP) {
    const named = (e: CalicoEntity, k: 'ports' | 'notPorts'): boolean => e[k].some((x) => x.kind === 'named');
    if (!named(source, 'ports') && !named(destination, 'ports')) {
      for (const [e, side] of [[source, 'source'], [destination, 'destination']] as const) {
        if (named(e, 'notPorts')) r.error('unsupported', [...path, side, 'notPorts'], `expected protocol TCP, UDP or SCTP on a rule with notProtocol ${notProtocol} and named notPorts (Tollgate cannot express "neither TCP nor ${notProtocol}"), found no protocol`);
      }
    }
  }
  if (action === undefined || !source || !destination) return undefined;
  const a: CalicoAction = action;
  return {
    action: a,
    ...(family ? { ipVersion: family } : {}),
    ...(protocol !== undefined ? { protocol } : {}),
    ...(notProtocol !== undefined ? { notProtocol } : {}),
    ...(icmp ? { icmp } : {}),
    ...(notICMP ? { notICMP } : {}),
    source,
    destination,
    path,
  };
}

function readIcmp(r: Reader, v: unknown, path: Path, protocol: number | undefined, family: Family | undefined): IcmpMatch | undefined {
  const m = r.map(v, path);
  if (!m) return undefined;
  r.knownFields(m, path, ['type', 'code']);
  if (protocol !== PROTO.ICMP && protocol !== PROTO.ICMPv6) {
    r.error('bad-icmp', path, `expected protocol ICMP or ICMPv6 with ICMP fields, found ${protocol === undefined ? 'no protocol' : `protocol ${protocol}`}`);
  }
  if (protocol === PROTO.ICMP && family === 6) r.error('ip-version', path, 'expected ipVersion 4 with protocol ICMP, found ipVersion 6');
  if (protocol === PROTO.ICMPv6 && family === 4) r.error('ip-version', path, 'expected ipVersion 6 with protocol ICMPv6, found ipVersion 4');
  // Calico allows type 0..254 (255 is reserved for "any") and code 0..255.
  const type = r.int(m.type, [...path, 'type'], 0, 254, 'an ICMP type');
  const code = r.int(m.code, [...path, 'code'], 0, 255, 'an ICMP code');
  if (m.code !== undefined && m.code !== null && (m.type === undefined || m.type === null)) {
    r.error('bad-icmp', [...path, 'code'], `expected an ICMP type with code ${describe(m.code)}, found no type`);
  }
  // literals: one starting with a spread gets a hidden class of its own (see networkpolicy readRule)
  if (type === undefined) return code === undefined ? {} : { code };
  return code === undefined ? { type } : { type, code };
}

function readEntity(r: Reader, v: unknown, path: Path, protocol: number | undefined, family: Family | undefined): CalicoEntity | undefined {
  const m = r.map(v, path) ?? {};
  r.knownFields(m, path, ['nets', 'notNets', 'selector', 'notSelector', 'namespaceSelector', 'ports', 'notPorts', 'serviceAccounts', 'services']);
  const nets = (key: 'nets' | 'notNets'): string[] =>
    readCidrList(r, m[key], [...path, key], { bareIp: true, strict: true }).map((c, i) => {
      if (family !== undefined && c.family !== family) r.error('ip-version', [...path, key, i], `expected an IPv${family} network (the rule has ipVersion ${family}), found ${c.cidr}`);
      // Calico rejects a catch-all in a negation: the rule could match no traffic at all.
      if (key === 'notNets' && c.prefix === 0) r.error('bad-value', [...path, key, i], `expected a network narrower than /0 in notNets (a catch-all there matches no traffic), found ${c.cidr}`);
      return c.cidr;
    });
  const ports = (key: 'ports' | 'notPorts'): PortSpec[] => {
    const list = r.list(m[key], [...path, key]);
    const specs = list.map((p, i) => readCalicoPort(r, p, [...path, key, i]));
    // libcalico-go validateRule: without a protocol only named ports are allowed (felix then looks them up as TCP);
    // with a protocol, it must be one that has ports (TCP, UDP, SCTP).
    if (protocol === undefined) {
      const i = specs.findIndex((s) => s?.kind === 'range');
      if (i >= 0) r.error('bad-ports-protocol', [...path, key, i], `expected protocol TCP, UDP or SCTP on a rule with a numeric port or port range, found no protocol`);
    } else if (list.length > 0 && !PORT_PROTOCOLS.includes(protocol)) {
      r.error('bad-ports-protocol', [...path, key], `expected protocol TCP, UDP or SCTP on a rule with ${key}, found protocol ${protocol}`);
    }
    return specs.filter((x): x is PortSpec => !!x);
  };
  // libcalico-go getEndpointSelector / parseServiceAccounts test every selector field with != "": an empty string is
  // no selector (not all()); serviceAccounts without names and selector constrains nothing.
  const entitySelector = (v: unknown, p: Path) => (v === '' ? undefined : r.calicoSelector(v, p));
  let serviceAccounts: CalicoEntity['serviceAccounts'];
  const sa = r.map(m.serviceAccounts, [...path, 'serviceAccounts']);
  if (sa) {
    r.knownFields(sa, [...path, 'serviceAccounts'], ['names', 'selector']);
    const selector = entitySelector(sa.selector, [...path, 'serviceAccounts', 'selector']);
    const names = r.stringList(sa.names, [...path, 'serviceAccounts', 'names']);
    if (names.length || selector) serviceAccounts = { names, ...(selector ? { selector } : {}) };
  }
  if (m.services !== undefined && m.services !== null) r.error('unsupported', [...path, 'services'], 'expected no services match (valid in Calico; Kubernetes Services and their endpoints are not modelled), found one');
  // global() selects non-namespaced endpoints: valid only as an entity's whole namespaceSelector.
  for (const k of ['selector', 'notSelector'] as const) {
    if (typeof m[k] === 'string' && (m[k] as string).includes('global(')) {
      r.errorInString('bad-selector', [...path, k], (m[k] as string).indexOf('global('), `expected global() only in an entity's namespaceSelector, found it in ${k} ${JSON.stringify(m[k])}`);
    }
  }
  if (typeof m.namespaceSelector === 'string' && m.namespaceSelector.includes('global(') && !/^\s*global\(\s*\)\s*$/.test(m.namespaceSelector)) {
    r.error('bad-selector', [...path, 'namespaceSelector'], `expected global() alone (it cannot be combined with other selectors), found ${JSON.stringify(m.namespaceSelector)}`);
  }
  const selector = entitySelector(m.selector, [...path, 'selector']);
  const notSelector = entitySelector(m.notSelector, [...path, 'notSelector']);
  const namespaceSelector = entitySelector(m.namespaceSelector, [...path, 'namespaceSelector']);
  return {
    nets: nets('nets'),
    notNets: nets('notNets'),
    ...(selector ? { selector } : {}),
    ...(notSelector ? { notSelector } : {}),
    ...(namespaceSelector ? { namespaceSelector } : {}),
    ports: ports('ports'),
    notPorts: ports('notPorts'),
    ...(serviceAccounts ? { serviceAccounts } : {}),
  };
}

/** libcalico-go: one rule's nets (source/destination, nets/notNets) are all IPv4 or all IPv6. Whether they are. */
function checkRuleFamilies(r: Reader, path: Path, source: CalicoEntity, destination: CalicoEntity): boolean {
  let ok = true;
  let seen4 = false;
  let seen6 = false;
  const fields: [Path, string[]][] = [
    [[...path, 'source', 'nets'], source.nets], [[...path, 'source', 'notNets'], source.notNets],
    [[...path, 'destination', 'nets'], destination.nets], [[...path, 'destination', 'notNets'], destination.notNets],
  ];
  for (const [p, nets] of fields) {
    const v6 = nets.some((n) => n.includes(':'));
    const v4 = nets.some((n) => !n.includes(':'));
    if ((v4 && v6) || (v4 && seen6) || (v6 && seen4)) {
      const expected = seen4 ? 'IPv4 networks like the rule\'s other networks' : seen6 ? 'IPv6 networks like the rule\'s other networks' : 'networks of one IP family';
      r.error('mixed-family', p, `expected ${expected}, found ${v4 && v6 ? 'both IPv4 and IPv6' : v4 ? 'IPv4' : 'IPv6'} in ${JSON.stringify(nets)}`);
      ok = false;
    }
    seen4 ||= v4;
    seen6 ||= v6;
  }
  return ok;
}

/** Calico port (numorstring.Port): a number 1..65535, the same as a string, "first:last" (first <= last), or a name. */
export function readCalicoPort(r: Reader, v: unknown, path: Path): PortSpec | undefined {
  const bad = (why: string): undefined => {
    r.error('port-range', path, `expected a port 1..65535, a range "first:last" or a port name, found ${describe(v)}${why}`);
    return undefined;
  };
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 1 || v > 65535) return bad('');
    return { kind: 'range', from: v, to: v };
  }
  if (typeof v !== 'string') return bad('');
  const range = /^([0-9]+):([0-9]+)$/.exec(v);
  if (range) {
    const from = Number(range[1]);
    const to = Number(range[2]);
    if (from < 1 || to < 1 || from > 65535 || to > 65535) return bad(' (port outside 1..65535)');
    if (to < from) return bad(' (the range ends before it starts)');
    return { kind: 'range', from, to };
  }
  if (/^[0-9]+$/.test(v)) {
    const n = Number(v);
    if (n < 1 || n > 65535) return bad(' (port outside 1..65535)');
    return { kind: 'range', from: n, to: n };
  }
  // numorstring.PortFromString: anything else must be a name of 1..128 letters, digits, '_', '.', '-'.
  if (/^[a-zA-Z0-9_.-]{1,128}$/.test(v)) return { kind: 'named', name: v };
  return bad('');
}

export function readTier(r: Reader, obj: Record<string, unknown>, meta: Meta): Tier {
  const spec = r.map(obj.spec, ['spec']) ?? {};
  r.knownFields(spec, ['spec'], ['order', 'defaultAction']);
  // Tier names appear inside policy names: a DNS-1123 label, no dots (libcalico-go tierNameRegex).
  if (!DNS1123_LABEL.test(meta.name) || meta.name.length > 63) {
    r.error('bad-name', ['metadata', 'name'], `expected a tier name (a DNS-1123 label: a-z, 0-9, '-', at most 63 characters), found ${JSON.stringify(meta.name)}`);
  }
  let order = r.number(spec.order, ['spec', 'order'], 'an order');
  // The default tier's order is fixed (Calico's CRD rule); when omitted it is defaulted to it.
  if (meta.name === 'default') {
    if (order === undefined) order = DEFAULT_TIER_ORDER;
    else if (order !== DEFAULT_TIER_ORDER) r.error('bad-value', ['spec', 'order'], `expected the default tier's order ${DEFAULT_TIER_ORDER}, found ${order}`);
  }
  const defaultAction = r.oneOf(spec.defaultAction, ['spec', 'defaultAction'], ['Deny', 'Pass'] as const, 'a default action') ?? 'Deny';
  return { name: meta.name, ...(order !== undefined ? { order } : {}), defaultAction, origin: r.origin };
}

export function readNetworkSet(r: Reader, obj: Record<string, unknown>, meta: Meta, global: boolean): NetworkSet {
  const spec = r.map(obj.spec, ['spec']) ?? {};
  r.knownFields(spec, ['spec'], ['nets']);
  // libcalico-go validate(Global)NetworkSet: the label Calico uses internally for a set's namespace is reserved.
  if (Object.prototype.hasOwnProperty.call(meta.labels, 'projectcalico.org/namespace')) {
    r.error('bad-labels', ['metadata', 'labels', 'projectcalico.org/namespace'], 'expected no projectcalico.org/namespace label (Calico reserves it), found one');
  }
  const nets = readCidrList(r, spec.nets, ['spec', 'nets'], { bareIp: true }).map((c) => c.cidr);
  return { ...(global ? {} : { namespace: meta.namespace ?? 'default' }), name: meta.name, labels: meta.labels, nets, origin: r.origin };
}

const ENCAP = ['Never', 'Always', 'CrossSubnet'] as const;

export function readIPPool(r: Reader, obj: Record<string, unknown>, meta: Meta): IPPool | undefined {
  const spec = r.map(obj.spec, ['spec']) ?? {};
  // Calico v3 IPPoolSpec (the deprecated v1 fields ipip and nat-outgoing must be unset there, so they are refused too).
  r.knownFields(spec, ['spec'], ['cidr', 'blockSize', 'ipipMode', 'vxlanMode', 'natOutgoing', 'disabled', 'disableBGPExport', 'nodeSelector', 'allowedUses', 'assignmentMode']);
  const cidr = readCidr(r, spec.cidr, ['spec', 'cidr'], { strict: true });
  const family = cidr?.family ?? 4;
  // Calico: IPv4 block sizes 20..32 (default 26), IPv6 116..128 (default 122).
  const blockSize = family === 4
    ? r.int(spec.blockSize, ['spec', 'blockSize'], 20, 32, 'an IPv4 block size') ?? 26
    : r.int(spec.blockSize, ['spec', 'blockSize'], 116, 128, 'an IPv6 block size') ?? 122;
  if (cidr && blockSize !== undefined && cidr.prefix > blockSize) {
    r.error('bad-value', ['spec', 'cidr'], `expected a pool at least as large as its block size /${blockSize}, found /${cidr.prefix}`);
  }
  if (cidr) {
    const ll = parseCidr(family === 4 ? '169.254.0.0/16' : 'fe80::/10');
    if (!('error' in ll) && (cidrContains(ll, cidr) || cidrContains(cidr, ll))) {
      r.error('bad-value', ['spec', 'cidr'], `expected a pool outside the link-local range ${ll.cidr}, found ${cidr.cidr}, which overlaps it`);
    }
  }
  const ipipMode = r.oneOf(spec.ipipMode, ['spec', 'ipipMode'], ENCAP, 'an IPIP mode') ?? 'Never';
  const vxlanMode = r.oneOf(spec.vxlanMode, ['spec', 'vxlanMode'], ENCAP, 'a VXLAN mode') ?? 'Never';
  if (ipipMode !== 'Never' && vxlanMode !== 'Never') r.error('bad-value', ['spec', 'vxlanMode'], `expected at most one of ipipMode and vxlanMode enabled, found ipipMode ${ipipMode} and vxlanMode ${vxlanMode}`);
  if (family === 6 && ipipMode !== 'Never') r.error('bad-value', ['spec', 'ipipMode'], `expected ipipMode Never on an IPv6 pool, found ${ipipMode}`);
  const allowedUses = r.stringList(spec.allowedUses, ['spec', 'allowedUses']);
  allowedUses.forEach((u, i) => r.oneOf(u, ['spec', 'allowedUses', i], ['Workload', 'Tunnel', 'LoadBalancer'] as const, 'an allowed use'));
  const nodeSelector = r.calicoSelector(spec.nodeSelector, ['spec', 'nodeSelector']) ?? ALL;
  if (!cidr) return undefined;
  return {
    name: meta.name,
    cidr: cidr.cidr,
    family,
    blockSize,
    ipipMode,
    vxlanMode,
    natOutgoing: r.bool(spec.natOutgoing, ['spec', 'natOutgoing'], false),
    disabled: r.bool(spec.disabled, ['spec', 'disabled'], false),
    nodeSelector,
    allowedUses: allowedUses.length ? allowedUses : ['Workload', 'Tunnel'],
    bandwidth: readBandwidthAnnotations(r, meta.annotations, 'tollgate.dev/'),
    origin: r.origin,
  };
}

export function readHostEndpoint(r: Reader, obj: Record<string, unknown>, meta: Meta): HostEndpoint {
  const spec = r.map(obj.spec, ['spec']) ?? {};
  const expectedIPs: string[] = [];
  r.list(spec.expectedIPs, ['spec', 'expectedIPs']).forEach((v, i) => {
    const ip = readIp(r, v, ['spec', 'expectedIPs', i]);
    if (ip !== undefined) expectedIPs.push(ip);
  });
  const interfaceName = r.string(spec.interfaceName, ['spec', 'interfaceName']);
  if (!interfaceName && expectedIPs.length === 0) r.error('required', ['spec'], 'expected interfaceName or expectedIPs, found neither');
  const node = r.string(spec.node, ['spec', 'node']);
  const ports: ContainerPort[] = [];
  r.list(spec.ports, ['spec', 'ports']).forEach((p, i) => {
    const pp: Path = ['spec', 'ports', i];
    const m = r.map(p, pp);
    if (!m) return;
    const name = r.requiredString(m.name, [...pp, 'name'], 'a port name');
    if (name !== undefined && !isPortName(name)) r.error('bad-name', [...pp, 'name'], `expected a port name (1-15 characters a-z, 0-9, '-', with a letter, no '--', no '-' at either end), found ${JSON.stringify(name)}`);
    const port = m.port === undefined ? (r.error('required', [...pp, 'port'], 'expected a port number 1..65535, found nothing'), undefined) : r.int(m.port, [...pp, 'port'], 1, 65535, 'a port number', 'port-range');
    const protocol = readK8sProtocol(r, m.protocol, [...pp, 'protocol']);
    if (name !== undefined && port !== undefined && protocol !== undefined) ports.push({ name, port, protocol });
  });
  return { name: meta.name, labels: meta.labels, ...(node ? { node } : {}), ...(interfaceName ? { interfaceName } : {}), expectedIPs, ports, origin: r.origin };
}
