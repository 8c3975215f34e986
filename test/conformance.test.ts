// Conformance: upstream semantics as data (test/conformance/<suite>/<case>.yaml), checked against an engine.
//   kubernetes/kubernetes test/e2e/network/netpol truth tables (k8s-netpol/),
//   kubernetes-sigs/network-policy-api conformance scenarios (admin-network-policy/),
//   Calico v3 policy semantics (calico/).
// TOLLGATE_ENGINE=ir|bpf|netns picks the engine (default ir). Each case: every pod probes every other pod for each
// expected PORT/PROTO and IP family; the verdicts must equal the truth table, and every verdict must be the AND of
// the source's egress and the destination's ingress.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compare, discoverCases, formatFailures, loadCase, pairKey, parseProbe, renderGrid, CaseError, type ConformanceCase } from './conformance/cases';
import { engineFromEnv, runCase } from './conformance/run';

const files = discoverCases();
const engine = engineFromEnv();
// TOLLGATE_CONFORMANCE_VIA=cli checks the `tollgate matrix --output json` contract instead of the library.
const via = process.env.TOLLGATE_CONFORMANCE_VIA === 'cli' ? 'cli' : process.env.TOLLGATE_CONFORMANCE_VIA === 'library' ? 'library' : 'auto';

// Loaded up front so a malformed case is one clear failure, not a crash of the whole file.
const loaded: { file: string; c?: ConformanceCase; error?: string }[] = files.map((file) => {
  try {
    return { file, c: loadCase(file) };
  } catch (err) {
    return { file, error: (err as Error).message };
  }
});

