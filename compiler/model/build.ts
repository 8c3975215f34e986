// Pass 2: located documents to the typed model. For each object: check apiVersion/kind/metadata, read the kind's
// fields with exact errors and API-server defaults, then across objects: duplicates, implicit namespaces and the
// implicit 'default' tier, tier references, ANP priorities, and tenancy. Every problem is collected; the caller
// (pipeline.loadModel) throws once with all of them.
import type { Diagnostics, FieldPath, Location, ObjectRef } from './diagnostics';
import { formatLocation } from './diagnostics';
import type { SourceObject, SourcePlace, SourceSink } from '../manifests/source';
import { describe, DNS1123_LABEL, isMapValue, Reader } from './fields';
import type { Model, Namespace, Origin, Tier } from './types';
import type { Meta } from './kinds/common';
import { NAMESPACE_NAME_LABEL, readNamespace, readNode, readPod, readServiceAccount } from './kinds/core';
import { readNetworkPolicy } from './kinds/networkpolicy';
import { DEFAULT_TIER_ORDER, readCalicoPolicy, readHostEndpoint, readIPPool, readNetworkSet, readTier } from './kinds/calico';
import { readAdminPolicy } from './kinds/anp';

export interface BuildOptions {
  /** Shift-left: only namespaced policy in these namespaces is accepted. */
  tenants?: string[];
}

/** Order of the implicit 'default' tier, as recent Calico creates it. */
export { DEFAULT_TIER_ORDER };

type Reading = (r: Reader, obj: Record<string, unknown>, meta: Meta, model: Model) => void;

interface KindInfo {
  apiVersion: string;
  /** its reader is kept for the checks that need every object first (tiers, ANP priorities) */
  checkedLater?: boolean;
  namespaced: boolean;
  /** a policy object (subject to --tenant); cluster state (pods, namespaces) is not */
  policy: boolean;
  /** allowed under --tenant when namespaced in a tenant namespace */
  tenantAllowed: boolean;
  read: Reading;
}

