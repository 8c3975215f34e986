// Runs the drivers at the trial sizes, side by side in one run, and reduces the samples to the figures and
// ratios the report and `tollgate bench --json` show. A figure that could not be measured is null with a reason.
import * as os from 'os';
import { randomBytes } from 'crypto';
import type { Trials } from './trials';
import { DATAPLANES, loadDataplane, unavailable, type Dataplane, type Loaded } from './dataplanes';
import { addClientAddresses, createTopology, destroyTopology, sweepNamespaces, type Topology } from './netlab';
import { peerOf, portOf, syntheticProgram, trafficPositions } from './generate';
import { TrafficServers, tcpThroughput, udpFlood } from './drivers/traffic';
import { measureCompileLimited, medianSample, sampleTotalMs, type CompileSample } from './drivers/compile';
import { measureCounts, type CountSample } from './drivers/rulecount';
import { measureFloor, measureNewflow, type FloorSample, type TestRunSample } from './drivers/testrun';
import { tollgateHook } from './hook';
import { harmonicMean, median } from './stats';

export interface FloodRow {
  dataplane: Dataplane;
  rules: number;
  ruleIndex: number;
  position: 'even' | 'worst';
  /** round of the interleaved schedule (every dataplane at this N once per round) */
  round: number;
  /** delivered packets per CPU-second of the sender (the whole path runs in its context) */
  pps: number;
  /** delivered packets per wall-clock second */
  wallPps?: number;
  sentPps: number;
  /** packets sent and delivered in the sample (absent in results from before they were recorded) */
  sent?: number;
  delivered?: number;
  cpuShare?: number;
  preempted?: number;
  ksoftirqdTicks?: number;
}
export interface TcpRow {
  dataplane: Dataplane;
  rules: number;
  bps: number;
  retransmits?: number;
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
  /**
   * traffic spread evenly over the rules: harmonic mean over the even positions of each position's median
   * over rounds (= mean cost per packet); packets per CPU-second
   */
  evenPps: number;
  /** traffic matching the last rule: median over rounds */
  worstPps: number;
  /** the same as evenPps from wall-clock rates (depends on the machine's other load) */
  evenWallPps: number;
  /** largest (max - min) / median over rounds of one position's pps: how much a single sample can be off */
  spread: number;
  /** TCP: median over the TCP rounds */
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
type Attempt = (what: string, f: () => Promise<void> | void) => Promise<void>;

/**
 * Every dataplane at one N, each in a topology of its own (no table, set or hook left over from another), all
 * loaded at once; then `rounds` rounds, each sampling every position with every dataplane back to back, so that
 * what else the shared machine is doing falls on all dataplanes alike, not on whichever ran during a busy moment.
 */
async function trafficAt(dps: Dataplane[], n: number, tagOf: () => string, trials: Trials, res: BenchResult, progress: Progress, attempt: Attempt): Promise<void> {
  const pos = trafficPositions(n, trials.spread);
  const idx = [...new Set([...pos.even, pos.worst])];
  const up: { dp: Dataplane; t: Topology; servers: TrafficServers; loaded: Loaded }[] = [];
  // No policy does not depend on N: its samples at every N form one figure (rules = 0), taken between the
  // other dataplanes' so the baseline is not one moment of a shared machine.
  const rulesOf = (dp: Dataplane): number => (dp === 'none' ? 0 : n);
  try {
    for (const dp of dps) {
      await attempt(`traffic ${dp} N=${n}: load`, async () => {
        const t = createTopology(tagOf());
        let servers: TrafficServers | undefined;
        try {
          addClientAddresses(t, idx.map(peerOf));
          servers = await TrafficServers.start(t, [...new Set(idx.map(portOf))], trials.generator);
          const loaded = await loadDataplane(dp, syntheticProgram({ rules: n, iface: t.ifB, serverIp: t.addrB }), t.node);
          up.push({ dp, t, servers, loaded });
          res.loads.push({ dataplane: dp, rules: n, loadMs: loaded.loadMs, ruleCount: loaded.ruleCount, setEntries: loaded.setEntries });
        } catch (err) {
          servers?.stop();
          destroyTopology(t);
          throw err;
        }
      });
    }
    const samples: [number, 'even' | 'worst'][] = [...pos.even.map((k): [number, 'even'] => [k, 'even']), [pos.worst, 'worst']];
    for (let round = 0; round < trials.rounds; round++) {
      for (const [k, position] of samples) {
        // every dataplane back to back at one position: a busy moment of the machine falls on all of them
        const line: string[] = [];
        for (const u of up) {
          await attempt(`traffic ${u.dp} N=${n} round ${round} rule ${k}`, () => {
            const r = udpFlood(u.t, peerOf(k), portOf(k), trials.floodSeconds, trials.generator);
            res.flood.push({ dataplane: u.dp, rules: rulesOf(u.dp), ruleIndex: k, position, round, ...r });
            line.push(`${u.dp} ${Math.round(r.pps).toLocaleString('en')}`);
          });
        }
        progress(`N=${n} round ${round} rule ${k} (${position}), pps per CPU-second: ${line.join(', ')}`);
      }
    }
    for (let round = 0; round < trials.tcpRounds; round++) {
      const line: string[] = [];
      for (const u of up) {
        await attempt(`traffic ${u.dp} N=${n} TCP round ${round}`, () => {
          const tcp = tcpThroughput(u.t, trials.tcpSeconds);
          res.tcp.push({ dataplane: u.dp, rules: rulesOf(u.dp), bps: tcp.bps, retransmits: tcp.retransmits });
          line.push(`${u.dp} ${(tcp.bps / 1e9).toFixed(2)} (${tcp.retransmits} retransmits)`);
        });
      }
      progress(`N=${n} TCP round ${round}, Gbit/s: ${line.join(', ')}`);
    }
  } finally {
    for (const u of up) {
      try {
        await u.loaded.unload();
      } finally {
        u.servers.stop();
        destroyTopology(u.t);
      }
    }
  }
}

function figures(res: BenchResult): DataplaneFigure[] {
  const out: DataplaneFigure[] = [];
  const keys = new Set(res.flood.map((r) => `${r.dataplane}\t${r.rules}`));
  for (const key of keys) {
    const [dp, nText] = key.split('\t');
    const rows = res.flood.filter((r) => r.dataplane === dp && r.rules === Number(nText));
    // per position (rule index; for 'none' every N's positions are its own), the median over rounds
    const byPos = new Map<string, FloodRow[]>();
    for (const r of rows) {
      const k = `${r.position}\t${r.ruleIndex}`;
      const g = byPos.get(k);
      if (g) g.push(r);
      else byPos.set(k, [r]);
    }
    const med = (position: 'even' | 'worst', f: (r: FloodRow) => number): number[] =>
      [...byPos.values()].filter((g) => g[0].position === position).map((g) => median(g.map(f)));
    const spread = Math.max(0, ...[...byPos.values()].map((g) => {
      const v = g.map((r) => r.pps);
      return (Math.max(...v) - Math.min(...v)) / median(v);
    }));
    const tcp = res.tcp.filter((r) => r.dataplane === dp && r.rules === Number(nText)).map((r) => r.bps);
    const tcpBps = tcp.length ? median(tcp) : null;
    out.push({
      dataplane: dp as Dataplane, rules: Number(nText), evenPps: harmonicMean(med('even', (r) => r.pps)), worstPps: harmonicMean(med('worst', (r) => r.pps)),
      evenWallPps: harmonicMean(med('even', (r) => r.wallPps ?? r.pps)), spread, tcpBps,
    });
  }
  return out;
}

/** A dataplane's figure at N rules (no policy has one figure, whatever N). */
export function figureAt(res: BenchResult, dp: Dataplane, n: number): DataplaneFigure | undefined {
  return res.figures.find((f) => f.dataplane === dp && f.rules === (dp === 'none' ? 0 : n));
}

function ratios(res: BenchResult): void {
  const fig = (dp: Dataplane, n: number): DataplaneFigure | undefined => figureAt(res, dp, n);
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
  // what a killed run leaves: its namespaces, the hook's test-run netns, Tollgate's pins and state for them
  const sweep = (): void => {
    for (const prefix of [tagBase, `tgbh${process.pid.toString(36)}`]) {
      sweepNamespaces(prefix);
      tollgateHook().impl?.sweep(prefix);
    }
  };
  const onSignal = (): void => {
    sweep();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const attempt: Attempt = async (what, f) => {
    try {
      await f();
    } catch (err) {
      res.errors.push(`${what}: ${(err as Error).message.split('\n')[0].slice(0, 500)}`);
      progress(`ERROR ${what}: ${(err as Error).message.split('\n')[0]}`);
    }
    // A signal's handler runs only when the event loop turns, and the traffic samples are synchronous one after
    // another (spawnSync): without this turn a SIGTERM waited for the next load, minutes later.
    await new Promise((resolve) => setImmediate(resolve));
  };
  try {
    progress(`bench ${trials.name}: rules ${trials.rules.join(', ')}; dataplanes ${trials.dataplanes.join(', ')}`);
    await attempt('test-run floor', async () => {
      res.testrun.floor = await measureFloor(trials.testRunRepeat);
      progress(`test-run empty tc program: ${res.testrun.floor.emptyNs ?? 'n/a'} ns/packet${res.testrun.floor.reason ? ` (${res.testrun.floor.reason})` : ''}`);
    });
    await attempt('test-run new flow', async () => {
      res.testrun.samples = await measureNewflow(trials.rules, trials.testRunRepeat);
      for (const x of res.testrun.samples) {
        progress(`test-run N=${x.rules} ${x.position}: ${x.newflowNs === null ? `n/a (${x.reason})` : `new flow ${x.newflowNs} ns, established ${x.establishedNs} ns${x.allowed === false ? ' (DENIED: expected allowed)' : ''}`}`);
      }
    });
    for (const c of trials.compile) {
      await attempt(`compile ${c.policies} policies / ${c.pods} pods`, () => {
        const runs: CompileSample[] = [];
        for (let i = 0; i < trials.compileRuns; i++) {
          runs.push(measureCompileLimited(c.policies, c.pods, trials.compileTimeoutMs));
          if (runs[i].compileMs === null) break;
        }
        const s = medianSample(runs);
        res.compile.push(s);
        const total = sampleTotalMs(s);
        progress(`compile ${c.policies} policies over ${c.pods} pods: ${total === null ? `n/a (${s.reason})` : `${total.toFixed(0)} ms to map contents${s.runsMs ? ` (median of ${s.runsMs.map((x) => x.toFixed(0)).join(', ')})` : ''}`}`);
      });
    }
    for (const c of trials.counts) {
      await attempt(`rule counts N=${c.rules} set=${c.setSize}`, async () => {
        // with a 100k+ set one update per dataplane keeps the run short (a fallback to a full load would rewrite the set)
        const s = await measureCounts(`${tagBase}c`, c.rules, c.setSize, c.setSize >= 100000 ? 1 : trials.updates);
        res.counts.push(...s);
        progress(`counts N=${c.rules} set=${c.setSize}: ` + s.map((x) => `${x.dataplane} ${x.ruleCount} ${x.dataplane === 'tollgate' ? 'map entries' : 'rules'} + ${x.setEntries} set entries`
          + `${x.loadMs === null ? '' : `, load ${x.loadMs.toFixed(0)} ms`}${x.update ? `, 1-rule update ${x.update.enforcingMs.toFixed(1)} ms (${x.update.mode})` : ''}`).join('; '));
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
    const tagOf = (): string => `${tagBase}${(i++).toString(16)}`;
    for (const n of trials.rules) await trafficAt(measurable, n, tagOf, trials, res, progress, attempt);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    sweep();
  }
  reduce(res);
  res.finishedAt = new Date().toISOString();
  res.seconds = (Date.now() - started) / 1000;
  return res;
}

export { DATAPLANES, tollgateHook };
