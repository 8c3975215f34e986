// Reference evaluator over lowered models: Kubernetes NetworkPolicy (the upstream e2e netpol cases),
// Calico tiers and rules, AdminNetworkPolicy / BaselineAdminNetworkPolicy, in both families.
import { strict as assert } from 'assert';
import { PROTO, type Model } from '../compiler/model/types';
import { evaluate, evaluateConnection, walkTo } from '../compiler/ir/evaluate';
import * as fx from './bpf-fixtures';
import type { Program } from '../compiler/ir/types';
import {
  anp, arule, cnp, crule, e2eWorld, entity, gnp, ipOf, knp, krule, lower, ns, pod, sel, tcp, tcpPacket, tier,
} from './ir-support';

const PODS = ['x/a', 'x/b', 'x/c', 'y/a', 'y/b', 'y/c', 'z/a', 'z/b', 'z/c'];

/** Every ordered pair's verdict for one port/protocol, compared against `expected(from, to)`. */
function checkTruth(m: Model, port: number, expected: (from: string, to: string) => boolean, opts: { proto?: number; family?: 4 | 6; program?: Program } = {}): void {
  const program = opts.program ?? lower(m);
  const wrong: string[] = [];
  for (const from of PODS)
    for (const to of PODS) {
      if (from === to) continue;
      const v = evaluateConnection(program, { src: ipOf(m, from, opts.family), dst: ipOf(m, to, opts.family), proto: opts.proto ?? PROTO.TCP, sport: 40000, dport: port });
      if (v.allowed !== expected(from, to)) wrong.push(`${from} -> ${to}: got ${v.allowed ? 'allowed' : 'denied'} (egress: ${v.egress?.decidedBy}; ingress: ${v.ingress?.decidedBy})`);
    }
  assert.deepEqual(wrong, []);
}

const nsOf = (id: string): string => id.split('/')[0];
const podOf = (id: string): string => id.split('/')[1];