describe('conformance data', () => {
  it('has cases in every suite', () => {
    const suites = new Map<string, number>();
    for (const f of files) suites.set(path.basename(path.dirname(f)), (suites.get(path.basename(path.dirname(f))) ?? 0) + 1);
    for (const s of ['k8s-netpol', 'admin-network-policy', 'calico']) assert.ok((suites.get(s) ?? 0) > 0, `no cases in test/conformance/${s}`);
  });

  for (const l of loaded) {
    it(`${path.relative(path.join(__dirname, 'conformance'), l.file)} is a well-formed case`, () => {
      if (l.error) assert.fail(l.error);
      const c = l.c as ConformanceCase;
      assert.strictEqual(`${c.name}.yaml`, path.basename(c.file), 'metadata.name of the ConformanceCase must match the file name');
      const text = fs.readFileSync(c.file, 'utf8');
      assert.ok(/^# \S/.test(text), 'the file must open with a comment naming the case');
      assert.ok(/^# .*Upstream:/m.test(text), 'the header must cite its upstream source ("Upstream: ...")');
      // Every expectation covers every ordered pair of distinct pods.
      const n = c.pods.length;
      for (const e of c.expectations) assert.strictEqual(e.table.size, n * (n - 1));
    });
  }

  // The expectation language itself, so the checks above cannot pass vacuously.
  it('reads patterns, defaults and exception order', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-conf-'));
    try {
      const pod = (ns: string, name: string): string => `apiVersion: v1\nkind: Pod\nmetadata: {namespace: ${ns}, name: ${name}}\n`;
      const file = path.join(dir, 't.yaml');
      fs.writeFileSync(file, ['# t\n' + pod('x', 'a'), pod('x', 'b'), pod('y', 'a'),
        'apiVersion: tollgate.dev/test\nkind: ConformanceCase\nmetadata: {name: t}\nexpect:\n- probe: 80/TCP\n  deny: ["*/* -> x/a"]\n  allow: ["x/b -> x/a"]\n- probe: 81/UDP\n  family: 6\n  default: deny\n  allow: ["x/* -> */*"]\n  deny: ["*/* -> y/a"]\n'].join('---\n'));
      const c = loadCase(file);
      assert.deepStrictEqual(c.pods, ['x/a', 'x/b', 'y/a']);
      assert.strictEqual(c.expectations.length, 3); // 80/TCP for 4 and 6, 81/UDP for 6
      const t = c.expectations[0].table;
      assert.strictEqual(t.get(pairKey('x/b', 'x/a')), 'allow');
      assert.strictEqual(t.get(pairKey('y/a', 'x/a')), 'deny');
      assert.strictEqual(t.get(pairKey('x/a', 'y/a')), 'allow');
      const u = c.expectations[2].table;
      assert.strictEqual(c.expectations[2].family, 6);
      assert.strictEqual(u.get(pairKey('x/a', 'x/b')), 'allow');
      assert.strictEqual(u.get(pairKey('x/a', 'y/a')), 'deny');
      assert.strictEqual(u.get(pairKey('y/a', 'x/a')), 'deny');
      // A mismatch and an egress/ingress inconsistency are both reported, in a grid.
      const results = [...t.keys()].map((k) => {
        const [from, to] = k.split(' -> ');
        const allowed = k === pairKey('y/a', 'x/a') ? true : t.get(k) === 'allow';
        return { from, to, port: 80, protocol: 'TCP', allowed, egress: { allowed: true, decidedBy: 'e' }, ingress: { allowed: k !== pairKey('x/a', 'x/b'), decidedBy: 'i' } };
      });
      const cmp = compare(c, c.expectations[0], results);
      assert.deepStrictEqual(cmp.mismatches.map((m) => `${m.pair} ${m.expected} ${m.got}`), ['y/a -> x/a deny allow']);
      assert.strictEqual(cmp.inconsistent.length, 1);
      assert.match(cmp.inconsistent[0], /^x\/a -> x\/b: allowed=true but egress allowed by e; ingress denied by i/);
      assert.match(cmp.grid, /y\/a +A/);
      // Typos in patterns are errors, not silently empty.
      fs.writeFileSync(file, ['# t\n' + pod('x', 'a'), pod('x', 'b'), 'apiVersion: tollgate.dev/test\nkind: ConformanceCase\nmetadata: {name: t}\nexpect:\n- probe: 80/TCP\n  deny: ["q/* -> x/a"]\n'].join('---\n'));
      assert.throws(() => loadCase(file), (e: Error) => e instanceof CaseError && /no pod matches q\/\*/.test(e.message));
      assert.throws(() => parseProbe('80/ICMP', 'p'), /TCP, UDP or SCTP/);
      assert.deepStrictEqual(parseProbe('ICMP', 'p'), { port: 0, protocol: 'ICMP' });
      assert.match(renderGrid(['x/a', 'x/b'], new Map([[pairKey('x/a', 'x/b'), 'X']])), /x\/a +- +X/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe(`conformance (engine ${engine})`, function () {
  this.timeout(engine === 'ir' ? 60_000 : 600_000);
  it('catches a wrong truth table (the comparison is not vacuous)', async () => {
    const l = loaded.find((x) => x.c?.suite === 'k8s-netpol' && x.c.name === 'default-deny-ingress');
    assert.ok(l?.c, 'k8s-netpol/default-deny-ingress.yaml is missing');
    const c = l.c;
    const { results } = await runCase(c, engine, via);
    const e = c.expectations[0];
    const flipped = { ...e, table: new Map([...e.table].map(([k, v]) => [k, v === 'allow' ? 'deny' : 'allow'] as [string, 'allow' | 'deny'])) };
    const cmp = compare(c, flipped, results.get(e.family) ?? []);
    assert.strictEqual(cmp.mismatches.length, e.table.size);
    assert.match(formatFailures(c, [cmp]), /A = allowed but expected denied/);
  });

  const suites = [...new Set(loaded.filter((l) => l.c).map((l) => (l.c as ConformanceCase).suite))];
  for (const suite of suites) {
    describe(suite, () => {
      for (const l of loaded) {
        const c = l.c;
        if (!c || c.suite !== suite) continue;
        it(`${c.name}: ${c.title}`, async () => {
          const { results } = await runCase(c, engine, via);
          const comps = c.expectations.map((e) => compare(c, e, results.get(e.family) ?? []));
          const bad = comps.filter((x) => x.mismatches.length > 0 || x.inconsistent.length > 0);
          if (bad.length > 0) assert.fail(formatFailures(c, comps));
        });
      }
    });
  }
});
