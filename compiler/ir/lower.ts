// Lowering: the typed model to per-endpoint, per-direction chains of tiers of rules (ir/types.ts).
//
// Tier order for one endpoint and direction (docs/semantics.md says why, with upstream references):
//   1. adminnetworkpolicy: every AdminNetworkPolicy whose subject selects the pod, by priority then name;
//      first matching rule decides, Pass leaves the tier, the tier's end is Pass.
//   2. Calico tiers by order (undefined last) then name, the 'default' tier among them (Kubernetes
//      NetworkPolicy lives there as Calico converts it: order 1000, name knp.default.<name>). A tier none of whose
//      policies selects the endpoint in this direction is left out; otherwise its end is its defaultAction.
//   3. baselineadminnetworkpolicy: the BANP's rules, first match decides, end Pass.
//   (nothing decided: allow)
// Rules split from one source rule (named ports resolved per peer pod, several ports) keep the source's id
// with "#n" suffixes.
import type { Diagnostics } from '../model/diagnostics';
import type {
  AdminNetworkPolicy, AnpRule, CalicoEntity, CalicoPolicy, CalicoRule, ContainerPort, Direction, K8sNetworkPolicy, K8sRule, Model, Pod, PortRange, PortSpec, Tier,
} from '../model/types';
import type { Action, Chain, Endpoint, Match, Program, Rule, RuleSource, TierChain, TierEnd } from './types';
import {
  Resolver, cmp, difference, pairMemo, fromAddrs, fromCidrs, intersect, isEmpty, isSubset, keepsParts, podId, resolveNamedPort, toCidrs, toCidrsApart, UNIVERSE, type IpSet,
} from '../resolve';
import { recordParts } from './parts';
import { normalizePorts } from '../resolve/ports';
import { PROTO } from '../model/types';

/** Order Calico gives Kubernetes NetworkPolicies in the default tier. */
export const KNP_ORDER = 1000;
export const ADMIN_TIER = 'adminnetworkpolicy';
export const BASELINE_TIER = 'baselineadminnetworkpolicy';
export const INTERFACE_ANNOTATION = 'tollgate.dev/interface';

/** A rule before it gets its id: one piece of a source rule. */
interface Piece {
  match: Match;
}

export function lowerModel(model: Model, _diags: Diagnostics): Program {
  const r = new Resolver(model);
  const endpoints: Endpoint[] = r.endpoints.map((pod) => {
    // key order is the printed order: id, namespace, name, ips, labels, iface, ports, ingress, egress
    const ep = { id: podId(pod), namespace: pod.namespace, name: pod.name, ips: [...pod.ips], labels: { ...pod.labels } } as Endpoint;
    const iface = pod.annotations[INTERFACE_ANNOTATION];
    if (iface) ep.iface = iface;
    ep.ports = pod.ports.map((p) => (p.name ? { name: p.name, port: p.port, protocol: p.protocol } : { port: p.port, protocol: p.protocol }));
    const chains = sharedChains(r, pod);
    ep.ingress = chains.ingress;
    ep.egress = chains.egress;
    return ep;
  });
  return { version: 1, endpoints };
}

/**
 * Both chains of an endpoint, shared by every endpoint alike in all lowerChain reads from a pod: namespace,
 * labels and service account (which policies select it), container ports (named ports of the local side) and,
 * only when some Calico policy constrains the local side's addresses, the addresses.
 */
function sharedChains(r: Resolver, pod: Pod): { ingress: Chain; egress: Chain } {
  const ips = r.memo('any-local-ips', r.model, () => r.model.calicoPolicies.some((p) => calicoLocalNeeds(r, 'ingress', p).ips || calicoLocalNeeds(r, 'egress', p).ips));
  const key = `chains|${JSON.stringify([pod.namespace, pod.serviceAccount, pod.labels, pod.ports, ips ? pod.ips : null])}`;
  return r.once(key, () => ({ ingress: lowerChain(r, pod, 'ingress'), egress: lowerChain(r, pod, 'egress') }));
}

function lowerChain(r: Resolver, pod: Pod, dir: Direction): Chain {
  const tiers: TierChain[] = [];
  const admin = lowerAdmin(r, pod, dir);
  if (admin) tiers.push(admin);
  for (const t of r.memo('tiers', r.model.tiers, () => orderedTiers(r.model.tiers))) {
    const tc = lowerCalicoTier(r, pod, dir, t);
    if (tc) tiers.push(tc);
  }
  const base = lowerBaseline(r, pod, dir);
  if (base) tiers.push(base);
  return { tiers };
}

// ---------------------------------------------------------------------------------------------------------
// Ordering