describe('evaluate: Kubernetes NetworkPolicy (upstream e2e netpol truth tables)', () => {
  it('no policy: everything allowed, decided by "no policy selects the pod"', () => {
    const m = e2eWorld();
    checkTruth(m, 80, () => true);
    const d = evaluate(lower(m).endpoints[0], 'ingress', tcpPacket('10.0.2.1', '10.0.1.1', 80));
    assert.equal(d.decidedBy, 'no policy selects the pod: allow');
  });

  for (const family of [4, 6] as const) {
    it(`default-deny ingress in x denies every connection into x (IPv${family})`, () => {
      const m = e2eWorld();
      m.networkPolicies.push(knp('x/deny-all', sel(), {}));
      checkTruth(m, 80, (_f, t) => nsOf(t) !== 'x', { family });
      const d = evaluate(lower(m).endpoints.find((e) => e.id === 'x/a')!, 'ingress', tcpPacket(ipOf(m, 'y/a', family), ipOf(m, 'x/a', family), 80));
      assert.equal(d.decidedBy, 'tier default: NetworkPolicy x/deny-all selects the pod and no rule allows (default deny)');
    });
  }

  it('allow x/a from namespace y only (namespaceSelector)', () => {
    const m = e2eWorld();
    m.networkPolicies.push(knp('x/allow-ns-y', sel({ pod: 'a' }), { ingress: [krule([{ kind: 'pods', namespaceSelector: sel({ ns: 'y' }) }])] }));
    checkTruth(m, 80, (f, t) => t !== 'x/a' || nsOf(f) === 'y');
  });

  it('namespaceSelector AND podSelector in one peer vs two peers (OR)', () => {
    const m = e2eWorld();
    m.networkPolicies.push(knp('x/and', sel({ pod: 'a' }), { ingress: [krule([{ kind: 'pods', namespaceSelector: sel({ ns: 'y' }), podSelector: sel({ pod: 'b' }) }])] }));
    checkTruth(m, 80, (f, t) => t !== 'x/a' || f === 'y/b');
    const m2 = e2eWorld();
    m2.networkPolicies.push(
      knp('x/or', sel({ pod: 'a' }), { ingress: [krule([{ kind: 'pods', namespaceSelector: sel({ ns: 'y' }) }, { kind: 'pods', podSelector: sel({ pod: 'b' }) }])] }),
    );
    checkTruth(m2, 80, (f, t) => t !== 'x/a' || nsOf(f) === 'y' || f === 'x/b');
  });

  it('podSelector peer alone is scoped to the policy namespace', () => {
    const m = e2eWorld();
    m.networkPolicies.push(knp('x/from-b', sel({ pod: 'a' }), { ingress: [krule([{ kind: 'pods', podSelector: sel({ pod: 'b' }) }])] }));
    checkTruth(m, 80, (f, t) => t !== 'x/a' || f === 'x/b');
  });

  it('ports: numbered, named (ingress, resolved on the selected pod) and endPort ranges', () => {
    const m = e2eWorld();
    m.networkPolicies.push(knp('x/named', sel({ pod: 'a' }), { ingress: [krule(undefined, [tcp('serve-81-tcp')])] }));
    checkTruth(m, 81, () => true);
    checkTruth(m, 80, (_f, t) => t !== 'x/a');
    checkTruth(m, 80, (_f, t) => t !== 'x/a', { proto: PROTO.UDP }); // UDP 80 on x/a: the policy selects it; no rule -> denied
  });

  it('a selected pod is isolated for every protocol the rules do not name', () => {
    const m = e2eWorld();
    m.networkPolicies.push(knp('x/tcp80', sel({ pod: 'a' }), { ingress: [krule(undefined, [tcp(80)])] }));
    checkTruth(m, 80, () => true);
    checkTruth(m, 80, (_f, t) => t !== 'x/a', { proto: PROTO.UDP });
    checkTruth(m, 81, (_f, t) => t !== 'x/a');
  });

  it('endPort: a range of ports', () => {
    const m = e2eWorld();
    m.networkPolicies.push(knp('x/range', sel(), { ingress: [krule(undefined, [tcp(80, 80), tcp(82, 90)])] }));
    checkTruth(m, 80, () => true);
    checkTruth(m, 81, (_f, t) => nsOf(t) !== 'x');
  });

  it('egress default deny plus allow to namespace y on a named port (resolved per destination pod)', () => {
    const m = e2eWorld();
    // z/b serves "serve-80-tcp" on 81 instead: the name follows the destination pod
    const zb = m.pods.find((p) => p.namespace === 'z' && p.name === 'b')!;
    zb.ports = [{ name: 'serve-80-tcp', port: 81, protocol: PROTO.TCP }];
    m.networkPolicies.push(
      knp('x/egress', sel(), {
        egress: [krule([{ kind: 'pods', namespaceSelector: sel({ ns: 'y' }) }, { kind: 'pods', namespaceSelector: sel({ ns: 'z' }), podSelector: sel({ pod: 'b' }) }], [tcp('serve-80-tcp')])],
        types: ['egress'],
      }),
    );
    checkTruth(m, 80, (f, t) => nsOf(f) !== 'x' || nsOf(t) === 'y');
    checkTruth(m, 81, (f, t) => nsOf(f) !== 'x' || t === 'z/b');
    // a name that resolves to another protocol matches nothing
    const m2 = e2eWorld();
    m2.networkPolicies.push(knp('x/udp-name', sel(), { egress: [krule(undefined, [{ protocol: PROTO.UDP, port: { kind: 'named', name: 'serve-80-tcp' } }])], types: ['egress'] }));
    checkTruth(m2, 80, (f) => nsOf(f) !== 'x', { proto: PROTO.UDP });
  });

  it('ipBlock with except matches any address, pod addresses included', () => {
    const m = e2eWorld();
    m.networkPolicies.push(knp('x/cidr', sel({ pod: 'a' }), { ingress: [krule([{ kind: 'ipBlock', cidr: '10.0.0.0/16', except: ['10.0.2.0/24'] }])] }));
    checkTruth(m, 80, (f, t) => t !== 'x/a' || nsOf(f) !== 'y');
    // IPv6 addresses are outside the v4 block: denied
    checkTruth(m, 80, (_f, t) => t !== 'x/a', { family: 6 });
  });

  it('ipBlock peers never match a named port on egress', () => {
    const m = e2eWorld();
    m.networkPolicies.push(knp('x/cidr-named', sel(), { egress: [krule([{ kind: 'ipBlock', cidr: '0.0.0.0/0', except: [] }], [tcp('serve-80-tcp')])], types: ['egress'] }));
    checkTruth(m, 80, (f) => nsOf(f) !== 'x');
  });

  it('union of policies: any allowing rule of any selecting policy allows', () => {
    const m = e2eWorld();
    m.networkPolicies.push(knp('x/deny', sel(), {}));
    m.networkPolicies.push(knp('x/allow-b', sel({ pod: 'a' }), { ingress: [krule([{ kind: 'pods', podSelector: sel({ pod: 'b' }) }])] }));
    m.networkPolicies.push(knp('x/allow-y', sel({ pod: 'a' }), { ingress: [krule([{ kind: 'pods', namespaceSelector: sel({ ns: 'y' }) }])] }));
    checkTruth(m, 80, (f, t) => nsOf(t) !== 'x' || (t === 'x/a' && (f === 'x/b' || nsOf(f) === 'y')));
  });

  it('empty from (rule with no peers) allows all; policyTypes Egress only leaves ingress open', () => {
    const m = e2eWorld();
    m.networkPolicies.push(knp('x/all', sel(), { ingress: [krule()] }));
    m.networkPolicies.push(knp('y/egress-deny', sel(), { egress: [], types: ['egress'] }));
    checkTruth(m, 80, (f) => nsOf(f) !== 'y');
  });

  it('hostNetwork pods are never selected and only address rules match them as peers; pods without IPs are nowhere', () => {
    const m = e2eWorld();
    m.pods.push(pod('x/host', ['192.168.0.10'], { pod: 'a' }, [], { hostNetwork: true }));
    m.pods.push(pod('x/pending', [], { pod: 'a' }));
    m.networkPolicies.push(knp('x/a-from-a', sel({ pod: 'a' }), { ingress: [krule([{ kind: 'pods', podSelector: sel({ pod: 'a' }) }])] }));
    const p = lower(m);
    assert.ok(!p.endpoints.some((e) => e.id === 'x/host' || e.id === 'x/pending'));
    assert.equal(evaluateConnection(p, tcpPacket('192.168.0.10', '10.0.1.1', 80)).allowed, false);
    m.networkPolicies.push(knp('x/node', sel({ pod: 'a' }), { ingress: [krule([{ kind: 'ipBlock', cidr: '192.168.0.0/24', except: [] }])] }));
    const v = evaluateConnection(lower(m), tcpPacket('192.168.0.10', '10.0.1.1', 80));
    assert.equal(v.allowed, true);
    assert.equal(v.egress, undefined); // the external side does not take part
    assert.match(v.ingress!.decidedBy, /NetworkPolicy x\/node ingress\[0\] Allow/);
    assert.equal(v.ingress!.ruleId, 'knp/x/node/ingress/0');
  });
});

