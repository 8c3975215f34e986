// Validation as the upstream API servers validate: Calico v3 (libcalico-go lib/validator/v3, numorstring),
// Kubernetes NetworkPolicy (pkg/apis/networking/validation) and network-policy-api v1alpha1 (CRD markers and CEL).
// Each case is a manifest fragment and the error codes expected (none = accepted).
import { strict as assert } from 'assert';
import { Diagnostics, formatDiagnostic } from '../compiler/model/diagnostics';
import { parseText } from '../compiler/manifests/load';
import { buildModel } from '../compiler/model/build';
import type { Model } from '../compiler/model/types';

function load(yaml: string): { model: Model; errors: string[]; codes: string[] } {
  const d = new Diagnostics();
  const model = buildModel(parseText(yaml, 'u.yaml', d), d);
  const errs = d.errors;
  return { model, errors: errs.map(formatDiagnostic), codes: errs.map((e) => e.code) };
}

const calicoRule = (rule: string): string =>
  `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  ingress:\n  - ${rule}\n`;

describe('model: Calico v3 as libcalico-go validates it', () => {
  it('protocol names are case-sensitive (TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite) or a number 1..255', () => {
    for (const ok of ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite', '6', '255', '"17"']) {
      assert.deepEqual(load(calicoRule(`{action: Allow, protocol: ${ok}}`)).codes, [], ok);
    }
    for (const bad of ['tcp', 'Tcp', 'icmpv6', 'udplite', '0', '256', '"0"', 'GRE']) {
      const r = load(calicoRule(`{action: Allow, protocol: ${bad}}`));
      assert.deepEqual(r.codes, ['bad-protocol'], `${bad}: ${r.errors.join('\n')}`);
    }
    assert.deepEqual(load(calicoRule('{action: Allow, notProtocol: udp}')).codes, ['bad-protocol']);
    assert.match(load(calicoRule('{action: Allow, protocol: tcp}')).errors[0], /found "tcp" \(did you mean TCP\?\)/);
  });

  it('ports need protocol TCP, UDP or SCTP (not UDPLite); named ports alone need no protocol', () => {
    const cases: [string, string[]][] = [
      ['{action: Allow, protocol: TCP, destination: {ports: [80, "8000:8080", http]}}', []],
      ['{action: Allow, protocol: SCTP, source: {notPorts: [9]}}', []],
      ['{action: Allow, protocol: 17, destination: {ports: [53]}}', []],
      ['{action: Allow, protocol: UDPLite, destination: {ports: [53]}}', ['bad-ports-protocol']],
      ['{action: Allow, protocol: ICMP, destination: {ports: [http]}}', ['bad-ports-protocol']],
      ['{action: Allow, destination: {ports: [http, metrics]}}', []],
      ['{action: Allow, destination: {ports: [http, 80]}}', ['bad-ports-protocol']],
      ['{action: Allow, source: {notPorts: ["1:2"]}}', ['bad-ports-protocol']],
      // named notPorts without protocol exclude TCP only; with notProtocol other than TCP Tollgate cannot say the rest
      ['{action: Allow, destination: {notPorts: [http]}}', []],
      ['{action: Allow, notProtocol: TCP, destination: {notPorts: [http]}}', []],
      ['{action: Allow, notProtocol: UDP, destination: {ports: [http], notPorts: [metrics]}}', []],
      ['{action: Allow, protocol: TCP, notProtocol: UDP, destination: {notPorts: [http]}}', []],
      ['{action: Allow, notProtocol: UDP, destination: {notPorts: [http]}}', ['unsupported']],
      ['{action: Allow, notProtocol: 132, source: {notPorts: [http]}, destination: {notPorts: [web]}}', ['unsupported', 'unsupported']],
    ];
    for (const [rule, codes] of cases) assert.deepEqual(load(calicoRule(rule)).codes, codes, rule);
  });

  it('port numbers are 1..65535, ranges "a:b" with a <= b, names up to 128 of [a-zA-Z0-9_.-]', () => {
    const port = (p: string) => load(calicoRule(`{action: Allow, protocol: TCP, destination: {ports: [${p}]}}`));
    for (const ok of ['1', '65535', '"80"', '"80:80"', '"1:65535"', 'http', 'my_port.v2', '"8080x"', `${'a'.repeat(128)}`]) assert.deepEqual(port(ok).codes, [], ok);
    for (const bad of ['0', '65536', '"0"', '"0:10"', '"10:9"', '"1:65536"', '"a:b"', '"1:2:3"', `${'a'.repeat(129)}`, '"with space"', '-1']) assert.deepEqual(port(bad).codes, ['port-range'], bad);
    const r = load(calicoRule('{action: Allow, protocol: TCP, destination: {ports: ["8000:8080", 443, web]}}'));
    const rule = r.model.calicoPolicies[0].ingress[0];
    assert.deepEqual(rule.destination.ports, [{ kind: 'range', from: 8000, to: 8080 }, { kind: 'range', from: 443, to: 443 }, { kind: 'named', name: 'web' }]);
  });

  it('a rule may not mix IPv4 and IPv6 nets, and ipVersion must agree', () => {
    assert.deepEqual(load(calicoRule('{action: Allow, source: {nets: [10.0.0.0/8]}, destination: {notNets: [10.1.0.0/16]}}')).codes, []);
    assert.deepEqual(load(calicoRule('{action: Allow, source: {nets: [10.0.0.0/8, "fd00::/8"]}}')).codes, ['mixed-family']);
    assert.deepEqual(load(calicoRule('{action: Allow, source: {nets: [10.0.0.0/8]}, destination: {nets: ["fd00::/8"]}}')).codes, ['mixed-family']);
    assert.deepEqual(load(calicoRule('{action: Allow, ipVersion: 6, source: {nets: [10.0.0.0/8]}}')).codes, ['ip-version']);
    const ok = load(calicoRule('{action: Allow, ipVersion: 6, protocol: ICMPv6, icmp: {type: 128}, destination: {nets: ["fd00::1"]}}'));
    assert.deepEqual(ok.codes, []);
    assert.deepEqual(ok.model.calicoPolicies[0].ingress[0].destination.nets, ['fd00::1/128']);
  });

  it('a rule without ipVersion takes the family of its nets/notNets (felix FilterRuleToIPVersion)', () => {
    const version = (rule: string) => load(calicoRule(rule)).model.calicoPolicies[0].ingress[0].ipVersion;
    assert.equal(version('{action: Allow, source: {notNets: [10.2.0.0/16]}}'), 4);
    assert.equal(version('{action: Allow, destination: {nets: ["fd00::/64"]}, source: {selector: all()}}'), 6);
    assert.equal(version('{action: Allow, destination: {notNets: ["fd00::/64"]}}'), 6);
    assert.equal(version('{action: Allow, source: {selector: all()}}'), undefined);
    assert.equal(version('{action: Allow, ipVersion: 4, source: {nets: [10.0.0.0/8]}}'), 4);
  });

  it('notNets may not be a catch-all (0.0.0.0/0 or ::/0 matches no traffic)', () => {
    assert.deepEqual(load(calicoRule('{action: Allow, source: {notNets: [0.0.0.0/0]}}')).codes, ['bad-value']);
    assert.deepEqual(load(calicoRule('{action: Allow, destination: {notNets: ["::/0"]}}')).codes, ['bad-value']);
    assert.deepEqual(load(calicoRule('{action: Allow, source: {nets: [0.0.0.0/0]}}')).codes, []);
  });

  it('global() only in an entity namespaceSelector, and alone there', () => {
    assert.deepEqual(load(calicoRule('{action: Allow, source: {namespaceSelector: global(), selector: role == "x"}}')).codes, []);
    assert.deepEqual(load(calicoRule('{action: Allow, source: {namespaceSelector: " global( ) "}}')).codes, []);
    assert.deepEqual(load(calicoRule('{action: Allow, source: {selector: global()}}')).codes, ['bad-selector']);
    assert.deepEqual(load(calicoRule('{action: Allow, destination: {notSelector: "global() && a == \'b\'"}}')).codes, ['bad-selector']);
    assert.deepEqual(load(calicoRule('{action: Allow, source: {namespaceSelector: "global() && a == \'b\'"}}')).codes, ['bad-selector']);
  });

  it('http and services matches (valid upstream, needing an L7 proxy or Services) are refused as unsupported', () => {
    const http = load(calicoRule('{action: Allow, protocol: TCP, http: {methods: [GET], paths: [{exact: /a}]}}'));
    assert.deepEqual(http.codes, ['unsupported']);
    assert.match(http.errors[0], /spec\.ingress\[0\]\.http: .*found an http match/);
    const svc = load(calicoRule('{action: Allow, source: {services: {name: web, namespace: x}}}'));
    assert.deepEqual(svc.codes, ['unsupported']);
    assert.match(svc.errors[0], /spec\.ingress\[0\]\.source\.services: /);
  });

  it('an empty entity selector, notSelector, namespaceSelector or serviceAccounts is no constraint (rules.go tests != "")', () => {
    const src = (yaml: string) => load(calicoRule(`{action: Deny, source: ${yaml}}`)).model.calicoPolicies[0].ingress[0].source;
    const bare = src('{}');
    for (const e of ['{selector: ""}', '{notSelector: ""}', '{namespaceSelector: ""}', '{serviceAccounts: {}}', '{serviceAccounts: {names: [], selector: ""}}']) {
      assert.deepEqual(src(e), bare, e);
    }
    assert.deepEqual(src('{selector: "all()"}').selector, { op: 'all' });
    assert.deepEqual(src('{serviceAccounts: {names: [api], selector: ""}}').serviceAccounts, { names: ['api'] });
  });
});