function orderKey(order: number | undefined): number {
  return order === undefined ? Number.POSITIVE_INFINITY : order;
}

export function orderedTiers(tiers: readonly Tier[]): Tier[] {
  const list = [...tiers];
  if (!list.some((t) => t.name === 'default')) list.push({ name: 'default', order: 1_000_000, defaultAction: 'Deny' });
  return list.sort((a, b) => orderKey(a.order) - orderKey(b.order) || cmp(a.name, b.name));
}

/** A policy of a Calico tier: Calico's own, or a Kubernetes NetworkPolicy as Calico converts it. */
type TierPolicy = { kind: 'calico'; pol: CalicoPolicy; sortName: string; order?: number } | { kind: 'knp'; pol: K8sNetworkPolicy; sortName: string; order: number };

function tierPolicies(model: Model, tier: string): TierPolicy[] {
  const out: TierPolicy[] = model.calicoPolicies
    .filter((p) => p.tier === tier)
    .map((p) => ({ kind: 'calico' as const, pol: p, order: p.order, sortName: p.namespace ? `${p.namespace}/${p.name}` : p.name }));
  if (tier === 'default') {
    for (const p of model.networkPolicies) out.push({ kind: 'knp', pol: p, order: KNP_ORDER, sortName: `${p.namespace}/knp.default.${p.name}` });
  }
  return out.sort((a, b) => orderKey(a.order) - orderKey(b.order) || cmp(a.sortName, b.sortName));
}

export function policyLabel(src: Pick<RuleSource, 'kind' | 'namespace' | 'name'>): string {
  const kind = src.kind === 'CalicoNetworkPolicy' ? 'Calico NetworkPolicy' : src.kind;
  return `${kind} ${src.namespace ? `${src.namespace}/` : ''}${src.name}`;
}

function selectedText(policies: string[]): string {
  return `${policies.join(', ')} ${policies.length === 1 ? 'selects' : 'select'} the pod`;
}

// ---------------------------------------------------------------------------------------------------------
// Rule assembly

function makeRules(src: RuleSource, prefix: string, action: Action, pieces: Piece[]): Rule[] {
  const base = `${prefix}/${src.direction}/${src.index}`;
  return pieces.map((p, i) => ({ id: pieces.length > 1 ? `${base}#${i}` : base, action, match: p.match, source: src }));
}

function sourceOf(kind: RuleSource['kind'], pol: { namespace?: string; name: string; origin: { location: { file: string; line?: number } } }, dir: Direction, index: number, ruleName?: string): RuleSource {
  // keys in the printed order, the optional ones only when present
  const src = { kind } as RuleSource;
  if (pol.namespace) src.namespace = pol.namespace;
  src.name = pol.name;
  src.direction = dir;
  src.index = index;
  if (ruleName) src.ruleName = ruleName;
  src.file = pol.origin.location.file;
  if (pol.origin.location.line !== undefined) src.line = pol.origin.location.line;
  return src;
}

function ranges(ports: readonly ContainerPort[]): PortRange[] {
  return normalizePorts(ports.map((p) => ({ from: p.port, to: p.port })));
}

function podsAddrs(pods: readonly Pod[]): IpSet {
  return fromAddrs(pods.flatMap((p) => p.ips));
}

/** Groups peer pods by the ports a name resolves to on each of them (pods where it resolves to nothing are left out). */
function groupByNamedPort(pods: readonly Pod[], resolve: (p: Pod) => ContainerPort[]): { key: string; ports: ContainerPort[]; pods: Pod[] }[] {
  const groups = new Map<string, { key: string; ports: ContainerPort[]; pods: Pod[] }>();
  for (const p of pods) {
    const ports = resolve(p);
    if (ports.length === 0) continue;
    const key = ports.map((c) => `${c.protocol}:${c.port}`).sort().join(',');
    const g = groups.get(key) ?? { key, ports, pods: [] };
    g.pods.push(p);
    groups.set(key, g);
  }
  return [...groups.values()];
}

const cidrCache = new WeakMap<IpSet, string[]>();
/** unions of peer sets whose parts do not touch, with their parts (peerUnion) */
const unionParts = new WeakMap<IpSet, readonly IpSet[]>();

/**
 * The prefix list of a set, one shared array per set (the evaluator caches parsed lists by array). The list of
 * a peerUnion is recorded as made of its parts' lists (ir/parts.ts).
 */
function cidrsOf(s: IpSet): string[] {
  let c = cidrCache.get(s);
  if (!c) {
    const parts = unionParts.get(s);
    if (!parts) cidrCache.set(s, (c = toCidrs(s)));
    else {
      // the parts' lists put together when the parts lie apart (toCidrsApart), else printed
      const lists = parts.map(cidrsOf);
      cidrCache.set(s, (c = toCidrsApart(s, lists) ?? toCidrs(s)));
      recordParts(c, lists);
    }
  }
  return c;
}

