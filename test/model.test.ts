// Model: every kind read with the defaults the API servers apply, cross-object rules (implicit namespaces and
// default tier, duplicates, ANP order), tenancy, quantities, and the shipped example.
import { strict as assert } from 'assert';
import * as path from 'path';
import { Diagnostics, formatDiagnostic } from '../compiler/model/diagnostics';
import { loadSources, parseText } from '../compiler/manifests/load';
import { buildModel, DEFAULT_TIER_ORDER } from '../compiler/model/build';
import { parseQuantity } from '../compiler/model/kinds/common';
import { sub, sub2 } from '../compiler/model/fields';
import { parseCidr } from '../compiler/model/addresses';
import { PROTO, type Model } from '../compiler/model/types';
import { ALL } from '../compiler/model/selector/ast';

function build(text: string, tenants?: string[]): { model: Model; diags: Diagnostics; lines: string[] } {
  const diags = new Diagnostics();
  const model = buildModel(parseText(text, 't.yaml', diags), diags, { tenants });
  return { model, diags, lines: diags.items.map(formatDiagnostic) };
}
function ok(text: string, tenants?: string[]): Model {
  const r = build(text, tenants);
  assert.deepEqual(r.diags.errors.map(formatDiagnostic), []);
  return r.model;
}

describe('model: defaults per kind', () => {
  it('Namespace: kubernetes.io/metadata.name is always its name', () => {
    const m = ok('apiVersion: v1\nkind: Namespace\nmetadata: {name: n1, labels: {kubernetes.io/metadata.name: other, a: b}}\n');
    assert.deepEqual(m.namespaces[0].labels, { 'kubernetes.io/metadata.name': 'n1', a: 'b' });
    assert.equal(m.namespaces[0].implicit, undefined);
  });

  it('Pod: namespace default, serviceAccount default, TCP container ports, canonical dual-stack IPs, sidecar ports', () => {
    const m = ok(`apiVersion: v1
kind: Pod
metadata: {name: p, annotations: {kubernetes.io/ingress-bandwidth: 10M, kubernetes.io/egress-bandwidth: 1Gi}}
spec:
  containers: [{name: c, ports: [{containerPort: 80, name: http}, {containerPort: 53, protocol: UDP}]}]
  initContainers:
    - {name: once, ports: [{containerPort: 1}]}
    - {name: sidecar, restartPolicy: Always, ports: [{containerPort: 9100, protocol: SCTP, name: metrics}]}
status:
  podIP: 10.0.0.1
  podIPs: [{ip: 10.0.0.1}, {ip: "FD00:0:0:0:0:0:0:0001"}]
`);
    const p = m.pods[0];
    assert.equal(p.namespace, 'default');
    assert.equal(p.serviceAccount, 'default');
    assert.deepEqual(p.ips, ['10.0.0.1', 'fd00::1']);
    assert.deepEqual(p.ports, [{ name: 'http', port: 80, protocol: PROTO.TCP }, { port: 53, protocol: PROTO.UDP }, { name: 'metrics', port: 9100, protocol: PROTO.SCTP }]);
    assert.equal(p.hostNetwork, false);
    assert.deepEqual(p.bandwidth, { ingress: 10_000_000, egress: 2 ** 30 });
    // the namespace it lives in exists implicitly, labelled as the API server labels namespaces
    assert.deepEqual(m.namespaces.map((n) => [n.name, n.implicit, n.labels]), [['default', true, { 'kubernetes.io/metadata.name': 'default' }]]);
  });

  it('ServiceAccount and Node', () => {
    const m = ok(`apiVersion: v1
kind: ServiceAccount
metadata: {name: sa, namespace: x, labels: {team: a}}
---
apiVersion: v1
kind: Node
metadata: {name: n, labels: {zone: z1}}
status: {addresses: [{type: InternalIP, address: 192.168.1.5}, {type: Hostname, address: n}, {type: InternalIP, address: "fd00::0005"}]}
`);
    assert.deepEqual([m.serviceAccounts[0].namespace, m.serviceAccounts[0].labels], ['x', { team: 'a' }]);
    assert.deepEqual(m.nodes[0].addresses, ['192.168.1.5', 'fd00::5']);
  });

  it('NetworkPolicy: policyTypes Ingress (+Egress when egress rules exist), protocol TCP, empty lists mean all', () => {
    const m = ok(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a, namespace: ns}
spec:
  ingress:
    - ports: [{port: 80}, {protocol: UDP}, {port: 1000, endPort: 2000}, {port: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b, namespace: ns}
spec:
  podSelector: {}
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]}]
  ingress: [{}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: c, namespace: ns}
spec: {podSelector: {}, egress: []}
`);
    const [a, b, c] = m.networkPolicies;
    assert.deepEqual(a.policyTypes, ['ingress']);
    assert.deepEqual(a.podSelector, ALL);
    assert.deepEqual(a.ingress[0].ports, [
      { protocol: PROTO.TCP, port: { kind: 'range', from: 80, to: 80 } },
      { protocol: PROTO.UDP },
      { protocol: PROTO.TCP, port: { kind: 'range', from: 1000, to: 2000 } },
      { protocol: PROTO.TCP, port: { kind: 'named', name: 'http' } },
    ]);
    assert.equal(a.ingress[0].peers, undefined);
    assert.deepEqual(b.policyTypes, ['ingress', 'egress']);
    assert.deepEqual(b.egress[0].peers, [{ kind: 'ipBlock', cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] }]);
    assert.deepEqual([b.ingress[0].peers, b.ingress[0].ports], [undefined, undefined]);
    assert.deepEqual(c.policyTypes, ['ingress']); // egress: [] is no egress rules
  });

  it('Calico policies: tier default, selector all(), types from the rules present, flags false', () => {
    const m = ok(`apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: none, namespace: ns}
spec: {}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: egress-only, namespace: ns}
spec: {egress: [{action: Allow, protocol: TCP, destination: {ports: [80, "8000:8080", http, "443"], nets: ["fd00::9", "fd00::/64"]}}]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: both}
spec:
  order: 10.5
  selector: ""
  ingress: [{action: Deny, protocol: ICMP, icmp: {type: 8, code: 0}, ipVersion: 4}]
  egress: [{action: Pass, protocol: 132}, {action: Log, notProtocol: UDPLite}]