describe('model: policy kinds Tollgate does not read', () => {
  // Skipping an enforcing policy would allow what it denies: refused. Staged policies enforce nothing: skipped.
  it('ClusterNetworkPolicy (v1alpha2) is refused as unsupported; Calico staged policies are skipped with a warning', () => {
    const cnp = load('apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: c}\nspec: {tier: Admin, priority: 1, subject: {namespaces: {}}}\n');
    assert.deepEqual(cnp.codes, ['unsupported']);
    assert.match(cnp.errors[0], /ClusterNetworkPolicy/);
    for (const kind of ['StagedNetworkPolicy', 'StagedGlobalNetworkPolicy', 'StagedKubernetesNetworkPolicy']) {
      const d = new Diagnostics();
      buildModel(parseText(`apiVersion: projectcalico.org/v3\nkind: ${kind}\nmetadata: {name: s, namespace: x}\nspec: {}\n`, 'u.yaml', d), d);
      assert.deepEqual([d.errors.length, d.warnings.map((w) => w.code)], [0, ['skipped-kind']], kind);
    }
  });
});

describe('model: pods as network policy implementations see them', () => {
  // libcalico-go conversion IsFinished (and kube-router's isFinished): a pod in phase Failed, Succeeded or Completed
  // has no workload endpoint; its address may already belong to a new pod, so it must not stay in any peer set.
  it('a finished pod (phase Succeeded, Failed, Completed) holds no address (warning no-ip)', () => {
    const pod = (phase: string) => {
      const d = new Diagnostics();
      const m = buildModel(parseText(`apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec: {containers: [{name: c}]}\nstatus: {phase: ${phase}, podIP: 10.0.0.1, podIPs: [{ip: 10.0.0.1}]}\n`, 'u.yaml', d), d);
      return [m.pods[0].ips, d.errors.length, ...d.warnings.map((w) => w.code)];
    };
    for (const done of ['Succeeded', 'Failed', 'Completed']) assert.deepEqual(pod(done), [[], 0, 'no-ip'], done);
    for (const live of ['Running', 'Pending', 'Unknown']) assert.deepEqual(pod(live), [['10.0.0.1'], 0], live);
  });
  // The ServiceAccount admission plugin sets an empty serviceAccountName to "default".
  it('an empty serviceAccountName is the default ServiceAccount', () => {
    const sa = (spec: string) => load(`apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec: {${spec}}\nstatus: {podIP: 10.0.0.1}\n`).model.pods[0].serviceAccount;
    assert.equal(sa('serviceAccountName: ""'), 'default');
    assert.equal(sa('serviceAccountName: "", serviceAccount: api'), 'api');
    assert.equal(sa('serviceAccountName: web'), 'web');
    assert.equal(sa('containers: []'), 'default');
  });
});