/** The union of a rule's peer sets (Resolver.unionOf), noting its parts when they do not touch (keepsParts). */
function peerUnion(r: Resolver, parts: IpSet[]): IpSet {
  const u = r.unionOf(parts);
  if (parts.length > 1 && !unionParts.has(u) && keepsParts(u, parts)) unionParts.set(u, parts);
  return u;
}

/** `m`, made by the caller and not shared yet, with the peer set's list when there is one (else any peer). */
function addPeer(m: Match, peer: IpSet | undefined): Match {
  if (peer) m.peer = cidrsOf(peer);
  return m;
}

/**
 * ranges() of a named port resolved against an endpoint's own container ports: once per port list, name and
 * protocol (the policies of a namespace are lowered against one endpoint's list), the result shared.
 */
function localNamedRanges(r: Resolver, ports: readonly ContainerPort[], name: string, proto: number): PortRange[] {
  return pairMemo(r.memo('local-named', ports, () => new Map<string, Map<number, PortRange[]>>()), name, proto, () => ranges(resolveNamedPort(ports, name, proto)));
}

// ---------------------------------------------------------------------------------------------------------
// Kubernetes NetworkPolicy (in the default tier)

/**
 * The rules of one policy in one direction, lowered once per distinct `podKey` (what they read from the endpoint,
 * '' when nothing): every endpoint the policy selects shares the same Rule objects (the IR is never changed in
 * place: the optimizer and the backends build new objects).
 */
function sharedRules(r: Resolver, pol: object, dir: Direction, podKey: string, lower: () => Rule[]): Rule[] {
  const byKey = r.memo(dir === 'ingress' ? 'policy-rules-ingress' : 'policy-rules-egress', pol, () => new Map<string, Rule[]>());
  let rules = byKey.get(podKey);
  if (!rules) byKey.set(podKey, (rules = lower()));
  return rules;
}

/** The endpoint's container ports as a key (named ports of the local side resolve against them). */
function portsKey(r: Resolver, pod: Pod): string {
  return r.memo('ports-key', pod, () => JSON.stringify(pod.ports));
}

/** What a NetworkPolicy's rules read from the endpoint: only ingress named ports (the pod's own). */
function k8sPodKey(r: Resolver, pod: Pod, dir: Direction, pol: K8sNetworkPolicy): string {
  const named = dir === 'ingress' && r.memo('knp-local-named', pol, () => pol.ingress.some((rule) => rule.ports?.some((p) => p.port?.kind === 'named')));
  return named ? portsKey(r, pod) : '';
}

function lowerK8sPolicy(r: Resolver, pod: Pod, dir: Direction, pol: K8sNetworkPolicy): Rule[] {
  const rules: Rule[] = [];
  (dir === 'ingress' ? pol.ingress : pol.egress).forEach((rule, index) => {
    const src = sourceOf('NetworkPolicy', pol, dir, index);
    rules.push(...makeRules(src, `knp/${pol.namespace}/${pol.name}`, 'Allow', k8sPieces(r, pod, dir, pol, rule)));
  });
  return rules;
}

function k8sPieces(r: Resolver, pod: Pod, dir: Direction, pol: K8sNetworkPolicy, rule: K8sRule): Piece[] {
  // Peer addresses: from/to absent or empty = every address. ipBlock = cidr minus except, any address (pods too).
  const { peer, lists } = r.memo('knp-peer', rule, () => {
    if (!rule.peers || rule.peers.length === 0) return { peer: undefined as IpSet | undefined, lists: undefined };
    // sets and pod lists are shared by every rule naming the same peers (the optimizer works per shared list)
    const lists: Pod[][] = [];
    const parts: IpSet[] = [];
    for (const p of rule.peers) {
      if (p.kind === 'ipBlock') parts.push(r.ipBlockSet(p.cidr, p.except));
      else {
        const pods = r.k8sPeerPods(pol.namespace, p);
        lists.push(pods);
        parts.push(r.podAddrs(pods));
      }
    }
    return { peer: peerUnion(r, parts) as IpSet | undefined, lists };
  });
  // the peer pods (candidates for egress named ports), merged only when a named port needs them
  const peerPods = (): readonly Pod[] => (!lists ? r.endpoints : lists.length ? r.mergePods(lists) : []);
  if (!rule.ports || rule.ports.length === 0) return [{ match: addPeer({}, peer) }];
  const pieces: Piece[] = [];
  for (const port of rule.ports) {
    const base: Match = { proto: port.protocol };
    const spec = port.port;
    if (!spec) pieces.push({ match: addPeer(base, peer) });
    else if (spec.kind === 'range') pieces.push({ match: addPeer({ proto: port.protocol, dports: [{ from: spec.from, to: spec.to }] }, peer) });
    else if (dir === 'ingress') {
      // ingress: the name is the selected (local) pod's own container port
      const local = localNamedRanges(r, pod.ports, spec.name, port.protocol);
      if (local.length) pieces.push({ match: addPeer({ proto: port.protocol, dports: local }, peer) });
    } else {
      // egress: the name resolves per destination pod; ipBlock peers never match a named port
      const pods = peerPods();
      const named = r.once(`knp-named-egress|${r.idOf(pods)}|${port.protocol}|${spec.name}`, () =>
        groupByNamedPort(pods, (p) => resolveNamedPort(p.ports, spec.name, port.protocol)).map((g) => ({ match: { ...base, dports: ranges(g.ports), peer: toCidrs(podsAddrs(g.pods)) } })),
      );
      pieces.push(...named);
    }
  }
  return pieces;
}

