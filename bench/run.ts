// Runs the drivers at the trial sizes, side by side in one run, and reduces the samples to the figures and
// ratios the report and `tollgate bench --json` show. A figure that could not be measured is null with a reason.
import * as os from 'os';
import { randomBytes } from 'crypto';
import type { Trials } from './trials';
import { DATAPLANES, loadDataplane, unavailable, type Dataplane } from './dataplanes';
import { addClientAddresses, createTopology, destroyTopology, sweepNamespaces, type Topology } from './netlab';
import { peerOf, portOf, syntheticProgram, trafficPositions } from './generate';
import { TrafficServers, tcpThroughput, udpFlood } from './drivers/traffic';
import { measureCompileLimited, type CompileSample } from './drivers/compile';
import { measureCounts, type CountSample } from './drivers/rulecount';
import { measureFloor, measureNewflow, type FloorSample, type TestRunSample } from './drivers/testrun';
import { tollgateHook } from './hook';

export interface FloodRow {
  dataplane: Dataplane;
  rules: number;
  ruleIndex: number;
  position: 'even' | 'worst';
  pps: number;
  sentPps: number;
}
export interface TcpRow {
  dataplane: Dataplane;
  rules: number;
  bps: number;
}
export interface LoadRow {
  dataplane: Dataplane;
  rules: number;
  loadMs: number;
  ruleCount: number;
  setEntries: number;
}
export interface DataplaneFigure {
  dataplane: Dataplane;
  rules: number;
  /** traffic spread evenly over the rules: harmonic mean of the even positions' pps (= mean cost per packet) */
  evenPps: number;
  /** traffic matching the last rule */
  worstPps: number;
  tcpBps: number | null;
}

export const RATIO_NAMES = ['newflow_10k_over_10', 'traffic_10k_over_baseline', 'traffic_10k_over_iptables_legacy', 'traffic_over_ipset_min'] as const;
export type RatioName = (typeof RATIO_NAMES)[number];

export const TARGETS: Record<RatioName, { op: '<=' | '>='; value: number }> = {
  newflow_10k_over_10: { op: '<=', value: 2 },
  traffic_10k_over_baseline: { op: '>=', value: 0.9 },
  traffic_10k_over_iptables_legacy: { op: '>=', value: 10 },
  traffic_over_ipset_min: { op: '>=', value: 1 },
};

export interface BenchResult {
  version: 1;
  trials: Trials;
  startedAt: string;
  finishedAt: string;
  seconds: number;
  machine: { cpus: number; kernel: string; node: string };
  flood: FloodRow[];
  tcp: TcpRow[];
  loads: LoadRow[];
  figures: DataplaneFigure[];
  testrun: { floor: FloorSample; samples: TestRunSample[] };
  compile: CompileSample[];
  counts: CountSample[];
  /** dataplanes that were not measured, and why */
  skipped: Partial<Record<Dataplane, string>>;
  /** errors met while measuring (a driver failed); each names what it was doing */
  errors: string[];
  ratios: Record<RatioName, number | null>;
  /** why a ratio is null */
  reasons: Partial<Record<RatioName, string>>;
  /** the same ratios for the other dataplanes, measured in this run, for comparison */
  reference: Record<string, number | null>;
}

export type Progress = (msg: string) => void;

function harmonic(xs: number[]): number {
  return xs.length / xs.reduce((s, x) => s + 1 / x, 0);
}

/** One dataplane at one N, in a topology of its own (no table, set or hook left over from another dataplane). */
async function trafficFor(dp: Dataplane, n: number, tag: string, trials: Trials, res: BenchResult, progress: Progress): Promise<void> {
  const t: Topology = createTopology(tag);
  let servers: TrafficServers | undefined;
  try {
    const pos = trafficPositions(n, trials.spread);
    const idx = [...new Set([...pos.even, pos.worst])];
    addClientAddresses(t, idx.map(peerOf));
    servers = await TrafficServers.start(t, [...new Set(idx.map(portOf))]);
    const loaded = await loadDataplane(dp, syntheticProgram({ rules: n, iface: t.ifB, serverIp: t.addrB }), t.node);
    // No policy does not depend on N: its samples at every N form one figure (rules = 0), taken between the
    // other dataplanes' so the baseline is not one moment of a shared machine.
    const rules = dp === 'none' ? 0 : n;
    try {
      res.loads.push({ dataplane: dp, rules: n, loadMs: loaded.loadMs, ruleCount: loaded.ruleCount, setEntries: loaded.setEntries });
      const samples: [number, 'even' | 'worst'][] = [...pos.even.map((k): [number, 'even'] => [k, 'even']), [pos.worst, 'worst']];
      for (const [k, position] of samples) {
        const r = udpFlood(t, peerOf(k), portOf(k), trials.floodSeconds);
        res.flood.push({ dataplane: dp, rules, ruleIndex: k, position, pps: r.pps, sentPps: r.sentPps });
        progress(`${dp} N=${n} rule ${k} (${position}): ${Math.round(r.pps).toLocaleString('en')} pps`);
      }
      const tcp = tcpThroughput(t, trials.tcpSeconds);
      res.tcp.push({ dataplane: dp, rules, bps: tcp.bps });
      progress(`${dp} N=${n} TCP: ${(tcp.bps / 1e9).toFixed(2)} Gbit/s`);
    } finally {
      await loaded.unload();
    }
  } finally {
    servers?.stop();
    destroyTopology(t);
  }
}