const KINDS: Record<string, KindInfo> = {
  'v1/Namespace': { apiVersion: 'v1', namespaced: false, policy: false, tenantAllowed: true, read: (r, o, m, model) => void model.namespaces.push(readNamespace(r, o, m)) },
  'v1/Pod': { apiVersion: 'v1', namespaced: true, policy: false, tenantAllowed: true, read: (r, o, m, model) => void model.pods.push(readPod(r, o, m)) },
  'v1/ServiceAccount': { apiVersion: 'v1', namespaced: true, policy: false, tenantAllowed: true, read: (r, o, m, model) => void model.serviceAccounts.push(readServiceAccount(r, o, m)) },
  'v1/Node': { apiVersion: 'v1', namespaced: false, policy: false, tenantAllowed: true, read: (r, o, m, model) => void model.nodes.push(readNode(r, o, m)) },
  'networking.k8s.io/v1/NetworkPolicy': {
    apiVersion: 'networking.k8s.io/v1', namespaced: true, policy: true, tenantAllowed: true,
    read: (r, o, m, model) => void model.networkPolicies.push(readNetworkPolicy(r, o, m)),
  },
  'projectcalico.org/v3/NetworkPolicy': {
    apiVersion: 'projectcalico.org/v3', namespaced: true, policy: true, tenantAllowed: true, checkedLater: true,
    read: (r, o, m, model) => void model.calicoPolicies.push(readCalicoPolicy(r, o, m, 'NetworkPolicy')),
  },
  'projectcalico.org/v3/GlobalNetworkPolicy': {
    apiVersion: 'projectcalico.org/v3', namespaced: false, policy: true, tenantAllowed: false, checkedLater: true,
    read: (r, o, m, model) => void model.calicoPolicies.push(readCalicoPolicy(r, o, m, 'GlobalNetworkPolicy')),
  },
  'projectcalico.org/v3/Tier': { apiVersion: 'projectcalico.org/v3', namespaced: false, policy: true, tenantAllowed: false, read: (r, o, m, model) => void model.tiers.push(readTier(r, o, m)) },
  'projectcalico.org/v3/NetworkSet': {
    apiVersion: 'projectcalico.org/v3', namespaced: true, policy: true, tenantAllowed: true,
    read: (r, o, m, model) => void model.networkSets.push(readNetworkSet(r, o, m, false)),
  },
  'projectcalico.org/v3/GlobalNetworkSet': {
    apiVersion: 'projectcalico.org/v3', namespaced: false, policy: true, tenantAllowed: false,
    read: (r, o, m, model) => void model.networkSets.push(readNetworkSet(r, o, m, true)),
  },
  'projectcalico.org/v3/IPPool': {
    apiVersion: 'projectcalico.org/v3', namespaced: false, policy: true, tenantAllowed: false,
    read: (r, o, m, model) => {
      const p = readIPPool(r, o, m);
      if (p) model.ipPools.push(p);
    },
  },
  'projectcalico.org/v3/HostEndpoint': {
    apiVersion: 'projectcalico.org/v3', namespaced: false, policy: true, tenantAllowed: false,
    read: (r, o, m, model) => void model.hostEndpoints.push(readHostEndpoint(r, o, m)),
  },
  'policy.networking.k8s.io/v1alpha1/AdminNetworkPolicy': {
    apiVersion: 'policy.networking.k8s.io/v1alpha1', namespaced: false, policy: true, tenantAllowed: false, checkedLater: true,
    read: (r, o, m, model) => {
      const p = readAdminPolicy(r, o, m, 'AdminNetworkPolicy');
      if (p) model.adminPolicies.push(p);
    },
  },
  'policy.networking.k8s.io/v1alpha1/BaselineAdminNetworkPolicy': {
    apiVersion: 'policy.networking.k8s.io/v1alpha1', namespaced: false, policy: true, tenantAllowed: false,
    read: (r, o, m, model) => {
      const p = readAdminPolicy(r, o, m, 'BaselineAdminNetworkPolicy');
      if (p && p.name === 'default') model.baselinePolicy = p;
    },
  },
};

/**
 * Enforcing policy kinds Tollgate does not read: skipping one would allow what it denies, so it is refused. (Calico's
 * staged policies enforce nothing and are skipped like any other kind.)
 */
const UNREAD_POLICY_KINDS: Record<string, string> = {
  'policy.networking.k8s.io/ClusterNetworkPolicy': 'ClusterNetworkPolicy (network-policy-api v1alpha2) is not read by Tollgate, which reads AdminNetworkPolicy and BaselineAdminNetworkPolicy v1alpha1',
};

/** The API group of each apiVersion read ('v1' for the core group): the part that makes two objects the same. */
const GROUP_OF: Record<string, string> = {};
for (const info of Object.values(KINDS)) GROUP_OF[info.apiVersion] = info.apiVersion.split('/')[0];

/** apiVersions Tollgate reads, by kind: to tell "wrong apiVersion" from "a kind we skip". */
const API_VERSIONS_BY_KIND: Record<string, string[]> = {};
for (const [key, info] of Object.entries(KINDS)) {
  const kind = key.slice(info.apiVersion.length + 1);
  (API_VERSIONS_BY_KIND[kind] ??= []).push(info.apiVersion);
}

const LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = new RegExp(`^${LABEL}(\\.${LABEL})*$`);
const CALICO_POLICY_NAME = new RegExp(`^${LABEL}(\\.${LABEL})?$`);

/** metav1.ObjectMeta's fields, as a server returns them. */
const OBJECT_META_FIELDS = [
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers',
  'managedFields',
] as const;

export function emptyModel(): Model {
  return {
    namespaces: [], pods: [], serviceAccounts: [], nodes: [], networkSets: [], hostEndpoints: [], ipPools: [],
    networkPolicies: [], calicoPolicies: [], tiers: [], adminPolicies: [],
  };
}

export function buildModel(sources: SourceObject[], diags: Diagnostics, opts: BuildOptions = {}): Model {
  const b = new ModelBuilder(diags, opts);
  for (const src of sources) b.add(src);
  return b.finish();
}