`);
    const [none, eg, both] = m.calicoPolicies;
    assert.deepEqual([none.tier, none.selector, none.types, none.namespace, none.order], ['default', ALL, ['ingress'], 'ns', undefined]);
    assert.deepEqual([none.applyOnForward, none.preDNAT, none.doNotTrack], [false, false, false]);
    assert.deepEqual(eg.types, ['egress']);
    const r = eg.egress[0];
    assert.equal(r.protocol, PROTO.TCP);
    assert.deepEqual(r.destination.ports, [{ kind: 'range', from: 80, to: 80 }, { kind: 'range', from: 8000, to: 8080 }, { kind: 'named', name: 'http' }, { kind: 'range', from: 443, to: 443 }]);
    assert.deepEqual(r.destination.nets, ['fd00::9/128', 'fd00::/64']);
    assert.deepEqual(r.source, { nets: [], notNets: [], ports: [], notPorts: [] });
    assert.deepEqual([both.namespace, both.order, both.selector, both.types], [undefined, 10.5, ALL, ['ingress', 'egress']]);
    assert.deepEqual([both.ingress[0].icmp, both.ingress[0].ipVersion, both.egress[0].protocol, both.egress[1].notProtocol], [{ type: 8, code: 0 }, 4, 132, PROTO.UDPLite]);
    // the default tier exists even when not declared, at the order recent Calico gives it
    assert.deepEqual(m.tiers, [{ name: 'default', order: DEFAULT_TIER_ORDER, defaultAction: 'Deny' }]);
  });

  it('Tier, NetworkSet, GlobalNetworkSet, HostEndpoint', () => {
    const m = ok(`apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: platform}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: default}
