// Lowering: tier order and kinds, stable rule ids and sources, splits, local-side constraints, plain data.
import { strict as assert } from 'assert';
import { PROTO } from '../compiler/model/types';
import type { Endpoint } from '../compiler/ir/types';
import { anp, arule, cnp, crule, e2eWorld, emptyModel, entity, gnp, knp, krule, lower, ns, pod, sel, tcp, tier } from './ir-support';

const ep = (eps: Endpoint[], id: string): Endpoint => eps.find((e) => e.id === id)!;

describe('IR lowering', () => {
  it('tiers in order: admin, Calico tiers by order then name (default among them), baseline', () => {
    const m = e2eWorld();
    m.tiers.push(tier('b-late', undefined), tier('a-late', undefined), tier('early', 5), tier('after-default', 2_000_000));
    for (const t of ['b-late', 'a-late', 'early', 'after-default']) m.calicoPolicies.push(gnp(`${t}.p`, { tier: t, ingress: [crule('Pass')] }));
    m.networkPolicies.push(knp('x/np', sel(), { ingress: [krule()] }));
    m.adminPolicies.push(anp('adm', 3, {}, { ingress: [arule('Pass', [{ kind: 'networks', cidrs: ['0.0.0.0/0'] }])] }));
    m.baselinePolicy = anp('default', 0, {}, { ingress: [arule('Deny', [{ kind: 'networks', cidrs: ['0.0.0.0/0'] }])] }, 'BaselineAdminNetworkPolicy');
    const p = lower(m);
    const chain = ep(p.endpoints, 'x/a').ingress;
    assert.deepEqual(chain.tiers.map((t) => `${t.name}:${t.kind}:${t.end.action}`), [
      'adminnetworkpolicy:admin:Pass', 'early:calico:Deny', 'default:default:Deny', 'after-default:calico:Deny', 'a-late:calico:Deny', 'b-late:calico:Deny', 'baselineadminnetworkpolicy:baseline:Pass',
    ]);
    // y/a is selected by no NetworkPolicy: no default tier for it
    assert.ok(!ep(p.endpoints, 'y/a').ingress.tiers.some((t) => t.name === 'default'));
    // egress: nothing selects anything
    assert.equal(ep(p.endpoints, 'x/a').egress.tiers.length, 0);
  });

  it('rule ids and sources lead back to the object and rule index; splits get #n', () => {
    const m = e2eWorld();
    m.networkPolicies.push(knp('x/allow-web', sel({ pod: 'a' }), { ingress: [krule([{ kind: 'pods', podSelector: sel() }]), krule(undefined, [tcp(80), { protocol: PROTO.UDP, port: { kind: 'range', from: 53, to: 53 } }])] }));
    m.calicoPolicies.push(cnp('x/cal', { order: 5, ingress: [crule('Deny', { source: entity({ nets: ['192.0.2.0/24'] }) })] }));
    m.adminPolicies.push(anp('deny-cross', 1, { ns: sel({ ns: 'x' }) }, { ingress: [arule('Deny', [{ kind: 'networks', cidrs: ['198.51.100.0/24'] }], undefined, 'deny-b')] }));
    const rules = ep(lower(m).endpoints, 'x/a').ingress.tiers.flatMap((t) => t.rules);
    assert.deepEqual(rules.map((r) => r.id), ['anp/deny-cross/ingress/0', 'cnp/x/cal/ingress/0', 'knp/x/allow-web/ingress/0', 'knp/x/allow-web/ingress/1#0', 'knp/x/allow-web/ingress/1#1']);
    assert.deepEqual(rules[0].source, { kind: 'AdminNetworkPolicy', name: 'deny-cross', direction: 'ingress', index: 0, ruleName: 'deny-b', file: 'test.yaml', line: 1 });
    assert.deepEqual(rules[1].source.kind, 'CalicoNetworkPolicy');
    assert.deepEqual(rules[3].match, { proto: PROTO.TCP, dports: [{ from: 80, to: 80 }] });
    assert.deepEqual(rules[4].match, { proto: PROTO.UDP, dports: [{ from: 53, to: 53 }] });
    assert.deepEqual(rules[2].match.peer, ['10.0.1.1/32', '10.0.1.2/31', 'fd00::1:1/128', 'fd00::1:2/127']);
  });

  it('Calico local-side constraints (destination.nets on ingress) become local/notLocal for the endpoint', () => {
    const m = e2eWorld();
    m.calicoPolicies.push(gnp('local', { ingress: [crule('Allow', { destination: entity({ nets: ['10.0.0.0/8'] }) }), crule('Allow', { destination: entity({ notNets: ['fd00::/16'] }) })] }));
    const rules = ep(lower(m).endpoints, 'x/a').ingress.tiers[0].rules;
    assert.deepEqual(rules[0].match, { local: ['10.0.1.1/32'] });
    assert.deepEqual(rules[1].match, { notLocal: ['fd00::1:1/128'] });
  });

  it('endpoints alike share their chains, never across addresses, ports or service accounts the rules read', () => {
    const world = (localNets: boolean) => {
      const m = emptyModel();
      m.namespaces.push(ns('x'), ns('y'));
      const http = (port: number) => [{ name: 'http', port, protocol: PROTO.TCP }];
      m.pods.push(
        pod('x/w1', ['10.0.0.1'], { app: 'w' }, http(80)),
        pod('x/w2', ['10.0.0.2'], { app: 'w' }, http(80)), // w1 but its address
        pod('x/w3', ['10.0.0.3'], { app: 'w' }, http(8080)), // another number for the name
        pod('x/w4', ['10.0.0.4'], { app: 'w' }, http(80), { serviceAccount: 'other' }),
        pod('x/w5', ['10.0.0.5'], { app: 'v' }, http(80)), // other labels
        pod('y/w1', ['10.0.0.6'], { app: 'w' }, http(80)), // another namespace
      );
      m.networkPolicies.push(knp('x/np', sel({ app: 'w' }), { ingress: [krule(undefined, [tcp('http')])] }));
      m.calicoPolicies.push(cnp('x/sa', { order: 1, serviceAccountSelector: sel({ 'projectcalico.org/name': 'other' }), ingress: [crule('Deny')] }));
      if (localNets) m.calicoPolicies.push(gnp('local', { order: 2, ingress: [crule('Deny', { destination: entity({ nets: ['10.0.0.1/32'] }) })] }));
      return lower(m).endpoints;
    };
    const summary = (e: Endpoint) => e.ingress.tiers[0].rules.map((r) => `${r.id} ${JSON.stringify(r.match)}`);
    const [w1, w2, w3, w4, w5, y1] = world(true);
    assert.deepEqual(summary(w1), ['gnp/local/ingress/0 {}', 'knp/x/np/ingress/0 {"proto":6,"dports":[{"from":80,"to":80}]}']);
    assert.deepEqual(summary(w2), ['gnp/local/ingress/0 {"local":[]}', 'knp/x/np/ingress/0 {"proto":6,"dports":[{"from":80,"to":80}]}']);
    assert.deepEqual(summary(w3), ['gnp/local/ingress/0 {"local":[]}', 'knp/x/np/ingress/0 {"proto":6,"dports":[{"from":8080,"to":8080}]}']);
    assert.deepEqual(summary(w4), ['cnp/x/sa/ingress/0 {}', 'gnp/local/ingress/0 {"local":[]}', 'knp/x/np/ingress/0 {"proto":6,"dports":[{"from":80,"to":80}]}']);
    // no rule on local addresses: w1 and w2 are alike and share one lowering (the same objects), w3 and w4 do not
    assert.deepEqual([w5.id, summary(w5)], ['x/w5', ['gnp/local/ingress/0 {"local":[]}']]);
    assert.deepEqual([y1.id, summary(y1)], ['y/w1', ['gnp/local/ingress/0 {"local":[]}']]);
    const [v1, v2, v3, v4, v5, vy] = world(false);
    assert.ok(v1.ingress === v2.ingress && v1.egress === v2.egress);
    assert.deepEqual(summary(v2), ['knp/x/np/ingress/0 {"proto":6,"dports":[{"from":80,"to":80}]}']);
    assert.deepEqual(summary(v3), ['knp/x/np/ingress/0 {"proto":6,"dports":[{"from":8080,"to":8080}]}']);
    assert.deepEqual(summary(v4), ['cnp/x/sa/ingress/0 {}', 'knp/x/np/ingress/0 {"proto":6,"dports":[{"from":80,"to":80}]}']);
    assert.deepEqual([v5.ingress.tiers, vy.ingress.tiers], [[], []]);
  });

  it('each endpoint gets the policies selecting it, in tier order, when policies share selector objects', () => {
    const m = e2eWorld();
    const a = sel({ pod: 'a' });
    // p1 and p3 share one selector object, p4 has an equal one of its own; g (global, order 500) selects pod b
    // everywhere; x/a and x/c are each in two selected sets, not the same two
    for (const [name, s] of [['p1', a], ['p2', sel()], ['p3', a], ['p4', sel({ pod: 'a' })], ['p5', sel({ pod: 'b' })], ['p6', sel({ pod: 'c' })]] as const) {
      m.networkPolicies.push(knp(`x/${name}`, s, { ingress: [krule()] }));
    }
    m.calicoPolicies.push(gnp('g', { order: 500, selector: sel({ pod: 'b' }), ingress: [crule('Allow')] }));
    // g's set (5 endpoints) is larger than namespace x (3): read by membership there
    m.pods.push(pod('y/d', ['10.0.2.4'], { pod: 'b' }), pod('y/e', ['10.0.2.5'], { pod: 'b' }));
    const ids = (id: string): string[] => ep(lower(m).endpoints, id).ingress.tiers.flatMap((t) => t.rules.map((r) => r.id));
    assert.deepEqual(ids('x/a'), ['knp/x/p1/ingress/0', 'knp/x/p2/ingress/0', 'knp/x/p3/ingress/0', 'knp/x/p4/ingress/0']);
    assert.deepEqual(ids('x/b'), ['gnp/g/ingress/0', 'knp/x/p2/ingress/0', 'knp/x/p5/ingress/0']);
    assert.deepEqual(ids('x/c'), ['knp/x/p2/ingress/0', 'knp/x/p6/ingress/0']);
    assert.deepEqual(ids('y/b'), ['gnp/g/ingress/0']);
    assert.deepEqual(ids('y/a'), []);
  });

  it('the program is plain data: a JSON round trip is the identity', () => {
    const m = e2eWorld();
    m.networkPolicies.push(knp('x/np', sel(), { ingress: [krule([{ kind: 'ipBlock', cidr: '10.0.0.0/8', except: ['10.0.2.0/24'] }], [tcp('serve-80-tcp')])] }));
    const p = lower(m);
    assert.deepEqual(JSON.parse(JSON.stringify(p)), p);
    // ipBlock 10/8 except 10.0.2.0/24, as the minimal prefix cover; the named port resolved on x/a itself
    assert.deepEqual(ep(p.endpoints, 'x/a').ingress.tiers[0].rules[0].match, {
      proto: PROTO.TCP,
      dports: [{ from: 80, to: 80 }],
      peer: ['10.0.0.0/23', '10.0.3.0/24', '10.0.4.0/22', '10.0.8.0/21', '10.0.16.0/20', '10.0.32.0/19', '10.0.64.0/18', '10.0.128.0/17', '10.1.0.0/16', '10.2.0.0/15', '10.4.0.0/14', '10.8.0.0/13', '10.16.0.0/12', '10.32.0.0/11', '10.64.0.0/10', '10.128.0.0/9'],
    });
  });
});
