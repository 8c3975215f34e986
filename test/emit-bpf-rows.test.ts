// The rule table kept per chain (compiler/emit/bpf/rows.ts): every row read by index is the row iteration gives
// at that place, with its own index, endpoint and direction, and the rows are those the table has always had
// (each tier's rules then its end, then the default row, per endpoint and direction after row 0).
import { strict as assert } from 'assert';
import { buildTables, type RuleRow } from '../compiler/emit/bpf/tables';
import type { Endpoint } from '../compiler/ir/types';
import { endpoint, program, rule, tier } from './bpf-fixtures';

/** The rows as they were written one by one before rows.ts: the expected table. */
function expectedRows(eps: Endpoint[]): RuleRow[] {
  const out: RuleRow[] = [{ index: 0, endpoint: '', direction: 'ingress', tier: '', tierIndex: -1, kind: 'default', action: 'none', reason: 'no rule (conntrack, unmanaged, not IP)' }];
  for (const ep of eps) for (const direction of ['ingress', 'egress'] as const) {
    const chain = ep[direction];
    chain.tiers.forEach((t, ti) => {
      t.rules.forEach((r, position) => out.push({ index: out.length, endpoint: ep.id, direction, tier: t.name, tierIndex: ti, kind: 'rule', action: r.action, ruleId: r.id, position, policy: `${r.source.kind} ${r.source.namespace ? `${r.source.namespace}/` : ''}${r.source.name}` }));
      out.push({ index: out.length, endpoint: ep.id, direction, tier: t.name, tierIndex: ti, kind: 'tier-end', action: t.end.action, reason: t.end.reason });
    });
    out.push({ index: out.length, endpoint: ep.id, direction, tier: '', tierIndex: chain.tiers.length, kind: 'default', action: 'Allow', reason: 'no policy decided: allowed' });
  }
  return out;
}

describe('bpf rule rows (rows.ts)', () => {
  // chains shared by endpoints (one template, several segments), an empty chain (the default row alone), two tiers
  const shared = [tier('t0', [rule('a', 'Allow', { proto: 6 }, 'p1'), rule('b', 'Deny', {}, 'p2')], 'Pass'), tier('t1', [rule('c', 'Log', { proto: 17 }, 'p3')], 'Deny')];
  const other = [tier('k', [rule('d', 'Allow', { dports: [{ from: 80, to: 80 }] }, 'p4')], 'Deny', 'default')];
  const eps = [
    endpoint('ns/a', ['10.0.0.1'], shared, other),
    endpoint('ns/b', ['10.0.0.2', 'fd00::2'], shared, []),
    endpoint('ns/c', ['10.0.0.3'], [], shared),
    endpoint('ns/d', ['10.0.0.4'], other, other),
  ];
  // one chain object for several endpoints and both directions, as the optimizer shares them
  eps[1].ingress = eps[0].ingress;
  eps[2].egress = eps[0].ingress;
  eps[3].egress = eps[3].ingress;

  it('iteration, at(i) and JSON give the rows written one by one, each index its place', () => {
    const t = buildTables(program(...eps));
    const want = expectedRows(eps);
    assert.equal(t.rules.length, want.length);
    assert.deepEqual([...t.rules], want);
    for (let i = 0; i < want.length; i++) assert.deepEqual(t.rules.at(i), want[i], `row ${i}`);
    assert.equal(JSON.stringify(t.rules), JSON.stringify(want));
    for (const bad of [-1, want.length, 1.5, NaN]) assert.equal(t.rules.at(bad), undefined, String(bad));
    assert.deepEqual(t.rules.find((r) => r.ruleId === 'c' && r.endpoint === 'ns/c'), want.find((r) => r.ruleId === 'c' && r.endpoint === 'ns/c'));
  });

  it("each endpoint entry's rule_base is the index of its endpoint and direction's first row", () => {
    const t = buildTables(program(...eps));
    for (const e of t.endpoints) {
      const first = t.rules.at(e.ruleBase)!;
      assert.equal(first.endpoint, e.endpoint);
      assert.equal(first.direction, e.direction);
      const before = t.rules.at(e.ruleBase - 1)!;
      assert.ok(before.index === 0 || before.endpoint !== e.endpoint || before.direction !== e.direction, `row ${e.ruleBase - 1} is of the same endpoint and direction`);
    }
  });
});