// ---------------------------------------------------------------------------------------------------------
// Calico tiers (and the default tier)

function lowerCalicoTier(r: Resolver, pod: Pod, dir: Direction, tier: Tier): TierChain | undefined {
  const rules: Rule[] = [];
  const selecting: string[] = [];
  // the tier end is shared by every chain that the same policies select in the same order
  let node = r.memo('tier-ends', tier, (): EndNode => ({ next: new Map() }));
  for (const c of selectingCandidates(r, tier, pod)) {
    const tp = c.tp;
    if (tp.kind === 'knp') {
      const p = tp.pol;
      if (!p.policyTypes.includes(dir)) continue;
      rules.push(...sharedRules(r, p, dir, k8sPodKey(r, pod, dir, p), () => lowerK8sPolicy(r, pod, dir, p)));
    } else {
      const p = tp.pol;
      if (!p.types.includes(dir)) continue;
      rules.push(...sharedRules(r, p, dir, calicoPodKey(r, pod, dir, p), () => lowerCalicoPolicy(r, pod, dir, p, calicoKind(p))));
    }
    selecting.push(c.label);
    let next = node.next.get(c);
    if (!next) node.next.set(c, (next = { next: new Map() }));
    node = next;
  }
  if (selecting.length === 0) return undefined;
  if (!node.end) {
    node.end =
      tier.defaultAction === 'Deny'
        ? { action: 'Deny', reason: `${selectedText(selecting)} and no rule allows (default deny)`, policies: selecting }
        : { action: 'Pass', reason: `${selectedText(selecting)} and no rule decided (tier default action Pass)`, policies: selecting };
  }
  return { name: tier.name, kind: tier.name === 'default' ? 'default' : 'calico', rules, end: node.end };
}

/** A step in the sequences of policies that select endpoints in a tier: the end of the chains selected so. */
interface EndNode {
  next: Map<Candidate, EndNode>;
  end?: TierEnd;
}

/** The endpoints a candidate selects (in the directions of its types), computed on first use. */
function selectedBy(r: Resolver, c: Candidate): ReadonlySet<Pod> {
  if (!c.selected) c.selected = c.tp.kind === 'knp' ? r.k8sSelectedSet(c.tp.pol.namespace, c.tp.pol.podSelector) : r.calicoSelectedSet(c.tp.pol);
  return c.selected;
}

/**
 * The candidates of a tier that select the endpoint, in tier order (either direction: callers check the types).
 * Indexed once per namespace from each candidate's selected set, so the work is the selections made, not
 * endpoints x candidates; a namespaced candidate selects endpoints of its own namespace only.
 */
function selectingCandidates(r: Resolver, tier: Tier, pod: Pod): Candidate[] {
  const perNs = r.memo('tier-selecting', tier, () => new Map<string, Map<Pod, Candidate[]>>());
  let byPod = perNs.get(pod.namespace);
  if (!byPod) perNs.set(pod.namespace, (byPod = selectingIndex(r, tierCandidates(r, tier, pod.namespace), pod.namespace)));
  return byPod.get(pod) ?? [];
}

/**
 * The candidates selecting each endpoint of a namespace. Candidates selecting alike share one selected set (the
 * policies of a namespace mostly select with a few selectors): each distinct set is read once, and endpoints in
 * the same sets share one list.
 */
