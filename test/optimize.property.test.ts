// The optimizer never changes a verdict, nor which rule (or default) decides it: random programs and random
// models, random packets, the reference evaluator before and after.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import { optimize } from '../compiler/optimize';
import { evaluate, evaluateConnection } from '../compiler/ir/evaluate';
import type { Action, Chain, Endpoint, Match, Packet, Program, Rule, TierChain } from '../compiler/ir/types';
import { PROTO, type Model } from '../compiler/model/types';
import { anp, arule, cnp, crule, e2eWorld, entity, gnp, knp, krule, lower, sel, tcp, tier } from './ir-support';

const V4 = ['10.0.0.0', '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6', '10.0.0.7', '10.0.1.9'];
const V6 = ['fd00::', 'fd00::1', 'fd00::2', 'fd00::3', 'fd00::8'];
const CIDRS = ['10.0.0.0/30', '10.0.0.4/30', '10.0.0.0/29', '10.0.0.1/32', '10.0.0.2/31', '0.0.0.0/0', '10.0.1.0/24', 'fd00::/126', 'fd00::1/128', '::/0', 'fd00::8/125'];
const PORTS = [78, 79, 80, 81, 82];

const cidrs = fc.subarray(CIDRS, { minLength: 0, maxLength: 3 });
const ports = fc.array(fc.tuple(fc.constantFrom(...PORTS), fc.integer({ min: 0, max: 2 })).map(([f, n]) => ({ from: f, to: f + n })), { maxLength: 2 });
const icmp = fc.record({ type: fc.integer({ min: 0, max: 1 }), code: fc.option(fc.integer({ min: 0, max: 1 }), { nil: undefined }) }).map((i) => (i.code === undefined ? { type: i.type } : { type: i.type, code: i.code }));

const match: fc.Arbitrary<Match> = fc
  .record(
    {
      family: fc.constantFrom(4 as const, 6 as const),
      proto: fc.constantFrom(PROTO.TCP, PROTO.UDP, PROTO.ICMP, PROTO.ICMPv6),
      notProto: fc.constantFrom(PROTO.TCP, PROTO.UDP),
      peer: cidrs,
      notPeer: cidrs,
      local: cidrs,
      notLocal: cidrs,
      dports: ports,
      notDports: ports,
      sports: ports,
      icmp,
      notIcmp: icmp,
    },
    { requiredKeys: [] },
  )
  .map((m) => {
    // ports and ICMP are not written together (no source can produce that); keep one of them
    const out: Match = { ...m };
    if ((out.dports || out.notDports || out.sports) && (out.icmp || out.notIcmp)) {
      delete out.icmp;
      delete out.notIcmp;
    }
    return out;
  });

const actions: Action[] = ['Allow', 'Deny', 'Pass', 'Log'];
const tierArb: fc.Arbitrary<Omit<TierChain, 'rules'> & { rules: { action: Action; match: Match; dup: number }[] }> = fc.record({
  name: fc.constantFrom('t1', 't2', 'default'),
  kind: fc.constantFrom('admin' as const, 'calico' as const, 'default' as const, 'baseline' as const),
  rules: fc.array(fc.record({ action: fc.constantFrom(...actions), match, dup: fc.integer({ min: 0, max: 3 }) }), { maxLength: 8 }),
  end: fc.record({ action: fc.constantFrom('Allow' as const, 'Deny' as const, 'Pass' as const), reason: fc.constant('end'), policies: fc.constant([]) }),
});

type TierSpec = typeof tierArb extends fc.Arbitrary<infer T> ? T : never;

function toChain(tiers: TierSpec[], dir: string): Chain {
  return {
    tiers: tiers.map((t, ti) => {
      const rules: Rule[] = [];
      t.rules.forEach((r, i) => {
        const rule: Rule = { id: `r/${dir}/${ti}/${i}`, action: r.action, match: r.match, source: { kind: 'GlobalNetworkPolicy', name: `p${ti}`, direction: 'ingress', index: i } };
        rules.push(rule);
        // duplicates and near-duplicates, which the optimizer should remove without changing anything
        if (r.dup === 1) rules.push({ ...rule, id: `${rule.id}#dup` });
      });
      return { name: t.name, kind: t.kind, rules, end: t.end };
    }),
  };
}

