// computeClasses with peer lists given as shared parts (DimRule.cidrParts, from ir/parts.ts): the same classes,
// entries and class ids as the lists themselves give, whatever the parts share, nest or repeat.
import { strict as assert } from 'assert';
import * as fc from 'fast-check';
import { computeClasses, type DimClasses, type DimRule } from '../compiler/emit/bpf/classes';

/** A class's rules, per class id, and the entries with their class ids: all of what a table is made of. */
function shape(d: DimClasses): { count: number; entries: string[]; classesOf: [number, number[]][]; unconstrained: number[] } {
  return {
    count: d.count,
    entries: d.entries.map((e) => `${e.p.v}/${e.p.len}:${e.cls}`),
    classesOf: [...d.classesOf.entries()].sort((a, b) => a[0] - b[0]),
    unconstrained: [...d.unconstrained].sort((a, b) => a - b),
  };
}

describe('bpf classes: peer lists made of shared parts', () => {
  // Prefixes that nest (10/8 > 10.1/16 > 10.1.2/24 > 10.1.2.3/32), sit side by side, repeat in one text with host
  // bits set, and of the other family.
  const TEXTS = ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.3/32', '10.1.2.3/24', '10.1.2.4/32', '10.2.0.0/16', '10.9.0.1/32', '192.0.2.0/24', '0.0.0.0/0', 'fd00::/64', 'fd00::1/128'];
  const spec = fc.record({
    parts: fc.array(fc.uniqueArray(fc.constantFrom(...TEXTS), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 }),
    rules: fc.array(
      fc.record({
        parts: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
        neg: fc.array(fc.constantFrom('10.1.0.0/16', '10.1.2.3/32', '192.0.2.0/25'), { maxLength: 1 }),
        share: fc.boolean(),
        all: fc.boolean(),
      }),
      { minLength: 1, maxLength: 12 },
    ),
  });

  it('give what their lists give (fast-check, both families)', () => {
    fc.assert(fc.property(spec, fc.constantFrom(32, 128), ({ parts, rules }, width) => {
      const flat: DimRule[] = [];
      const split: DimRule[] = [];
      let last: { list: string[]; of: string[][] } | undefined;
      rules.forEach((r, i) => {
        const neg = r.neg.map((t) => computeClasses(32, [{ rule: 0, pos: [], neg: [], cidrs: [t] }], 1).entries[0].p);
        if (r.all) {
          // no positive list: the root
          flat.push({ rule: i, pos: 'all', neg });
          split.push({ rule: i, pos: 'all', neg });
          return;
        }
        const of = r.parts.map((k) => parts[k % parts.length]);
        // the list holds exactly the parts' texts (what lowering vouches for); the same array as the rule before
        // when shared: one unit
        const cur = r.share && last ? last : { list: of.flat(), of };
        last = cur;
        flat.push({ rule: i, pos: [], neg, cidrs: cur.list });
        split.push({ rule: i, pos: [], neg, cidrs: cur.list, cidrParts: cur.of });
      });
      const want = shape(computeClasses(width, flat, rules.length, { tableId: 7 }));
      assert.deepEqual(shape(computeClasses(width, split, rules.length, { tableId: 7 })), want);
      // and again: the parts' nodes are kept between calls
      assert.deepEqual(shape(computeClasses(width, split, rules.length, { tableId: 7 })), want);
    }), { numRuns: 500 });
  });

  it('a part shared by rules of different lists is one set of nodes: classes as with the lists', () => {
    const pods = ['10.0.0.1/32', '10.0.0.3/32', '10.0.0.5/32'];
    const rules: DimRule[] = [
      { rule: 0, pos: [], neg: [], cidrs: [...pods, '192.0.2.0/24'], cidrParts: [pods, ['192.0.2.0/24']] },
      { rule: 1, pos: [], neg: [], cidrs: [...pods, '198.51.100.0/24'], cidrParts: [pods, ['198.51.100.0/24']] },
      { rule: 2, pos: [], neg: [], cidrs: pods },
    ];
    const d = computeClasses(32, rules, 3);
    // classes: 0 (nothing), the pods {0,1,2}, 192.0.2/24 {0}, 198.51.100/24 {1}
    assert.equal(d.count, 4);
    assert.deepEqual(shape(d), shape(computeClasses(32, rules.map(({ cidrParts: _, ...r }) => r), 3)));
    assert.deepEqual(d.entries.map((e) => e.p.len), [32, 32, 32, 24, 24]);
  });
});
