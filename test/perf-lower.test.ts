// Correctness of the fast paths of lowering and optimizing (no timing here: bench/drivers/lower.ts times them).
//   - golden Programs: examples/multi-tenant and a generated multi-tenant cluster (every policy shape the
//     benchmark uses: namespaceSelector, ipBlock with except, named ports both ways, Calico nets/notNets/notSelector,
//     tiers, ANP, BANP) lower and optimise to exactly the JSON recorded under test/golden/ir/ (recorded before the
//     speed work, so memoised and indexed lowering must give the same bytes); TOLLGATE_UPDATE_GOLDEN=1 rewrites them.
//   - on the generated cluster, optimised and unoptimised Programs give the same verdict and deciding rule on
//     random packets between its pods and to outside addresses.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadModel } from '../compiler/pipeline';
import { lowerModel } from '../compiler/ir/lower';
import { optimize } from '../compiler/optimize';
import { evaluate } from '../compiler/ir/evaluate';
import { Diagnostics } from '../compiler/model/diagnostics';
import type { Packet, Program } from '../compiler/ir/types';
import { multiTenantManifests } from '../bench/drivers/lower';
import { normalizePorts, portsSubset, subtractPorts } from '../compiler/resolve/ports';
import { canonicalSetOf, containsAddr, difference, formatPrefix, fromAddrs, fromCidrs, intersect, isEmpty, isSubset, toCidrs, toPrefixes, union, type IpSet } from '../compiler/resolve/cidr';

const ROOT = path.join(__dirname, '..');
const GOLDEN = path.join(__dirname, 'golden', 'ir');

function lowerFiles(inputs: string[]): Program {
  return lowerModel(loadModel(inputs).model, new Diagnostics());
}

/** JSON with the input location made independent of where the checkout or temp file is. */
function portable(p: Program, base: string, as: string): string {
  return `${JSON.stringify(p, null, 1).split(base).join(as)}\n`;
}

function checkGolden(name: string, text: string): void {
  const file = path.join(GOLDEN, name);
  if (process.env.TOLLGATE_UPDATE_GOLDEN === '1' || !fs.existsSync(file)) fs.writeFileSync(file, text);
  assert.ok(fs.readFileSync(file, 'utf8') === text, `${name} differs from the golden Program (TOLLGATE_UPDATE_GOLDEN=1 to rewrite after a reviewed change)`);
}

/** xorshift32: repeatable random numbers */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