describe('evaluate: Calico tiers and rules', () => {
  it('tiers by order, policies by order; Pass leaves the tier; tier defaultAction Pass; Log continues', () => {
    const m = e2eWorld();
    m.tiers.push(tier('security', 100), tier('platform', 200, 'Pass'));
    m.calicoPolicies.push(
      gnp('security.log', { tier: 'security', order: 1, ingress: [crule('Log')] }),
      gnp('security.pass-y', { tier: 'security', order: 10, ingress: [crule('Pass', { source: entity({ namespaceSelector: sel({ ns: 'y' }) }) })] }),
      gnp('security.deny-z', { tier: 'security', order: 20, ingress: [crule('Deny', { source: entity({ namespaceSelector: sel({ ns: 'z' }) }) }), crule('Allow')] }),
      gnp('platform.nothing', { tier: 'platform', order: 1, ingress: [] }),
    );
    m.networkPolicies.push(knp('x/deny', sel(), {}));
    // from z: denied everywhere by security; from y: passed to platform (Pass default) then default tier: x denies;
    // from x: allowed by security's Allow
    checkTruth(m, 80, (f, t) => nsOf(f) === 'x' || (nsOf(f) === 'y' && nsOf(t) !== 'x'));
    const p = lower(m);
    const xa = p.endpoints.find((e) => e.id === 'x/a')!;
    const d = evaluate(xa, 'ingress', tcpPacket(ipOf(m, 'z/a'), ipOf(m, 'x/a'), 80));
    assert.equal(d.decidedBy, 'tier security: GlobalNetworkPolicy security.deny-z ingress[0] Deny');
    assert.equal(d.steps[0], 'tier security: GlobalNetworkPolicy security.log ingress[0] Log [gnp/security.log/ingress/0]: logged, continue');
    const dy = evaluate(xa, 'ingress', tcpPacket(ipOf(m, 'y/a'), ipOf(m, 'x/a'), 80));
    assert.equal(dy.steps.length, 4);
    assert.match(dy.steps[2], /^tier platform: .*tier default action Pass.*: pass$/);
  });

  it('a tier with no policy selecting the endpoint is skipped; order undefined sorts last, then by name', () => {
    const m = e2eWorld();
    m.tiers.push(tier('only-y', 10));
    m.calicoPolicies.push(gnp('only-y.deny', { tier: 'only-y', selector: { op: 'eq', key: 'projectcalico.org/namespace', value: 'y' }, ingress: [] }));
    m.calicoPolicies.push(cnp('x/b-allow', { order: undefined, ingress: [crule('Allow')] }), cnp('x/a-deny', { order: undefined, ingress: [crule('Deny')] }));
    checkTruth(m, 80, (_f, t) => nsOf(t) === 'z');
    const p = lower(m);
    assert.deepEqual(p.endpoints.find((e) => e.id === 'x/a')!.ingress.tiers.map((t) => t.name), ['default']);
  });

  it('K8s NetworkPolicy (order 1000) sits in the default tier among Calico policies', () => {
    const m = e2eWorld();
    m.networkPolicies.push(knp('x/allow-all', sel(), { ingress: [krule()] }));
    m.calicoPolicies.push(cnp('x/deny-early', { order: 999, ingress: [crule('Deny', { source: entity({ selector: { op: 'eq', key: 'pod', value: 'b' } }) })] }));
    m.calicoPolicies.push(cnp('x/deny-late', { order: 1001, ingress: [crule('Deny')] }));
    checkTruth(m, 80, (f, t) => nsOf(t) !== 'x' || f !== 'x/b');
  });

  it('selector scope: namespaced policy = its namespace; GNP = all namespaces; a selector reaching nothing matches nothing', () => {
    const m = e2eWorld();
    m.calicoPolicies.push(cnp('x/from-a', { ingress: [crule('Allow', { source: entity({ selector: { op: 'eq', key: 'pod', value: 'a' } }) })] }));
    m.calicoPolicies.push(gnp('y-from-a', { selector: { op: 'eq', key: 'projectcalico.org/namespace', value: 'y' }, ingress: [crule('Allow', { source: entity({ selector: { op: 'eq', key: 'pod', value: 'a' } }) })] }));
    m.calicoPolicies.push(cnp('z/nothing', { ingress: [crule('Allow', { source: entity({ selector: { op: 'eq', key: 'pod', value: 'nope' } }) })] }));
    checkTruth(m, 80, (f, t) => (nsOf(t) === 'x' ? f === 'x/a' : nsOf(t) === 'y' ? podOf(f) === 'a' : false));
  });

  it('nets/notNets, notSelector, notPorts, source ports are source ports, protocol/notProtocol', () => {
    const m = e2eWorld();
    m.calicoPolicies.push(
      cnp('x/rules', {
        ingress: [
          crule('Deny', { source: entity({ notNets: ['10.0.0.0/8'] }) }), // anything outside 10/8 denied
          crule('Allow', { protocol: PROTO.TCP, source: entity({ nets: ['10.0.2.0/24'], namespaceSelector: sel({ ns: 'y' }), notSelector: { op: 'eq', key: 'pod', value: 'c' } }), destination: entity({ notPorts: [{ kind: 'range', from: 81, to: 81 }] }) }),
          crule('Allow', { protocol: PROTO.TCP, source: entity({ ports: [{ kind: 'range', from: 40000, to: 40000 }], namespaceSelector: sel({ ns: 'z' }) }) }),
          crule('Allow', { notProtocol: PROTO.TCP, source: entity({ nets: ['10.0.1.0/24'] }) }),
        ],
      }),
    );
    // notSelector is not scoped (libcalico-go copies it as written): y/c is excluded
    checkTruth(m, 80, (f, t) => nsOf(t) !== 'x' || (nsOf(f) === 'y' && f !== 'y/c') || nsOf(f) === 'z');
    checkTruth(m, 81, (f, t) => nsOf(t) !== 'x' || nsOf(f) === 'z');
    checkTruth(m, 80, (f, t) => nsOf(t) !== 'x' || nsOf(f) === 'x', { proto: PROTO.UDP });
    const p = lower(m);
    // source port 40001 no longer matches the z rule
    const v = evaluateConnection(p, tcpPacket(ipOf(m, 'z/a'), ipOf(m, 'x/a'), 81, 40001));
    assert.equal(v.allowed, false);
    // IPv6 addresses are outside 10/8 as well: notNets matches them, denied by rule 0
    const v6 = evaluateConnection(p, tcpPacket(ipOf(m, 'y/a', 6), ipOf(m, 'x/a', 6), 80));
    assert.equal(v6.ingress!.ruleId, 'cnp/x/rules/ingress/0');
  });

  it('NetworkSets and GlobalNetworkSets: namespaced sets in scope, global() reaches only non-namespaced ones', () => {
    const m = e2eWorld();
    m.networkSets.push({ name: 'ext', labels: { role: 'ext' }, nets: ['192.168.0.0/24'], origin: { ref: { kind: 'GlobalNetworkSet', name: 'ext' }, location: { file: 't' } } });
    m.networkSets.push({ namespace: 'x', name: 'ext-x', labels: { role: 'ext' }, nets: ['172.16.0.0/24'], origin: { ref: { kind: 'NetworkSet', name: 'ext-x' }, location: { file: 't' } } });
    m.calicoPolicies.push(cnp('x/ns', { ingress: [crule('Allow', { source: entity({ selector: { op: 'eq', key: 'role', value: 'ext' } }) })] }));
    m.calicoPolicies.push(gnp('y-global', { selector: { op: 'eq', key: 'projectcalico.org/namespace', value: 'y' }, ingress: [crule('Allow', { source: entity({ selector: { op: 'eq', key: 'role', value: 'ext' }, namespaceSelector: { op: 'global' } }) })] }));
    const p = lower(m);
    const to = (id: string, src: string): boolean => evaluateConnection(p, tcpPacket(src, ipOf(m, id), 80)).allowed;
    assert.equal(to('x/a', '172.16.0.5'), true);
    assert.equal(to('x/a', '192.168.0.5'), false);
    assert.equal(to('y/a', '192.168.0.5'), true);
    assert.equal(to('y/a', '172.16.0.5'), false);
  });

  it('serviceAccounts and Calico named ports (destination.ports on ingress = the local pod)', () => {
    const m = e2eWorld();
    m.pods.find((p) => p.namespace === 'x' && p.name === 'b')!.serviceAccount = 'robot';
    m.serviceAccounts.push({ namespace: 'x', name: 'robot', labels: { team: 'ops' }, origin: { ref: { kind: 'ServiceAccount', name: 'robot' }, location: { file: 't' } } });
    m.calicoPolicies.push(cnp('x/sa', { ingress: [crule('Allow', { protocol: PROTO.TCP, source: entity({ serviceAccounts: { names: [], selector: sel({ team: 'ops' }) } }), destination: entity({ ports: [{ kind: 'named', name: 'serve-81-tcp' }] }) })] }));
    checkTruth(m, 81, (f, t) => nsOf(t) !== 'x' || f === 'x/b');
    checkTruth(m, 80, (_f, t) => nsOf(t) !== 'x');
  });

  it('Calico named destination ports on egress resolve per destination endpoint', () => {
    const m = e2eWorld();
    m.pods.find((p) => p.namespace === 'y' && p.name === 'b')!.ports = [{ name: 'web', port: 81, protocol: PROTO.TCP }];
    m.pods.find((p) => p.namespace === 'y' && p.name === 'c')!.ports = [{ name: 'web', port: 80, protocol: PROTO.UDP }];
    m.calicoPolicies.push(cnp('x/egress', { types: ['egress'], egress: [crule('Allow', { protocol: PROTO.TCP, destination: entity({ ports: [{ kind: 'named', name: 'web' }] }) })] }));
    checkTruth(m, 81, (f, t) => nsOf(f) !== 'x' || t === 'y/b');
    checkTruth(m, 80, (f) => nsOf(f) !== 'x');
  });

  it('ipVersion limits a rule to one family', () => {
    const m = e2eWorld();
    m.calicoPolicies.push(cnp('x/v6', { ingress: [crule('Allow', { ipVersion: 6 })] }));
    checkTruth(m, 80, (_f, t) => nsOf(t) !== 'x', { family: 4 });
    checkTruth(m, 80, () => true, { family: 6 });
  });
});

