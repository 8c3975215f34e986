// Resolve: selectors to endpoint sets, endpoint sets to address sets, named ports to numbers, each scoped the
// way its API scopes it (docs/semantics.md, "Resolve").
//
// Endpoints are pods with at least one address and without hostNetwork. A hostNetwork pod is never selected
// by policy and, as a peer, is matched only by address rules (ipBlock, nets, networks, nodes); a pod without
// an address is nowhere.
import type { Labels, Selector } from '../model/selector/ast';
import { ALL } from '../model/selector/ast';
import type {
  AnpPods, CalicoEntity, CalicoPolicy, ContainerPort, Direction, HostEndpoint, K8sPeer, Model, NetworkSet, Node, Pod,
} from '../model/types';
import { selectorMatches } from './labels';
import { EMPTY, difference, fromAddrs, fromCidrs, intersect, union, type IpSet } from './cidr';

export * from './cidr';
export * from './ports';
export { selectorMatches } from './labels';

/** Labels Calico adds to every workload endpoint (as Felix sees a pod). */
export const CALICO_NS_LABEL = 'projectcalico.org/namespace';
export const CALICO_ORCH_LABEL = 'projectcalico.org/orchestrator';
export const CALICO_SA_LABEL = 'projectcalico.org/serviceaccount';
/** Label Calico adds to namespaces and service accounts (their name). */
export const CALICO_NAME_LABEL = 'projectcalico.org/name';

export function podId(p: { namespace: string; name: string }): string {
  return `${p.namespace}/${p.name}`;
}

export function isEndpoint(p: Pod): boolean {
  return p.ips.length > 0 && !p.hostNetwork;
}

/**
 * Whether a Calico namespaceSelector reaches the non-namespaced objects (GlobalNetworkSets, HostEndpoints).
 * libcalico-go getEndpointSelector prefixes the selector's keys with the namespace-label prefix, which such an object
 * never carries, and rewrites all() to has(projectcalico.org/namespace) and global() to its negation: so global()
 * reaches them, all() does not, and so does any test a missing label passes (`ns != 'x'`, `!has(team)`).
 */
function reachesNonNamespaced(sel: Selector): boolean {
  switch (sel.op) {
    case 'all':
      return false;
    case 'global':
      return true;
    case 'not':
      return !reachesNonNamespaced(sel.arg);
    case 'and':
      return sel.args.every(reachesNonNamespaced);
    case 'or':
      return sel.args.some(reachesNonNamespaced);
    default:
      return selectorMatches(sel, {});
  }
}

/** What a Calico entity's selectors reach: endpoints (pods), network sets, host endpoints. */
export interface CalicoObjects {
  pods: Pod[];
  sets: NetworkSet[];
  hosts: HostEndpoint[];
}

/**
 * `fn()` once per pair of keys in `table` (Map keys: objects by identity). Equal selectors read once are mostly
 * one object: looked up so before a key text names their content.
 */
export function pairMemo<A, B, V>(table: Map<A, Map<B, V>>, a: A, b: B, fn: () => V): V {
  let m = table.get(a);
  if (!m) table.set(a, (m = new Map()));
  let v = m.get(b);
  if (v === undefined) m.set(b, (v = fn()));
  return v;
}

/** A step of unionOf's lookup: the union of the sets met so far, and the steps on. */
interface UnionNode {
  union?: IpSet;
  next?: Map<IpSet, UnionNode>;
}

export class Resolver {
  /** the endpoints, sorted by namespace/name */
  readonly endpoints: Pod[];
  private readonly nsLabelMap = new Map<string, Labels>();
  private readonly saLabelMap = new Map<string, Labels>();
  private readonly memos = new Map<string, WeakMap<object, unknown>>();
  private readonly calicoNsCache = new Map<string, Labels>();
  private readonly calicoPodCache = new WeakMap<Pod, Labels>();
  /** endpoints per namespace (each list in endpoint order), namespaces in the order their endpoints come */
  private readonly nsPods = new Map<string, Pod[]>();
  /** peer pod lists and address sets by what they were computed from (many rules name the same peers) */
  private readonly shared = new Map<string, unknown>();
  private readonly podSetAddrs = new WeakMap<readonly Pod[], IpSet>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  private readonly selKeys = new WeakMap<Selector, string>();
  /** unionOf's results by the identities of the sets, first set first */
  private readonly unions = new Map<IpSet, UnionNode>();
  /** k8sPeerPods's lists by namespaceSelector object (else namespace) then podSelector object (equal selectors are mostly one object) */
  private readonly peerPodsBySel = new Map<Selector | string, Map<Selector | undefined, Pod[]>>();
  /** k8sSelectedSet's sets by namespace then podSelector object */
  private readonly selectedBySel = new Map<string, Map<Selector, ReadonlySet<Pod>>>();
  /** ipBlockSet's sets without exceptions, by CIDR text */
  private readonly blockSets = new Map<string, IpSet>();