/**
 * buildModel one object at a time (a SourceSink: loadModel gives it each object as it is read). Nothing of an
 * object's value is kept but what its model object holds.
 */
export class ModelBuilder implements SourceSink {
  readonly model = emptyModel();
  private readonly tenants: string[] | undefined;
  /** the place of the first object of each kind (and API group), namespace and name */
  private readonly seen = new Map<string, SourcePlace>();
  /** namespaces that objects live in, with the first object that names each (for implicit namespaces) */
  private readonly usedNamespaces = new Map<string, Origin>();
  /** the reader of each object checked later, for checks that need every object first (tiers, priorities) */
  private readonly readerOf = new Map<Origin, Reader>();
  /** what mark() saw, for rollback() */
  private marked?: { lists: number[]; baseline: Model['baselinePolicy']; diags: number; seen: number; used: number; readers: number };

  constructor(
    private readonly diags: Diagnostics,
    opts: BuildOptions = {},
  ) {
    this.tenants = opts.tenants && opts.tenants.length ? opts.tenants : undefined;
  }

  add(src: SourceObject): void {
    const obj = src.value;
    if (!isMapValue(obj)) {
      this.diags.error('bad-object', `expected a Kubernetes object (a map with apiVersion, kind and metadata), found ${describe(obj)}`, at(src, []));
      return;
    }
    const kind = obj.kind;
    const apiVersion = obj.apiVersion;
    if (typeof kind !== 'string' || kind === '') {
      this.diags.error('bad-object', `expected kind (a string), found ${describe(kind)}`, at(src, ['kind']));
      return;
    }
    const metaRaw = isMapValue(obj.metadata) ? obj.metadata : undefined;
    const nameRaw = metaRaw?.name;
    const ref: ObjectRef = { kind, name: typeof nameRaw === 'string' ? nameRaw : '<unnamed>' };
    if (typeof apiVersion !== 'string' || apiVersion === '') {
      this.diags.error('bad-object', `expected apiVersion (a string), found ${describe(apiVersion)}`, { ...at(src, ['apiVersion']), object: ref });
      return;
    }
    const info = KINDS[`${apiVersion}/${kind}`];
    if (!info) {
      const known = API_VERSIONS_BY_KIND[kind];
      const unread = UNREAD_POLICY_KINDS[`${apiVersion.split('/')[0]}/${kind}`];
      if (known) {
        this.diags.error('bad-api-version', `expected apiVersion ${known.join(' or ')} for kind ${kind}, found ${JSON.stringify(apiVersion)}`, { ...at(src, ['apiVersion']), object: ref });
      } else if (unread) {
        this.diags.error('unsupported', `${unread}; refused rather than ignored, since ignoring a policy would allow what it denies`, { ...at(src, ['kind']), object: ref });
      } else {
        this.diags.warn('skipped-kind', `skipped: Tollgate does not read ${apiVersion} ${kind}`, { ...at(src, ['kind']), object: ref });
      }
      return;
    }
    if (typeof nameRaw !== 'string' || nameRaw === '') {
      this.diags.error('required', `expected metadata.name (a string), found ${describe(nameRaw)}`, { ...at(src, metaRaw ? ['metadata', 'name'] : ['metadata']), object: ref });
      return;
    }
    let namespace: string | undefined;
    if (info.namespaced) {
      const nsRaw = metaRaw?.namespace;
      if (nsRaw === undefined || nsRaw === null || nsRaw === '') namespace = 'default';
      else if (typeof nsRaw !== 'string' || !DNS1123_LABEL.test(nsRaw) || nsRaw.length > 63) {
        this.diags.error('bad-name', `expected a namespace name (a DNS-1123 label: a-z, 0-9, '-', at most 63 characters), found ${describe(nsRaw)}`, { ...at(src, ['metadata', 'namespace']), object: ref });
        return;
      } else namespace = nsRaw;
      ref.namespace = namespace;
    }
    const r = new Reader(src.place, ref, this.diags);
    if (kind === 'Namespace' && (!DNS1123_LABEL.test(nameRaw) || nameRaw.length > 63)) {
      r.error('bad-name', ['metadata', 'name'], `expected a namespace name (a DNS-1123 label: a-z, 0-9, '-', at most 63 characters), found ${describe(nameRaw)}`);
    } else if (info.apiVersion === 'projectcalico.org/v3' && (kind === 'NetworkPolicy' || kind === 'GlobalNetworkPolicy')) {
      // libcalico-go networkPolicyNameRegex / globalNetworkPolicyNameRegex: a label, or label.label (tier prefix).
      if (!CALICO_POLICY_NAME.test(nameRaw) || nameRaw.length > 253) {
        r.error('bad-name', ['metadata', 'name'], `expected a ${kind} name (a DNS-1123 label, or two joined by one '.'), found ${describe(nameRaw)}`);
      }
    } else if (kind !== 'Tier' && (!DNS1123_SUBDOMAIN.test(nameRaw) || nameRaw.length > 253)) {
      r.error('bad-name', ['metadata', 'name'], `expected a name that is a DNS-1123 subdomain (a-z, 0-9, '-', '.', at most 253 characters), found ${describe(nameRaw)}`);
    }

    // Same kind (and API group), namespace and name twice: the API server would keep only one of them.
    const key = `${GROUP_OF[info.apiVersion]}/${kind}/${namespace ?? ''}/${nameRaw}`;
    const first = this.seen.get(key);
    if (first) {
      r.error('duplicate', ['metadata', 'name'], `expected each ${kind} once, found a second definition (the first is at ${formatLocation(first.locate(['metadata', 'name']))})`);
      return;
    }
    this.seen.set(key, src.place);

    const before = this.diags.items.length;
    if (this.tenants && info.policy) checkTenancy(r, info, kind, namespace, this.tenants);

    // ObjectMeta is not policy: a field outside it is warned about (a misspelt `labels` changes which policies
    // select the object), not refused, since clusters and tools add metadata Tollgate need not know.
    r.lenientFields(metaRaw, ['metadata'], OBJECT_META_FIELDS);
    const meta: Meta = {
      name: nameRaw,
      ...(namespace !== undefined ? { namespace } : {}),
      labels: r.labels(metaRaw?.labels, ['metadata', 'labels']),
      annotations: r.annotations(metaRaw?.annotations, ['metadata', 'annotations']),
    };
    if (namespace !== undefined && !this.usedNamespaces.has(namespace)) this.usedNamespaces.set(namespace, r.origin);
    if (info.checkedLater) this.readerOf.set(r.origin, r); // r.origin is one object per Reader: every kind reader stores that same object
    info.read(r, obj, meta, this.model);
    sortByPosition(this.diags.items, before);
  }

