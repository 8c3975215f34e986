// The benchmark's own logic: the synthetic generator, how samples reduce to figures and ratios (and when a ratio
// is null, with what reason), and the report writer (log axes, tables).
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MAX_RULES, TCP_PORT, peerOf, portOf, setMembers, syntheticManifests, syntheticProgram, trafficPositions } from '../bench/generate';
import { emptyResult, reduce, type BenchResult, type FloodRow } from '../bench/run';
import { QUICK } from '../bench/trials';
import { harmonicMean, median } from '../bench/stats';
import { ceiling, compileTarget, lineChart, percentOfTarget, tcpStalls, updateMissed, whyMissed, writeReport } from '../bench/report';
import { emitIptables, emitNftables } from '../compiler/emit/iptables';
import { compile } from '../compiler/pipeline';
import { medianSample, stagedCompile } from '../bench/drivers/compile';

describe('bench: synthetic generator', () => {
  it('makes N distinct peers and ports, then the TCP rule, then a Deny tier end', () => {
    const p = syntheticProgram({ rules: 1000, iface: 'tgbx', serverIp: '10.77.2.2' });
    const rules = p.endpoints[0].ingress.tiers[0].rules;
    assert.equal(rules.length, 1001);
    assert.equal(new Set(rules.slice(0, 1000).map((r) => r.match.peer?.[0])).size, 1000);
    assert.equal(new Set(rules.slice(0, 1000).map((r) => r.match.dports?.[0].from)).size, 1000);
    assert.deepEqual(rules[1000].match, { peer: ['10.77.1.0/24'], proto: 6, dports: [{ from: TCP_PORT, to: TCP_PORT }] });
    assert.equal(p.endpoints[0].ingress.tiers[0].end.action, 'Deny');
  });

  it('has distinct peers over the whole 64k range and never uses the TCP port for UDP rules', () => {
    const peers = new Set<string>();
    for (let i = 0; i < MAX_RULES; i++) {
      peers.add(peerOf(i));
      assert.notEqual(portOf(i), TCP_PORT);
    }
    assert.equal(peers.size, MAX_RULES);
    assert.equal(new Set(Array.from({ length: 60000 }, (_, i) => portOf(i))).size, 60000);
    assert.throws(() => peerOf(MAX_RULES), /outside/);
    assert.throws(() => syntheticProgram({ rules: 0, iface: 'x', serverIp: '10.0.0.1' }), /expected 1\.\.65536, found 0/);
  });

  it('spreads traffic positions evenly and names the last rule as the worst case', () => {
    assert.deepEqual(trafficPositions(10000, 4), { even: [1250, 3750, 6250, 8750], worst: 9999 });
    assert.deepEqual(trafficPositions(10, 2), { even: [2, 7], worst: 9 });
    assert.deepEqual(trafficPositions(1, 4), { even: [0], worst: 0 });
  });

  it('puts a CIDR set on rule 0 when asked: one ipset / nft set, one flat rule per member', () => {
    const p = syntheticProgram({ rules: 3, iface: 'tgbx', serverIp: '10.77.2.2', setSize: 500 });
    assert.equal(new Set(setMembers(500)).size, 500);
    const calico = emitIptables(p, { style: 'calico', prefix: 'TGB', comments: false });
    assert.equal(calico.sets.length, 1);
    assert.equal(calico.ipsets.split('\n').filter((l) => l.startsWith('add ')).length, 501);
    const flat = emitIptables(p, { style: 'flat', prefix: 'TGB', comments: false });
    assert.equal(flat.rules.split('\n').filter((l) => l.includes('--dport 1024 ')).length, 501);
    assert.equal(emitNftables(p, { comments: false }).sets.length, 1);
  });

  it('the compile driver times the pipeline stage by stage and gets what compile() gets', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tgb-compile-'));
    try {
      const file = path.join(dir, 'c.yaml');
      fs.writeFileSync(file, syntheticManifests({ policies: 40, pods: 60 }));
      const staged = stagedCompile([file]);
      assert.deepEqual(staged.program, compile([file]).program);
      assert.deepEqual(staged.program, compile([file]).program);
      for (const v of Object.values(staged.stages)) assert.ok(v > 0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes manifests with the requested numbers of pods and policies', () => {
    const y = syntheticManifests({ policies: 30, pods: 100 });
    assert.equal((y.match(/^kind: Pod$/gm) ?? []).length, 100);
    assert.equal((y.match(/^kind: NetworkPolicy$/gm) ?? []).length, 30);
    assert.equal((y.match(/^kind: Namespace$/gm) ?? []).length, 2);
  });
});

function sampleResult(withTollgate: boolean): BenchResult {
  const res = emptyResult({ ...QUICK, rules: [10, 10000], spread: 2 });
  const flood = (dataplane: FloodRow['dataplane'], rules: number, even: number[], worst: number): void => {
    even.forEach((pps, i) => res.flood.push({ dataplane, rules, ruleIndex: i, position: 'even', round: 0, pps, sentPps: pps }));
    res.flood.push({ dataplane, rules, ruleIndex: rules - 1, position: 'worst', round: 0, pps: worst, sentPps: worst });
  };
  flood('none', 0, [300000], 300000);
  flood('iptables-legacy', 10, [250000, 250000], 240000);
  flood('iptables-legacy', 10000, [60000, 20000], 15000);
  flood('ipset', 10, [240000, 240000], 240000);
  flood('ipset', 10000, [20000, 5000], 4000);
  if (withTollgate) {
    flood('tollgate', 10, [200000, 200000], 200000);
    flood('tollgate', 10000, [280000, 280000], 280000);
    res.testrun.samples = [
      { rules: 10, position: 'worst', newflowNs: 100, establishedNs: 50 },
      { rules: 10000, position: 'worst', newflowNs: 120, establishedNs: 50 },
    ];
  } else {
    res.skipped.tollgate = 'the hook is missing';
    res.testrun.samples = [{ rules: 10, position: 'worst', newflowNs: null, establishedNs: null, reason: 'the hook is missing' }];
  }
  reduce(res);
  return res;
}

describe('bench: stats', () => {
  it('median: the middle value, the mean of the two middle ones for an even count, NaN for none; input untouched', () => {
    const xs = [5, 1, 4, 2];
    assert.equal(median(xs), 3);
    assert.deepEqual(xs, [5, 1, 4, 2]);
    assert.equal(median([7, 1, 3]), 3);
    assert.ok(Number.isNaN(median([])));
  });

  it('harmonic mean of rates: the rate of the mean cost', () => {
    assert.equal(harmonicMean([100, 300]), 150); // costs 1/100 and 1/300: mean 1/150
  });
});

describe('bench: reducing samples to ratios', () => {
  it('uses the harmonic mean of the even positions (traffic spread evenly = mean cost per packet)', () => {
    const res = sampleResult(true);
    const f = res.figures.find((x) => x.dataplane === 'iptables-legacy' && x.rules === 10000);
    assert.equal(f?.evenPps, 30000); // 2 / (1/60000 + 1/20000)
    assert.equal(f?.worstPps, 15000);
  });

  it('takes the median over rounds per position before the harmonic mean; spread says how far rounds were apart', () => {
    const res = emptyResult({ ...QUICK, rules: [10], spread: 2 });
    const row = (ruleIndex: number, position: 'even' | 'worst', round: number, pps: number, wallPps: number): FloodRow =>
      ({ dataplane: 'nftables', rules: 10, ruleIndex, position, round, pps, wallPps, sentPps: wallPps });
    res.flood.push(row(2, 'even', 0, 100000, 50000), row(2, 'even', 1, 90000, 80000), row(2, 'even', 2, 300000, 20000));
    res.flood.push(row(7, 'even', 0, 50000, 40000), row(7, 'even', 1, 60000, 40000), row(7, 'even', 2, 40000, 40000));
    res.flood.push(row(9, 'worst', 0, 30000, 30000), row(9, 'worst', 1, 10000, 10000), row(9, 'worst', 2, 20000, 20000));
    reduce(res);
    const f = res.figures[0];
    assert.equal(f.evenPps, 2 / (1 / 100000 + 1 / 50000)); // medians 100k and 50k: the 300k outlier is ignored
    assert.equal(f.worstPps, 20000);
    assert.equal(f.evenWallPps, 2 / (1 / 50000 + 1 / 40000));
    assert.equal(f.spread, (300000 - 90000) / 100000);
  });

  it('computes the four ratios from the same run', () => {
    const r = sampleResult(true).ratios;
    const near = (a: number | null, b: number): void => assert.ok(a !== null && Math.abs(a - b) < 1e-9, `${a} != ${b}`);
    near(r.newflow_10k_over_10, 1.2);
    near(r.traffic_10k_over_baseline, 280000 / 300000);
    near(r.traffic_10k_over_iptables_legacy, 280000 / 30000);
    near(r.traffic_over_ipset_min, 200000 / 240000); // the smallest over N: at 10 rules, not at 10k (35x)
  });

  it('leaves a ratio null, with the reason, when its dataplane was not measured', () => {
    const res = sampleResult(false);
    for (const v of Object.values(res.ratios)) assert.equal(v, null);
    assert.match(res.reasons.traffic_10k_over_baseline ?? '', /no Tollgate traffic: the hook is missing/);
    assert.match(res.reasons.newflow_10k_over_10 ?? '', /the hook is missing/);
    // the netfilter reference ratios are still real numbers
    assert.ok(Math.abs((res.reference.iptables_legacy_traffic_10k_over_baseline ?? NaN) - 0.1) < 1e-9);
  });
});

describe('bench: report', () => {
  it('draws log-log axes: a decade is the same distance everywhere', () => {
    const svg = lineChart({ title: 'cost <&>', xLabel: 'rules', yLabel: 'ns', series: [{ name: 'nftables', points: [[10, 1000], [100, 10000], [1000, 100000]] }] });
    assert.ok(svg.includes('cost &lt;&amp;&gt;'));
    const pts = /points="([^"]+)"/.exec(svg)?.[1].split(' ').map((p) => p.split(',').map(Number)) ?? [];
    assert.equal(pts.length, 3);
    assert.ok(Math.abs(pts[1][0] - pts[0][0] - (pts[2][0] - pts[1][0])) < 0.2);
    assert.ok(Math.abs(pts[1][1] - pts[0][1] - (pts[2][1] - pts[1][1])) < 0.2);
  });

  it('a missed update says whether clang ran: only an update that needed no new object claims none', () => {
    const res = emptyResult(QUICK);
    const update = { mode: 'new-object', fallback: 'the shape changed', clang: 'ran', enforcingMs: 900, totalMs: 950, samples: [900] };
    res.counts.push({ rules: 10, setSize: 0, dataplane: 'tollgate', ruleCount: 11, setEntries: 0, emitMs: 1, loadMs: 50, update });
    const text = updateMissed(res).join('\n');
    assert.match(text, /missed at N=10: 900 ms/);
    assert.match(text, /clang ran \(new-object: the shape changed\)/);
    assert.doesNotMatch(text, /No clang/);
    update.mode = 'maps-only';
    update.clang = 'not-needed';
    assert.match(updateMissed(res).join('\n'), /No clang and no verifier ran \(maps-only: the shape changed\); a maps-only update rewrites every entry/);
  });

  it('names TCP runs far below no policy (stalls), and only those', () => {
    const res = sampleResult(true);
    res.tcp.push({ dataplane: 'none', rules: 0, bps: 10e9 }, { dataplane: 'none', rules: 0, bps: 12e9 }, { dataplane: 'none', rules: 0, bps: 11e9 });
    res.tcp.push({ dataplane: 'tollgate', rules: 10, bps: 9e9 }, { dataplane: 'tollgate', rules: 10000, bps: 0.2e9, retransmits: 3 });
    res.tcp.push({ dataplane: 'ipset', rules: 10, bps: 3e9 });
    assert.deepEqual(tcpStalls(res), ['TCP through **tollgate** stalled in 1 of 2 runs (under a quarter of no policy\'s median 11.0 Gbit/s: N=10000 0.20 Gbit/s, 3 retransmits).']);
  });

  it('computes the path\'s ceiling from the run\'s own figures, and says when it, not Tollgate, bounds the ratio', () => {
    const res = sampleResult(true);
    const c = ceiling(res);
    const near = (a: number | null | undefined, b: number): void => assert.ok(typeof a === 'number' && Math.abs(a - b) < 1e-6, `${a} != ${b}`);
    near(c?.fixedNs, 1e9 / 300000);
    near(c?.legacyEvenNs, 1e9 / 30000);
    near(c?.zeroCostEven, 10);
    near(c?.zeroCostWorst, 20);
    near(c?.legacyPerRuleNs, (1e9 / 15000 - 1e9 / 240000) / 9990);
    near(c?.tollgateOverFixedNs, 1e9 / 280000 - 1e9 / 300000);
    assert.equal(c?.generator, 'raw');
    // 9.33x: the path would allow 10x (a dataplane costing nothing), Tollgate's own cost is what is over
    assert.match(whyMissed(res).join('\n'), /10x needs at most 3333 ns per packet, 0 ns over the path's fixed cost; Tollgate's packets cost 238 ns over it/);
    // a path twice as costly: no dataplane could reach 10x on it
    for (const f of res.figures) if (f.dataplane === 'none') f.evenPps = 150000;
    assert.match(whyMissed(res).join('\n'), /the path's fixed cost bounds the ratio below the target \(5\.0x for a dataplane costing nothing\), not Tollgate/);
  });

  it('writes the JSON, the Markdown with its tables and the charts it links', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tgb-report-'));
    try {
      const res = sampleResult(true);
      const files = writeReport(res, dir);
      const md = fs.readFileSync(files.md, 'utf8');
      for (const svg of files.svgs) {
        assert.ok(md.includes(`](${path.basename(svg)})`));
        assert.match(fs.readFileSync(svg, 'utf8'), /^<svg /);
      }
      assert.match(md, /\| traffic_10k_over_iptables_legacy \| 9\.333 \| >= 10 \| no \(93% of the target\) \|/);
      assert.match(md, /\| iptables-legacy \| 10000 \| 30,000 \| 15,000 \|/);
      assert.match(md, /The path's ceiling \(this run, raw generator\): with no policy a packet costs 3333 ns .* a dataplane costing nothing would reach 10\.0x \(the worst case, the last rule: 20\.0x\)/);
      assert.deepEqual(JSON.parse(fs.readFileSync(files.json, 'utf8')).ratios, res.ratios);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bench report: the compile target', () => {
  const res = (entry: object) => ({ trials: { name: 'full' }, compile: [{ policies: 10000, pods: 5000, ...entry }] }) as unknown as Parameters<typeof compileTarget>[0];
  it('is judged on the whole compile, BPF map contents included, when they were measured', () => {
    const front = { compileMs: 1500, stages: { loadModelMs: 500, lowerMs: 700, optimizeMs: 300 } };
    assert.match(compileTarget(res(front)), /: met, 1500 ms \(manifests to optimized IR \(BPF map contents not measured\)\)\.$/);
    const whole = compileTarget(res({ ...front, bpf: { tablesMs: 7000, serializeMs: 200, entries: 1, bytes: 1 } }));
    assert.match(whole, /: missed, 8700 ms \(manifests to BPF map contents; 4\.3x the target\)/);
    assert.match(whole, /building the BPF tables 7000 ms, serializing them 200 ms\.$/);
  });
});

describe('bench compile: the median of several fresh processes', () => {
  const run = (compileMs: number | null, tablesMs: number) =>
    ({ policies: 10000, pods: 5000, compileMs, stages: { loadModelMs: compileMs, lowerMs: 0, optimizeMs: 0 }, bpf: { tablesMs, serializeMs: 100, entries: 1, bytes: 1 } }) as Parameters<typeof medianSample>[0][number];
  it('keeps the run whose whole total is the median, with every run listed', () => {
    // by compile() alone the middle run would be the 1200 ms one; by the whole total it is the 1000 + 700 one
    const m = medianSample([run(1200, 1000), run(1000, 700), run(900, 600)]);
    assert.equal(m.compileMs, 1000);
    assert.deepEqual(m.runsMs, [2300, 1800, 1600]);
    const text = compileTarget({ trials: { name: 'full' }, compile: [m] } as unknown as Parameters<typeof compileTarget>[0]);
    assert.match(text, /: met, 1800 ms \(manifests to BPF map contents; the median of 3 fresh processes: 2300, 1800, 1600 ms\)\.$/);
  });
  it('a run that was not measured makes the figure not measured', () => {
    const failed = { policies: 10000, pods: 5000, compileMs: null, reason: 'killed' };
    assert.equal(medianSample([run(900, 600), failed, run(800, 600)]).reason, 'killed');
  });
});

describe('bench report: a missed target as a percentage', () => {
  it('never reads 100% for a miss: one decimal where whole percents would round to 100', () => {
    assert.equal(percentOfTarget(0.897, 0.9), '99.7');
    assert.equal(percentOfTarget(0.9333 * 10, 10), '93');
    assert.equal(percentOfTarget(0.5, 0.9), '56');
  });
});