  constructor(readonly model: Model) {
    const ids = new Map<Pod, string>(model.pods.map((p) => [p, podId(p)]));
    this.endpoints = model.pods.filter(isEndpoint).sort((a, b) => cmp(ids.get(a) as string, ids.get(b) as string));
    for (const ns of model.namespaces) this.nsLabelMap.set(ns.name, { 'kubernetes.io/metadata.name': ns.name, ...ns.labels });
    for (const sa of model.serviceAccounts) this.saLabelMap.set(`${sa.namespace}/${sa.name}`, sa.labels);
    // A namespace's endpoints are contiguous in endpoint order (ids are "ns/name" and no name holds '/'), so
    // concatenating the lists of some namespaces in this map's order gives them in endpoint order.
    for (const p of this.endpoints) {
      const l = this.nsPods.get(p.namespace);
      if (l) l.push(p);
      else this.nsPods.set(p.namespace, [p]);
    }
  }

  /** `fn()` once per key for the life of this resolver (keys name the inputs: selKey, idOf). */
  once<V>(key: string, fn: () => V): V {
    if (this.shared.has(key)) return this.shared.get(key) as V;
    const v = fn();
    this.shared.set(key, v);
    return v;
  }

  /** A key naming a selector by its content (policies written alike share their peer sets). */
  selKey(sel: Selector | undefined): string {
    if (!sel) return '-';
    let k = this.selKeys.get(sel);
    if (k === undefined) this.selKeys.set(sel, (k = JSON.stringify(sel)));
    return k;
  }

  /** A number naming an object by identity, for keys of results computed from shared objects. */
  idOf(o: object): number {
    let n = this.ids.get(o);
    if (n === undefined) this.ids.set(o, (n = this.nextId++));
    return n;
  }

  /** The endpoints of a namespace, in endpoint order (shared: read it, never change it). */
  namespacePods(ns: string): readonly Pod[] {
    return this.nsPods.get(ns) ?? [];
  }

  /** The namespaces (of endpoints) whose labels, as Kubernetes or Calico selectors see them, match. */
  private namespacesMatching(sel: Selector, calico: boolean): string[] {
    return this.once(`ns|${calico ? 'c' : 'k'}|${this.selKey(sel)}`, () =>
      [...this.nsPods.keys()].filter((ns) => selectorMatches(sel, calico ? this.calicoNsLabels(ns) : this.nsLabels(ns))),
    );
  }

  /** Endpoints of these namespaces (in endpoint order) whose labels match `podSel` (undefined = all). */
  private podsOf(namespaces: readonly string[], podSel: Selector | undefined, labels: (p: Pod) => Labels): Pod[] {
    const out: Pod[] = [];
    for (const ns of namespaces) {
      for (const p of this.nsPods.get(ns) ?? []) if (!podSel || selectorMatches(podSel, labels(p))) out.push(p);
    }
    return out;
  }

  /** The endpoints' addresses as one set, built once per list (lists from this resolver are shared). */
  podAddrs(pods: readonly Pod[]): IpSet {
    let s = this.podSetAddrs.get(pods);
    if (!s) this.podSetAddrs.set(pods, (s = fromAddrs(pods.flatMap((p) => p.ips))));
    return s;
  }

