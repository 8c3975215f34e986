// `tollgate demo [PATHS...] [--keep] [--down]`: the whole product on one machine, from the shipped
// examples/multi-tenant by default.
//
//   1. lab up        every pod a network namespace behind a host-side veth in the lab's node netns (compiler/lab)
//   2. load          compile, then the real loader attaches the programs to those veths (compiler/load)
//   3. traffic       `matrix --engine netns`: real TCP/UDP probes from every pod to every declared port of every
//                    other pod, IPv4 (the grid) and IPv6; every verdict is compared with the IR's evaluation and
//                    any difference fails the demo
//   4. explain       for each denied IPv4 probe, the rule the KERNEL counted it against (per-rule counters,
//                    tg_counters, read before and after probes that touch disjoint counter rows), compared with
//                    the rule the IR says decides it
//   5. unload, then lab down (also on failure and on Ctrl-C); --keep leaves a successful demo up.
import * as path from 'path';
import { Option } from 'commander';
import type { Command } from 'commander';
import type { Decision, Endpoint, Program, Rule, TierKind } from '../ir/types';
import type { Family } from '../model/types';
import { PROTO } from '../model/types';
import type { Compiled } from '../pipeline';
import type { Probe, ProbeResult } from '../engines/types';
import type { ProbePacket } from '../engines/ir';
import type { LabOptions, LabState } from '../lab';
import type { ScopeOptions } from '../load/state';
import type { StatusReport } from '../load/loader';
import { CliError, printWarnings } from './common';

export const DEMO_STEPS = ['lab', 'load', 'traffic', 'explain'] as const;
export type DemoStep = (typeof DEMO_STEPS)[number];

export const DEFAULT_EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'multi-tenant');
/** Attribution probes only need the first packet to reach the programs; no reply is awaited beyond this. */
const EXPLAIN_TIMEOUT_MS = 250;
/** After an uncaught exception: how long the run may take to reach its own cleanup before a watchdog does it. */
const CRASH_GRACE_MS = 30000;

export interface DemoOptions {
  paths: string[];
  /** lab prefix: 'tg' for a user's demo; tests pass their own */
  prefix: string;
  pinRoot?: string;
  stateDir?: string;
  /** leave the lab and the loaded programs up after a successful run */
  keep?: boolean;
  /** tests: fail on purpose after this step (cleanup must still remove everything) */
  failAfter?: DemoStep;
  /** tests: throw an exception nobody catches after this step (the command's safety net must clean up) */
  crashAfter?: DemoStep;
  /** tests: load this program instead of the compiled one (a dataplane that disagrees with the IR) */
  loadProgram?: Program;
  /** per-probe timeout of the traffic step */
  timeoutMs?: number;
  write?: (text: string) => void;
  signal?: AbortSignal;
}

/** What the kernel and the IR say about one denied probe. */
export interface Explanation {
  probe: Probe;
  /** the side whose program dropped the first packet: the source's egress, else the destination's ingress */
  endpoint: string;
  direction: 'egress' | 'ingress';
  ir: Decision;
  /** the counter row of the loaded program that counted the probe's packet as denied (undefined: none moved) */
  kernel?: { ruleId?: string; kind: string; tier: string; action: string; endpoint: string; direction: string };
  agrees: boolean;
  problem?: string;
}

export interface DemoResult {
  family4: ProbeResult[];
  family6: ProbeResult[];
  /** the IR's answer for the same probes, same order */
  ir4: ProbeResult[];
  ir6: ProbeResult[];
  explanations: Explanation[];
  /** real traffic or the kernel's counters disagreeing with the IR: each is a bug */
  mismatches: string[];
  kept: boolean;
}

/** A failed demo, after its cleanup: exit code 1 (a mismatch, a failed step) or 130 (interrupted). */
export class DemoError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = 'DemoError';
  }
}

