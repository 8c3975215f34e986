// resolve/cidr.ts: unions of sets that lie apart (concatenated, not merged) and toCidrsApart (their printed lists
// put together) give exactly what the merge and toCidrs give.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import { canonicalCidr, canonicalSetOf, fromCidrs, toCidrs, toCidrsApart, union } from '../compiler/resolve/cidr';

// small blocks in a few /16s of both families, so sets often lie apart, and sometimes touch or overlap
const v4 = fc.tuple(fc.constantFrom(0, 1, 2), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 29, max: 32 }))
  .map(([net, b, len]) => canonicalCidr(`10.${net}.0.${b * 4}/${len}`));
const v6 = fc.tuple(fc.constantFrom(0, 1), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 126, max: 128 }))
  .map(([net, b, len]) => canonicalCidr(`fd0${net}::${(b * 4).toString(16)}/${len}`));
const set = fc.array(fc.oneof(v4, v6), { maxLength: 4 }).map(fromCidrs);

describe('CIDR sets apart', () => {
  it('union and toCidrsApart give what merging and printing give (fast-check)', () => {
    let apart = 0;
    fc.assert(
      fc.property(fc.array(set, { minLength: 1, maxLength: 4 }), (sets) => {
        const u = union(...sets);
        const want = toCidrs(u);
        // the union is the merge's: its list and its set as the merge of the sets' prefixes
        assert.deepEqual(want, toCidrs(fromCidrs(sets.flatMap(toCidrs))));
        const got = toCidrsApart(u, sets.map(toCidrs));
        if (got) {
          apart++;
          assert.deepEqual(got, want);
          assert.equal(canonicalSetOf(got), u, 'the list remembers its set, as toCidrs lists do');
        }
      }),
      { numRuns: 1000 },
    );
    assert.ok(apart > 100, `sets apart in ${apart} of 1000 runs`);
  });

  it('pods and an ipBlock elsewhere: put together; touching or interleaved: undefined', () => {
    const pods = fromCidrs(['10.64.0.1/32', '10.64.0.3/32', 'fd00::1/128']);
    const block = fromCidrs(['172.16.0.0/24']);
    const u = union(pods, block);
    assert.deepEqual(toCidrsApart(u, [toCidrs(pods), toCidrs(block)]), ['10.64.0.1/32', '10.64.0.3/32', '172.16.0.0/24', 'fd00::1/128']);
    assert.deepEqual(toCidrsApart(u, [toCidrs(block), toCidrs(pods)]), toCidrs(u));
    const next = fromCidrs(['10.64.0.4/32']);
    assert.equal(toCidrsApart(union(pods, next), [toCidrs(pods), toCidrs(next)]), undefined, 'touching: 10.64.0.3 and .4');
    const between = fromCidrs(['10.64.0.2/32']);
    assert.equal(toCidrsApart(union(pods, between), [toCidrs(pods), toCidrs(between)]), undefined, 'interleaved');
    assert.equal(toCidrsApart(u, [[...toCidrs(pods)], toCidrs(block)]), undefined, 'a list toCidrs did not print');
    assert.equal(toCidrsApart(union(u, fromCidrs(['192.0.2.0/24'])), [toCidrs(pods), toCidrs(block)]), undefined, 'not their union');
  });
});
