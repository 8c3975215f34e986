// Class ids of a dimension are found through a 64-bit hash of the class's rule set. Two different sets that hash
// alike must still get two classes (a shared class would give one of them the other's verdict): forced here
// with injected tag generators whose hashes collide often or always.
import { strict as assert } from 'assert';
import * as fc from 'fast-check';
import { computeClasses, type DimClasses, type DimRule } from '../compiler/emit/bpf/classes';
import { buildTables } from '../compiler/emit/bpf/tables';
import { PORT_WIDTH, type Prefix } from '../compiler/emit/bpf/prefix';
import { endpoint, program, rule, tier } from './bpf-fixtures';

/** Every tag 0: every rule set hashes to 0:0, the hash of the empty set (class 0). */
const zeroTags = (n: number): Uint32Array => new Uint32Array(n * 2);
/** One bit per rule, by parity: sets collide whenever they hold as many odd and as many even rules, mod 2. */
const parityTags = (n: number): Uint32Array => Uint32Array.from({ length: n * 2 }, (_, i) => (i >> 1) & 1);

/** The rule set of every class, as sorted lists (class 0 included, empty when no constrained rule matches it). */
function setsOf(d: DimClasses): string[] {
  const sets: number[][] = Array.from({ length: d.count }, () => []);
  for (const [r, cs] of d.classesOf) for (const c of cs) sets[c].push(r);
  return sets.map((s) => s.sort((a, b) => a - b).join(','));
}

/** The classes as the datapath sees them: each trie entry with the rule set of its class. */
function entriesOf(d: DimClasses): string[] {
  const sets = setsOf(d);
  return d.entries.map((e) => `${e.p.v}/${e.p.len} -> {${sets[e.cls]}}`);
}

const port = (from: number, to: number): Prefix[] => {
  const out: Prefix[] = [];
  for (let v = from; v <= to; v++) out.push({ v: (6n << 16n) | BigInt(v), len: PORT_WIDTH });
  return out;
};

describe('bpf classes: hash collisions of rule sets', () => {
  // rule 0: ports 1-3, rule 1: port 2, rule 2: port 3 minus nothing, rule 3: everything but port 1
  const rules: DimRule[] = [
    { rule: 0, pos: port(1, 3), neg: [] },
    { rule: 1, pos: port(2, 2), neg: [] },
    { rule: 2, pos: port(3, 3), neg: [] },
    { rule: 3, pos: 'all', neg: port(1, 1) },
  ];

  it('colliding hashes still give one class per distinct rule set (all sets collide)', () => {
    const good = computeClasses(PORT_WIDTH, rules, 4);
    const bad = computeClasses(PORT_WIDTH, rules, 4, { tags: zeroTags });
    assert.equal(good.count, 5, 'regions: rest {3}, port 1 {0}, port 2 {0,1,3}, port 3 {0,2,3}, and class 0');
    assert.equal(bad.count, good.count);
    assert.deepEqual(entriesOf(bad), entriesOf(good));
    assert.equal(new Set(setsOf(bad)).size, bad.count, 'no two classes share a rule set');
    assert.equal(setsOf(bad)[0], '', 'class 0 is the empty set');
  });

  it('random rule sets: the classes do not depend on the hash (fast-check, parity and zero tags)', () => {
    const prefix = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 8 })).map(([v, len]): Prefix => ({ v: BigInt(v >> (8 - len) << (8 - len)), len }));
    const dim = fc.array(fc.record({ pos: fc.oneof(fc.constant<'all'>('all'), fc.array(prefix, { minLength: 1, maxLength: 3 })), neg: fc.array(prefix, { maxLength: 2 }) }), { minLength: 1, maxLength: 12 });
    fc.assert(fc.property(dim, (rs) => {
      const rules8: DimRule[] = rs.map((r, i) => ({ rule: i, ...r }));
      const good = computeClasses(8, rules8, rules8.length);
      for (const tags of [zeroTags, parityTags]) {
        const other = computeClasses(8, rules8, rules8.length, { tags });
        assert.equal(other.count, good.count);
        assert.deepEqual(entriesOf(other), entriesOf(good));
        assert.equal(new Set(setsOf(other)).size, other.count);
      }
    }), { numRuns: 300 });
  });

  it('buildTables with colliding hashes emits the same classes and decisions', () => {
    const p = program(endpoint('ns/web', ['10.0.0.1', 'fd00::1'], [
      tier('t', [
        rule('deny-9', 'Deny', { peer: ['10.9.0.0/16'] }),
        rule('allow-80', 'Allow', { peer: ['10.0.0.0/8', 'fd00::/16'], notPeer: ['10.7.0.0/16'], proto: 6, dports: [{ from: 80, to: 80 }, { from: 8000, to: 8080 }] }),
        rule('allow-dns', 'Allow', { proto: 17, dports: [{ from: 53, to: 53 }], sports: [{ from: 1024, to: 65535 }] }),
        rule('deny-7-udp', 'Deny', { peer: ['10.7.0.0/16'], proto: 17 }),
      ], 'Deny'),
    ]));
    const good = buildTables(p);
    const bad = buildTables(p, { classTags: zeroTags });
    assert.ok(good.decisions.length > 0 && good.peer4.length > 1 && good.ports.length > 1);
    assert.deepEqual(bad, good);
  });
});

