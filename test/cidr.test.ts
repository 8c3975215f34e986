import { strict as assert } from 'assert';
import fc from 'fast-check';
import {
  canonicalCidr, containsAddr, difference, fromCidrs, intersect, isSubset, mergeCidrs, toCidrs, union, parsePrefix, size, UNIVERSE,
} from '../compiler/resolve/cidr';
import { intersectPorts, normalizePorts, portIn, subtractPorts, unionPorts } from '../compiler/resolve/ports';

// a membership test by definition, independent of the interval code: compare the leading bits
function inByDefinition(addr: string, cidr: string): boolean {
  const a = parsePrefix(addr);
  const p = parsePrefix(cidr);
  if (a.family !== p.family) return false;
  const w = a.family === 4 ? 32 : 128;
  return a.addr >> BigInt(w - p.len) === p.addr >> BigInt(w - p.len);
}

const v4cidr = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 20, max: 32 }))
  .map(([a, b, len]) => canonicalCidr(`10.0.${a}.${b}/${len}`));
const v6cidr = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 112, max: 128 }))
  .map(([a, len]) => canonicalCidr(`fd00::${a.toString(16)}/${len}`));
const cidr = fc.oneof(v4cidr, v6cidr);
const addr = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map(([a, b]) => `10.0.${a}.${b}`),
  fc.integer({ min: 0, max: 0xffff }).map((a) => `fd00::${a.toString(16)}`),
);

describe('CIDR algebra', () => {
  it('canonicalises: host bits cleared, IPv6 compressed lower-case, bare address = host prefix', () => {
    assert.equal(canonicalCidr('10.1.2.3/8'), '10.0.0.0/8');
    assert.equal(canonicalCidr('2001:DB8:0:0:0:0:0:1/64'), '2001:db8::/64');
    assert.equal(canonicalCidr('192.168.1.7'), '192.168.1.7/32');
    assert.equal(canonicalCidr('::1'), '::1/128');
    assert.equal(canonicalCidr('0.0.0.0/0'), '0.0.0.0/0');
  });

  it('merges adjacent and contained prefixes into the minimal list', () => {
    assert.deepEqual(mergeCidrs(['10.0.0.0/25', '10.0.0.128/25']), ['10.0.0.0/24']);
    assert.deepEqual(mergeCidrs(['10.0.0.0/8', '10.1.0.0/16', '192.168.0.0/24']), ['10.0.0.0/8', '192.168.0.0/24']);
    assert.deepEqual(mergeCidrs(['fd00::/65', 'fd00:0:0:0:8000::/65', '10.0.0.1/32']), ['10.0.0.1/32', 'fd00::/64']);
  });

  it('difference of ipBlock cidr minus except gives the exact prefix cover', () => {
    assert.deepEqual(toCidrs(difference(fromCidrs(['10.0.0.0/24']), fromCidrs(['10.0.0.0/26']))), ['10.0.0.64/26', '10.0.0.128/25']);
    assert.deepEqual(toCidrs(difference(fromCidrs(['0.0.0.0/0']), fromCidrs(['128.0.0.0/1']))), ['0.0.0.0/1']);
    const everyV6ButOne = difference(fromCidrs(['::/0']), fromCidrs(['fd00::1/128']));
    assert.equal(toCidrs(everyV6ButOne).length, 128);
    assert.equal(containsAddr(everyV6ButOne, 'fd00::1'), false);
    assert.equal(containsAddr(everyV6ButOne, 'fd00::2'), true);
    assert.equal(containsAddr(everyV6ButOne, '10.0.0.1'), false);
  });

  it('families never mix', () => {
    const s = fromCidrs(['0.0.0.0/0']);
    assert.equal(containsAddr(s, '::'), false);
    assert.equal(size(UNIVERSE, 4), 1n << 32n);
    assert.deepEqual(toCidrs(intersect(fromCidrs(['0.0.0.0/0']), fromCidrs(['::/0']))), []);
  });

  it('union / intersection / difference agree with membership by definition (property)', () => {
    fc.assert(
      fc.property(fc.array(cidr, { maxLength: 5 }), fc.array(cidr, { maxLength: 5 }), fc.array(addr, { minLength: 1, maxLength: 20 }), (a, b, addrs) => {
        const A = fromCidrs(a);
        const B = fromCidrs(b);
        const inA = (x: string): boolean => a.some((c) => inByDefinition(x, c));
        const inB = (x: string): boolean => b.some((c) => inByDefinition(x, c));
        const U = union(A, B);
        const I = intersect(A, B);
        const D = difference(A, B);
        const cover = toCidrs(D);
        for (const x of [...addrs, ...a.map((c) => c.split('/')[0]), ...b.map((c) => c.split('/')[0])]) {
          assert.equal(containsAddr(U, x), inA(x) || inB(x), `union ${x}`);
          assert.equal(containsAddr(I, x), inA(x) && inB(x), `intersect ${x}`);
          assert.equal(containsAddr(D, x), inA(x) && !inB(x), `difference ${x}`);
          assert.equal(cover.some((c) => inByDefinition(x, c)), inA(x) && !inB(x), `prefix cover ${x}`);
        }
        assert.ok(isSubset(I, A) && isSubset(D, A) && isSubset(A, U));
        // the prefix cover is exact and canonical: re-reading it gives the same set and the same list
        assert.deepEqual(toCidrs(fromCidrs(cover)), cover);
        // no two prefixes of the cover could be merged into one (minimality of each aligned block)
        for (let i = 0; i + 1 < cover.length; i++) assert.notDeepEqual(mergeCidrs([cover[i], cover[i + 1]]).length, 1, `${cover[i]} + ${cover[i + 1]}`);
      }),
      { numRuns: 300 },
    );
  });
});

describe('port-range algebra', () => {
  it('normalises, unions, intersects and subtracts', () => {
    assert.deepEqual(normalizePorts([{ from: 80, to: 80 }, { from: 81, to: 90 }, { from: 85, to: 86 }]), [{ from: 80, to: 90 }]);
    assert.deepEqual(unionPorts([{ from: 1, to: 2 }], [{ from: 4, to: 5 }]), [{ from: 1, to: 2 }, { from: 4, to: 5 }]);
    assert.deepEqual(intersectPorts([{ from: 0, to: 100 }], [{ from: 50, to: 200 }]), [{ from: 50, to: 100 }]);
    assert.deepEqual(subtractPorts([{ from: 0, to: 65535 }], [{ from: 80, to: 80 }]), [{ from: 0, to: 79 }, { from: 81, to: 65535 }]);
  });

  it('agrees with membership by definition (property)', () => {
    const range = fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 30 })).map(([f, n]) => ({ from: f, to: f + n }));
    fc.assert(
      fc.property(fc.array(range, { maxLength: 4 }), fc.array(range, { maxLength: 4 }), fc.integer({ min: 0, max: 340 }), (a, b, p) => {
        assert.equal(portIn(p, subtractPorts(a, b)), portIn(p, a) && !portIn(p, b));
        assert.equal(portIn(p, intersectPorts(a, b)), portIn(p, a) && portIn(p, b));
        assert.equal(portIn(p, unionPorts(a, b)), portIn(p, a) || portIn(p, b));
      }),
      { numRuns: 500 },
    );
  });
});
