// The report: bench/results/<timestamp>.json (every sample), <timestamp>.md (tables a person reads) and SVG charts
// (cost per packet against rules, log-log, one line per dataplane), written by hand: no dependency.
import * as fs from 'fs';
import * as path from 'path';
import type { Dataplane } from './dataplanes';
import { RATIO_NAMES, TARGETS, type BenchResult } from './run';

const COLORS: Record<Dataplane, string> = {
  none: '#888888',
  'iptables-legacy': '#d62728',
  'iptables-nft': '#ff7f0e',
  ipset: '#9467bd',
  nftables: '#1f77b4',
  tollgate: '#2ca02c',
};

export interface Series {
  name: Dataplane;
  points: [number, number][];
  /** drawn as a dashed horizontal line (a floor that does not depend on x) */
  flat?: boolean;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function fmt(v: number): string {
  if (v >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(3)}`;
}

/** A log-log line chart as SVG text. */
export function lineChart(o: { title: string; xLabel: string; yLabel: string; series: Series[] }): string {
  const W = 720;
  const H = 420;
  const m = { l: 80, r: 170, t: 40, b: 56 };
  const pts = o.series.flatMap((s) => s.points);
  if (pts.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="60"><text x="10" y="30">${esc(o.title)}: no data</text></svg>\n`;
  const xs = pts.map((p) => p[0]).filter((x) => x > 0);
  const ys = pts.map((p) => p[1]).filter((y) => y > 0);
  const x0 = Math.floor(Math.log10(Math.min(...xs)));
  const x1 = Math.max(x0 + 1, Math.ceil(Math.log10(Math.max(...xs))));
  const y0 = Math.floor(Math.log10(Math.min(...ys)));
  const y1 = Math.max(y0 + 1, Math.ceil(Math.log10(Math.max(...ys))));
  const X = (x: number): number => m.l + ((Math.log10(x) - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (y: number): number => H - m.b - ((Math.log10(y) - y0) / (y1 - y0)) * (H - m.t - m.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`,
  ];
  for (let e = x0; e <= x1; e++) {
    const x = X(10 ** e);
    out.push(`<line x1="${x}" y1="${m.t}" x2="${x}" y2="${H - m.b}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x}" y="${H - m.b + 16}" text-anchor="middle">${fmt(10 ** e)}</text>`);
  }
  for (let e = y0; e <= y1; e++) {
    const y = Y(10 ** e);
    out.push(`<line x1="${m.l}" y1="${y}" x2="${W - m.r}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.l - 6}" y="${y + 4}" text-anchor="end">${fmt(10 ** e)}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${m.l + (W - m.l - m.r) / 2}" y="${H - 14}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${m.t + (H - m.t - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  o.series.forEach((s, i) => {
    const c = COLORS[s.name];
    const good = s.points.filter((p) => p[0] > 0 && p[1] > 0).sort((a, b) => a[0] - b[0]);
    if (s.flat && good.length) {
      const y = Y(good[0][1]);
      out.push(`<line x1="${m.l}" y1="${y}" x2="${W - m.r}" y2="${y}" stroke="${c}" stroke-width="2" stroke-dasharray="6 4"/>`);
    } else if (good.length) {
      out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${good.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' ')}"/>`);
      for (const p of good) out.push(`<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="3" fill="${c}"/>`);
    }
    const ly = m.t + 10 + i * 20;
    out.push(`<line x1="${W - m.r + 12}" y1="${ly}" x2="${W - m.r + 36}" y2="${ly}" stroke="${c}" stroke-width="2"${s.flat ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${W - m.r + 42}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>', '');
  return out.join('\n');
}

function costSeries(res: BenchResult, which: 'evenPps' | 'worstPps'): Series[] {
  const out: Series[] = [];
  const dps = [...new Set(res.figures.map((f) => f.dataplane))];
  const maxN = Math.max(...res.trials.rules);
  const minN = Math.min(...res.trials.rules);
  for (const dp of dps) {
    const fs = res.figures.filter((f) => f.dataplane === dp);
    if (dp === 'none') {
      const ns = 1e9 / fs[0][which];
      out.push({ name: dp, flat: true, points: [[minN, ns], [maxN, ns]] });
    } else out.push({ name: dp, points: fs.map((f) => [f.rules, 1e9 / f[which]]) });
  }
  return out;
}

const n0 = (v: number): string => Math.round(v).toLocaleString('en');
const cell = (v: number | null | undefined, f: (x: number) => string = n0): string => (v === null || v === undefined ? 'n/a' : f(v));

/** Why a traffic target was missed, from the figures of the same run. */
export function whyMissed(res: BenchResult): string[] {
  const out: string[] = [];
  const fig = (dp: Dataplane, n: number) => res.figures.find((f) => f.dataplane === dp && f.rules === (dp === 'none' ? 0 : n));
  const base = fig('none', 0);
  const miss = (r: (typeof RATIO_NAMES)[number]): boolean => {
    const v = res.ratios[r];
    const t = TARGETS[r];
    return v !== null && (t.op === '<=' ? v > t.value : v < t.value);
  };
  if (base && miss('traffic_10k_over_baseline')) {
    const per = res.trials.rules.map((n) => {
      const f = fig('tollgate', n);
      return f ? `${n}: ${(f.evenPps / base.evenPps).toFixed(2)}` : `${n}: n/a`;
    });
    out.push(`Why traffic_10k_over_baseline is missed: Tollgate over no policy at each N was ${per.join(', ')}. `
      + 'If these do not fall with N, the gap is the fixed cost of running a tc program per packet (plus sample noise), not the rule count.');
  }
  const legacy = fig('iptables-legacy', 10000);
  if (base && legacy && miss('traffic_10k_over_iptables_legacy')) {
    out.push(`Why traffic_10k_over_iptables_legacy is missed: in this run iptables-legacy at 10k rules kept ${((legacy.evenPps / base.evenPps) * 100).toFixed(0)}% `
      + `of the no-policy rate with traffic spread evenly, so even a dataplane at no-policy speed could only reach ${(base.evenPps / legacy.evenPps).toFixed(1)}x; `
      + `at the worst case (last rule) the ceiling is ${(base.evenPps / legacy.worstPps).toFixed(1)}x`
      + (res.reference.tollgate_worst_10k_over_iptables_legacy_worst ? ` and Tollgate reached ${res.reference.tollgate_worst_10k_over_iptables_legacy_worst.toFixed(1)}x.` : '.'));
  }
  return out;
}

export function markdown(res: BenchResult, files: { even: string; worst: string }): string {
  const L: string[] = [];
  L.push(`# Tollgate benchmark (${res.trials.name}), ${res.startedAt}`, '');
  L.push(`${res.machine.cpus} CPUs, Linux ${res.machine.kernel}, Node ${res.machine.node}; ${res.seconds.toFixed(0)} s. `
    + `Synthetic ruleset: N Allow rules on one endpoint (distinct /32 peer and UDP port each), a last TCP rule, tier end Deny. `
    + `UDP flood: ${res.trials.floodSeconds} s per sample, 60-byte frames on one never-answered 5-tuple (every packet is ctstate NEW and walks the rules); `
    + `"even" = harmonic mean over ${res.trials.spread} evenly spaced rules (traffic spread evenly), "worst" = the last UDP rule.`, '');
  L.push('Read with care: netfilter walks its rules for every packet of the never-answered flood (ctstate NEW), while '
    + "Tollgate's own conntrack keeps the first packet's verdict for the flow, so its later packets take the established path. "
    + 'The test-run table below separates the two paths. Samples are single and short on a shared 2-core machine: '
    + 'compare dataplanes within one run, not across runs.', '');
  L.push('## Ratios', '', '| ratio | value | target | met |', '|---|---|---|---|');
  for (const r of RATIO_NAMES) {
    const v = res.ratios[r];
    const t = TARGETS[r];
    const met = v === null ? `not measured: ${res.reasons[r] ?? ''}` : (t.op === '<=' ? v <= t.value : v >= t.value) ? 'yes' : `no (${t.op === '<=' ? `${(v / t.value).toFixed(2)}x the bound` : `${((v / t.value) * 100).toFixed(0)}% of the target`})`;
    L.push(`| ${r} | ${cell(v, (x) => x.toFixed(3))} | ${t.op} ${t.value} | ${met} |`);
  }
  for (const w of whyMissed(res)) L.push('', w);
  L.push('', '### The same ratios for the netfilter dataplanes (this run)', '', '| ratio | value |', '|---|---|');
  for (const [k, v] of Object.entries(res.reference)) L.push(`| ${k} | ${cell(v, (x) => x.toFixed(4))} |`);

  L.push('', '## UDP flood (packets per second delivered through the node)', '');
  L.push(`![cost per packet, even](${path.basename(files.even)})`, '');
  L.push(`![cost per packet, worst case](${path.basename(files.worst)})`, '');
  L.push('| dataplane | rules | even pps | worst pps | ns/packet (even) | TCP Gbit/s | load ms | rules loaded | set entries |', '|---|---|---|---|---|---|---|---|---|');
  for (const f of res.figures) {
    const ld = res.loads.find((l) => l.dataplane === f.dataplane && l.rules === f.rules);
    L.push(`| ${f.dataplane} | ${f.rules} | ${n0(f.evenPps)} | ${n0(f.worstPps)} | ${n0(1e9 / f.evenPps)} | ${cell(f.tcpBps, (x) => (x / 1e9).toFixed(2))} | ${cell(ld?.loadMs)} | ${cell(ld?.ruleCount)} | ${cell(ld?.setEntries)} |`);
  }
  for (const [dp, why] of Object.entries(res.skipped)) L.push('', `Not measured: **${dp}**: ${why}.`);

  L.push('', '## BPF_PROG_TEST_RUN (ns per packet)', '');
  L.push(`Empty tc program (the floor): ${cell(res.testrun.floor.emptyNs)}${res.testrun.floor.reason ? ` (${res.testrun.floor.reason})` : ''}.`, '');
  L.push('| rules | packet | new flow ns | established ns | note |', '|---|---|---|---|---|');
  for (const s of res.testrun.samples) L.push(`| ${s.rules} | ${s.position} | ${cell(s.newflowNs)} | ${cell(s.establishedNs)} | ${s.reason ?? ''} |`);

  L.push('', '## Compile time', '', '| policies | pods | compile ms | endpoints | IR rules | emit flat ms | emit nft ms | note |', '|---|---|---|---|---|---|---|---|');
  for (const c of res.compile)
    L.push(`| ${c.policies} | ${c.pods} | ${cell(c.compileMs)} | ${cell(c.endpoints)} | ${cell(c.rules)} | ${cell(c.emitFlatMs)} | ${cell(c.emitNftMs)} | ${c.reason ?? ''} |`);

  L.push('', '## Rules and entries for the same policy', '', '| N | CIDR set | dataplane | rules | set entries | emit ms | load ms |', '|---|---|---|---|---|---|---|');
  for (const c of res.counts) L.push(`| ${c.rules} | ${c.setSize} | ${c.dataplane} | ${n0(c.ruleCount)} | ${n0(c.setEntries)} | ${n0(c.emitMs)} | ${c.loadMs === null ? `n/a (${c.reason})` : n0(c.loadMs)} |`);

  if (res.errors.length) {
    L.push('', '## Errors', '');
    for (const e of res.errors) L.push(`- ${e.split('\n')[0]}`);
  }
  L.push('');
  return L.join('\n');
}

export function writeReport(res: BenchResult, dir: string): { json: string; md: string; svgs: string[] } {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = res.startedAt.replace(/[:.]/g, '-');
  const base = path.join(dir, stamp);
  const even = `${base}-even.svg`;
  const worst = `${base}-worst.svg`;
  fs.writeFileSync(even, lineChart({ title: 'UDP flood, traffic spread evenly over the rules', xLabel: 'rules (log)', yLabel: 'ns per packet (log)', series: costSeries(res, 'evenPps') }));
  fs.writeFileSync(worst, lineChart({ title: 'UDP flood, worst case (last rule)', xLabel: 'rules (log)', yLabel: 'ns per packet (log)', series: costSeries(res, 'worstPps') }));
  fs.writeFileSync(`${base}.json`, JSON.stringify(res, null, 2) + '\n');
  fs.writeFileSync(`${base}.md`, markdown(res, { even, worst }));
  return { json: `${base}.json`, md: `${base}.md`, svgs: [even, worst] };
}

/** What `tollgate bench --json` prints. */
export function summary(res: BenchResult, files: { json: string; md: string }): object {
  return {
    trials: res.trials.name,
    seconds: Math.round(res.seconds),
    ratios: res.ratios,
    reasons: res.reasons,
    targets: TARGETS,
    reference: res.reference,
    figures: res.figures.map((f) => ({ dataplane: f.dataplane, rules: f.rules, evenPps: Math.round(f.evenPps), worstPps: Math.round(f.worstPps), tcpGbps: f.tcpBps === null ? null : +(f.tcpBps / 1e9).toFixed(2) })),
    testrunEmptyNs: res.testrun.floor.emptyNs,
    compile: res.compile.map((c) => ({ policies: c.policies, pods: c.pods, ms: c.compileMs === null ? null : Math.round(c.compileMs), reason: c.reason })),
    skipped: res.skipped,
    errors: res.errors,
    report: files,
  };
}