spec: {defaultAction: Pass}
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: ns1, namespace: x, labels: {role: db}}
spec: {nets: [10.0.0.0/24, "2001:DB8::/32"]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: g}
spec: {nets: [192.0.2.1]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: h, labels: {host: "1"}}
spec: {node: n1, interfaceName: eth0, expectedIPs: [192.168.0.1], ports: [{name: ssh, port: 22}]}
`);
    assert.deepEqual(m.tiers.map((t) => [t.name, t.order, t.defaultAction]), [['platform', 100, 'Deny'], ['default', 1_000_000, 'Pass']]);
    assert.deepEqual(m.networkSets.map((s) => [s.namespace, s.name, s.nets]), [['x', 'ns1', ['10.0.0.0/24', '2001:db8::/32']], [undefined, 'g', ['192.0.2.1/32']]]);
    assert.deepEqual(m.hostEndpoints[0].ports, [{ name: 'ssh', port: 22, protocol: PROTO.TCP }]);
    assert.deepEqual([m.hostEndpoints[0].node, m.hostEndpoints[0].interfaceName, m.hostEndpoints[0].expectedIPs], ['n1', 'eth0', ['192.168.0.1']]);
  });

  it('IPPool: block size 26/122, encapsulation Never, natOutgoing false, bandwidth annotations', () => {
    const m = ok(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: v4, annotations: {tollgate.dev/ingress-bandwidth: 100M}}
spec: {cidr: 10.244.0.0/16}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: v6}
spec: {cidr: "fd00:10:244::/64", vxlanMode: CrossSubnet, natOutgoing: true}
`);
    const [v4, v6] = m.ipPools;
    assert.deepEqual([v4.family, v4.blockSize, v4.ipipMode, v4.vxlanMode, v4.natOutgoing, v4.disabled, v4.nodeSelector, v4.allowedUses, v4.bandwidth],
      [4, 26, 'Never', 'Never', false, false, ALL, ['Workload', 'Tunnel'], { ingress: 100_000_000 }]);
    assert.deepEqual([v6.family, v6.blockSize, v6.vxlanMode, v6.natOutgoing, v6.cidr], [6, 122, 'CrossSubnet', true, 'fd00:10:244::/64']);
  });

  it('AdminNetworkPolicy and Baseline: subjects, peers, ports (protocol TCP), order by priority then name', () => {
    const m = ok(`apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: zeta}
spec:
  priority: 3
  subject: {pods: {namespaceSelector: {}, podSelector: {}}}
  egress:
    - action: Pass
      to: [{nodes: {}}, {networks: [10.0.0.0/8]}, {namespaces: {}}]
      ports: [{portNumber: {port: 53, protocol: UDP}}, {portRange: {start: 1000, end: 2000}}]
    - action: Pass
      to: [{namespaces: {}}]
      ports: [{namedPort: dns}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: alpha}
spec: {priority: 1, subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {}}]}]}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec: {subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {}}]}]}
`);
    assert.deepEqual(m.adminPolicies.map((p) => [p.name, p.priority]), [['alpha', 1], ['zeta', 3]]);
    const z = m.adminPolicies[1];
    assert.deepEqual(z.subject, { namespaceSelector: ALL, podSelector: ALL });
    assert.deepEqual(z.egress[0].peers.map((p) => p.kind), ['nodes', 'networks', 'pods']);
    assert.deepEqual(z.egress[0].ports, [{ kind: 'number', protocol: PROTO.UDP, port: 53 }, { kind: 'range', protocol: PROTO.TCP, from: 1000, to: 2000 }]);
    assert.deepEqual(z.egress[1].ports, [{ kind: 'named', name: 'dns' }]);
    assert.equal(m.adminPolicies[0].ingress[0].ports, undefined);
    assert.equal(m.baselinePolicy?.name, 'default');
  });
});