describe('evaluate: AdminNetworkPolicy and BaselineAdminNetworkPolicy', () => {
  it('ANP Deny beats a NetworkPolicy allow; priority then name; Pass hands over to NetworkPolicy', () => {
    const m = e2eWorld();
    m.networkPolicies.push(knp('x/allow-all', sel(), { ingress: [krule()] }));
    m.adminPolicies.push(
      anp('pass-y', 5, { ns: sel({ ns: 'x' }) }, { ingress: [arule('Pass', [{ kind: 'pods', pods: { namespaceSelector: sel({ ns: 'y' }), podSelector: sel() } }], undefined, 'pass-y')] }),
      anp('deny-cross', 10, { ns: sel({ ns: 'x' }) }, { ingress: [arule('Deny', [{ kind: 'pods', pods: { namespaceSelector: { op: 'notin', key: 'ns', values: ['x'] }, podSelector: sel() } }], undefined, 'deny-b')] }),
    );
    checkTruth(m, 80, (f, t) => nsOf(t) !== 'x' || nsOf(f) !== 'z');
    const p = lower(m);
    const d = evaluate(p.endpoints.find((e) => e.id === 'x/a')!, 'ingress', tcpPacket(ipOf(m, 'z/a'), ipOf(m, 'x/a'), 80));
    assert.equal(d.decidedBy, 'AdminNetworkPolicy deny-cross ingress[0] "deny-b" Deny');
    assert.equal(d.ruleId, 'anp/deny-cross/ingress/0');
  });

  it('BANP applies only when nothing earlier decided; ANP tier never denies by default', () => {
    const m = e2eWorld();
    m.adminPolicies.push(anp('noop', 1, {}, { ingress: [arule('Allow', [{ kind: 'networks', cidrs: ['192.0.2.0/24'] }])] }));
    m.baselinePolicy = anp('default', 0, { ns: sel({ ns: 'x' }) }, { ingress: [arule('Deny', [{ kind: 'pods', pods: { namespaceSelector: sel(), podSelector: sel() } }])] }, 'BaselineAdminNetworkPolicy');
    m.networkPolicies.push(knp('x/allow-y', sel({ pod: 'a' }), { ingress: [krule([{ kind: 'pods', namespaceSelector: sel({ ns: 'y' }) }])] }));
    checkTruth(m, 80, (f, t) => nsOf(t) !== 'x' || (t === 'x/a' && nsOf(f) === 'y'));
  });

  it('ANP named ports and egress networks/nodes peers', () => {
    const m = e2eWorld();
    m.nodes.push({ name: 'n1', labels: { role: 'infra' }, addresses: ['192.168.1.1'], origin: { ref: { kind: 'Node', name: 'n1' }, location: { file: 't' } } });
    m.adminPolicies.push(
      anp('egress', 1, { ns: sel({ ns: 'x' }) }, {
        egress: [
          arule('Allow', [{ kind: 'nodes', nodeSelector: sel({ role: 'infra' }) }]),
          arule('Allow', [{ kind: 'pods', pods: { namespaceSelector: sel({ ns: 'y' }), podSelector: sel() } }], [{ kind: 'named', name: 'serve-81-tcp' }]),
          arule('Deny', [{ kind: 'networks', cidrs: ['0.0.0.0/0', '::/0'] }]),
        ],
      }),
    );
    checkTruth(m, 81, (f, t) => nsOf(f) !== 'x' || nsOf(t) === 'y');
    checkTruth(m, 80, (f) => nsOf(f) !== 'x');
    const p = lower(m);
    assert.equal(evaluateConnection(p, tcpPacket(ipOf(m, 'x/a'), '192.168.1.1', 22)).allowed, true);
    assert.equal(evaluateConnection(p, tcpPacket(ipOf(m, 'x/a'), '192.168.1.2', 22)).allowed, false);
  });

  it('namespaces: a namespace label that does not exist selects nothing', () => {
    const m = e2eWorld();
    m.namespaces.push(ns('empty', { ns: 'empty' }));
    m.adminPolicies.push(anp('nothing', 1, { ns: sel({ ns: 'none' }) }, { ingress: [arule('Deny', [{ kind: 'networks', cidrs: ['0.0.0.0/0'] }])] }));
    checkTruth(m, 80, () => true);
  });
});