describe('bpf classes: peer lists given as CIDR texts', () => {
  // Texts with host bits set (two texts, one prefix), duplicates, the other family, and lists shared by rules.
  const TEXTS = ['10.0.0.0/8', '10.1.2.3/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.3/32', '10.1.2.3/32', '10.9.0.1/32', '0.0.0.0/0', 'fd00::/64', 'fd00::1/128'];
  const v4 = (t: string): boolean => !t.includes(':');
  const spec = fc.array(
    fc.record({ texts: fc.array(fc.constantFrom(...TEXTS), { minLength: 1, maxLength: 5 }), neg: fc.array(fc.constantFrom(...TEXTS.filter(v4)), { maxLength: 2 }), share: fc.boolean() }),
    { minLength: 1, maxLength: 10 },
  );

  it('give the classes and entries their prefixes give, call after call (fast-check)', () => {
    fc.assert(fc.property(spec, spec, (a, b) => {
      const build = (s: typeof a): { text: DimRule[]; prefixes: DimRule[] } => {
        const text: DimRule[] = [];
        const prefixes: DimRule[] = [];
        let last: string[] | undefined;
        s.forEach((r, i) => {
          // the same array object as the rule before: one unit when neither has negatives
          const list = r.share && last ? last : [...r.texts];
          last = list;
          const neg = r.neg.map(parseV4);
          text.push({ rule: i, pos: [], neg, cidrs: list });
          prefixes.push({ rule: i, pos: list.filter(v4).map(parseV4), neg });
        });
        return { text, prefixes };
      };
      for (const s of [a, b, a]) {
        const { text, prefixes } = build(s);
        const got = computeClasses(32, text, s.length);
        const want = computeClasses(32, prefixes, s.length);
        assert.equal(got.count, want.count);
        assert.deepEqual(entriesOf(got), entriesOf(want));
        assert.deepEqual(setsOf(got), setsOf(want));
      }
    }), { numRuns: 300 });
  });
});

/** A fresh Prefix for an IPv4 CIDR text (not the parser's cached object), host bits cleared. */
function parseV4(t: string): Prefix {
  const [addr, len] = t.split('/');
  const v = addr.split('.').reduce((n, x) => (n << 8n) | BigInt(x), 0n);
  const host = 32n - BigInt(len);
  return { v: (v >> host) << host, len: Number(len) };
}

describe('bpf classes: node order', () => {
  // A call's nodes are put in address order (shorter first) by a numeric sort of one key per node when there
  // are at most 2^15 of them, by a comparator past that: both give the entries in address order.
  for (const n of [1000, 40000]) {
    it(`${n} prefixes given out of order: entries in address order, each /24 before the /32s inside it`, () => {
      const prefixes: Prefix[] = [];
      // /32s 37 addresses apart, met out of address order (7919 is prime to n), then every /24 holding one of them
      for (let i = 0; i < n; i++) prefixes.push({ v: BigInt(0x0a000000 + ((i * 7919) % n) * 37), len: 32 });
      const nets = [...new Set(prefixes.map((p) => p.v >> 8n))].map((v) => ({ v: v << 8n, len: 24 }));
      const d = computeClasses(32, [{ rule: 0, pos: prefixes, neg: [] }, { rule: 1, pos: nets, neg: [] }], 2);
      const order = d.entries.map((e) => [e.p.v, e.p.len] as const);
      const sorted = [...order].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
      assert.deepEqual(order, sorted);
      // every /24 (class {1}) and every /32 (class {0,1}) is an entry
      assert.equal(d.entries.length, prefixes.length + nets.length);
    });
  }
});