function figures(res: BenchResult): DataplaneFigure[] {
  const out: DataplaneFigure[] = [];
  const keys = new Set(res.flood.map((r) => `${r.dataplane}\t${r.rules}`));
  for (const key of keys) {
    const [dp, nText] = key.split('\t');
    const rows = res.flood.filter((r) => r.dataplane === dp && r.rules === Number(nText));
    const even = rows.filter((r) => r.position === 'even').map((r) => r.pps);
    const worst = rows.filter((r) => r.position === 'worst').map((r) => r.pps);
    const tcp = res.tcp.filter((r) => r.dataplane === dp && r.rules === Number(nText)).map((r) => r.bps);
    const tcpBps = tcp.length ? tcp.reduce((a, b) => a + b, 0) / tcp.length : null;
    out.push({ dataplane: dp as Dataplane, rules: Number(nText), evenPps: harmonic(even), worstPps: harmonic(worst), tcpBps });
  }
  return out;
}

function ratios(res: BenchResult): void {
  const fig = (dp: Dataplane, n: number): DataplaneFigure | undefined =>
    res.figures.find((f) => f.dataplane === dp && f.rules === (dp === 'none' ? 0 : n));
  const why = (name: RatioName, reason: string): void => {
    res.ratios[name] = null;
    res.reasons[name] = reason;
  };
  const tg = res.skipped.tollgate;
  const big = res.trials.rules.includes(10000) ? 10000 : undefined;

  // new flow: Tollgate's test-run cost at 10k rules over 10 rules (worst-case packet)
  const nf = (n: number): number | null | undefined => res.testrun.samples.find((s) => s.rules === n && s.position === 'worst')?.newflowNs;
  const nf10 = nf(10);
  const nf10k = nf(10000);
  if (typeof nf10 === 'number' && typeof nf10k === 'number') res.ratios.newflow_10k_over_10 = nf10k / nf10;
  else why('newflow_10k_over_10', res.testrun.samples.find((s) => s.reason)?.reason ?? 'no test-run samples at 10 and 10000 rules');

  const traffic = (name: RatioName, other: Dataplane): void => {
    if (tg) return why(name, `no Tollgate traffic: ${tg}`);
    if (!big) return why(name, 'the trials have no 10000-rule size');
    const a = fig('tollgate', big);
    const b = fig(other, big);
    if (!a || !b) return why(name, `missing ${!a ? 'tollgate' : other} traffic at 10000 rules`);
    res.ratios[name] = a.evenPps / b.evenPps;
  };
  traffic('traffic_10k_over_baseline', 'none');
  traffic('traffic_10k_over_iptables_legacy', 'iptables-legacy');

  if (tg) why('traffic_over_ipset_min', `no Tollgate traffic: ${tg}`);
  else {
    const rs = res.trials.rules.map((n) => {
      const a = fig('tollgate', n);
      const b = fig('ipset', n);
      return a && b ? a.evenPps / b.evenPps : undefined;
    });
    if (rs.some((r) => r === undefined)) why('traffic_over_ipset_min', 'missing tollgate or ipset traffic at some size');
    else res.ratios.traffic_over_ipset_min = Math.min(...(rs as number[]));
  }

  // The same ratios for the netfilter dataplanes: what the targets are measured against.
  if (big) {
    const base = fig('none', big);
    const tgBig = fig('tollgate', big);
    const legacyBig = fig('iptables-legacy', big);
    if (tgBig && legacyBig) res.reference.tollgate_worst_10k_over_iptables_legacy_worst = tgBig.worstPps / legacyBig.worstPps;
    for (const dp of ['iptables-legacy', 'iptables-nft', 'ipset', 'nftables', 'tollgate'] as Dataplane[]) {
      const at = (n: number): DataplaneFigure | undefined => fig(dp, n);
      const f = at(big);
      const key = dp.replace(/-/g, '_');
      res.reference[`${key}_traffic_10k_over_baseline`] = f && base ? f.evenPps / base.evenPps : null;
      res.reference[`${key}_worst_10k_over_baseline`] = f && base ? f.worstPps / base.evenPps : null;
      const f10 = at(res.trials.rules[0]);
      res.reference[`${key}_traffic_10k_over_${res.trials.rules[0]}`] = f && f10 ? f.evenPps / f10.evenPps : null;
    }
  }
  if (res.testrun.floor.emptyNs !== null) res.reference.testrun_empty_program_ns = res.testrun.floor.emptyNs;
}