const packet: fc.Arbitrary<Packet> = fc.oneof(
  fc.record({ src: fc.constantFrom(...V4), dst: fc.constantFrom(...V4), proto: fc.constantFrom(PROTO.TCP, PROTO.UDP, PROTO.SCTP), sport: fc.constantFrom(...PORTS, 40000), dport: fc.constantFrom(...PORTS, 84) }),
  fc.record({ src: fc.constantFrom(...V6), dst: fc.constantFrom(...V6), proto: fc.constantFrom(PROTO.TCP, PROTO.UDP), sport: fc.constantFrom(...PORTS), dport: fc.constantFrom(...PORTS) }),
  fc.record({ src: fc.constantFrom(...V4), dst: fc.constantFrom(...V4), proto: fc.constant(PROTO.ICMP), icmpType: fc.integer({ min: 0, max: 2 }), icmpCode: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ src: fc.constantFrom(...V6), dst: fc.constantFrom(...V6), proto: fc.constant(PROTO.ICMPv6), icmpType: fc.integer({ min: 0, max: 2 }), icmpCode: fc.integer({ min: 0, max: 1 }) }),
);

function sameDecision(a: ReturnType<typeof evaluate>, b: ReturnType<typeof evaluate>, what: string): void {
  assert.equal(b.allowed, a.allowed, `${what}: verdict`);
  assert.equal(b.ruleId, a.ruleId, `${what}: deciding rule`);
  assert.equal(b.decidedBy, a.decidedBy, `${what}: decidedBy`);
  assert.equal(b.tier, a.tier, `${what}: tier`);
}