function selectingIndex(r: Resolver, candidates: readonly Candidate[], ns: string): Map<Pod, Candidate[]> {
  const pods = r.namespacePods(ns);
  const setIds = new Map<ReadonlySet<Pod>, number>();
  const candSet: number[] = [];
  for (const c of candidates) {
    const sel = selectedBy(r, c);
    let id = setIds.get(sel);
    if (id === undefined) setIds.set(sel, (id = setIds.size));
    candSet.push(id);
  }
  // the ids of the sets holding each endpoint, ascending (a set larger than the namespace, a global candidate's,
  // is read by membership; endpoints of other namespaces met in a set are never looked up)
  const inSets = new Map<Pod, number[]>();
  for (const [sel, id] of setIds) {
    const hit = (p: Pod): void => {
      const l = inSets.get(p);
      if (l) l.push(id);
      else inSets.set(p, [id]);
    };
    if (sel.size > pods.length) {
      for (const p of pods) if (sel.has(p)) hit(p);
    } else for (const p of sel) hit(p);
  }
  const bySets = new Map<string, Candidate[]>();
  const index = new Map<Pod, Candidate[]>();
  for (const p of pods) {
    const ids = inSets.get(p);
    if (!ids) {
      index.set(p, []);
      continue;
    }
    const key = ids.join(',');
    let list = bySets.get(key);
    if (!list) {
      const member = new Set(ids);
      bySets.set(key, (list = candidates.filter((_, i) => member.has(candSet[i]))));
    }
    index.set(p, list);
  }
  return index;
}

/** A policy of a tier as seen from one namespace: its label, and the endpoints it selects (set on first use). */
interface Candidate {
  tp: TierPolicy;
  label: string;
  selected?: ReadonlySet<Pod>;
}

function calicoKind(p: CalicoPolicy): RuleSource['kind'] {
  return p.kind === 'GlobalNetworkPolicy' ? 'GlobalNetworkPolicy' : 'CalicoNetworkPolicy';
}

/**
 * The policies of a tier that can select endpoints of a namespace, in tier order: the tier's global policies and
 * those of that namespace (a namespaced policy selects endpoints of its own namespace only). Grouped in one pass.
 */
function tierCandidates(r: Resolver, tier: Tier, ns: string): Candidate[] {
  const t = r.memo('tier-candidates', tier, () => {
    const entries: Candidate[] = tierPolicies(r.model, tier.name).map((tp) => ({
      tp,
      label: policyLabel({ kind: tp.kind === 'knp' ? 'NetworkPolicy' : calicoKind(tp.pol), namespace: tp.pol.namespace, name: tp.pol.name }),
    }));
    const own = new Map<string, number[]>();
    const globals: number[] = [];
    entries.forEach(({ tp }, i) => {
      if (tp.kind === 'calico' && tp.pol.kind !== 'NetworkPolicy') globals.push(i);
      else if (tp.pol.namespace !== undefined) {
        const l = own.get(tp.pol.namespace);
        if (l) l.push(i);
        else own.set(tp.pol.namespace, [i]);
      }
    });
    return { entries, own, globals, merged: new Map<string, Candidate[]>() };
  });
  let out = t.merged.get(ns);
  if (!out) {
    // both index lists ascend: merge them to keep tier order
    const a = t.own.get(ns) ?? [];
    const b = t.globals;
    out = [];
    for (let i = 0, j = 0; i < a.length || j < b.length; ) out.push(t.entries[j >= b.length || (i < a.length && a[i] < b[j]) ? a[i++] : b[j++]]);
    t.merged.set(ns, out);
  }
  return out;
}

function lowerCalicoPolicy(r: Resolver, pod: Pod, dir: Direction, p: CalicoPolicy, kind: RuleSource['kind']): Rule[] {
  const rules: Rule[] = [];
  (dir === 'ingress' ? p.ingress : p.egress).forEach((rule, index) => {
    const src = sourceOf(kind, p, dir, index);
    const prefix = p.kind === 'GlobalNetworkPolicy' ? `gnp/${p.name}` : `cnp/${p.namespace}/${p.name}`;
    rules.push(...makeRules(src, prefix, rule.action, splitNamedNotPorts(rule, calicoPieces(r, pod, dir, p, rule))));
  });
  return rules;
}

/**
 * What a Calico policy's rules read from the endpoint (calicoPieces): its addresses when a local-side entity
 * constrains addresses (nets, selectors, notNets, ...), its container ports when the local side names ports.
 */
function calicoPodKey(r: Resolver, pod: Pod, dir: Direction, pol: CalicoPolicy): string {
  const needs = calicoLocalNeeds(r, dir, pol);
  return `${needs.ips ? pod.ips.join(',') : ''}|${needs.ports ? portsKey(r, pod) : ''}`;
}