  /** Union of sets, once per list of set identities; a single set is returned as it is (shared). */
  unionOf(parts: readonly IpSet[]): IpSet {
    if (parts.length === 0) return EMPTY;
    if (parts.length === 1) return parts[0];
    // looked up set by set (a rule's peers are a few shared sets): no key text per rule
    let node: UnionNode | undefined = this.unions.get(parts[0]);
    if (!node) this.unions.set(parts[0], (node = {}));
    for (let i = 1; i < parts.length; i++) {
      const next: Map<IpSet, UnionNode> = (node.next ??= new Map());
      let n: UnionNode | undefined = next.get(parts[i]);
      if (!n) next.set(parts[i], (n = {}));
      node = n;
    }
    return (node.union ??= union(...parts));
  }

  /** Pod lists concatenated without repeats (first occurrence kept), once per list of list identities. */
  mergePods(lists: readonly (readonly Pod[])[]): readonly Pod[] {
    if (lists.length === 1) return lists[0];
    return this.once(`m|${lists.map((l) => this.idOf(l)).join(',')}`, () => {
      const out: Pod[] = [];
      const seen = new Set<Pod>();
      for (const l of lists) {
        for (const x of l) {
          if (!seen.has(x)) {
            seen.add(x);
            out.push(x);
          }
        }
      }
      return out;
    });
  }

  /** Computes once per (tag, key object): peer sets do not depend on the endpoint a rule is lowered for. */
  memo<V>(tag: string, key: object, fn: () => V): V {
    let m = this.memos.get(tag);
    if (!m) this.memos.set(tag, (m = new WeakMap()));
    if (m.has(key)) return m.get(key) as V;
    const v = fn();
    m.set(key, v);
    return v;
  }

  /** Namespace labels as Kubernetes selectors see them (the API server always sets kubernetes.io/metadata.name). */
  nsLabels(ns: string): Labels {
    return this.nsLabelMap.get(ns) ?? { 'kubernetes.io/metadata.name': ns };
  }

  /** Namespace labels as Calico namespaceSelectors see them (plus projectcalico.org/name). */
  calicoNsLabels(ns: string): Labels {
    let l = this.calicoNsCache.get(ns);
    if (!l) this.calicoNsCache.set(ns, (l = { [CALICO_NAME_LABEL]: ns, ...this.nsLabels(ns) }));
    return l;
  }

  /** A pod's labels as Calico selectors see its workload endpoint (built once per pod; callers only read it). */
  calicoPodLabels(p: Pod): Labels {
    let l = this.calicoPodCache.get(p);
    if (!l) this.calicoPodCache.set(p, (l = { ...p.labels, [CALICO_NS_LABEL]: p.namespace, [CALICO_ORCH_LABEL]: 'k8s', [CALICO_SA_LABEL]: p.serviceAccount }));
    return l;
  }

  saLabels(p: Pod): Labels {
    return { [CALICO_NAME_LABEL]: p.serviceAccount, ...(this.saLabelMap.get(`${p.namespace}/${p.serviceAccount}`) ?? {}) };
  }

  // -------------------------------------------------------------------------------------------------------
  // Kubernetes NetworkPolicy

  /**
   * The endpoints a NetworkPolicy's spec.podSelector selects (those of its namespace whose labels match), as a set
   * shared by every policy of the namespace selecting alike.
   */
  k8sSelectedSet(namespace: string, podSelector: Selector): ReadonlySet<Pod> {
    return pairMemo(this.selectedBySel, namespace, podSelector, () =>
      this.once(`ksel|${namespace}|${this.selKey(podSelector)}`, () => new Set(this.podsOf([namespace], podSelector, (p) => p.labels))),
    );
  }

  /** A `pods` peer: podSelector in the policy's namespace, namespaceSelector alone = every pod of those namespaces. */
  /** (the list is shared by every caller asking the same: read it, never change it) */
  k8sPeerPods(namespace: string, peer: Extract<K8sPeer, { kind: 'pods' }>): Pod[] {
    return pairMemo(this.peerPodsBySel, peer.namespaceSelector ?? namespace, peer.podSelector, () => this.k8sPeerPodsByKey(namespace, peer));
  }

  /** k8sPeerPods by the selectors' content: selectors written alike in different objects share one list. */
  private k8sPeerPodsByKey(namespace: string, peer: Extract<K8sPeer, { kind: 'pods' }>): Pod[] {
    const nsSel = peer.namespaceSelector;
    return this.once(`k8s|${nsSel ? this.selKey(nsSel) : `=${namespace}`}|${this.selKey(peer.podSelector)}`, () =>
      this.podsOf(nsSel ? this.namespacesMatching(nsSel, false) : [namespace], peer.podSelector, (p) => p.labels),
    );
  }