describe('model: Kubernetes NetworkPolicy as the API server validates it', () => {
  const np = (spec: string): string => `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n, namespace: a}\nspec:\n${spec}`;
  it('endPort may equal port; below port, with a named port or without a port is an error', () => {
    assert.deepEqual(load(np('  ingress: [{ports: [{port: 80, endPort: 80}]}]\n')).codes, []);
    assert.deepEqual(load(np('  ingress: [{ports: [{port: 80, endPort: 79}]}]\n')).codes, ['bad-end-port']);
    assert.deepEqual(load(np('  ingress: [{ports: [{port: http, endPort: 90}]}]\n')).codes, ['bad-end-port']);
    assert.deepEqual(load(np('  ingress: [{ports: [{endPort: 90}]}]\n')).codes, ['bad-end-port']);
    assert.deepEqual(load(np('  ingress: [{ports: [{port: 80, endPort: 65536}]}]\n')).codes, ['port-range']);
  });
  it('policyTypes: at most two; a repeated type is accepted (warning), as the API server accepts it', () => {
    const r = load(np('  policyTypes: [Ingress, Ingress]\n'));
    assert.deepEqual(r.codes, []);
    assert.deepEqual(r.model.networkPolicies[0].policyTypes, ['ingress']);
    assert.deepEqual(load(np('  policyTypes: [Ingress, Egress, Ingress]\n')).codes, ['bad-value']);
    assert.deepEqual(load(np('  policyTypes: [ingress]\n')).codes, ['bad-value']);
  });
  it('defaults: policyTypes from the rules present, protocol TCP', () => {
    const m = load(np('  egress: [{ports: [{port: 53}]}]\n')).model;
    assert.deepEqual(m.networkPolicies[0].policyTypes, ['ingress', 'egress']);
    assert.deepEqual(m.networkPolicies[0].egress[0].ports, [{ protocol: 6, port: { kind: 'range', from: 53, to: 53 } }]);
    assert.deepEqual(load(np('  egress: []\n')).model.networkPolicies[0].policyTypes, ['ingress']);
  });
  it('an egress rule naming a port towards an ipBlock is accepted with a warning (the ipBlock matches no named port)', () => {
    const warnings = (spec: string) => {
      const d = new Diagnostics();
      buildModel(parseText(np(spec), 'u.yaml', d), d);
      return [d.errors.length, ...d.warnings.map((w) => `${w.code} ${w.path?.join('.')}`)];
    };
    assert.deepEqual(warnings('  egress: [{to: [{podSelector: {}}, {ipBlock: {cidr: 10.0.0.0/8}}], ports: [{port: 53}, {port: dns, protocol: UDP}]}]\n'), [0, 'not-enforced spec.egress.0.ports.1.port']);
    assert.deepEqual(warnings('  egress: [{to: [{podSelector: {}}], ports: [{port: dns}]}]\n'), [0]);
    assert.deepEqual(warnings('  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}}], ports: [{port: 53}]}]\n'), [0]);
    assert.deepEqual(warnings('  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}}], ports: [{port: dns}]}]\n'), [0]);
  });
});

