import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Selector } from '../compiler/model/selector';
import { matchSelector, normalizeSelector, parseCalicoSelector, printSelector } from '../compiler/model/selector';

// Small alphabets so random label sets often hit the selector's keys and values.
const key = fc.constantFrom('a', 'b', 'projectcalico.org/name', 'x.y-z_w', 'all', 'in');
const value = fc.constantFrom('', 'v', 'vw', 'w', "it's", 'say "hi"', 'a b');
const leaf: fc.Arbitrary<Selector> = fc.oneof(
  fc.constant<Selector>({ op: 'all' }),
  fc.constant<Selector>({ op: 'global' }),
  key.map((k): Selector => ({ op: 'has', key: k })),
  fc.record({ op: fc.constantFrom('eq', 'ne', 'contains', 'startswith', 'endswith' as const), key, value }).map((r) => r as Selector),
  fc.record({ op: fc.constantFrom('in', 'notin' as const), key, values: fc.array(value, { maxLength: 3 }) }).map((r) => r as Selector),
);
const { sel } = fc.letrec<{ sel: Selector }>((tie) => ({
  sel: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    tie('sel').map((arg): Selector => ({ op: 'not', arg })),
    fc.record({ op: fc.constantFrom('and', 'or' as const), args: fc.array(tie('sel'), { minLength: 1, maxLength: 4 }) }).map((r) => r as Selector),
  ),
}));
const labels = fc.dictionary(key, value, { maxKeys: 4 });

describe('selector: properties', () => {
  it('print then parse gives back the (normalised) AST', () => {
    fc.assert(
      fc.property(sel, (s) => {
        const text = printSelector(s);
        const r = parseCalicoSelector(text);
        assert.ok(r.ok, `${text}: ${r.ok ? '' : `${r.error.col}: ${r.error.message}`}`);
        assert.deepEqual(r.selector, normalizeSelector(s), text);
        assert.equal(printSelector(r.selector), text);
      }),
      { numRuns: 2000 },
    );
  });

  it('the printed-and-reparsed selector matches exactly the label sets the original matches', () => {
    fc.assert(
      fc.property(sel, fc.array(labels, { minLength: 1, maxLength: 20 }), fc.boolean(), (s, sets, global) => {
        const r = parseCalicoSelector(printSelector(s));
        assert.ok(r.ok);
        for (const l of sets) assert.equal(matchSelector(r.selector, l, { global }), matchSelector(s, l, { global }), `${printSelector(s)} on ${JSON.stringify(l)}`);
      }),
      { numRuns: 1000 },
    );
  });

  it('none and empty and/or (not writable by users) keep their meaning through print and parse', () => {
    for (const s of [{ op: 'none' }, { op: 'and', args: [] }, { op: 'or', args: [] }, { op: 'not', arg: { op: 'or', args: [] } }] as Selector[]) {
      const r = parseCalicoSelector(printSelector(s));
      assert.ok(r.ok);
      for (const g of [true, false]) assert.equal(matchSelector(r.selector, { a: 'v' }, { global: g }), matchSelector(s, { a: 'v' }, { global: g }));
    }
  });
});