  /** An ipBlock's addresses (cidr minus except), one set per distinct block (rules naming it share it). */
  ipBlockSet(cidr: string, except: readonly string[]): IpSet {
    if (except.length) return this.once(`ipb|${cidr}|${except.join(',')}`, () => difference(fromCidrs([cidr]), fromCidrs(except)));
    let s = this.blockSets.get(cidr);
    if (!s) this.blockSets.set(cidr, (s = fromCidrs([cidr])));
    return s;
  }

  // -------------------------------------------------------------------------------------------------------
  // AdminNetworkPolicy / BaselineAdminNetworkPolicy

  /** (shared list, as k8sPeerPods) */
  anpPods(sel: AnpPods): Pod[] {
    return this.once(`anp|${this.selKey(sel.namespaceSelector)}|${this.selKey(sel.podSelector)}`, () =>
      this.podsOf(this.namespacesMatching(sel.namespaceSelector, false), sel.podSelector, (p) => p.labels),
    );
  }

  anpSelects(sel: AnpPods, pod: Pod): boolean {
    return isEndpoint(pod) && selectorMatches(sel.namespaceSelector, this.nsLabels(pod.namespace)) && selectorMatches(sel.podSelector, pod.labels);
  }

  nodeAddrs(sel: Selector): IpSet {
    const nodes: Node[] = this.model.nodes.filter((n) => selectorMatches(sel, { 'kubernetes.io/hostname': n.name, ...n.labels }));
    return fromAddrs(nodes.flatMap((n) => n.addresses.filter(isIpText)));
  }

  // -------------------------------------------------------------------------------------------------------
  // Calico

  /** Does the Calico policy apply to the pod in this direction (selector, namespace, namespaceSelector, serviceAccountSelector, types)? */
  calicoSelects(pol: CalicoPolicy, pod: Pod, dir: Direction): boolean {
    return pol.types.includes(dir) && this.calicoSelectsPod(pol, pod);
  }

  /**
   * The endpoints calicoSelects holds for (in the directions of pol.types), as a set shared by every policy with
   * the same scope and selectors.
   */
  calicoSelectedSet(pol: CalicoPolicy): ReadonlySet<Pod> {
    const scope = pol.kind === 'NetworkPolicy' ? `=${pol.namespace}` : '*';
    const key = `csel|${scope}|${this.selKey(pol.namespaceSelector)}|${this.selKey(pol.serviceAccountSelector)}|${this.selKey(pol.selector)}`;
    return this.once(key, () => {
      let namespaces = pol.kind === 'NetworkPolicy' ? [pol.namespace ?? ''] : [...this.nsPods.keys()];
      if (pol.namespaceSelector) {
        const ok = new Set(this.namespacesMatching(pol.namespaceSelector, true));
        namespaces = namespaces.filter((ns) => ok.has(ns));
      }
      return new Set(this.podsOf(namespaces, undefined, (p) => p.labels).filter((p) => this.calicoSelectsPod(pol, p)));
    });
  }

  private calicoSelectsPod(pol: CalicoPolicy, pod: Pod): boolean {
    if (!isEndpoint(pod)) return false;
    if (pol.kind === 'NetworkPolicy' && pol.namespace !== pod.namespace) return false;
    if (pol.namespaceSelector && !selectorMatches(pol.namespaceSelector, this.calicoNsLabels(pod.namespace))) return false;
    if (pol.serviceAccountSelector && !selectorMatches(pol.serviceAccountSelector, this.saLabels(pod))) return false;
    return selectorMatches(pol.selector, this.calicoPodLabels(pod));
  }