describe('lowering and optimizing at scale: same Program, same verdicts', function () {
  this.timeout(120_000);
  let dir = '';
  let file = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-perf-lower-'));
    file = path.join(dir, 'cluster.yaml');
    fs.writeFileSync(file, multiTenantManifests({ pods: 48, policies: 96, namespaces: 8 }));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('examples/multi-tenant lowers and optimises to the golden Programs', () => {
    const p = lowerFiles([path.join(ROOT, 'examples', 'multi-tenant')]);
    checkGolden('multi-tenant.lowered.json', portable(p, ROOT, '<root>'));
    checkGolden('multi-tenant.optimized.json', portable(optimize(p), ROOT, '<root>'));
  });

  it('a generated multi-tenant cluster lowers and optimises to the golden Programs', () => {
    const p = lowerFiles([file]);
    assert.ok(p.endpoints.length === 48);
    checkGolden('generated.lowered.json', portable(p, dir, '<tmp>'));
    checkGolden('generated.optimized.json', portable(optimize(p), dir, '<tmp>'));
  });

  it('toCidrs (IPv4 in numbers) prints exactly the prefixes of toPrefixes (bigint) on random sets and edges', () => {
    const rand = rng(7);
    const int = (n: number) => Math.floor(rand() * n);
    const v4 = () => { const n = int(2 ** 32); return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${int(33)}`; };
    const near = () => `10.${int(2)}.${int(4)}.${int(256)}/${24 + int(9)}`;
    const v6 = () => `fd00::${int(65536).toString(16)}/${100 + int(29)}`;
    const sets = [['0.0.0.0/0'], ['255.255.255.255/32'], ['0.0.0.0/32'], ['128.0.0.0/1', '::/0'], ['0.0.0.1/32', '255.255.255.254/32']].map((c) => fromCidrs(c));
    for (let i = 0; i < 3000; i++) {
      const mk = () => fromCidrs(Array.from({ length: 1 + int(6) }, () => [v4, near, near, v6][int(4)]()));
      sets.push(rand() < 0.5 ? union(mk(), mk()) : difference(mk(), mk()));
    }
    let prefixes = 0;
    for (const s of sets) {
      const want = toPrefixes(s).map(formatPrefix);
      assert.deepEqual(toCidrs(s), want);
      prefixes += want.length;
    }
    assert.ok(prefixes > 10_000);
  });

  it('union by merging (shared intervals), intersect and difference: normal form and membership by definition, inputs untouched; isSubset agrees with difference', () => {
    const rand = rng(13);
    const int = (n: number) => Math.floor(rand() * n);
    // dense, so that intervals of different sets overlap, touch and nest
    const cidr = () => [() => `10.0.${int(4)}.${int(256)}/${26 + int(7)}`, () => `fd00::${int(512).toString(16)}/${120 + int(9)}`, () => ['0.0.0.0/0', '10.0.0.0/22', '::/0'][int(3)]][int(rand() < 0.97 ? 2 : 3)]();
    const texts = (s: IpSet) => toPrefixes(s).map(formatPrefix);
    /** sorted, disjoint, not touching: the one form of a set (checked here apart from the code that makes it) */
    const assertNormal = (s: IpSet) => {
      for (const l of [s.v4, s.v6]) for (let i = 0; i < l.length; i++) assert.ok(l[i][0] <= l[i][1] && (i === 0 || l[i][0] > l[i - 1][1] + 1n), 'not normal');
    };
    /** every interval edge of the inputs and outputs and the addresses next to them */
    const probes = (sets: IpSet[]): string[] => {
      const out: string[] = [];
      for (const [f, key, max] of [[4, 'v4', (1n << 32n) - 1n], [6, 'v6', (1n << 128n) - 1n]] as const) {
        for (const s of sets) for (const [lo, hi] of s[key]) for (const v of [lo - 1n, lo, hi, hi + 1n]) if (v >= 0n && v <= max) out.push(formatPrefix({ family: f, addr: v, len: f === 4 ? 32 : 128 }).split('/')[0]);
      }
      return out;
    };
    let intervals = 0;
    let subsets = 0;
    for (let i = 0; i < 1500; i++) {
      const sets = Array.from({ length: 1 + int(12) }, () => fromCidrs(Array.from({ length: int(40) }, cidr)));
      const before = sets.map(texts);
      const [a, b] = [sets[0], sets[sets.length - 1]];
      const u = union(...sets);
      const both = intersect(a, b);
      const diff = difference(a, b);
      for (const s of [u, both, diff]) assertNormal(s);
      for (const x of probes([...sets, u, both, diff])) {
        assert.equal(containsAddr(u, x), sets.some((s) => containsAddr(s, x)), `union at ${x}`);
        assert.equal(containsAddr(both, x), containsAddr(a, x) && containsAddr(b, x), `intersect at ${x}`);
        assert.equal(containsAddr(diff, x), containsAddr(a, x) && !containsAddr(b, x), `difference at ${x}`);
      }
      for (const [x, y] of [[a, u], [both, a], [diff, a], [a, b], [b, a], [u, a], [diff, b], [both, diff]]) {
        assert.equal(isSubset(x, y), isEmpty(difference(x, y)), `isSubset ${texts(x).join(' ')} of ${texts(y).join(' ')}`);
        if (isSubset(x, y)) subsets++;
      }
      assert.deepEqual(sets.map(texts), before, 'an input set changed');
      intervals += u.v4.length + u.v6.length;
    }
    assert.ok(intervals > 10_000);
    assert.ok(subsets > 4500 && subsets < 11_000, String(subsets));
  });

  it('portsSubset (one pass over normal lists) agrees with subtracting, on normal and unsorted lists', () => {
    const rand = rng(17);
    const int = (n: number) => Math.floor(rand() * n);
    const list = () => Array.from({ length: int(5) }, () => { const from = [0, 79, 80, 81, 443, 1000 + int(20), 65535][int(7)]; return { from, to: Math.min(65535, from + [0, 0, 1, 2, 20, 70000][int(6)]) }; });
    let yes = 0;
    for (let i = 0; i < 20000; i++) {
      const [a, b] = [list(), list()];
      for (const [x, y] of [[a, b], [normalizePorts(a), normalizePorts(b)]]) {
        const want = subtractPorts(x, y).length === 0;
        assert.equal(portsSubset(x, y), want, JSON.stringify([x, y]));
        if (want) yes++;
      }
    }
    assert.ok(yes > 2000 && yes < 38000, String(yes));
  });

  it('a list printed by toCidrs names the set it was printed from; other lists name none', () => {
    const s = fromCidrs(['10.0.0.0/24', '10.0.1.0/24', 'fd00::/64', '10.9.9.9']);
    const list = toCidrs(s);
    assert.equal(canonicalSetOf(list), s);
    assert.deepEqual(fromCidrs(list), s);
    assert.equal(canonicalSetOf([...list]), undefined);
  });

  it('fromAddrs (IPv4 sorted as numbers) gives the sets fromCidrs gives for the same addresses', () => {
    const rand = rng(11);
    const int = (n: number) => Math.floor(rand() * n);
    const addr = () =>
      [() => `10.0.${int(3)}.${int(256)}`, () => `${int(256)}.${int(256)}.${int(256)}.${int(256)}`, () => `fd00::${int(300).toString(16)}`, () => ['0.0.0.0', '255.255.255.255', '0.0.0.1', '255.255.255.254'][int(4)]][int(4)]();
    let intervals = 0;
    for (let i = 0; i < 800; i++) {
      const addrs = Array.from({ length: int(200) }, addr);
      const got = fromAddrs(addrs);
      assert.deepEqual(got, fromCidrs(addrs), addrs.join(' '));
      intervals += got.v4.length;
    }
    assert.ok(intervals > 20_000);
  });

  it('optimised and unoptimised Programs decide random packets alike, by the same rule', () => {
    const raw = lowerFiles([file]);
    const opt = optimize(raw);
    const rand = rng(20261129);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const outside = ['172.16.0.9', '172.17.3.1', '192.168.1.200', '192.168.1.5', '169.254.169.254', '8.8.8.8', '2001:db8:3::1', '2001:db8:ffff::1', '10.64.0.7'];
    const protos = [6, 17, 132, 1];
    const ports = [53, 55, 443, 1001, 2003, 5353, 5432, 8080, 8081, 8082, 9005, 9100];
    let compared = 0;
    for (let i = 0; i < 4000; i++) {
      const k = Math.floor(rand() * raw.endpoints.length);
      const [a, b] = [raw.endpoints[k], opt.endpoints[k]];
      const local = pick(a.ips);
      const fam6 = local.includes(':');
      const peers = [...raw.endpoints.flatMap((e) => e.ips), ...outside].filter((ip) => ip.includes(':') === fam6);
      const peer = pick(peers);
      const proto = pick(protos) === 1 && fam6 ? 58 : pick(protos);
      const l4 = proto === 1 || proto === 58 ? { icmpType: 8, icmpCode: 0 } : { sport: 40000 + (i % 7), dport: pick(ports) };
      for (const dir of ['ingress', 'egress'] as const) {
        const pkt: Packet = dir === 'ingress' ? { src: peer, dst: local, proto, ...l4 } : { src: local, dst: peer, proto, ...l4 };
        const x = evaluate(a, dir, pkt);
        const y = evaluate(b, dir, pkt);
        assert.deepEqual([y.allowed, y.ruleId, y.tier], [x.allowed, x.ruleId, x.tier], `${a.id} ${dir} ${JSON.stringify(pkt)}`);
        compared++;
      }
    }
    assert.ok(compared === 8000);
  });
});