function calicoLocalNeeds(r: Resolver, dir: Direction, pol: CalicoPolicy): { ips: boolean; ports: boolean } {
  return r.memo(`calico-local-${dir}`, pol, () => {
    const scope = pol.kind === 'NetworkPolicy' ? pol.namespace : undefined;
    let ips = false;
    let ports = false;
    for (const rule of dir === 'ingress' ? pol.ingress : pol.egress) {
      const ent = dir === 'ingress' ? rule.destination : rule.source;
      const local = r.memo('calico-entity', ent, () => r.calicoEntity(scope, ent));
      if (local.pos || !isEmpty(local.neg)) ips = true;
      if (hasNames(ent)) ports = true;
    }
    return { ips, ports };
  });
}

/** Numeric port specs as ranges, and the names among them. */
function splitSpecs(specs: readonly PortSpec[]): { nums: PortRange[]; names: string[] } {
  const nums: PortRange[] = [];
  const names: string[] = [];
  for (const s of specs) {
    if (s.kind === 'range') nums.push({ from: s.from, to: s.to });
    else names.push(s.name);
  }
  return { nums: normalizePorts(nums), names };
}

function resolveNames(ports: readonly ContainerPort[], names: readonly string[], proto: number | undefined): PortRange[] {
  return ranges(names.flatMap((n) => resolveNamedPort(ports, n, proto)));
}

interface EntityPorts {
  ports?: PortRange[];
  notPorts?: PortRange[];
}

/** Ports of one entity with names resolved against one endpoint's container ports. */
function entityPorts(ent: CalicoEntity, ports: readonly ContainerPort[] | undefined, proto: number | undefined): EntityPorts {
  const pos = splitSpecs(ent.ports);
  const neg = splitSpecs(ent.notPorts);
  const out: EntityPorts = {};
  if (ent.ports.length) out.ports = normalizePorts([...pos.nums, ...(ports ? resolveNames(ports, pos.names, proto) : [])]);
  if (ent.notPorts.length) out.notPorts = normalizePorts([...neg.nums, ...(ports ? resolveNames(ports, neg.names, proto) : [])]);
  return out;
}

function hasNames(ent: CalicoEntity, which?: 'ports' | 'notPorts'): boolean {
  return (which !== 'notPorts' && ent.ports.some((p) => p.kind === 'named')) || (which !== 'ports' && ent.notPorts.some((p) => p.kind === 'named'));
}

/**
 * notPorts names in a rule without protocol (and without positive names, which make it TCP): felix matches
 * "not in the address,tcp:port IP set", which every packet of another protocol passes. Each piece becomes its TCP
 * half (proto TCP, the exclusions kept) and the rest (notProto TCP, port exclusions dropped). A rule that also has
 * notProtocol other than TCP is rejected by the model (compiler/model/kinds/calico.ts), so notProto is free here.
 */
function splitNamedNotPorts(rule: CalicoRule, pieces: Piece[]): Piece[] {
  if (rule.protocol !== undefined || hasNames(rule.source, 'ports') || hasNames(rule.destination, 'ports')) return pieces;
  if (!hasNames(rule.source, 'notPorts') && !hasNames(rule.destination, 'notPorts')) return pieces;
  const out: Piece[] = [];
  for (const p of pieces) {
    out.push({ match: { ...p.match, proto: PROTO.TCP } });
    const { notDports: _d, notSports: _s, ...rest } = p.match;
    if (rest.notProto === undefined || rest.notProto === PROTO.TCP) out.push({ match: { ...rest, notProto: PROTO.TCP } });
  }
  return out;
}

function portsInto(m: Match, which: 'd' | 's', p: EntityPorts): Match {
  const out = { ...m };
  if (which === 'd') {
    if (p.ports) out.dports = p.ports;
    if (p.notPorts) out.notDports = p.notPorts;
  } else {
    if (p.ports) out.sports = p.ports;
    if (p.notPorts) out.notSports = p.notPorts;
  }
  return out;
}