describe('walkTo: the walk to an outcome reached elsewhere (how trace --engine bpf explains the kernel)', () => {
  // a/web ingress: tier sec logs everything, passes 10.0.0.2, denies 10.0.0.3, else passes; tier default allows
  // 10.0.0.2 on TCP 80, denies 10.0.0.0/24, else denies at its end
  const web = fx.endpoint('a/web', ['10.0.0.1'], [
    fx.tier('sec', [
      fx.rule('sec-log', 'Log', {}, 'log'),
      fx.rule('sec-pass', 'Pass', { peer: ['10.0.0.2/32'] }, 'pass'),
      fx.rule('sec-deny', 'Deny', { peer: ['10.0.0.3/32'] }, 'deny'),
    ], 'Pass'),
    fx.tier('default', [
      fx.rule('web-in', 'Allow', { peer: ['10.0.0.2/32'], proto: 6, dports: [{ from: 80, to: 80 }] }, 'web'),
      fx.rule('web-deny', 'Deny', { peer: ['10.0.0.0/24'] }, 'lan'),
    ], 'Deny', 'default'),
  ]);
  const from = (src: string) => tcpPacket(src, '10.0.0.1', 80);
  const by = 'the kernel';
  const stop = "yet the kernel went on (the IR's walk would stop here)";
  const logged = 'tier sec: Calico NetworkPolicy ns/log ingress[0] Log [sec-log]: logged, continue';

  it('ending where the IR ends, it is the IR\'s own Decision', () => {
    for (const [src, outcome] of [['10.0.0.2', { tierIndex: 1, position: 0, allowed: true }], ['10.0.0.3', { tierIndex: 0, position: 2, allowed: false }],
      ['10.0.0.4', { tierIndex: 1, position: 1, allowed: false }], ['10.0.1.1', { tierIndex: 1, allowed: false }]] as const) {
      assert.deepEqual(walkTo(web, 'ingress', from(src), { ...outcome, by }), evaluate(web, 'ingress', from(src)), src);
    }
  });

  it('a rule past the IR\'s: the rule the IR stops at is named, the Pass before it still leaves its tier', () => {
    assert.deepEqual(walkTo(web, 'ingress', from('10.0.0.2'), { tierIndex: 1, position: 1, allowed: false, by }), {
      allowed: false,
      decidedBy: 'tier default: Calico NetworkPolicy ns/lan ingress[0] Deny',
      ruleId: 'web-deny',
      tier: 'default',
      steps: [
        logged,
        'tier sec: Calico NetworkPolicy ns/pass ingress[0] Pass [sec-pass]: pass to the next tier',
        `tier default: Calico NetworkPolicy ns/web ingress[0] Allow [web-in]: matches, ${stop}`,
        'tier default: Calico NetworkPolicy ns/lan ingress[0] Deny [web-deny]: denied',
      ],
    });
  });

  it('a tier end in the tier a Pass rule would have left: the Pass is named as where the IR stops', () => {
    assert.deepEqual(walkTo(web, 'ingress', from('10.0.0.2'), { tierIndex: 0, allowed: true, by }), {
      allowed: true,
      decidedBy: 'tier sec: sec end',
      tier: 'sec',
      steps: [logged, `tier sec: Calico NetworkPolicy ns/pass ingress[0] Pass [sec-pass]: matches, ${stop}`, 'tier sec: sec end: allowed'],
    });
  });

  it('the default past a deciding rule and past a deciding tier end', () => {
    assert.deepEqual(walkTo(web, 'ingress', from('10.0.0.4'), { tierIndex: 2, allowed: true, by }).steps, [
      logged, 'tier sec: sec end: pass', `tier default: Calico NetworkPolicy ns/lan ingress[0] Deny [web-deny]: matches, ${stop}`, 'no policy decided: allow',
    ]);
    assert.deepEqual(walkTo(web, 'ingress', from('10.0.1.1'), { tierIndex: 2, allowed: true, by }), {
      allowed: true,
      decidedBy: 'no policy decided: allow',
      steps: [logged, 'tier sec: sec end: pass', `tier default: default end: Deny, ${stop}`, 'no policy decided: allow'],
    });
  });

  it('a rule index past the end of its tier is an error, not a made-up step', () => {
    assert.throws(() => walkTo(web, 'ingress', from('10.0.0.2'), { tierIndex: 1, position: 2, allowed: true, by }), /tier default has no rule at position 2/);
  });
});