/** Fills `figures`, `ratios`, `reasons` and `reference` from the samples. */
export function reduce(res: BenchResult): void {
  res.figures = figures(res);
  ratios(res);
}

/** An empty result for `trials` (the samples are pushed into it as they are measured). */
export function emptyResult(trials: Trials, started = Date.now()): BenchResult {
  return {
    version: 1,
    trials,
    startedAt: new Date(started).toISOString(),
    finishedAt: '',
    seconds: 0,
    machine: { cpus: os.cpus().length, kernel: os.release(), node: process.version },
    flood: [],
    tcp: [],
    loads: [],
    figures: [],
    testrun: { floor: { emptyNs: null }, samples: [] },
    compile: [],
    counts: [],
    skipped: {},
    errors: [],
    ratios: { newflow_10k_over_10: null, traffic_10k_over_baseline: null, traffic_10k_over_iptables_legacy: null, traffic_over_ipset_min: null },
    reasons: {},
    reference: {},
  };
}

export async function runBench(trials: Trials, progress: Progress): Promise<BenchResult> {
  const started = Date.now();
  const runId = randomBytes(3).toString('hex').slice(0, 4);
  const res = emptyResult(trials, started);
  const tagBase = `tgb${runId}`;
  const onSignal = (): void => {
    sweepNamespaces(tagBase);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const attempt = async (what: string, f: () => Promise<void> | void): Promise<void> => {
    try {
      await f();
    } catch (err) {
      res.errors.push(`${what}: ${(err as Error).message.split('\n')[0].slice(0, 500)}`);
      progress(`ERROR ${what}: ${(err as Error).message.split('\n')[0]}`);
    }
  };
  try {
    progress(`bench ${trials.name}: rules ${trials.rules.join(', ')}; dataplanes ${trials.dataplanes.join(', ')}`);
    await attempt('test-run floor', async () => {
      res.testrun.floor = await measureFloor(trials.testRunRepeat);
      progress(`test-run empty tc program: ${res.testrun.floor.emptyNs ?? 'n/a'} ns/packet${res.testrun.floor.reason ? ` (${res.testrun.floor.reason})` : ''}`);
    });
    await attempt('test-run new flow', async () => {
      res.testrun.samples = await measureNewflow(trials.rules, trials.testRunRepeat);
    });
    for (const c of trials.compile) {
      await attempt(`compile ${c.policies} policies / ${c.pods} pods`, () => {
        const s = measureCompileLimited(c.policies, c.pods, trials.compileTimeoutMs);
        res.compile.push(s);
        progress(`compile ${c.policies} policies over ${c.pods} pods: ${s.compileMs === null ? `n/a (${s.reason})` : `${s.compileMs.toFixed(0)} ms`}`);
      });
    }
    for (const c of trials.counts) {
      await attempt(`rule counts N=${c.rules} set=${c.setSize}`, () => {
        const s = measureCounts(`${tagBase}c`, c.rules, c.setSize);
        res.counts.push(...s);
        progress(`counts N=${c.rules} set=${c.setSize}: ` + s.map((x) => `${x.dataplane} ${x.ruleCount} rules + ${x.setEntries} entries`).join('; '));
      });
    }
    const measurable = trials.dataplanes.filter((dp) => {
      const missing = unavailable(dp);
      if (missing) {
        res.skipped[dp] = missing;
        progress(`${dp}: skipped (${missing})`);
      }
      return !missing;
    });
    let i = 0;
    for (const n of trials.rules) {
      for (const dp of measurable) {
        await attempt(`traffic ${dp} N=${n}`, () => trafficFor(dp, n, `${tagBase}${(i++).toString(16)}`, trials, res, progress));
      }
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    sweepNamespaces(tagBase);
  }
  reduce(res);
  res.finishedAt = new Date().toISOString();
  res.seconds = (Date.now() - started) / 1000;
  return res;
}

export { DATAPLANES, tollgateHook };