function calicoPieces(r: Resolver, pod: Pod, dir: Direction, pol: CalicoPolicy, rule: CalicoRule): Piece[] {
  const scope = pol.kind === 'NetworkPolicy' ? pol.namespace : undefined;
  const peerEnt = dir === 'ingress' ? rule.source : rule.destination;
  const localEnt = dir === 'ingress' ? rule.destination : rule.source;
  // The packet's destination ports belong to `destination`, its source ports to `source`.
  const peerWhich: 'd' | 's' = dir === 'ingress' ? 's' : 'd';
  const localWhich: 'd' | 's' = dir === 'ingress' ? 'd' : 's';

  const base: Match = {};
  if (rule.ipVersion !== undefined) base.family = rule.ipVersion;
  if (rule.protocol !== undefined) base.proto = rule.protocol;
  // felix looks a named port up with the rule's protocol, TCP when the rule has none, and matches it as an
  // address,protocol:port IP set: positive names without a protocol match TCP packets only.
  else if (hasNames(rule.source, 'ports') || hasNames(rule.destination, 'ports')) base.proto = PROTO.TCP;
  const lookupProto = rule.protocol ?? PROTO.TCP;
  if (rule.notProtocol !== undefined) base.notProto = rule.notProtocol;
  if (rule.icmp && rule.icmp.type !== undefined) base.icmp = { type: rule.icmp.type, ...(rule.icmp.code !== undefined ? { code: rule.icmp.code } : {}) };
  if (rule.notICMP && rule.notICMP.type !== undefined) base.notIcmp = { type: rule.notICMP.type, ...(rule.notICMP.code !== undefined ? { code: rule.notICMP.code } : {}) };

  // The local side is this endpoint: its address constraints are kept only as far as they concern its addresses.
  const own = fromAddrs(pod.ips);
  const local = r.memo('calico-entity', localEnt, () => r.calicoEntity(scope, localEnt));
  let m: Match = { ...base };
  if (local.pos) {
    const l = intersect(local.pos, own);
    if (!isSubset(own, l)) m.local = toCidrs(l);
  }
  const nl = intersect(local.neg, own);
  if (!isEmpty(nl)) m.notLocal = toCidrs(nl);
  m = portsInto(m, localWhich, entityPorts(localEnt, pod.ports, lookupProto));

  const peer = r.memo('calico-entity', peerEnt, () => r.calicoEntity(scope, peerEnt));
  const peerPos = peer.pos;
  const withPeerSets = (mm: Match, pos: IpSet | undefined): Match => {
    const out = { ...mm };
    if (pos) out.peer = cidrsOf(pos);
    if (!isEmpty(peer.neg)) out.notPeer = cidrsOf(peer.neg);
    return out;
  };
  if (!hasNames(peerEnt)) return [{ match: withPeerSets(portsInto(m, peerWhich, entityPorts(peerEnt, undefined, lookupProto)), peerPos) }];

  // Named ports of the peer side resolve per peer endpoint: one piece per group of endpoints that resolve alike,
  // and one for every other address (numeric ports only).
  // The grouping depends only on the peer entity (not on the local endpoint): computed once per rule.
  const pg = r.memo('calico-peer-groups', peerEnt, () => {
    const candidates = (peer.pods ?? r.endpoints).filter((p) => !peerPos || !isEmpty(intersect(peerPos, fromAddrs(p.ips))));
    const numericOnly = entityPorts(peerEnt, [], lookupProto);
    const numericKey = JSON.stringify(numericOnly);
    const groups = new Map<string, { ports: EntityPorts; pods: Pod[] }>();
    for (const c of candidates) {
      const ep = entityPorts(peerEnt, c.ports, lookupProto);
      const key = JSON.stringify(ep);
      if (key === numericKey) continue;
      const g = groups.get(key) ?? { ports: ep, pods: [] };
      g.pods.push(c);
      groups.set(key, g);
    }
    let rest: IpSet = peerPos ?? UNIVERSE;
    const sets: { ports: EntityPorts; peer: IpSet }[] = [];
    for (const g of groups.values()) {
      const addrs = podsAddrs(g.pods);
      rest = difference(rest, addrs);
      sets.push({ ports: g.ports, peer: peerPos ? intersect(peerPos, addrs) : addrs });
    }
    return { sets, rest, numericOnly, groupCount: groups.size };
  });
  const pieces: Piece[] = pg.sets.map((g) => ({ match: withPeerSets(portsInto(m, peerWhich, g.ports), g.peer) }));
  const numericOnly = pg.numericOnly;
  const restUseful = !(numericOnly.ports && numericOnly.ports.length === 0);
  if (restUseful && !isEmpty(pg.rest)) pieces.push({ match: withPeerSets(portsInto(m, peerWhich, numericOnly), peerPos || pg.groupCount ? pg.rest : undefined) });
  return pieces;
}

// ---------------------------------------------------------------------------------------------------------
// AdminNetworkPolicy and BaselineAdminNetworkPolicy

function lowerAdmin(r: Resolver, pod: Pod, dir: Direction): TierChain | undefined {
  const pols = r.model.adminPolicies.filter((p) => r.anpSelects(p.subject, pod)).sort((a, b) => a.priority - b.priority || cmp(a.name, b.name));
  const rules = pols.flatMap((p) => sharedRules(r, p, dir, anpPodKey(r, pod, dir, p), () => lowerAnp(r, pod, dir, p)));
  const withRules = pols.filter((p) => (dir === 'ingress' ? p.ingress : p.egress).length > 0);
  if (withRules.length === 0) return undefined;
  const policies = withRules.map((p) => `AdminNetworkPolicy ${p.name}`);
  return { name: ADMIN_TIER, kind: 'admin', rules, end: { action: 'Pass', reason: 'no AdminNetworkPolicy rule matched', policies } };
}