describe('model: AdminNetworkPolicy v1alpha1 as its CRD validates it', () => {
  const anp = (rules: string, priority = '10'): string =>
    `apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: a}\nspec:\n  priority: ${priority}\n  subject: {namespaces: {}}\n${rules}`;
  it('priority 0..1000', () => {
    assert.deepEqual(load(anp('', '0')).codes, []);
    assert.deepEqual(load(anp('', '1000')).codes, []);
    assert.deepEqual(load(anp('', '1001')).codes, ['priority-range']);
    assert.deepEqual(load(anp('', '-1')).codes, ['priority-range']);
  });
  it('portRange start < end (equal is rejected), ports 1..65535', () => {
    const pr = (s: number, e: number) => load(anp(`  ingress: [{action: Allow, from: [{namespaces: {}}], ports: [{portRange: {start: ${s}, end: ${e}}}]}]\n`)).codes;
    assert.deepEqual(pr(1, 2), []);
    assert.deepEqual(pr(80, 80), ['port-range']);
    assert.deepEqual(pr(0, 80), ['port-range']);
  });
  it('egress networks must be masked CIDRs (host bits are an error, not a warning), 1..25 of them', () => {
    const net = (n: string) => load(anp(`  egress: [{action: Deny, to: [{networks: [${n}]}]}]\n`)).codes;
    assert.deepEqual(net('10.0.0.0/8, "fd00::/64"'), []);
    assert.deepEqual(net('10.0.0.1/8'), ['bad-cidr']);
    assert.deepEqual(net('10.0.0.1'), ['bad-cidr']);
  });
  it('egress nodes peer and the pods subject form', () => {
    const r = load(
      `apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: a}\nspec:\n  priority: 3\n  subject: {pods: {namespaceSelector: {matchLabels: {t: x}}, podSelector: {}}}\n  egress: [{action: Pass, to: [{nodes: {matchLabels: {role: cp}}}], ports: [{portNumber: {port: 53, protocol: UDP}}]}]\n`,
    );
    assert.deepEqual(r.codes, []);
    assert.equal(r.model.adminPolicies[0].egress[0].peers[0].kind, 'nodes');
    assert.deepEqual(r.model.adminPolicies[0].egress[0].ports, [{ kind: 'number', protocol: 17, port: 53 }]);
  });
  // CEL on (Baseline)AdminNetworkPolicyEgressRule: "networks/nodes peer cannot be set with namedPorts since there are
  // no namedPorts for networks/nodes". Read as "never matches", a Deny or Pass rule would let that traffic through.
  it('an egress rule with a networks or nodes peer may not name a port (either kind, any peer position)', () => {
    const rule = (to: string, ports: string) => `  egress: [{action: Deny, to: [${to}], ports: [${ports}]}]\n`;
    const banp = (rules: string) => `apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n  subject: {namespaces: {}}\n${rules}`;
    for (const to of ['{networks: [10.0.0.0/8]}', '{nodes: {}}', '{namespaces: {}}, {networks: ["fd00::/64"]}']) {
      for (const ports of ['{namedPort: dns}', '{portNumber: {port: 53, protocol: UDP}}, {namedPort: dns}']) {
        const r = load(anp(rule(to, ports)));
        assert.deepEqual(r.codes, ['bad-value'], `${to} ${ports}`);
        assert.match(r.errors[0], /expected no namedPort in a rule with networks or nodes peers .*found namedPort "dns"/);
        assert.deepEqual(load(banp(rule(to, ports))).codes, ['bad-value'], `banp ${to} ${ports}`);
      }
      assert.deepEqual(load(anp(rule(to, '{portNumber: {port: 53, protocol: UDP}}'))).codes, [], to);
    }
    assert.deepEqual(load(anp(rule('{namespaces: {}}, {pods: {namespaceSelector: {}, podSelector: {}}}', '{namedPort: dns}'))).codes, []);
    // ingress has no networks or nodes peers: a named port there is the subject pod's own
    assert.deepEqual(load(anp('  ingress: [{action: Deny, from: [{namespaces: {}}], ports: [{namedPort: dns}]}]\n')).codes, []);
  });
});