  /**
   * Objects a selector reaches from a policy. `scope` is the namespaced policy's namespace (undefined for a
   * GlobalNetworkPolicy). Without namespaceSelector: a namespaced policy sees its own namespace; a global one
   * sees every namespace and the non-namespaced objects. With namespaceSelector: the namespaced objects of the
   * matching namespaces, and the non-namespaced ones only through global().
   */
  calicoObjects(scope: string | undefined, selector: Selector, namespaceSelector: Selector | undefined): CalicoObjects {
    const key = `cal|${namespaceSelector ? this.selKey(namespaceSelector) : scope === undefined ? '*' : `=${scope}`}|${this.selKey(selector)}`;
    return this.once(key, () => {
      const nsOk = (ns: string): boolean =>
        namespaceSelector ? selectorMatches(namespaceSelector, this.calicoNsLabels(ns)) : scope === undefined || ns === scope;
      const globalOk = namespaceSelector ? reachesNonNamespaced(namespaceSelector) : scope === undefined;
      const namespaces = namespaceSelector ? this.namespacesMatching(namespaceSelector, true) : scope === undefined ? [...this.nsPods.keys()] : [scope];
      return {
        pods: this.podsOf(namespaces, selector, (p) => this.calicoPodLabels(p)),
        sets: this.model.networkSets.filter((s) =>
          s.namespace === undefined ? globalOk && selectorMatches(selector, s.labels, { global: true }) : nsOk(s.namespace) && selectorMatches(selector, s.labels),
        ),
        hosts: globalOk ? this.model.hostEndpoints.filter((h) => selectorMatches(selector, h.labels, { global: true })) : [],
      };
    });
  }

  /** Every address of the objects (once per CalicoObjects from calicoObjects, which are shared). */
  objectAddrs(o: CalicoObjects): IpSet {
    return this.once(`oa|${this.idOf(o)}`, () => objectAddrs(o));
  }

  /**
   * The addresses a Calico entity (source or destination of a rule) allows and excludes, all fields ANDed:
   * `pos` undefined = no positive constraint. A selector that reaches nothing gives the empty set (matches no packet).
   * `pods` are the endpoints the selector part reaches (candidates for named ports), or undefined when unconstrained.
   */
  calicoEntity(scope: string | undefined, ent: CalicoEntity): { pos?: IpSet; neg: IpSet; pods?: Pod[] } {
    let pos: IpSet | undefined = ent.nets.length ? fromCidrs(ent.nets) : undefined;
    let pods: Pod[] | undefined;
    // libcalico-go getEndpointSelector: one selector, (namespace part) && (service accounts) && (selector). The
    // namespace part (namespaceSelector, else a namespaced policy's own namespace) applies as soon as any selector
    // field is used, notSelector included; with serviceAccounts only endpoints can match (sets carry no account).
    if (ent.selector || ent.namespaceSelector || ent.serviceAccounts || (scope !== undefined && ent.notSelector)) {
      const objs = this.calicoObjects(scope, ent.selector ?? ALL, ent.namespaceSelector);
      const sa = ent.serviceAccounts;
      pods = sa ? objs.pods.filter((p) => (sa.names.length === 0 || sa.names.includes(p.serviceAccount)) && (!sa.selector || selectorMatches(sa.selector, this.saLabels(p)))) : objs.pods;
      const reached = sa ? fromAddrs(pods.flatMap((p) => p.ips)) : this.objectAddrs(objs);
      pos = pos ? intersect(pos, reached) : reached;
    }
    // notSelector as written (RuleAPIV2ToBackend's NotSrcSelector/NotDstSelector): not limited to any namespace.
    let neg: IpSet = ent.notNets.length ? fromCidrs(ent.notNets) : EMPTY;
    if (ent.notSelector) {
      const excluded = this.objectAddrs(this.calicoObjects(undefined, ent.notSelector, undefined));
      neg = ent.notNets.length ? this.unionOf([neg, excluded]) : excluded;
    }
    return { pos, neg, pods };
  }
}

export function objectAddrs(o: CalicoObjects): IpSet {
  return union(fromAddrs(o.pods.flatMap((p) => p.ips)), fromCidrs(o.sets.flatMap((s) => s.nets)), fromAddrs(o.hosts.flatMap((h) => h.expectedIPs.filter(isIpText))));
}

export function isIpText(s: string): boolean {
  return /^[0-9.]+$/.test(s) ? s.split('.').length === 4 : s.includes(':');
}

/**
 * Named port resolution: the container ports of that name, optionally only of one protocol
 * (a name that resolves to a different protocol matches nothing).
 */
export function resolveNamedPort(ports: readonly ContainerPort[], name: string, protocol?: number): ContainerPort[] {
  return ports.filter((p) => p.name === name && (protocol === undefined || p.protocol === protocol));
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