function lowerBaseline(r: Resolver, pod: Pod, dir: Direction): TierChain | undefined {
  const b = r.model.baselinePolicy;
  if (!b || !r.anpSelects(b.subject, pod) || (dir === 'ingress' ? b.ingress : b.egress).length === 0) return undefined;
  return {
    name: BASELINE_TIER,
    kind: 'baseline',
    rules: [...sharedRules(r, b, dir, anpPodKey(r, pod, dir, b), () => lowerAnp(r, pod, dir, b))],
    end: { action: 'Pass', reason: 'no BaselineAdminNetworkPolicy rule matched', policies: [`BaselineAdminNetworkPolicy ${b.name}`] },
  };
}

/** What an (B)ANP's rules read from the endpoint: only ingress named ports (the pod's own). */
function anpPodKey(r: Resolver, pod: Pod, dir: Direction, pol: AdminNetworkPolicy): string {
  const named = dir === 'ingress' && r.memo('anp-local-named', pol, () => pol.ingress.some((rule) => rule.ports?.some((p) => p.kind === 'named')));
  return named ? portsKey(r, pod) : '';
}

function lowerAnp(r: Resolver, pod: Pod, dir: Direction, pol: AdminNetworkPolicy): Rule[] {
  const kind = pol.kind;
  const prefix = kind === 'AdminNetworkPolicy' ? `anp/${pol.name}` : `banp/${pol.name}`;
  const out: Rule[] = [];
  (dir === 'ingress' ? pol.ingress : pol.egress).forEach((rule, index) => {
    out.push(...makeRules(sourceOf(kind, pol, dir, index, rule.name), prefix, rule.action, anpPieces(r, pod, dir, rule)));
  });
  return out;
}

function anpPieces(r: Resolver, pod: Pod, dir: Direction, rule: AnpRule): Piece[] {
  const { peer, peerPods } = r.memo('anp-peer', rule, () => {
    const lists: Pod[][] = [];
    const parts: IpSet[] = [];
    for (const p of rule.peers) {
      if (p.kind === 'pods') {
        const pods = r.anpPods(p.pods);
        lists.push(pods);
        parts.push(r.podAddrs(pods));
      } else if (p.kind === 'nodes') parts.push(r.nodeAddrs(p.nodeSelector));
      else parts.push(r.once(`nets|${p.cidrs.join(',')}`, () => fromCidrs(p.cidrs)));
    }
    return { peer: peerUnion(r, parts), peerPods: lists.length ? r.mergePods(lists) : [] };
  });
  if (!rule.ports || rule.ports.length === 0) return [{ match: { peer: cidrsOf(peer) } }];
  const pieces: Piece[] = [];
  for (const port of rule.ports) {
    if (port.kind === 'number') pieces.push({ match: { proto: port.protocol, dports: [{ from: port.port, to: port.port }], peer: cidrsOf(peer) } });
    else if (port.kind === 'range') pieces.push({ match: { proto: port.protocol, dports: [{ from: port.from, to: port.to }], peer: cidrsOf(peer) } });
    else if (dir === 'ingress') {
      for (const [proto, cps] of byProtocol(resolveNamedPort(pod.ports, port.name))) pieces.push({ match: { proto, dports: ranges(cps), peer: cidrsOf(peer) } });
    } else {
      // egress: per destination pod; networks and nodes peers never match a named port
      const named = r.memo('anp-named-egress', rule, () => new Map<object, Piece[]>());
      if (!named.has(port)) named.set(port, 
        groupByNamedPort(peerPods, (p) => resolveNamedPort(p.ports, port.name)).flatMap((g) =>
          [...byProtocol(g.ports)].map(([proto, cps]) => ({ match: { proto, dports: ranges(cps), peer: toCidrs(podsAddrs(g.pods)) } as Match })),
        ),
      );
      pieces.push(...(named.get(port) ?? []));
    }
  }
  return pieces;
}

function byProtocol(ports: ContainerPort[]): Map<number, ContainerPort[]> {
  const m = new Map<number, ContainerPort[]>();
  for (const p of ports) m.set(p.protocol, [...(m.get(p.protocol) ?? []), p]);
  return new Map([...m.entries()].sort((a, b) => a[0] - b[0]));
}