describe('model: Calico networks as libcalico-go validates them', () => {
  it('rule nets/notNets are strictly masked networks ("net"); an address alone is a /32 or /128', () => {
    assert.deepEqual(load(calicoRule('{action: Allow, source: {nets: [10.0.0.1, 10.0.0.0/8]}}')).codes, []);
    assert.deepEqual(load(calicoRule('{action: Allow, source: {nets: [10.0.0.1/8]}}')).codes, ['bad-cidr']);
    assert.deepEqual(load(calicoRule('{action: Allow, destination: {notNets: ["fd00::1/64"]}}')).codes, ['bad-cidr']);
  });
  it('NetworkSet nets accept host bits ("cidr"), read masked with a warning', () => {
    const d = new Diagnostics();
    const m = buildModel(parseText('apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: s}\nspec: {nets: [10.0.0.1/8]}\n', 's.yaml', d), d);
    assert.deepEqual([d.errors.length, d.warnings.map((w) => w.code)], [0, ['cidr-host-bits']]);
    assert.deepEqual(m.networkSets[0].nets, ['10.0.0.0/8']);
  });
  it('IPPool: strictly masked, no smaller than its block size, not link-local', () => {
    const pool = (spec: string) => load(`apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec: ${spec}\n`).codes;
    assert.deepEqual(pool('{cidr: 10.244.0.0/16}'), []);
    assert.deepEqual(pool('{cidr: "fd00:10::/64", blockSize: 122}'), []);
    assert.deepEqual(pool('{cidr: 10.244.0.1/16}'), ['bad-cidr']);
    assert.deepEqual(pool('{cidr: 10.244.0.0/27}'), ['bad-value']);
    assert.deepEqual(pool('{cidr: 10.244.0.0/28, blockSize: 28}'), []);
    assert.deepEqual(pool('{cidr: 169.254.0.0/16}'), ['bad-value']);
    assert.deepEqual(pool('{cidr: 128.0.0.0/1}'), ['bad-value']); // overlaps 169.254.0.0/16
    assert.deepEqual(pool('{cidr: 192.168.0.0/16}'), []);
    assert.deepEqual(pool('{cidr: "fe80::/64"}'), ['bad-value']);
  });
  it('HostEndpoint ports: a valid port name, protocol TCP/UDP/SCTP', () => {
    const hep = (port: string) => load(`apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: h}\nspec: {node: n1, interfaceName: eth0, ports: [${port}]}\n`).codes;
    assert.deepEqual(hep('{name: ssh, port: 22, protocol: TCP}'), []);
    assert.deepEqual(hep('{name: Bad_Name, port: 22}'), ['bad-name']);
    assert.deepEqual(hep('{name: dns, port: 53, protocol: ICMP}'), ['bad-protocol']);
  });
});