describe('optimize: never changes a verdict (property)', () => {
  const programProperty = (opt: (p: Program) => Program, stats: { removed: number; total: number }) =>
    fc.property(fc.array(tierArb, { maxLength: 4 }), fc.array(tierArb, { maxLength: 3 }), fc.array(packet, { minLength: 1, maxLength: 25 }), (ing, egr, packets) => {
      const ep: Endpoint = { id: 'n/p', namespace: 'n', name: 'p', ips: ['10.0.0.1', 'fd00::1'], labels: {}, ports: [], ingress: toChain(ing, 'in'), egress: toChain(egr, 'out') };
      const before: Program = { version: 1, endpoints: [ep] };
      const after = opt(before);
      const count = (p: Program): number => p.endpoints[0].ingress.tiers.concat(p.endpoints[0].egress.tiers).reduce((n, t) => n + t.rules.length, 0);
      stats.total += count(before);
      stats.removed += count(before) - count(after);
      for (const pkt of packets)
        for (const dir of ['ingress', 'egress'] as const) sameDecision(evaluate(ep, dir, pkt), evaluate(after.endpoints[0], dir, pkt), `${dir} ${JSON.stringify(pkt)}`);
    });

  it('the property catches a wrong optimizer (one that drops the first Deny rule it sees)', () => {
    const broken = (p: Program): Program => {
      const q = optimize(p);
      const ep = q.endpoints[0];
      const tiers = ep.ingress.tiers.map((t) => {
        const i = t.rules.findIndex((r) => r.action === 'Deny');
        return i < 0 ? t : { ...t, rules: t.rules.filter((_r, j) => j !== i) };
      });
      return { ...q, endpoints: [{ ...ep, ingress: { tiers } }] };
    };
    const res = fc.check(programProperty(broken, { removed: 0, total: 0 }), { numRuns: 1500 });
    assert.equal(res.failed, true);
  });

  it('random programs, random packets: same verdict, same deciding rule or default', () => {
    const stats = { removed: 0, total: 0 };
    fc.assert(programProperty(optimize, stats), { numRuns: 1500 });
    // the property is not vacuous: the optimizer did remove rules along the way
    assert.ok(stats.removed > stats.total / 20, `removed ${stats.removed} of ${stats.total}`);
  });

  it('random models (NetworkPolicy, Calico tiers, ANP/BANP) over the e2e pods: same verdicts after lowering + optimize', () => {
    const nsSel = fc.constantFrom(sel({ ns: 'x' }), sel({ ns: 'y' }), sel(), { op: 'notin' as const, key: 'ns', values: ['x'] });
    const podSel = fc.constantFrom(sel({ pod: 'a' }), sel({ pod: 'b' }), sel());
    const calSel = fc.constantFrom({ op: 'all' as const }, { op: 'eq' as const, key: 'pod', value: 'a' }, { op: 'ne' as const, key: 'pod', value: 'b' });
    const cAction = fc.constantFrom('Allow' as const, 'Deny' as const, 'Pass' as const, 'Log' as const);
    const cRule = fc.record({ action: cAction, nets: cidrs.map((c) => c.map((x) => x.replace('10.0.0.', '10.0.1.'))), sel: fc.option(calSel, { nil: undefined }), port: fc.option(fc.constantFrom(80, 81), { nil: undefined }), notPort: fc.boolean() })
      .map((r) => crule(r.action, {
        ...(r.port !== undefined ? { protocol: PROTO.TCP } : {}),
        source: entity({ nets: r.nets, ...(r.sel ? { selector: r.sel } : {}) }),
        destination: entity(r.port !== undefined ? (r.notPort ? { notPorts: [{ kind: 'range', from: r.port, to: r.port }] } : { ports: [{ kind: 'range', from: r.port, to: r.port }] }) : {}),
      }));
    const model = fc.record({
      knps: fc.array(fc.record({ ns: fc.constantFrom('x', 'y'), pods: podSel, peerNs: fc.option(nsSel, { nil: undefined }), peerPods: fc.option(podSel, { nil: undefined }), port: fc.option(fc.constantFrom<number | string>(80, 81, 'serve-81-tcp'), { nil: undefined }), egress: fc.boolean() }), { maxLength: 3 }),
      gnps: fc.array(fc.record({ tier: fc.constantFrom('default', 'sec'), order: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }), sel: calSel, rules: fc.array(cRule, { maxLength: 4 }) }), { maxLength: 3 }),
      secAction: fc.constantFrom('Deny' as const, 'Pass' as const),
      anps: fc.array(fc.record({ prio: fc.integer({ min: 1, max: 3 }), subj: nsSel, action: fc.constantFrom('Allow' as const, 'Deny' as const, 'Pass' as const), peer: nsSel, port: fc.option(fc.constantFrom(80, 81), { nil: undefined }) }), { maxLength: 3 }),
      banp: fc.option(fc.record({ subj: nsSel, action: fc.constantFrom('Allow' as const, 'Deny' as const), peer: nsSel }), { nil: undefined }),
    });
    fc.assert(
      fc.property(model, fc.array(fc.tuple(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 8 }), fc.constantFrom(80, 81), fc.constantFrom(PROTO.TCP, PROTO.UDP)), { minLength: 5, maxLength: 20 }), (spec, probes) => {
        const m: Model = e2eWorld();
        m.tiers.push(tier('sec', 10, spec.secAction));
        spec.knps.forEach((k, i) => {
          const peers = k.peerNs || k.peerPods ? [{ kind: 'pods' as const, ...(k.peerNs ? { namespaceSelector: k.peerNs } : {}), ...(k.peerPods ? { podSelector: k.peerPods } : {}) }] : undefined;
          const rule = krule(peers, k.port !== undefined ? [tcp(k.port)] : undefined);
          m.networkPolicies.push(knp(`${k.ns}/k${i}`, k.pods, k.egress ? { egress: [rule], types: ['egress'] } : { ingress: [rule] }));
        });
        spec.gnps.forEach((g, i) => m.calicoPolicies.push(i % 2 ? gnp(`g${i}`, { tier: g.tier, order: g.order, selector: g.sel, ingress: g.rules }) : cnp(`x/c${i}`, { tier: g.tier, order: g.order, selector: g.sel, ingress: g.rules })));
        spec.anps.forEach((a, i) => m.adminPolicies.push(anp(`a${i}`, a.prio, { ns: a.subj }, { ingress: [arule(a.action, [{ kind: 'pods', pods: { namespaceSelector: a.peer, podSelector: sel() } }], a.port ? [{ kind: 'number', protocol: PROTO.TCP, port: a.port }] : undefined)] })));
        if (spec.banp) m.baselinePolicy = anp('default', 0, { ns: spec.banp.subj }, { ingress: [arule(spec.banp.action, [{ kind: 'pods', pods: { namespaceSelector: spec.banp.peer, podSelector: sel() } }])] }, 'BaselineAdminNetworkPolicy');
        const before = lower(m);
        const after = optimize(before);
        for (const [f, t, port, proto] of probes) {
          const pkt: Packet = { src: before.endpoints[f].ips[0], dst: before.endpoints[t].ips[0], proto, sport: 40000, dport: port };
          const a = evaluateConnection(before, pkt);
          const b = evaluateConnection(after, pkt);
          assert.equal(b.allowed, a.allowed);
          sameDecision(a.egress!, b.egress!, 'egress');
          sameDecision(a.ingress!, b.ingress!, 'ingress');
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('optimize: work shared between endpoints with the same tiers', () => {
  // The optimizer handles each distinct tier once and gives every endpoint with that tier the same result: many
  // endpoints optimised together must come out exactly as each one optimised alone, whether their tiers are equal
  // (by structure, in fresh arrays, or the same objects) or differ in one action or one field of one match.
  const deepCopy = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
  const fields: (keyof Match)[] = ['family', 'proto', 'notProto', 'peer', 'notPeer', 'local', 'notLocal', 'dports', 'notDports', 'sports', 'notSports', 'icmp', 'notIcmp'];
  const variant = fc.record({ kind: fc.constantFrom('same-objects', 'fresh-copy', 'action', 'action', 'field', 'field', 'field'), tier: fc.nat(), rule: fc.nat(), action: fc.constantFrom(...actions), f: fc.constantFrom(...fields), field: match });
  it('optimising endpoints together gives each one what optimising it alone gives', () => {
    let differing = 0;
    fc.assert(
      fc.property(fc.array(tierArb, { minLength: 1, maxLength: 3 }), fc.array(variant, { minLength: 1, maxLength: 6 }), (tiers, variants) => {
        const base = toChain(tiers, 'in');
        const chains: Chain[] = [base];
        for (const v of variants) {
          if (v.kind === 'same-objects') chains.push(base);
          else {
            const c = deepCopy(base);
            const t = c.tiers[v.tier % c.tiers.length];
            if (t.rules.length > 0) {
              const r = t.rules[v.rule % t.rules.length];
              if (v.kind === 'action') r.action = v.action;
              // one field of the match replaced by the same field of another random match (or removed)
              if (v.kind === 'field') {
                (r.match as Record<string, unknown>)[v.f] = v.field[v.f];
                if (v.field[v.f] === undefined) delete r.match[v.f];
              }
            }
            chains.push(c);
          }
        }
        const eps: Endpoint[] = chains.map((c, i) => ({ id: `n/p${i}`, namespace: 'n', name: `p${i}`, ips: ['10.0.0.1'], labels: {}, ports: [], ingress: c, egress: chains[chains.length - 1 - i] }));
        const together = optimize({ version: 1, endpoints: eps });
        eps.forEach((ep, i) => {
          const alone = optimize({ version: 1, endpoints: [ep] });
          assert.deepEqual(together.endpoints[i], alone.endpoints[0], `endpoint ${i}`);
          if (JSON.stringify(alone.endpoints[0].ingress) !== JSON.stringify(together.endpoints[0].ingress)) differing++;
        });
      }),
      { numRuns: 1000 },
    );
    // not vacuous: many endpoints came out different from the first one
    assert.ok(differing > 15, `only ${differing} endpoints differed from the first`);
  });

  it('tiers that differ in one field of one match (or one action) are told apart', () => {
    const tcp = { proto: 6 };
    const p = (from: number, to = from) => [{ from, to }];
    // [rule a (base or variant), rule b]: with the base a, a shadows b; with the variant, it does not
    const cases: [string, Match, Match, Match, Action?][] = [
      ['family', { family: 4, peer: ['10.0.0.0/8'] }, { family: 6, peer: ['10.0.0.0/8'] }, { family: 4, peer: ['10.0.0.0/8'] }],
      ['proto', tcp, { proto: 17 }, tcp],
      ['notProto', { notProto: 17 }, { notProto: 6 }, tcp],
      ['peer', { peer: ['10.0.0.0/8'] }, { peer: ['11.0.0.0/8'] }, { peer: ['10.0.0.0/24'] }],
      ['notPeer', { notPeer: ['11.0.0.0/8'] }, { notPeer: ['10.0.0.0/8'] }, { peer: ['10.0.0.0/24'] }],
      ['local', { local: ['10.0.0.0/8'] }, { local: ['11.0.0.0/8'] }, { local: ['10.0.0.0/24'] }],
      ['notLocal', { notLocal: ['11.0.0.0/8'] }, { notLocal: ['10.0.0.0/8'] }, { local: ['10.0.0.0/24'] }],
      ['dports', { ...tcp, dports: p(80) }, { ...tcp, dports: p(81) }, { ...tcp, dports: p(80) }],
      ['notDports', { ...tcp, notDports: p(81) }, { ...tcp, notDports: p(80) }, { ...tcp, dports: p(80) }],
      ['sports', { ...tcp, sports: p(80) }, { ...tcp, sports: p(81) }, { ...tcp, sports: p(80) }],
      ['notSports', { ...tcp, notSports: p(81) }, { ...tcp, notSports: p(80) }, { ...tcp, sports: p(80) }],
      ['icmp', { proto: 1, icmp: { type: 0 } }, { proto: 1, icmp: { type: 1 } }, { proto: 1, icmp: { type: 0, code: 0 } }],
      ['notIcmp', { proto: 1, notIcmp: { type: 1 } }, { proto: 1, notIcmp: { type: 0 } }, { proto: 1, icmp: { type: 0, code: 0 } }],
      ['action', { peer: ['10.0.0.0/8'] }, { peer: ['10.0.0.0/8'] }, { peer: ['10.0.0.0/24'] }, 'Log'],
    ];
    const tierOf = (a: Match, b: Match, aAction: Action = 'Allow'): Chain => ({
      tiers: [{ name: 't', kind: 'calico', end: { action: 'Deny', reason: 'r', policies: [] }, rules: [
        { id: 'a', action: aAction, match: deepCopy(a), source: { kind: 'GlobalNetworkPolicy', name: 'p', direction: 'ingress', index: 0 } },
        { id: 'b', action: 'Allow', match: deepCopy(b), source: { kind: 'GlobalNetworkPolicy', name: 'p', direction: 'ingress', index: 1 } },
      ] }],
    });
    for (const [field, base, variant, b, variantAction] of cases) {
      const chains = [tierOf(base, b), tierOf(variant, b, variantAction), tierOf(base, b)];
      const eps: Endpoint[] = chains.map((c, i) => ({ id: `n/p${i}`, namespace: 'n', name: `p${i}`, ips: ['10.0.0.1'], labels: {}, ports: [], ingress: c, egress: { tiers: [] } }));
      const together = optimize({ version: 1, endpoints: eps });
      const kept = together.endpoints.map((e) => e.ingress.tiers[0].rules.map((r) => r.id).join(','));
      assert.equal(kept[0], 'a', field);
      assert.notEqual(kept[1], 'a', field);
      assert.equal(kept[2], 'a', field);
      eps.forEach((ep, i) => assert.deepEqual(together.endpoints[i], optimize({ version: 1, endpoints: [ep] }).endpoints[0], `${field}: endpoint ${i}`));
    }
  });
});

describe('optimize: passes', () => {
  const src = { kind: 'GlobalNetworkPolicy' as const, name: 'p', direction: 'ingress' as const, index: 0 };
  const ep = (rules: Rule[], end: 'Allow' | 'Deny' | 'Pass' = 'Deny'): Program => ({
    version: 1,
    endpoints: [{ id: 'n/p', namespace: 'n', name: 'p', ips: ['10.0.0.1'], labels: {}, ports: [], ingress: { tiers: [{ name: 't', kind: 'calico', rules, end: { action: end, reason: 'r', policies: [] } }] }, egress: { tiers: [] } }],
  });
  const r = (id: string, action: Action, match: Match): Rule => ({ id, action, match, source: src });

  it('merges CIDRs, removes unmatchable, shadowed and duplicate rules, keeps Log-shadowed rules', () => {
    const p = optimize(
      ep([
        r('log', 'Log', { peer: ['10.0.0.0/8'] }),
        r('a', 'Allow', { peer: ['10.0.0.0/25', '10.0.0.128/25'], proto: 6 }),
        r('never', 'Deny', { peer: [] }),
        r('dup', 'Allow', { peer: ['10.0.0.0/24'], proto: 6 }),
        r('inside', 'Deny', { peer: ['10.0.0.7/32'], proto: 6, dports: [{ from: 80, to: 80 }] }),
        r('udp', 'Deny', { peer: ['10.0.0.7/32'], proto: 17 }),
        r('inlog', 'Allow', { peer: ['10.1.0.0/16'] }),
      ]),
    );
    const rules = p.endpoints[0].ingress.tiers[0].rules;
    assert.deepEqual(rules.map((x) => x.id), ['log', 'a', 'udp', 'inlog']);
    assert.deepEqual(rules[1].match.peer, ['10.0.0.0/24']);
  });

  it('shadows by port span and protocol: a wider or protocol-free rule shadows, a narrower or other-protocol one does not', () => {
    const ports = (from: number, to: number) => [{ from, to }];
    const p = optimize(
      ep([
        r('wide', 'Deny', { proto: 6, dports: ports(80, 90) }),
        r('in', 'Allow', { proto: 6, dports: ports(85, 85) }),
        r('over', 'Allow', { proto: 6, dports: ports(85, 95) }),
        r('udp', 'Allow', { proto: 17, dports: ports(85, 85) }),
        r('any', 'Deny', { peer: ['10.0.0.0/8'] }),
        r('under-any', 'Allow', { peer: ['10.1.0.0/16'], proto: 17, dports: ports(1, 2) }),
        r('no-ports', 'Allow', { peer: ['11.0.0.0/8'], proto: 6 }),
        r('ported', 'Allow', { peer: ['11.0.0.0/8'], proto: 6, dports: ports(1, 2) }),
      ]),
    );
    assert.deepEqual(p.endpoints[0].ingress.tiers[0].rules.map((x) => x.id), ['wide', 'over', 'udp', 'any', 'no-ports']);
  });

  it('tells long address lists apart that differ only between the elements that group them (also in a crowded group)', () => {
    // 40 prefixes: lists are grouped by 16 elements spread over them, and element 1 is not one of those; ten lists
    // in one group (crowded: compared by hash first), each then again as a new array of the same content
    const variant = (v: number) => Array.from({ length: 40 }, (_, i) => (i === 1 ? `10.0.1.${v}/32` : `10.0.${i}.1/32`));
    const rules: Rule[] = [];
    for (let v = 1; v <= 10; v++) rules.push(r(`v${v}`, 'Deny', { peer: variant(v), proto: 6 }));
    for (let v = 1; v <= 10; v++) rules.push(r(`dup${v}`, 'Allow', { peer: variant(v), proto: 6 }));
    const kept = optimize(ep(rules)).endpoints[0].ingress.tiers[0].rules.map((x) => x.id);
    assert.deepEqual(kept, rules.slice(0, 10).map((x) => x.id), 'each list is its own (no v shadows another), and each dup a duplicate');
  });

  it('returns what it leaves as it was as the same objects, and never changes its input', () => {
    const input = ep([r('a', 'Allow', { peer: ['10.0.0.0/24'], proto: 6, dports: [{ from: 80, to: 80 }] }), r('b', 'Deny', { peer: ['11.0.0.0/8'] })]);
    const text = JSON.stringify(input);
    const same = optimize(input);
    assert.equal(same.endpoints[0], input.endpoints[0]);
    const changed = ep([r('a', 'Allow', { peer: ['10.0.0.0/25', '10.0.0.128/25'] }), r('b', 'Deny', { peer: ['11.0.0.0/8'] })]);
    const changedText = JSON.stringify(changed);
    const out = optimize(changed);
    assert.notEqual(out.endpoints[0], changed.endpoints[0]);
    assert.deepEqual(out.endpoints[0].ingress.tiers[0].rules[0].match.peer, ['10.0.0.0/24']);
    assert.equal(out.endpoints[0].ingress.tiers[0].rules[1], changed.endpoints[0].ingress.tiers[0].rules[1]);
    assert.equal(out.endpoints[0].egress, changed.endpoints[0].egress);
    assert.equal(JSON.stringify(input), text);
    assert.equal(JSON.stringify(changed), changedText);
  });

  it('keeps tiers left without rules (they still name the policies that selected the endpoint)', () => {
    assert.equal(optimize(ep([r('x', 'Deny', { peer: [] })], 'Pass')).endpoints[0].ingress.tiers.length, 1);
    assert.equal(optimize(ep([r('x', 'Deny', { peer: [] })], 'Deny')).endpoints[0].ingress.tiers[0].rules.length, 0);
  });
});
