// The report: bench/results/<timestamp>.json (every sample), <timestamp>.md (tables a person reads) and SVG charts
// (cost per packet against rules, log-log, one line per dataplane), written by hand: no dependency.
import * as fs from 'fs';
import * as path from 'path';
import type { Dataplane } from './dataplanes';
import { RATIO_NAMES, TARGETS, figureAt, type BenchResult } from './run';
import { median } from './stats';
import { sampleTotalMs } from './drivers/compile';

const COLORS: Record<Dataplane, string> = {
  none: '#888888',
  'iptables-legacy': '#d62728',
  'iptables-nft': '#ff7f0e',
  ipset: '#9467bd',
  nftables: '#1f77b4',
  tollgate: '#2ca02c',
};

export interface Series {
  name: string;
  /** default: the dataplane's colour */
  color?: string;
  dashed?: boolean;
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
    const c = s.color ?? COLORS[s.name as Dataplane] ?? '#333333';
    const dash = s.dashed ? ' stroke-dasharray="3 3"' : '';
    const good = s.points.filter((p) => p[0] > 0 && p[1] > 0).sort((a, b) => a[0] - b[0]);
    if (s.flat && good.length) {
      const y = Y(good[0][1]);
      out.push(`<line x1="${m.l}" y1="${y}" x2="${W - m.r}" y2="${y}" stroke="${c}" stroke-width="2" stroke-dasharray="6 4"/>`);
    } else if (good.length) {
      out.push(`<polyline fill="none" stroke="${c}" stroke-width="2"${dash} points="${good.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' ')}"/>`);
      for (const p of good) out.push(`<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="3" fill="${c}"/>`);
    }
    const ly = m.t + 10 + i * 20;
    out.push(`<line x1="${W - m.r + 12}" y1="${ly}" x2="${W - m.r + 36}" y2="${ly}" stroke="${c}" stroke-width="2"${s.flat ? ' stroke-dasharray="6 4"' : dash}/>`);
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

/** What each generator's packet goes through besides the ruleset (the path's fixed cost). */
export const GENERATOR_PATH: Record<BenchResult['trials']['generator'], string> = {
  raw: "the client's PACKET_TX_RING send of a prebuilt frame, two veth hops, the node's forwarding, a tc drop on the server's interface",
  socket: 'a UDP socket send, two veth hops, the node\'s forwarding, delivery to a UDP socket',
};

export interface Ceiling {
  generator: BenchResult['trials']['generator'];
  /** ns of the sender's CPU per packet with no policy: the path's fixed cost */
  fixedNs: number;
  /** iptables-legacy's added ns per rule walked (its worst case at the smallest N and at 10k) */
  legacyPerRuleNs: number;
  /** iptables-legacy's ns per packet at 10k rules, traffic spread evenly */
  legacyEvenNs: number;
  /** the ratio over iptables-legacy at 10k rules a dataplane costing nothing would reach: even, worst case */
  zeroCostEven: number;
  zeroCostWorst: number;
  /** Tollgate's ns per packet at 10k rules (even) over the fixed cost; null when not measured */
  tollgateOverFixedNs: number | null;
}

/** The path's fixed cost and the ceiling it puts on the ratios over iptables-legacy, from the run's own figures. */
export function ceiling(res: BenchResult): Ceiling | undefined {
  const fig = (dp: Dataplane, n: number) => figureAt(res, dp, n);
  const base = fig('none', 0);
  const legacy = fig('iptables-legacy', 10000);
  const first = res.trials.rules[0];
  const legacyFirst = first < 10000 ? fig('iptables-legacy', first) : undefined;
  if (!base || !legacy) return undefined;
  const fixedNs = 1e9 / base.evenPps;
  const worstNs = 1e9 / legacy.worstPps;
  const tg = fig('tollgate', 10000);
  return {
    generator: res.trials.generator,
    fixedNs,
    legacyPerRuleNs: legacyFirst ? (worstNs - 1e9 / legacyFirst.worstPps) / (10000 - first) : (worstNs - fixedNs) / 10000,
    legacyEvenNs: 1e9 / legacy.evenPps,
    zeroCostEven: base.evenPps / legacy.evenPps,
    zeroCostWorst: base.evenPps / legacy.worstPps,
    tollgateOverFixedNs: tg ? 1e9 / tg.evenPps - fixedNs : null,
  };
}

/** The ceiling as the report says it. */
export function ceilingText(c: Ceiling, res: BenchResult): string {
  const tgWorst = res.reference.tollgate_worst_10k_over_iptables_legacy_worst;
  return `The path's ceiling (this run, ${c.generator} generator): with no policy a packet costs ${c.fixedNs.toFixed(0)} ns of the sender's CPU `
    + `(${GENERATOR_PATH[c.generator]}: all in the sender's context); iptables-legacy adds about ${c.legacyPerRuleNs.toFixed(1)} ns per rule walked, `
    + `so with traffic spread evenly over 10k rules a packet costs ${c.legacyEvenNs.toFixed(0)} ns and a dataplane costing nothing would reach ${c.zeroCostEven.toFixed(1)}x `
    + `(the worst case, the last rule: ${c.zeroCostWorst.toFixed(1)}x). `
    + (c.tollgateOverFixedNs === null ? 'Tollgate was not measured.'
      : `Tollgate's packets cost ${c.tollgateOverFixedNs.toFixed(0)} ns over the fixed cost at 10k rules (its tc program and conntrack, established path)`
        + `${res.ratios.traffic_10k_over_iptables_legacy === null ? '' : `: ${res.ratios.traffic_10k_over_iptables_legacy.toFixed(1)}x`}`
        + `${tgWorst ? ` (worst case ${tgWorst.toFixed(1)}x)` : ''}.`);
}

/** Why a traffic target was missed, from the figures of the same run. */
export function whyMissed(res: BenchResult): string[] {
  const out: string[] = [];
  const fig = (dp: Dataplane, n: number) => figureAt(res, dp, n);
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
  const c = ceiling(res);
  if (c && miss('traffic_10k_over_iptables_legacy')) {
    const target = TARGETS.traffic_10k_over_iptables_legacy.value;
    const allowedNs = c.legacyEvenNs / target; // a packet's cost at which the target is met
    out.push('Why traffic_10k_over_iptables_legacy is missed: ' + (c.zeroCostEven < target
      ? `the path's fixed cost bounds the ratio below the target (${c.zeroCostEven.toFixed(1)}x for a dataplane costing nothing), not Tollgate.`
      : `${target}x needs at most ${allowedNs.toFixed(0)} ns per packet, ${(allowedNs - c.fixedNs).toFixed(0)} ns over the path's fixed cost; `
        + `Tollgate's packets cost ${c.tollgateOverFixedNs === null ? 'n/a' : c.tollgateOverFixedNs.toFixed(0)} ns over it.`));
  }
  return out;
}

const mib = (b: number): string => `${(b / 1048576).toFixed(1)} MiB`;

export const COMPILE_TARGET = { policies: 10000, pods: 5000, ms: 2000 };
export const UPDATE_TARGET_MS = 10;

/** The compile-time target, measured or not, met or missed by how much. */
export function compileTarget(res: BenchResult): string {
  const t = COMPILE_TARGET;
  const c = res.compile.find((x) => x.policies === t.policies && x.pods === t.pods);
  const head = `Target: ${t.policies.toLocaleString('en')} policies over ${t.pods.toLocaleString('en')} pods compiled in < ${t.ms / 1000} s`;
  if (!c) return `${head}: not in the ${res.trials.name} trials.`;
  if (c.compileMs === null) return `${head}: not measured (${c.reason}).`;
  // `tollgate compile` also builds the BPF map contents: the target is judged on the whole of it when measured.
  const bpf = c.bpf && 'tablesMs' in c.bpf ? c.bpf : undefined;
  const total = sampleTotalMs(c) as number;
  const runs = c.runsMs ? `; the median of ${c.runsMs.length} fresh processes: ${c.runsMs.map((x) => x.toFixed(0)).join(', ')} ms` : '';
  const what = (bpf ? 'manifests to BPF map contents' : 'manifests to optimized IR (BPF map contents not measured)') + runs;
  if (total < t.ms) return `${head}: met, ${total.toFixed(0)} ms (${what}).`;
  const st = c.stages;
  const where = (st
    ? ` Where the time went: reading and validating the manifests into the model ${st.loadModelMs.toFixed(0)} ms, lowering every pod's policies to IR rules ${st.lowerMs.toFixed(0)} ms, optimizing ${st.optimizeMs.toFixed(0)} ms`
    : ` Reading, lowering and optimizing ${c.compileMs.toFixed(0)} ms`)
    + (bpf ? `, building the BPF tables ${bpf.tablesMs.toFixed(0)} ms, serializing them ${bpf.serializeMs.toFixed(0)} ms.` : '.');
  return `${head}: missed, ${total.toFixed(0)} ms (${what}; ${(total / t.ms).toFixed(1)}x the target), on a shared 2-core machine under other load.${where}`;
}

/** TCP runs of a dataplane far below no policy's median (a stall, not a rule cost: TCP walks the rules on its SYN only). */
export function tcpStalls(res: BenchResult): string[] {
  const none = res.tcp.filter((r) => r.dataplane === 'none').map((r) => r.bps);
  if (!none.length) return [];
  const ref = median(none);
  const out: string[] = [];
  for (const dp of [...new Set(res.tcp.map((r) => r.dataplane))].filter((d) => d !== 'none')) {
    const runs = res.tcp.filter((r) => r.dataplane === dp);
    const slow = runs.filter((r) => r.bps < 0.25 * ref);
    if (slow.length === 0) continue;
    out.push(`TCP through **${dp}** stalled in ${slow.length} of ${runs.length} runs (under a quarter of no policy's median ${(ref / 1e9).toFixed(1)} Gbit/s: `
      + `${slow.map((r) => `N=${r.rules} ${(r.bps / 1e9).toFixed(2)} Gbit/s, ${r.retransmits ?? '?'} retransmits`).join('; ')}).`);
  }
  return out;
}

/** Why the single-rule update target is missed, where it is. */
export function updateMissed(res: BenchResult): string[] {
  const tg = res.counts.filter((c) => c.dataplane === 'tollgate' && c.update);
  const over = tg.filter((c) => (c.update?.enforcingMs ?? 0) >= UPDATE_TARGET_MS);
  if (!tg.length) return [];
  const size = (c: (typeof tg)[number]): string => `N=${c.rules}${c.setSize ? ` + ${c.setSize}-entry set` : ''}`;
  const met = tg.filter((c) => !over.includes(c)).map((c) => `${size(c)}: ${c.update!.enforcingMs.toFixed(1)} ms`);
  if (!over.length) return [`Single-rule update: target met at every size (${met.join(', ')}).`];
  const worst = over.reduce((a, b) => (b.update!.enforcingMs > a.update!.enforcingMs ? b : a));
  const u = worst.update!;
  const parts = u.tablesMs !== undefined && u.writeMs !== undefined
    ? ` At ${size(worst)}: building the tables from the IR ${u.tablesMs.toFixed(0)} ms, writing ${worst.mapEntries ?? '?'} entries ${u.writeMs.toFixed(0)} ms, the switch ${u.switchMs?.toFixed(1) ?? '?'} ms.`
    : '';
  return [`Single-rule update: ${met.length ? `met at ${met.join(', ')}; ` : ''}missed at ${over.map((c) => `${size(c)}: ${c.update!.enforcingMs.toFixed(0)} ms`).join(', ')} `
    + `(up to ${(u.enforcingMs / UPDATE_TARGET_MS).toFixed(0)}x the target). ${u.mode === 'new-object' ? `The verifier ran, clang ${u.clang ?? '?'}` : 'No clang and no verifier ran'} (${u.mode}${u.fallback ? `: ${u.fallback}` : ''}); `
    + (u.mode === 'maps-only' ? 'a maps-only update rewrites every entry of the endpoint under fresh ep ids (compiler/load/README.md, known limits): its cost grows with the map entries, not with the one rule changed. ' : '')
    + parts];
}

export function markdown(res: BenchResult, files: { even: string; worst: string; load: string }): string {
  const L: string[] = [];
  L.push(`# Tollgate benchmark (${res.trials.name}), ${res.startedAt}`, '');
  L.push(`${res.machine.cpus} CPUs, Linux ${res.machine.kernel}, Node ${res.machine.node}; ${res.seconds.toFixed(0)} s. `
    + `Synthetic ruleset: N Allow rules on one endpoint (distinct /32 peer and UDP port each), a last TCP rule, tier end Deny. `
    + `UDP flood (${res.trials.generator} generator: ${GENERATOR_PATH[res.trials.generator]}): ${res.trials.floodSeconds} s per sample, ${res.trials.rounds} interleaved rounds, 60-byte frames on one never-answered 5-tuple (every packet is ctstate NEW and walks the rules); `
    + `"even" = harmonic mean over ${res.trials.spread} evenly spaced rules (traffic spread evenly), "worst" = the last UDP rule.`, '');
  L.push('Read with care: netfilter walks its rules for every packet of the never-answered flood (ctstate NEW), while '
    + "Tollgate's own conntrack keeps the first packet's verdict for the flow, so its later packets take the established path. "
    + 'The test-run table below separates the two paths. The machine has 2 cores shared with other work: '
    + 'compare dataplanes within one run, not across runs.', '');
  L.push('## Ratios', '', '| ratio | value | target | met |', '|---|---|---|---|');
  for (const r of RATIO_NAMES) {
    const v = res.ratios[r];
    const t = TARGETS[r];
    const met = v === null ? `not measured: ${res.reasons[r] ?? ''}` : (t.op === '<=' ? v <= t.value : v >= t.value) ? 'yes' : `no (${t.op === '<=' ? `${(v / t.value).toFixed(2)}x the bound` : `${percentOfTarget(v, t.value)}% of the target`})`;
    L.push(`| ${r} | ${cell(v, (x) => x.toFixed(3))} | ${t.op} ${t.value} | ${met} |`);
  }
  const c = ceiling(res);
  if (c) L.push('', ceilingText(c, res));
  for (const w of whyMissed(res)) L.push('', w);
  L.push('', '### The same ratios for the netfilter dataplanes (this run)', '', '| ratio | value |', '|---|---|');
  for (const [k, v] of Object.entries(res.reference)) L.push(`| ${k} | ${cell(v, (x) => x.toFixed(4))} |`);

  L.push('', '## UDP flood (packets per second delivered through the node)', '');
  L.push(`![cost per packet, even](${path.basename(files.even)})`, '');
  L.push(`![cost per packet, worst case](${path.basename(files.worst)})`, '');
  L.push('pps = packets delivered per CPU-second of the sender; every hop of a packet runs in its context, so this is '
    + 'the cost per packet whatever share of the shared machine the sender got (wall pps, which depends on that share, beside it). '
    + `Each figure is the median over ${res.trials.rounds} interleaved rounds (every dataplane once per round); spread = the largest (max - min) / median of one position over the rounds. `
    + `TCP: iperf3 for ${res.trials.tcpSeconds} s, the median of ${res.trials.tcpRounds} interleaved runs (wall clock: it depends on the machine's other load).`, '');
  L.push('| dataplane | rules | even pps | worst pps | ns/packet (even) | spread | even wall pps | TCP Gbit/s | load ms | rules / map entries loaded | set entries |', '|---|---|---|---|---|---|---|---|---|---|---|');
  for (const f of res.figures) {
    const ld = res.loads.find((l) => l.dataplane === f.dataplane && l.rules === f.rules);
    L.push(`| ${f.dataplane} | ${f.rules} | ${n0(f.evenPps)} | ${n0(f.worstPps)} | ${n0(1e9 / f.evenPps)} | ${cell(f.spread, (x) => `${(x * 100).toFixed(0)}%`)} | ${cell(f.evenWallPps)} | ${cell(f.tcpBps, (x) => (x / 1e9).toFixed(2))} | ${cell(ld?.loadMs)} | ${cell(ld?.ruleCount)} | ${cell(ld?.setEntries)} |`);
  }
  for (const w of tcpStalls(res)) L.push('', w);
  const ks = res.flood.map((r) => r.ksoftirqdTicks ?? 0);
  if (ks.length) L.push('', `ksoftirqd ran ${ks.reduce((a, b) => a + b, 0)} ticks over all ${ks.length} samples (the work that left the sender's context; 0 would be none).`);
  for (const [dp, why] of Object.entries(res.skipped)) L.push('', `Not measured: **${dp}**: ${why}.`);

  L.push('', '## BPF_PROG_TEST_RUN (ns per packet)', '');
  L.push(`Empty tc program (the floor): ${cell(res.testrun.floor.emptyNs)}${res.testrun.floor.reason ? ` (${res.testrun.floor.reason})` : ''}.`, '');
  L.push('| rules | packet | new flow ns | established ns | note |', '|---|---|---|---|---|');
  for (const s of res.testrun.samples) L.push(`| ${s.rules} | ${s.position} | ${cell(s.newflowNs)} | ${cell(s.establishedNs)} | ${s.reason ?? ''} |`);

  L.push('', '## Compile time', '', 'Manifests to BPF map contents = compile() (reading, lowering, optimizing) + the BPF tables + serializing them; with several runs, the median run (every run\'s total in the last column).', '',
    '| policies | pods | to map contents ms | compile ms | load+model ms | lower ms | optimize ms | BPF tables ms | serialize ms | endpoints | IR rules | emit flat ms | emit nft ms | runs ms / note |', '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const c of res.compile) {
    const bpf = c.bpf && 'tablesMs' in c.bpf ? c.bpf : undefined;
    L.push(`| ${c.policies} | ${c.pods} | ${cell(bpf ? sampleTotalMs(c) : null)} | ${cell(c.compileMs)} | ${cell(c.stages?.loadModelMs)} | ${cell(c.stages?.lowerMs)} | ${cell(c.stages?.optimizeMs)} | ${cell(bpf?.tablesMs)} | ${cell(bpf?.serializeMs)} | ${cell(c.endpoints)} | ${cell(c.rules)} | ${cell(c.emitFlatMs)} | ${cell(c.emitNftMs)} | ${c.runsMs ? c.runsMs.map((x) => x.toFixed(0)).join(', ') : ''}${c.reason ?? ''} |`);
  }
  L.push('', compileTarget(res));

  L.push('', '## Rules, entries, load, single-rule update and memory against N', '');
  L.push(`![load and update time](${path.basename(files.load)})`, '');
  L.push('The same policy in every dataplane, loaded into an empty netns. Tollgate: the real loader (`tollgate load --netns`), '
    + 'map entries written (policy and endpoint maps) and the memlock of every map as the kernel accounts it (maps are sized for two generations side by side, conntrack included). '
    + `Single-rule update: rule 0 moved to another port and loaded again, median of ${res.trials.updates}; Tollgate applies it through the loader's dataplane handle, incrementally (only the changed entries; no clang, no verifier), flat iptables-legacy with \`iptables -R\`. `
    + `Target: a single-rule update applied in < ${UPDATE_TARGET_MS} ms without clang.`, '');
  L.push('| N | CIDR set | dataplane | rules | map / set entries | emit ms | load ms | 1-rule update ms | update mode | map memory |', '|---|---|---|---|---|---|---|---|---|---|');
  for (const c of res.counts) {
    const entries = c.dataplane === 'tollgate' ? c.mapEntries : c.setEntries;
    const rules = c.dataplane === 'tollgate' ? `${n0(c.rules + 1)} IR rules` : n0(c.ruleCount);
    L.push(`| ${c.rules} | ${c.setSize} | ${c.dataplane} | ${rules} | ${cell(entries)} | ${n0(c.emitMs)} | ${c.loadMs === null ? `n/a (${c.reason})` : n0(c.loadMs)} | ${cell(c.update?.enforcingMs, (x) => x.toFixed(1))} | ${c.update ? `${c.update.mode}${c.update.clang ? `, clang ${c.update.clang}` : ''}` : ''} | ${cell(c.memoryBytes, mib)} |`);
  }
  for (const w of updateMissed(res)) L.push('', w);

  if (res.errors.length) {
    L.push('', '## Errors', '');
    for (const e of res.errors) L.push(`- ${e.split('\n')[0]}`);
  }
  L.push('');
  return L.join('\n');
}

/** Load and single-rule update time against N (no CIDR set), Tollgate beside flat iptables-legacy. */
function loadSeries(res: BenchResult): Series[] {
  const rows = (dp: string) => res.counts.filter((c) => c.dataplane === dp && c.setSize === 0);
  const pts = (dp: string, f: (c: BenchResult['counts'][number]) => number | null | undefined): [number, number][] =>
    rows(dp).map((c): [number, number | null | undefined] => [c.rules, f(c)]).filter((p): p is [number, number] => typeof p[1] === 'number' && p[1] > 0);
  return [
    { name: 'tollgate load', color: COLORS.tollgate, points: pts('tollgate', (c) => c.loadMs) },
    { name: 'tollgate 1-rule update', color: COLORS.tollgate, dashed: true, points: pts('tollgate', (c) => c.update?.enforcingMs) },
    { name: 'iptables load', color: COLORS['iptables-legacy'], points: pts('iptables-flat', (c) => c.loadMs) },
    { name: 'iptables -R 1 rule', color: COLORS['iptables-legacy'], dashed: true, points: pts('iptables-flat', (c) => c.update?.enforcingMs) },
    { name: 'ipset load', color: COLORS.ipset, points: pts('ipset', (c) => c.loadMs) },
    { name: 'nftables load', color: COLORS.nftables, points: pts('nftables', (c) => c.loadMs) },
  ].filter((s) => s.points.length > 0);
}

export function writeReport(res: BenchResult, dir: string): { json: string; md: string; svgs: string[] } {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = res.startedAt.replace(/[:.]/g, '-');
  const base = path.join(dir, stamp);
  const even = `${base}-even.svg`;
  const worst = `${base}-worst.svg`;
  const load = `${base}-load.svg`;
  fs.writeFileSync(load, lineChart({ title: 'Load and single-rule update time', xLabel: 'rules (log)', yLabel: 'ms (log)', series: loadSeries(res) }));
  fs.writeFileSync(even, lineChart({ title: 'UDP flood, traffic spread evenly over the rules', xLabel: 'rules (log)', yLabel: 'ns per packet (log)', series: costSeries(res, 'evenPps') }));
  fs.writeFileSync(worst, lineChart({ title: 'UDP flood, worst case (last rule)', xLabel: 'rules (log)', yLabel: 'ns per packet (log)', series: costSeries(res, 'worstPps') }));
  fs.writeFileSync(`${base}.json`, JSON.stringify(res, null, 2) + '\n');
  fs.writeFileSync(`${base}.md`, markdown(res, { even, worst, load }));
  return { json: `${base}.json`, md: `${base}.md`, svgs: [even, worst, load] };
}

/** What `tollgate bench --json` prints. */
export function summary(res: BenchResult, files: { json: string; md: string }): object {
  return {
    trials: res.trials.name,
    generator: res.trials.generator,
    seconds: Math.round(res.seconds),
    ratios: res.ratios,
    reasons: res.reasons,
    targets: TARGETS,
    reference: res.reference,
    figures: res.figures.map((f) => ({ dataplane: f.dataplane, rules: f.rules, evenPps: Math.round(f.evenPps), worstPps: Math.round(f.worstPps), tcpGbps: f.tcpBps === null ? null : +(f.tcpBps / 1e9).toFixed(2) })),
    floodFixedNs: ceiling(res)?.fixedNs ?? null,
    testrunEmptyNs: res.testrun.floor.emptyNs,
    compile: res.compile.map((c) => {
      const total = sampleTotalMs(c);
      return { policies: c.policies, pods: c.pods, ms: c.compileMs === null ? null : Math.round(c.compileMs), toMapContentsMs: total === null ? null : Math.round(total), ...(c.runsMs ? { runsMs: c.runsMs.map(Math.round) } : {}), reason: c.reason };
    }),
    compileTarget: compileTarget(res),
    counts: res.counts.map((c) => ({
      dataplane: c.dataplane, rules: c.rules, setSize: c.setSize, ruleCount: c.dataplane === 'tollgate' ? null : c.ruleCount,
      entries: c.dataplane === 'tollgate' ? c.mapEntries ?? null : c.setEntries, loadMs: c.loadMs === null ? null : Math.round(c.loadMs),
      updateMs: c.update ? +c.update.enforcingMs.toFixed(2) : null, updateMode: c.update?.mode ?? null, memoryBytes: c.memoryBytes ?? null,
    })),
    updateTarget: updateMissed(res)[0] ?? null,
    skipped: res.skipped,
    errors: res.errors,
    report: files,
  };
}

/** v as a percentage of a target it missed: whole percents, or one decimal where rounding would read 100. */
export function percentOfTarget(v: number, target: number): string {
  const p = (v / target) * 100;
  return p.toFixed(0) === '100' ? p.toFixed(1) : p.toFixed(0);
}