describe('model: Calico tiers', () => {
  const tier = (meta: string, spec: string) => load(`apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: ${meta}\nspec: ${spec}\n`);
  it('a declared default tier gets order 1000000 when it has none; another order is an error', () => {
    const r = tier('{name: default}', '{}');
    assert.deepEqual(r.codes, []);
    assert.deepEqual(r.model.tiers.map((t) => [t.name, t.order, t.defaultAction]), [['default', 1_000_000, 'Deny']]);
    assert.deepEqual(tier('{name: default}', '{order: 10}').codes, ['bad-value']);
    assert.deepEqual(tier('{name: default}', '{order: 1000000}').codes, []);
  });
  it('tier names are DNS labels (no dots); defaultAction Deny or Pass', () => {
    assert.deepEqual(tier('{name: security}', '{order: 100, defaultAction: Pass}').codes, []);
    assert.deepEqual(tier('{name: sec.ops}', '{order: 100}').codes, ['bad-name']);
    assert.deepEqual(tier('{name: security}', '{order: 100, defaultAction: Allow}').codes, ['bad-value']);
  });
});

describe('model: object names as the API servers validate them', () => {
  const obj = (apiVersion: string, kind: string, name: string, ns = true) =>
    `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: "${name}"${ns ? ', namespace: a' : ''}}\nspec: {}\n`;
  it('Kubernetes objects: DNS-1123 subdomains (at most 253 characters)', () => {
    assert.deepEqual(load(obj('networking.k8s.io/v1', 'NetworkPolicy', 'allow.web-1')).codes, []);
    assert.deepEqual(load(obj('networking.k8s.io/v1', 'NetworkPolicy', 'Allow_Web')).codes, ['bad-name']);
    assert.deepEqual(load(obj('v1', 'Pod', 'web-0')).codes, []);
    assert.deepEqual(load(obj('v1', 'Pod', `${'a'.repeat(254)}`)).codes, ['bad-name']);
  });
  it('Calico NetworkPolicy/GlobalNetworkPolicy: a DNS-1123 label, or two joined by one dot', () => {
    assert.deepEqual(load(obj('projectcalico.org/v3', 'NetworkPolicy', 'platform.allow-dns')).codes, []);
    assert.deepEqual(load(obj('projectcalico.org/v3', 'NetworkPolicy', 'a.b.c')).codes, ['bad-name']);
    assert.deepEqual(load(obj('projectcalico.org/v3', 'GlobalNetworkPolicy', 'deny-all', false)).codes, []);
    assert.deepEqual(load(obj('projectcalico.org/v3', 'GlobalNetworkPolicy', 'Deny', false)).codes, ['bad-name']);
  });
});

describe('model: Calico global() and reserved labels', () => {
  it('global() is not allowed in a policy selector or serviceAccountSelector', () => {
    const gnp = (spec: string) => load(`apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec: ${spec}\n`).codes;
    assert.deepEqual(gnp('{selector: "role == \'x\'"}'), []);
    assert.deepEqual(gnp('{selector: "global()"}'), ['bad-selector']);
    assert.deepEqual(gnp('{serviceAccountSelector: "global() || a == \'b\'"}'), ['bad-selector']);
  });
  it('a (Global)NetworkSet may not carry the projectcalico.org/namespace label', () => {
    const gns = (labels: string) => load(`apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: s, labels: ${labels}}\nspec: {nets: [10.0.0.0/8]}\n`).codes;
    assert.deepEqual(gns('{role: x}'), []);
    assert.deepEqual(gns('{projectcalico.org/namespace: x}'), ['bad-labels']);
  });
});