  mark(): void {
    this.marked = {
      lists: MODEL_LISTS.map((k) => this.model[k].length), baseline: this.model.baselinePolicy, diags: this.diags.items.length,
      seen: this.seen.size, used: this.usedNamespaces.size, readers: this.readerOf.size,
    };
  }

  /** Forgets every object added since mark(): the model lists, the diagnostics and the checks' records go back. */
  rollback(): void {
    const m = this.marked;
    if (!m) throw new Error('ModelBuilder.rollback without mark');
    MODEL_LISTS.forEach((k, i) => void (this.model[k].length = m.lists[i]));
    if (m.baseline === undefined) delete this.model.baselinePolicy;
    else this.model.baselinePolicy = m.baseline;
    this.diags.items.length = m.diags;
    dropAfter(this.seen, m.seen);
    dropAfter(this.usedNamespaces, m.used);
    dropAfter(this.readerOf, m.readers);
  }

  /** The checks across objects (implicit namespaces and tier, tier references, ANP priorities); the model. */
  finish(): Model {
    // A namespace that holds objects exists even when the input does not declare it (it was created elsewhere).
    const declared = new Set(this.model.namespaces.map((n) => n.name));
    for (const [name, origin] of this.usedNamespaces) {
      if (declared.has(name)) continue;
      const ns: Namespace = { name, labels: { [NAMESPACE_NAME_LABEL]: name }, implicit: true, origin: { ref: { kind: 'Namespace', name }, location: origin.location } };
      this.model.namespaces.push(ns);
    }

    // Tiers: the 'default' tier always exists; every Calico policy must name a tier that exists.
    if (!this.model.tiers.some((t) => t.name === 'default')) {
      const implicit: Tier = { name: 'default', order: DEFAULT_TIER_ORDER, defaultAction: 'Deny' };
      this.model.tiers.push(implicit);
    }
    const tierNames = new Set(this.model.tiers.map((t) => t.name));
    for (const p of this.model.calicoPolicies) {
      if (!tierNames.has(p.tier)) {
        const msg = `expected a declared Tier (one of ${[...tierNames].sort().join(', ')}), found ${JSON.stringify(p.tier)}`;
        const r = this.readerOf.get(p.origin);
        if (r) r.error('unknown-tier', ['spec', 'tier'], msg);
        else this.diags.error('unknown-tier', msg, { location: p.origin.location, object: p.origin.ref, path: ['spec', 'tier'] });
      }
    }

    // AdminNetworkPolicies at one priority: upstream leaves their relative order undefined; we order by name.
    this.model.adminPolicies.sort((a, b) => a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (let i = 1; i < this.model.adminPolicies.length; i++) {
      const [a, b] = [this.model.adminPolicies[i - 1], this.model.adminPolicies[i]];
      if (a.priority === b.priority) {
        const at = (p: typeof a) => this.readerOf.get(p.origin)?.src.locate(['spec', 'priority']) ?? p.origin.location;
        this.diags.warn('same-priority', `has the same priority ${b.priority} as AdminNetworkPolicy ${a.name} (${formatLocation(at(a))}); upstream leaves their order undefined, Tollgate evaluates ${a.name} first (by name)`, {
          location: at(b), object: b.origin.ref, path: ['spec', 'priority'],
        });
      }
    }
    return this.model;
  }
}

/** The lists of a Model (every key but baselinePolicy). */
const MODEL_LISTS = Object.keys(emptyModel()) as Exclude<keyof Model, 'baselinePolicy'>[];

/** Deletes the entries of `m` past its first `size` (a map never deleted from keeps insertion order). */
function dropAfter<K, V>(m: Map<K, V>, size: number): void {
  if (m.size === size) return;
  const late = [...m.keys()].slice(size);
  for (const k of late) m.delete(k);
}

/** Where a diagnostic about the object `src` points: the field at `path`. */
function at(src: SourceObject, path: FieldPath): { location: Location; path: FieldPath } {
  return { location: src.locate(path), path: [...src.docPath, ...path] };
}

/** Sorts items[from..] by line and column (stable): one object's problems read top to bottom. */
function sortByPosition(items: Diagnostics['items'], from: number): void {
  if (items.length - from < 2) return; // most objects have no problem, or one
  const tail = items.splice(from);
  tail.sort((a, b) => (a.location?.line ?? 0) - (b.location?.line ?? 0) || (a.location?.col ?? 0) - (b.location?.col ?? 0));
  items.push(...tail);
}

function checkTenancy(r: Reader, info: KindInfo, kind: string, namespace: string | undefined, tenants: string[]): void {
  const who = `tenant${tenants.length === 1 ? '' : 's'} ${tenants.join(', ')}`;
  if (!info.tenantAllowed || namespace === undefined) {
    r.error('tenant', [], `not allowed for ${who}: expected a namespaced NetworkPolicy, Calico NetworkPolicy or NetworkSet in ${tenants.join(' or ')}, found a cluster-scoped ${kind}`);
  } else if (!tenants.includes(namespace)) {
    r.error('tenant', ['metadata', 'namespace'], `not allowed for ${who}: expected a ${kind} in namespace ${tenants.join(' or ')}, found namespace ${namespace}`);
  }
}