describe('model: selectors', () => {
  it('Kubernetes label selectors and Calico expressions land in the one AST', () => {
    const m = ok(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: k, namespace: ns}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: team, operator: Exists}]}}]}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: c}
spec:
  selector: app == 'web'
  namespaceSelector: has(team)
  egress: [{action: Allow, destination: {namespaceSelector: global(), notSelector: "!has(x)"}}]
`);
    assert.deepEqual(m.networkPolicies[0].podSelector, { op: 'eq', key: 'app', value: 'web' });
    assert.deepEqual(m.networkPolicies[0].ingress[0].peers, [{ kind: 'pods', namespaceSelector: { op: 'has', key: 'team' } }]);
    const c = m.calicoPolicies[0];
    assert.deepEqual([c.selector, c.namespaceSelector], [{ op: 'eq', key: 'app', value: 'web' }, { op: 'has', key: 'team' }]);
    assert.deepEqual(c.egress[0].destination.namespaceSelector, { op: 'global' });
    assert.deepEqual(c.egress[0].destination.notSelector, { op: 'not', arg: { op: 'has', key: 'x' } });
  });

  it('equal matchLabels selectors are read once and shared; an invalid one is still reported wherever it appears', () => {
    const np = (name: string, sel: string) => `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ${name}, namespace: ns}\nspec:\n  podSelector: ${sel}\n`;
    const r = build([
      np('a', '{matchLabels: {app: web, tier: fe}}'),
      np('b', '{matchLabels: {app: web, tier: fe}}'),
      np('c', '{matchLabels: {tier: fe, app: web}}'),
      np('d', '{matchLabels: {app: "web", tier: "fe"}, matchExpressions: [{key: x, operator: Exists}]}'),
      np('e', '{matchLabels: {app: "-bad-"}}'),
      np('f', '{matchLabels: {app: "-bad-"}}'),
      np('g', '{matchLabels: {ab: c}}'),
      np('h', '{matchLabels: {a: bc}}'),
    ].join('---\n'));
    const [a, b, c, d, g, h] = ['a', 'b', 'c', 'd', 'g', 'h'].map((n) => r.model.networkPolicies.find((p) => p.name === n)?.podSelector);
    assert.equal(a, b);
    assert.deepEqual(a, { op: 'and', args: [{ op: 'eq', key: 'app', value: 'web' }, { op: 'eq', key: 'tier', value: 'fe' }] });
    assert.deepEqual(c, { op: 'and', args: [{ op: 'eq', key: 'tier', value: 'fe' }, { op: 'eq', key: 'app', value: 'web' }] });
    assert.equal((d as { args: unknown[] }).args.length, 3);
    assert.deepEqual(r.diags.errors.map((e) => [e.code, e.object?.name]), [['bad-selector', 'e'], ['bad-selector', 'f']], r.lines.join('\n'));
    // label maps whose texts run together the same are told apart
    assert.deepEqual([g, h], [{ op: 'eq', key: 'ab', value: 'c' }, { op: 'eq', key: 'a', value: 'bc' }]);
  });
});

describe('model: rules across objects', () => {
  it('warns about two AdminNetworkPolicies at one priority and orders them by name', () => {
    const anp = (n: string): string => `apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: ${n}}\nspec: {priority: 7, subject: {namespaces: {}}}\n`;
    const r = build([anp('b'), anp('a')].join('---\n'));
    assert.deepEqual(r.model.adminPolicies.map((p) => p.name), ['a', 'b']);
    assert.deepEqual(r.diags.items.map((d) => [d.severity, d.code]), [['warning', 'same-priority']]);
  });

  it('counts ANP rules: 100 per direction pass, 101 fail', () => {
    const rules = (n: number): string => Array.from({ length: n }, () => '    - {action: Deny, from: [{namespaces: {}}]}').join('\n');
    const doc = (n: number): string => `apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: x}\nspec:\n  priority: 1\n  subject: {namespaces: {}}\n  ingress:\n${rules(n)}\n`;
    assert.equal(build(doc(100)).diags.errors.length, 0);
    assert.deepEqual(build(doc(101)).lines, ['t.yaml:8:5: error: AdminNetworkPolicy x: spec.ingress: expected at most 100 ingress rules, found 101']);
  });

  it('locates errors in kind: List items inside the list; a non-object item names its items[i] path', () => {
    const r = build('apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  status: {podIP: 10.0.0.300}\n- 42\n');
    assert.deepEqual(r.lines, [
      't.yaml:7:11: warning: Pod default/p: status: pod has no IP address (status.podIP/podIPs); its policy cannot be enforced',
      't.yaml:7:19: error: Pod default/p: status.podIP: expected an IPv4 or IPv6 address, found "10.0.0.300"',
      't.yaml:8:3: error: items[1]: expected a Kubernetes object (a map with apiVersion, kind and metadata), found 42',
    ]);
  });

  it('skips unknown kinds with a warning and keeps going', () => {
    const r = build('apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n');
    assert.deepEqual(r.lines, ['t.yaml:2:7: warning: Deployment d: kind: skipped: Tollgate does not read apps/v1 Deployment']);
    assert.equal(r.model.namespaces.length, 1);
  });

  it('accepts a tenant\'s own namespaced policy and cluster state, rejects the rest', () => {
    const own = `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: t1}\nspec: {}\n---\napiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: q, namespace: t2}\nspec: {}\n---\napiVersion: projectcalico.org/v3\nkind: NetworkSet\nmetadata: {name: s, namespace: t1}\nspec: {nets: [10.0.0.0/8]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: other, namespace: elsewhere}\nstatus: {podIP: 10.0.0.1}\n`;
    assert.equal(build(own, ['t1', 't2']).diags.errors.length, 0);
    const r = build(own, ['t1']);
    assert.deepEqual(r.diags.errors.map((d) => [d.code, d.object?.name]), [['tenant', 'q']]);
    assert.match(r.lines[0], /not allowed for tenant t1: expected a NetworkPolicy in namespace t1, found namespace t2$/);
    const gns = build('apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: g}\nspec: {}\n', ['t1']);
    assert.deepEqual(gns.diags.errors.map((d) => d.code), ['tenant']);
  });

  it('a namespace declared after the pods in it is not duplicated', () => {
    const m = ok('apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: late}\nstatus: {podIP: 10.0.0.1}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: late, labels: {x: y}}\n');
    assert.deepEqual(m.namespaces.map((n) => [n.name, n.implicit, n.labels.x]), [['late', undefined, 'y']]);
  });
});

describe('model: values', () => {
  it('Kubernetes quantities', () => {
    assert.deepEqual(['10M', '500k', '1Gi', '1.5G', '100', '1e3', '2Ki', '0.5M', 'x', '10 M', '1MB', ''].map(parseQuantity),
      [10_000_000, 500_000, 2 ** 30, 1_500_000_000, 100, 1000, 2048, 500_000, undefined, undefined, undefined, undefined]);
  });

  it('a CIDR read as a Calico net (an address alone allowed) and the same text with a prefix read as an ipBlock are apart', () => {
    // parsed CIDRs are shared across objects and runs: the two readings of a text must not share one answer
    const np = (cidr: string) => `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np, namespace: ns}\nspec:\n  podSelector: {}\n  ingress:\n    - from:\n        - ipBlock: {cidr: "${cidr}"}\n`;
    const gns = (net: string) => `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: g}\nspec:\n  nets: ["${net}"]\n`;
    // the net first, then the ipBlock: 'b' + the net is no CIDR
    const a = build([gns('10.201.0.0/16'), np('b10.201.0.0/16')].join('---\n'));
    assert.deepEqual(a.diags.errors.map((e) => [e.code, e.object?.kind]), [['bad-cidr', 'NetworkPolicy']], a.lines.join('\n'));
    // the ipBlock first, then the net: the net is a CIDR
    const b = build([np('b10.202.0.0/16'), gns('10.202.0.0/16')].join('---\n'));
    assert.deepEqual(b.diags.errors.map((e) => [e.code, e.object?.kind]), [['bad-cidr', 'NetworkPolicy']], b.lines.join('\n'));
    assert.deepEqual(b.model.networkSets.map((s) => s.nets), [['10.202.0.0/16']]);
  });
  it('CIDRs: canonical text, host bits cleared and reported, bare IPs only where allowed', () => {
    const c = (s: string, bare = false): string => {
      const p = parseCidr(s, { bareIp: bare });
      return 'error' in p ? `error: ${p.error}` : `${p.cidr}${p.hostBits ? ' (host bits)' : ''}`;
    };
    assert.equal(c('10.0.0.1/24'), '10.0.0.0/24 (host bits)');
    assert.equal(c('FD00:0::1/64'), 'fd00::/64 (host bits)');
    assert.equal(c('0.0.0.0/0'), '0.0.0.0/0');
    assert.equal(c('10.0.0.1'), 'error: an address without a /prefix length');
    assert.equal(c('10.0.0.1', true), '10.0.0.1/32');
    assert.equal(c('010.0.0.1/8'), 'error: the address part does not parse');
    assert.equal(c('10.0.0.0/08'), 'error: the prefix length is not 0..32');
  });
});

describe('model: field paths', () => {
  it('sub and sub2 are [...path, key] and [...path, a, b] at every length, in arrays of their own', () => {
    for (let n = 0; n <= 8; n++) {
      const path = Array.from({ length: n }, (_, i) => (i % 2 ? i : `k${i}`));
      const a = sub(path, 'x');
      const b = sub2(path, 'y', 3);
      assert.deepEqual(a, [...path, 'x']);
      assert.deepEqual(b, [...path, 'y', 3]);
      assert.ok(a !== path && b !== path);
      assert.deepEqual(path.length, n, 'the path itself is left as it was');
    }
  });
});

describe('examples/multi-tenant', () => {
  const dir = path.resolve(__dirname, '..', 'examples', 'multi-tenant');
  it('validates with no errors and no warnings', () => {
    const diags = new Diagnostics();
    const m = buildModel(loadSources([dir], diags), diags, {});
    assert.deepEqual(diags.items.map(formatDiagnostic), []);
    assert.deepEqual(m.namespaces.map((n) => n.name).sort(), ['shared-services', 'tenant-a', 'tenant-b']);
    assert.equal(m.pods.length, 7);
    for (const p of m.pods) {
      assert.equal(p.ips.length, 2, `${p.namespace}/${p.name} is dual-stack`);
      assert.match(p.ips[0], /^10\.244\./);
      assert.match(p.ips[1], /^fd00:10:244::/);
      const iface = p.annotations['tollgate.dev/interface'];
      assert.ok(iface && iface.startsWith('tg') && iface.length <= 15, `${p.name}: interface ${iface}`);
      assert.ok(p.ports.length > 0 && p.ports.every((cp) => cp.name), `${p.name}: named ports`);
    }
    assert.ok(m.tiers.some((t) => t.name === 'platform'));
    assert.ok(m.calicoPolicies.some((p) => p.kind === 'GlobalNetworkPolicy' && p.tier === 'platform'));
    assert.equal(m.adminPolicies.length, 1);
    assert.equal(m.baselinePolicy?.name, 'default');
  });
  it('a tenant may submit its own policy, not another tenant\'s', () => {
    const run = (file: string): string[] => {
      const diags = new Diagnostics();
      buildModel(loadSources([path.join(dir, file)], diags), diags, { tenants: ['tenant-a'] });
      return diags.errors.map((d) => `${d.code} ${d.object?.namespace}/${d.object?.name}`);
    };
    assert.deepEqual(run('40-tenant-a.yaml'), []);
    assert.deepEqual(run('41-tenant-b.yaml'), ['tenant tenant-b/db-from-web', 'tenant tenant-b/web-open']);
  });
});