interface Ctx {
  o: DemoOptions;
  lab: LabOptions;
  scope: ScopeOptions;
  write: (t: string) => void;
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function scopeOf(o: Pick<DemoOptions, 'prefix' | 'pinRoot' | 'stateDir'>): ScopeOptions {
  const { nodeNetns } = require('../lab/names') as typeof import('../lab/names');
  return { netns: nodeNetns(o.prefix), ...(o.pinRoot ? { pinRoot: o.pinRoot } : {}), ...(o.stateDir ? { stateDir: o.stateDir } : {}) };
}

function hints(o: DemoOptions, scope: ScopeOptions): { exec: string; status: string; down: string; parts: string } {
  const pre = o.prefix === 'tg' ? '' : ` --prefix ${o.prefix}`;
  const sc = `--netns ${scope.netns}${o.pinRoot ? ` --pin-root ${o.pinRoot}` : ''}${o.stateDir ? ` --state-dir ${o.stateDir}` : ''}`;
  return {
    exec: `npx tollgate lab exec${pre} NS/POD -- CMD`,
    status: `npx tollgate status ${sc}`,
    down: `npx tollgate demo --down${pre}${o.pinRoot ? ` --pin-root ${o.pinRoot}` : ''}${o.stateDir ? ` --state-dir ${o.stateDir}` : ''}`,
    parts: `npx tollgate unload ${sc} && npx tollgate lab down${pre}`,
  };
}

function checkAbort(o: DemoOptions): void {
  if (o.signal?.aborted) throw new DemoError('interrupted', 130);
}

function forced(o: DemoOptions, step: DemoStep): void {
  checkAbort(o);
  if (o.failAfter === step) throw new Error(`forced failure after step '${step}' (--fail-after)`);
  if (o.crashAfter === step) {
    setImmediate(() => {
      throw new Error(`forced crash after step '${step}' (--crash-after)`);
    });
  }
}

// ---------------------------------------------------------------------------------------------------------
// The run

/** Runs the demo; everything it made is removed before it returns or throws (unless keep and it succeeded). */
export async function runDemo(compiled: Compiled, o: DemoOptions): Promise<DemoResult> {
  const lab = (require('../lab') as typeof import('../lab')).labOptions(o.prefix);
  const ctx: Ctx = { o, lab, scope: scopeOf(o), write: o.write ?? ((t) => process.stdout.write(t)) };
  await preflight(ctx);
  ctx.write(`Tollgate demo: ${o.paths.join(' ')}\n`);
  const started = Date.now();
  let result: DemoResult | undefined;
  let failure: unknown;
  try {
    result = await steps(ctx, compiled);
    if (result.mismatches.length > 0) {
      failure = new DemoError(`${result.mismatches.length} disagreement(s) between the dataplane and the IR:\n  ${result.mismatches.join('\n  ')}`, 1);
    }
  } catch (err) {
    // Ctrl-C also reaches the probe processes (one process group): what failed after it is the interruption
    failure = o.signal?.aborted ? new DemoError('interrupted', 130) : err;
  }
  const keep = !!o.keep && failure === undefined;
  if (keep) {
    const h = hints(o, ctx.scope);
    ctx.write(
      `\nkept (--keep): the lab (netns ${ctx.scope.netns} and one per pod) and the loaded programs are still up.\n` +
        `  run a command in a pod:   ${h.exec}     e.g. ${exampleExec(compiled.program, h.exec)}\n` +
        `  attachments, counters:    ${h.status}\n` +
        `  remove it all:            ${h.down}\n` +
        `                            (or: ${h.parts})\n`,
    );
  } else {
    const t0 = Date.now();
    const problems = await cleanup(ctx);
    if (problems.length > 0) {
      const msg = `cleanup failed: ${problems.join('; ')}; remove the rest with: ${hints(o, ctx.scope).down}`;
      throw new DemoError(failure !== undefined ? `${describeFailure(failure)}; then ${msg}` : msg, failure instanceof DemoError ? failure.exitCode : 1);
    }
    ctx.write(`[5/5] unloaded, then lab down: nothing of the demo is left (${secs(Date.now() - t0)})\n`);
  }
  if (failure !== undefined) {
    const code = failure instanceof DemoError ? failure.exitCode : 1;
    throw new DemoError(`${describeFailure(failure)}; everything the demo made was removed`, code);
  }
  ctx.write(`\ndemo passed in ${secs(Date.now() - started)}\n`);
  result!.kept = keep;
  return result!;
}

function describeFailure(err: unknown): string {
  const e = err as Error;
  return e && e.message ? e.message : String(err);
}

function exampleExec(p: Program, cmd: string): string {
  const ep = [...p.endpoints].sort((a, b) => (a.id < b.id ? -1 : 1))[0];
  return ep ? cmd.replace('NS/POD -- CMD', `${ep.id} -- ip -br addr`) : cmd;
}

/** Nothing of an earlier demo or lab may be in the way: the demo never adopts kernel state it did not make. */
async function preflight(ctx: Ctx): Promise<void> {
  const { labStatus } = require('../lab') as typeof import('../lab');
  const { readLoadState, scopePaths } = require('../load/state') as typeof import('../load/state');
  const { listNetns } = require('../lab/run') as typeof import('../lab/run');
  const { isLabNetns } = require('../lab/names') as typeof import('../lab/names');
  const found: string[] = [];
  if ((await labStatus(ctx.lab)).up) found.push(`a lab (${ctx.lab.statePath})`);
  else if ((await listNetns()).some((n) => isLabNetns(ctx.o.prefix, n))) found.push(`network namespaces of a lab with prefix '${ctx.o.prefix}'`);
  const st = scopePaths(ctx.scope).statePath;
  if (readLoadState(st)) found.push(`programs loaded into netns ${ctx.scope.netns} (${st})`);
  if (found.length > 0) {
    const h = hints(ctx.o, ctx.scope);
    throw new CliError(`demo: found ${found.join(' and ')}, left by a demo run with --keep or one that was killed; remove it with: ${h.down}`, 1);
  }
}

async function steps(ctx: Ctx, c: Compiled): Promise<DemoResult> {
  const { o, write } = ctx;
  const labLib = require('../lab') as typeof import('../lab');
  const loader = require('../load/loader') as typeof import('../load/loader');

  let t = Date.now();
  const state: LabState = await labLib.labUp(c.model, { ...ctx.lab, sources: o.paths, signal: o.signal });
  const nsCount = new Set(state.pods.map((p) => p.id.split('/')[0])).size;
  write(`[1/5] lab up: ${state.pods.length} pods in ${nsCount} namespaces, each a network namespace behind a host-side veth in netns ${state.nodeNetns} (${secs(Date.now() - t)})\n`);
  for (const k of state.skipped) write(`      skipped ${k.pod}: ${k.reason}\n`);
  forced(o, 'lab');

  t = Date.now();
  const ifaceMap = Object.fromEntries(labLib.labInterfaces(ctx.lab).map((i) => [i.pod, i.ifname]));
  let rep;
  try {
    if (o.loadProgram) write('      (--load-ir: loading another program than the IR the traffic is checked against)\n');
    rep = await loader.load(o.loadProgram ?? c.program, { ...ctx.scope, ifaceMap, ifaceMapSource: 'the lab', sources: o.paths });
  } catch (err) {
    if (err instanceof loader.LoadError) throw new Error(`load: ${err.message}`);
    throw err;
  }
  const rules = c.program.endpoints.reduce((n, e) => n + [...e.ingress.tiers, ...e.egress.tiers].reduce((m, tr) => m + tr.rules.length, 0), 0);
  write(
    `[2/5] compiled ${rules} rules for ${c.program.endpoints.length} pods and loaded them: ${rep.attachments.length} tc programs on ` +
      `${rep.endpoints.length} veths (pod egress at tc ingress, pod ingress at tc egress), clang ${rep.clang === 'ran' ? 'ran' : 'cached'}, ` +
      `enforcing after ${rep.timings.enforcingMs.toFixed(0)} ms (${secs(Date.now() - t)})\n`,
  );
  forced(o, 'load');

  t = Date.now();
  const [r4, r6] = [await traffic(ctx, c, 4), await traffic(ctx, c, 6)];
  const mismatches = [...r4.mismatches, ...r6.mismatches];
  const denied4 = r4.real.filter((r) => !r.allowed).length;
  write(
    `[3/5] real traffic: TCP connect and exchange, UDP request and reply; no reply within ${o.timeoutMs ?? labLib.DEFAULT_TIMEOUT_MS} ms (asked twice) = denied\n` +
      `      IPv4 ${r4.real.length} probes, ${denied4} denied; IPv6 ${r6.real.length} probes, ${r6.real.filter((r) => !r.allowed).length} denied; ` +
      `${mismatches.length === 0 ? 'every verdict as the IR says' : `${mismatches.length} DIFFER FROM THE IR`} (${secs(Date.now() - t)})\n`,
  );
  for (const m of mismatches) write(`      MISMATCH ${m}\n`);
  forced(o, 'traffic');

  t = Date.now();
  const explanations = await explain(ctx, c, state, r4.probes, r4.real, loader.status);
  const unexplained = explanations.filter((e) => !e.agrees);
  write(
    `[4/5] why: the kernel's per-rule counters, read around probes that share no counter, name the rule that dropped each\n` +
      `      IPv4 denial: ${explanations.length - unexplained.length} of ${explanations.length} are the rule the IR names (${secs(Date.now() - t)})\n`,
  );
  for (const e of unexplained) mismatches.push(`IPv4 ${probeText(e.probe)}: ${e.problem}`);
  forced(o, 'explain');

  const bad = new Set([...r4.bad.map((i) => cellKey(r4.real[i])), ...explanations.filter((e) => !e.agrees).map((e) => cellKey(e.probe))]);
  write('\n' + renderGrid(c.program, r4.real, bad));
  write('\n' + renderWhy(c.program, explanations));
  write(renderGuarantees(c.program, r4.probes, r4.real));
  if (o.paths.length === 1 && path.resolve(o.paths[0]) === DEFAULT_EXAMPLE) {
    write(`\nHow each part of the example's story shows in this grid: ${path.relative(process.cwd(), path.join(DEFAULT_EXAMPLE, 'README.md'))}\n`);
  }
  const v6 = r6.mismatches.length === 0 ? 'every verdict as the IR says' : `${r6.mismatches.length} differ from the IR (above)`;
  write(`\nIPv6 (${r6.real.length} probes): ${v6}; ${sameVerdicts(r4.real, r6.real) ? 'the same grid as IPv4' : 'a different grid from IPv4 (policy names addresses of one family): tollgate matrix --family 6 shows it'}.\n`);
  return { family4: r4.real, family6: r6.real, ir4: r4.ir, ir6: r6.ir, explanations, mismatches, kept: false };
}

function sameVerdicts(a: ProbeResult[], b: ProbeResult[]): boolean {
  const k = (r: ProbeResult): string => `${r.from}|${r.to}|${r.port}|${r.protocol}`;
  const m = new Map(a.map((r) => [k(r), r.allowed]));
  return b.every((r) => m.get(k(r)) === r.allowed) && a.length === b.length;
}

/** A grid cell: from, to, port, protocol (by name). */
function cellKey(x: { from: string; to: string; port: number; protocol: number | string }): string {
  const { protocolName } = require('../engines/ir') as typeof import('../engines/ir');
  return `${x.from}|${x.to}|${x.port}|${typeof x.protocol === 'number' ? protocolName(x.protocol) : x.protocol}`;
}

async function traffic(ctx: Ctx, c: Compiled, family: Family): Promise<{ probes: Probe[]; real: ProbeResult[]; ir: ProbeResult[]; mismatches: string[]; bad: number[] }> {
  const { planProbes } = require('./matrix') as typeof import('./matrix');
  const { createNetnsEngine } = require('../engines/netns') as typeof import('../engines/netns');
  const { probeResult } = require('../engines/ir') as typeof import('../engines/ir');
  checkAbort(ctx.o);
  const { probes } = planProbes(c.program, family, []);
  const real = await createNetnsEngine({ lab: ctx.lab, ...(ctx.o.timeoutMs ? { timeoutMs: ctx.o.timeoutMs } : {}) }).run(c, probes);
  const ir = probes.map((p) => probeResult(c.program, p));
  const mismatches: string[] = [];
  const bad: number[] = [];
  real.forEach((r, i) => {
    if (r.allowed !== ir[i].allowed) {
      bad.push(i);
      const how = (r.note ?? '').split('; ').filter((x) => x && !x.startsWith('MISMATCH')).join('; ');
      mismatches.push(`IPv${family} ${probeText(probes[i])}: real traffic ${r.allowed ? 'got through' : 'was denied'}, the IR says ${ir[i].allowed ? 'allowed' : 'denied'}${how ? ` (${how})` : ''}`);
    }
  });
  return { probes, real, ir, mismatches, bad };
}

function probeText(p: Probe): string {
  const { protocolName } = require('../engines/ir') as typeof import('../engines/ir');
  return `${p.from} -> ${p.to} ${p.port}/${protocolName(p.protocol)}`;
}

/**
 * The probe's endpoints and packet, as every engine builds them (the demo plans its probes from pods that have an
 * address of the probe's family, so there is always one).
 */
function sentPacket(program: Program, p: Probe): ProbePacket {
  const { probePacket } = require('../engines/ir') as typeof import('../engines/ir');
  const pp = probePacket(program, p);
  if (typeof pp === 'string') throw new Error(`${probeText(p)}: ${pp}`);
  return pp;
}

// ---------------------------------------------------------------------------------------------------------
// Attribution: which counter row did the kernel count the denied packet against?

type CounterRow = StatusReport['counters'][number];

/**
 * Denied probes in rounds: within a round no two probes share a source (whose egress rows they would move) or a
 * destination (ingress rows), so the rows one probe moves are its own. Each probe's denial belongs to the first
 * program on the packet's path that dropped it: the source's egress (tc ingress of its veth), else the
 * destination's ingress.
 */
async function explain(ctx: Ctx, c: Compiled, state: LabState, probes: Probe[], real: ProbeResult[], status: (s: ScopeOptions) => Promise<StatusReport>): Promise<Explanation[]> {
  const { runProbes } = require('../lab') as typeof import('../lab');
  const { evaluate } = require('../ir/evaluate') as typeof import('../ir/evaluate');
  const { PROBE_SPORT } = require('../engines/ir') as typeof import('../engines/ir');
  const todo = probes.map((p, i) => ({ p, r: real[i] })).filter((x) => !x.r.allowed && (x.p.protocol === PROTO.TCP || x.p.protocol === PROTO.UDP));
  const rounds: (typeof todo)[] = [];
  for (const x of todo) {
    let round = rounds.find((rd) => rd.every((y) => y.p.from !== x.p.from && y.p.to !== x.p.to));
    if (!round) rounds.push((round = []));
    round.push(x);
  }
  const podAddr = new Map(state.pods.map((p) => [p.id, p]));
  const snapshot = async (): Promise<Map<number, CounterRow>> => new Map((await status(ctx.scope)).counters.map((r) => [r.index, r]));
  const out: Explanation[] = [];
  let before = await snapshot();
  for (const round of rounds) {
    checkAbort(ctx.o);
    const reqs = round.map(({ p }) => ({
      from: p.from, to: p.to, addr: (p.family === 4 ? podAddr.get(p.to)!.ipv4 : podAddr.get(p.to)!.ipv6)[0], port: p.port,
      protocol: p.protocol === PROTO.TCP ? ('tcp' as const) : ('udp' as const), sport: PROBE_SPORT,
    }));
    const outcomes = await runProbes(state, reqs, { timeoutMs: EXPLAIN_TIMEOUT_MS, retryTimeouts: false });
    const after = await snapshot();
    const moved = [...after.values()].filter((r) => r.packets > (before.get(r.index)?.packets ?? 0));
    round.forEach(({ p }, i) => {
      const { from, to, pkt } = sentPacket(c.program, p);
      const eg = evaluate(from, 'egress', pkt);
      const [endpoint, direction, ir] = eg.allowed ? [to.id, 'ingress' as const, evaluate(to, 'ingress', pkt)] : [from.id, 'egress' as const, eg];
      const mine = moved.filter((r) => (r.endpoint === p.from && r.direction === 'egress') || (r.endpoint === p.to && r.direction === 'ingress'));
      const drops = mine.filter((r) => r.action === 'Deny');
      const k = drops[0];
      const kernel = k && { ...(k.ruleId ? { ruleId: k.ruleId } : {}), kind: k.kind, tier: k.tier, action: k.action, endpoint: k.endpoint, direction: k.direction };
      const expected = (r: CounterRow): boolean =>
        r.endpoint === endpoint && r.direction === direction && (ir.ruleId ? r.kind === 'rule' && r.ruleId === ir.ruleId : r.kind === 'tier-end' && r.tier === ir.tier);
      let problem: string | undefined;
      if (outcomes[i].status === 'ok' || outcomes[i].status === 'refused') problem = `got a reply now (${outcomes[i].status}), though it was denied before`;
      else if (drops.length === 0) problem = `no Deny counter of ${p.from} egress or ${p.to} ingress moved (moved: ${mine.map(rowText).join(', ') || 'none'})`;
      else if (drops.length > 1) problem = `several Deny counters moved: ${drops.map(rowText).join(', ')}`;
      else if (!expected(k)) problem = `the kernel counted it against ${rowText(k)}, the IR says ${endpoint} ${direction}: ${ir.decidedBy}${ir.ruleId ? ` [${ir.ruleId}]` : ''}`;
      out.push({ probe: p, endpoint, direction, ir, ...(kernel ? { kernel } : {}), agrees: problem === undefined, ...(problem ? { problem } : {}) });
    });
    before = after;
  }
  return out;
}

function rowText(r: Pick<CounterRow, 'endpoint' | 'direction' | 'kind' | 'tier' | 'ruleId' | 'action'>): string {
  return `${r.endpoint} ${r.direction} ${r.ruleId ?? `${r.kind}${r.tier ? ` of tier ${r.tier}` : ''}`} (${r.action})`;
}

// ---------------------------------------------------------------------------------------------------------
// Output

interface Column {
  pod: Endpoint;
  ports: { port: number; protocol: number; label: string }[];
  width: number;
}

function portLabel(port: number, protocol: number): string {
  return protocol === PROTO.TCP ? String(port) : protocol === PROTO.UDP ? `${port}u` : protocol === PROTO.SCTP ? `${port}s` : `${port}/${protocol}`;
}

const byId = (a: Endpoint, b: Endpoint): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** One grid for every probe: rows from (grouped by namespace), columns to, one mark per port the destination declares. */
export function renderGrid(program: Program, real: ProbeResult[], bad: ReadonlySet<string>): string {
  const { protocolName } = require('../engines/ir') as typeof import('../engines/ir');
  const pods = [...program.endpoints].sort(byId);
  const cols: Column[] = pods.map((pod) => {
    const seen = new Map<string, { port: number; protocol: number; label: string }>();
    for (const p of pod.ports) seen.set(`${p.protocol}:${p.port}`, { port: p.port, protocol: p.protocol, label: portLabel(p.port, p.protocol) });
    const ports = [...seen.values()].sort((a, b) => a.protocol - b.protocol || a.port - b.port);
    const portsW = ports.reduce((n, p) => n + p.label.length, 0) + Math.max(0, ports.length - 1);
    return { pod, ports, width: Math.max(pod.name.length, portsW) };
  });
  const result = new Map(real.map((r) => [`${r.from}|${r.to}|${r.port}|${r.protocol}`, r]));
  const nsOf = (e: Endpoint): string => e.namespace;
  const rowW = Math.max(9, ...pods.map((p) => p.name.length + 2), ...pods.map((p) => nsOf(p).length));
  // namespace groups of columns, separated by ' | '
  const groups: Column[][] = [];
  for (const col of cols) {
    const last = groups[groups.length - 1];
    if (last && nsOf(last[0].pod) === nsOf(col.pod)) last.push(col);
    else groups.push([col]);
  }
  const groupW = (g: Column[]): number => g.reduce((n, col) => n + col.width, 0) + 2 * (g.length - 1);
  for (const g of groups) {
    const extra = nsOf(g[0].pod).length - groupW(g);
    if (extra > 0) g[g.length - 1].width += extra;
  }
  const line = (first: string, perGroup: (g: Column[]) => string): string => `${first.padEnd(rowW)} | ${groups.map(perGroup).join(' | ')}`.trimEnd();
  const out: string[] = [];
  out.push('Reachability, IPv4, from real traffic through the loaded programs. Rows: from; columns: to, one mark per port');
  out.push('the destination declares (TCP unless marked: 53u = UDP 53).');
  out.push('  .  allowed: connected and got the reply      X  denied: no reply (dropped by Tollgate)');
  out.push('  -  the pod itself (not probed)               ?  not probed (no real probe for this protocol; the IR says)');
  if (bad.size > 0) out.push('  !  THE DATAPLANE AND THE IR DISAGREE (a bug: listed below)');
  const names = new Map<string, Set<string>>();
  for (const p of pods) for (const x of p.ports) if (x.name) names.set(portLabel(x.port, x.protocol), (names.get(portLabel(x.port, x.protocol)) ?? new Set()).add(x.name));
  out.push(`  ports: ${[...names.entries()].sort((a, b) => parseInt(a[0], 10) - parseInt(b[0], 10) || a[0].localeCompare(b[0])).map(([l, n]) => `${l} ${[...n].sort().join('/')}`).join(', ')}`);
  out.push('');
  out.push(line('', (g) => nsOf(g[0].pod).padEnd(groupW(g))));
  out.push(line('from \\ to', (g) => g.map((col) => col.pod.name.padEnd(col.width)).join('  ')));
  out.push(line('', (g) => g.map((col) => col.ports.map((p) => p.label).join(' ').padEnd(col.width)).join('  ')));
  out.push(`${'-'.repeat(rowW)}-+-${groups.map((g) => '-'.repeat(groupW(g))).join('-+-')}`);
  let ns = '';
  for (const from of pods) {
    if (nsOf(from) !== ns) {
      ns = nsOf(from);
      out.push(line(ns, (g) => ''.padEnd(groupW(g))));
    }
    out.push(line(`  ${from.name}`, (g) => g.map((col) => col.ports.map((p) => {
      let mark = '-';
      if (col.pod.id !== from.id) {
        const r = result.get(`${from.id}|${col.pod.id}|${p.port}|${protocolName(p.protocol)}`);
        mark = !r ? ' ' : bad.has(cellKey(r)) ? '!' : r.note?.startsWith('not probed') ? '?' : r.allowed ? '.' : 'X';
      }
      return mark.padEnd(p.label.length);
    }).join(' ').padEnd(col.width)).join('  ')));
  }
  return out.join('\n') + '\n';
}

const LAYER: Record<TierKind, number> = { admin: 0, calico: 1, default: 2, baseline: 3 };
const LAYER_NAME = ['AdminNetworkPolicy (platform, evaluated first)', 'Calico tiers (platform)', 'tier default (the tenants\' own NetworkPolicies)', 'BaselineAdminNetworkPolicy (the default, evaluated last)'];

function ruleIndex(program: Program): Map<string, { rule: Rule; kind: TierKind }> {
  const m = new Map<string, { rule: Rule; kind: TierKind }>();
  for (const ep of program.endpoints) for (const ch of [ep.ingress, ep.egress]) for (const t of ch.tiers) for (const r of t.rules) m.set(r.id, { rule: r, kind: t.kind });
  return m;
}

function tierKind(program: Program, e: Explanation): TierKind {
  const ep = program.endpoints.find((x) => x.id === e.endpoint);
  const t = (e.direction === 'ingress' ? ep?.ingress : ep?.egress)?.tiers.find((x) => x.name === e.ir.tier);
  return t?.kind ?? 'default';
}

/** Every denied probe under the rule that denied it, grouped by layer (the order a packet meets them). */
export function renderWhy(program: Program, explanations: Explanation[]): string {
  const { protocolName } = require('../engines/ir') as typeof import('../engines/ir');
  if (explanations.length === 0) return 'Nothing was denied.\n';
  const rules = ruleIndex(program);
  const groups = new Map<string, { layer: number; head: string; where: string; items: Explanation[] }>();
  for (const e of explanations) {
    const key = `${e.ir.decidedBy}|${e.ir.ruleId?.replace(/#\d+$/, '') ?? ''}`;
    let g = groups.get(key);
    if (!g) {
      const src = e.ir.ruleId ? rules.get(e.ir.ruleId)?.rule.source : undefined;
      const where = src?.file ? `${path.relative(process.cwd(), src.file) || src.file}${src.line ? `:${src.line}` : ''}` : '';
      const id = e.ir.ruleId ? `rule ${e.ir.ruleId.replace(/#\d+$/, '')}` : 'no rule matched: the tier\'s end';
      groups.set(key, (g = { layer: LAYER[tierKind(program, e)], head: `${e.ir.decidedBy}`, where: `${id}${where ? `, ${where}` : ''}`, items: [] }));
    }
    g.items.push(e);
  }
  const out: string[] = ['Why each denied connection was denied: the rule whose kernel counter moved when its first packet was dropped'];
  out.push('(K = the kernel counted it against the rule the IR names; ! = it did not: a bug).');
  const sorted = [...groups.values()].sort((a, b) => a.layer - b.layer || a.head.localeCompare(b.head));
  let layer = -1;
  for (const g of sorted) {
    if (g.layer !== layer) {
      layer = g.layer;
      out.push('', `${LAYER_NAME[layer]}:`);
    }
    out.push(`  ${g.head}`, `    (${g.where}; ${g.items.filter((e) => e.agrees).length}/${g.items.length} confirmed by the kernel)`);
    // one line per pair, its ports together
    const pairs = new Map<string, Explanation[]>();
    for (const e of g.items) {
      const k = `${e.probe.from} -> ${e.probe.to}`;
      pairs.set(k, [...(pairs.get(k) ?? []), e]);
    }
    for (const [pair, es] of [...pairs].sort((a, b) => a[0].localeCompare(b[0]))) {
      const side = es[0].direction === 'egress' ? `egress of ${es[0].endpoint}` : `ingress of ${es[0].endpoint}`;
      const ports = es.map((e) => `${portLabel(e.probe.port, e.probe.protocol)}${e.agrees ? '' : '!'}`).join(' ');
      out.push(`    ${mark(es)} ${pair.padEnd(48)} ${ports.padEnd(10)} at the ${side}`);
      for (const e of es) if (!e.agrees) out.push(`        ! ${e.probe.port}/${protocolName(e.probe.protocol)}: ${e.problem}`);
    }
  }
  return out.join('\n') + '\n';
}

/**
 * Allowed connections that an AdminNetworkPolicy rule allowed on one side (what no tenant can take away), by
 * rule, from the IR's evaluation of probes that real traffic also allowed.
 */
export function renderGuarantees(program: Program, probes: Probe[], real: ProbeResult[]): string {
  const { evaluate } = require('../ir/evaluate') as typeof import('../ir/evaluate');
  const groups = new Map<string, Map<string, string[]>>();
  probes.forEach((p, i) => {
    if (!real[i].allowed || real[i].note?.startsWith('not probed')) return;
    const { from, to, pkt } = sentPacket(program, p);
    for (const [ep, dir] of [[from, 'egress'], [to, 'ingress']] as const) {
      const d = evaluate(ep, dir, pkt);
      const tier = (dir === 'egress' ? ep.egress : ep.ingress).tiers.find((t) => t.name === d.tier);
      if (!d.ruleId || tier?.kind !== 'admin') continue;
      const pairs = groups.get(d.decidedBy) ?? new Map<string, string[]>();
      groups.set(d.decidedBy, pairs);
      const k = `${p.from} -> ${p.to}`;
      pairs.set(k, [...(pairs.get(k) ?? []), portLabel(p.port, p.protocol)]);
    }
  });
  if (groups.size === 0) return '';
  const out = ['', 'Allowed by an AdminNetworkPolicy, whatever the tenants write (the IR\'s deciding rule; real traffic got through):'];
  for (const [head, pairs] of [...groups].sort((a, b) => a[0].localeCompare(b[0]))) {
    const byTo = new Map<string, string[]>();
    for (const [pair, ports] of pairs) {
      const [fromId, toId] = pair.split(' -> ');
      const k = `${toId} ${ports.join(' ')}`;
      byTo.set(k, [...(byTo.get(k) ?? []), fromId]);
    }
    out.push(`  ${head}`);
    for (const [k, froms] of [...byTo].sort((a, b) => a[0].localeCompare(b[0]))) {
      const [toId, ...ports] = k.split(' ');
      out.push(`    ${froms.sort().join(', ')} -> ${toId} ${ports.join(' ')}`);
    }
  }
  return out.join('\n') + '\n';
}

function mark(es: Explanation[]): string {
  return es.every((e) => e.agrees) ? 'K' : '!';
}

// ---------------------------------------------------------------------------------------------------------
// Cleanup

/** Unload first (the programs sit on the lab's veths), then the lab. Returns what could not be removed. */
async function cleanup(ctx: Ctx): Promise<string[]> {
  const problems: string[] = [];
  try {
    const loader = require('../load/loader') as typeof import('../load/loader');
    const r = await loader.unload(ctx.scope);
    for (const n of r.notes) problems.push(`unload: ${n}`);
  } catch (err) {
    problems.push(`unload: ${describeFailure(err)}`);
  }
  try {
    await (require('../lab') as typeof import('../lab')).labDown(ctx.lab);
  } catch (err) {
    problems.push(`lab down: ${describeFailure(err)}`);
  }
  return problems;
}

/** `tollgate demo --down`: removes a demo left up with --keep (or by a killed run). */
export async function demoDown(o: Pick<DemoOptions, 'prefix' | 'pinRoot' | 'stateDir'>): Promise<string[]> {
  const lab = (require('../lab') as typeof import('../lab')).labOptions(o.prefix);
  return cleanup({ o: { paths: [], ...o }, lab, scope: scopeOf(o), write: () => undefined });
}

// ---------------------------------------------------------------------------------------------------------
// The command

interface DemoFlags {
  keep?: boolean;
  down?: boolean;
  prefix: string;
  pinRoot?: string;
  stateDir?: string;
  failAfter?: DemoStep;
  crashAfter?: DemoStep;
  timeoutMs?: number;
  loadIr?: string;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('the whole chain on this machine: a lab from examples/multi-tenant, compile, load, real traffic, why each denial; then remove it all')
    .argument('[paths...]', 'manifests (default: the shipped examples/multi-tenant)')
    .option('--keep', 'leave the lab and the loaded programs up after a successful run, to look around')
    .option('--down', 'remove a demo left up (with --keep, or by a killed run), then exit')
    .addOption(new Option('--prefix <prefix>', 'lab prefix (tests)').default(process.env.TOLLGATE_LAB_PREFIX || 'tg').hideHelp())
    .addOption(new Option('--pin-root <dir>', 'bpffs directory for pins (tests)').hideHelp())
    .addOption(new Option('--state-dir <dir>', 'state directory (tests)').hideHelp())
    .addOption(new Option('--fail-after <step>', 'fail on purpose after a step (tests)').choices([...DEMO_STEPS]).hideHelp())
    .addOption(new Option('--crash-after <step>', 'throw an uncaught exception after a step (tests)').choices([...DEMO_STEPS]).hideHelp())
    .addOption(new Option('--timeout-ms <ms>', 'probe timeout (tests)').argParser((v) => Number(v)).hideHelp())
    .addOption(new Option('--load-ir <file>', 'load this IR program (JSON) instead of the compiled one (tests)').hideHelp())
    .action(async (paths: string[], f: DemoFlags) => {
      (require('../lab/names') as typeof import('../lab/names')).checkPrefix(f.prefix);
      if (f.down) {
        if (paths.length > 0 || f.keep) throw new CliError('demo --down: expected no paths and no --keep');
        const problems = await demoDown(f);
        if (problems.length > 0) throw new CliError(`demo --down: ${problems.join('; ')}`, 1);
        process.stdout.write('demo removed (programs unloaded, lab down)\n');
        return;
      }
      const inputs = paths.length > 0 ? paths : [path.relative(process.cwd(), DEFAULT_EXAMPLE) || DEFAULT_EXAMPLE];
      const { compile } = require('../pipeline') as typeof import('../pipeline');
      const compiled = compile(inputs); // bad input: exit 2 before anything is made
      printWarnings(compiled.diagnostics);
      let loadProgram: Program | undefined;
      if (f.loadIr) {
        try {
          loadProgram = JSON.parse(require('fs').readFileSync(f.loadIr, 'utf8')) as Program;
        } catch (err) {
          throw new CliError(`--load-ir ${f.loadIr}: expected an IR program in JSON: ${describeFailure(err)}`);
        }
      }
      const abort = new AbortController();
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals): void => {
        signals++;
        process.stderr.write(signals === 1 ? `tollgate: demo: ${sig}: stopping, then removing everything the demo made\n` : 'tollgate: demo: still removing what the demo made, please wait\n');
        abort.abort();
      };
      const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
      for (const s of sigs) process.on(s, onSignal);
      // Safety net: an exception nobody catches (a bug anywhere below) stops the run like Ctrl-C, so the cleanup
      // still runs; if the run does not get there within CRASH_GRACE_MS, the watchdog removes everything itself.
      let crash: unknown;
      let watchdog: NodeJS.Timeout | undefined;
      const onCrash = (err: unknown): void => {
        if (crash === undefined) crash = err;
        process.stderr.write(`tollgate: demo: unexpected error: ${describeFailure(err)}; stopping, then removing everything the demo made\n`);
        abort.abort();
        watchdog ??= setTimeout(() => {
          void demoDown(f).finally(() => process.exit(1));
        }, CRASH_GRACE_MS);
      };
      process.on('uncaughtException', onCrash);
      process.on('unhandledRejection', onCrash);
      try {
        await runDemo(compiled, {
          paths: inputs, prefix: f.prefix, pinRoot: f.pinRoot, stateDir: f.stateDir, keep: f.keep, failAfter: f.failAfter, crashAfter: f.crashAfter,
          timeoutMs: f.timeoutMs, loadProgram, signal: abort.signal,
        });
        if (crash !== undefined) throw new DemoError('stopped', 1);
      } catch (err) {
        if (err instanceof CliError) throw err;
        if (crash !== undefined) throw new CliError(`demo: unexpected error: ${describeFailure(crash)} (${describeFailure(err)})`, 1);
        const code = abort.signal.aborted ? 130 : err instanceof DemoError ? err.exitCode : 1;
        throw new CliError(`demo: ${describeFailure(err)}`, code);
      } finally {
        if (watchdog) clearTimeout(watchdog);
        for (const s of sigs) process.removeListener(s, onSignal);
        process.removeListener('uncaughtException', onCrash);
        process.removeListener('unhandledRejection', onCrash);
      }
    });
}
