// The bpf engine: crafted packets through the real datapath (BPF_PROG_TEST_RUN through the native addon).
// For each probe: fresh conntrack, the source pod's egress program, then the destination pod's ingress
// program. The program reports the deciding rule index in tg_last (tg_record_last = 1 in this object only);
// the rule table emitted with the maps turns it back into the rule, tier end or default.
//
// Interfaces: test runs without an ifindex see skb->ifindex = 1 (the kernel hands the skb to loopback), so the
// engine writes every endpoint entry with ifindex 1; endpoints stay distinct by their local address.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Program } from '../ir/types';
import type { Compiled } from '../pipeline';
import { packetlessResult, probeHead, probePacket, PROBE_SPORT } from './ir';
import { BpfObject, type BpfMap, type BpfProgram } from '../load/native';
import { bumpGeneration } from '../load/loader';
import { generateC, buildTables, type BpfTables } from '../emit/bpf';
import { compileBpf } from '../emit/bpf/objcache';
import { endpointContents, policyContents, type MapContents } from '../emit/bpf/serialize';
import { readLast, ifaceKey, ifaceValue, type LastDecision } from '../emit/bpf/layout';
import { craft, type CraftOptions } from '../emit/bpf/packet';
import { VERDICT, reasonText, REASON } from '../emit/bpf/codes';
import type { RuleRow, EndpointEntry, TableOptions } from '../emit/bpf/tables';
import type { DirectionResult, Engine, Probe, ProbeResult } from './types';
import type { Decision, Endpoint, Packet } from '../ir/types';
import type { Direction } from '../model/types';
import { defaultText, describeRule, endpointByAddr, tierEndText, walkTo, type ConnectionVerdict } from '../ir/evaluate';

/** ifindex that BPF_PROG_TEST_RUN reports when no ifindex is given (the loopback device). */
export const TEST_RUN_IFINDEX = 1;

export interface RunResult {
  retval: number;
  duration: number;
  last: LastDecision;
}

/** One loaded datapath object with its maps filled from a Program: what tests, the engine and bench drive. */
export class BpfHarness {
  private constructor(
    readonly obj: BpfObject,
    readonly tables: BpfTables,
    readonly ingress: BpfProgram,
    readonly egress: BpfProgram,
    private readonly lastMap: BpfMap,
    readonly conntrack: BpfMap,
  ) {}

  static async open(program: Program, opts: TableOptions & { ifindexOf?: (e: EndpointEntry) => number; record?: boolean; consts?: Record<string, Buffer> } = {}): Promise<BpfHarness> {
    const tables = buildTables(program, opts);
    return BpfHarness.fromTables(program, tables, opts);
  }

  static async fromTables(program: Program, tables: BpfTables, opts: { ifindexOf?: (e: EndpointEntry) => number; record?: boolean; consts?: Record<string, Buffer> } = {}): Promise<BpfHarness> {
    const c = generateC(program, tables);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-bpf-'));
    const objPath = path.join(dir, 'tollgate.o');
    compileBpf(c, objPath);
    const obj = BpfObject.open(objPath);
    fs.rmSync(dir, { recursive: true, force: true });
    try {
      if (opts.record !== false) obj.setConst('tg_record_last', Buffer.from([1]));
      for (const [k, v] of Object.entries(opts.consts ?? {})) obj.setConst(k, v);
      await obj.load();
      const ifindexOf = opts.ifindexOf ?? (() => TEST_RUN_IFINDEX);
      const fill = async (m: MapContents): Promise<void> => {
        await obj.map(m.map).updateBatch(m.keys, m.values, m.count);
      };
      for (const m of policyContents(tables)) await fill(m);
      await fill(endpointContents(tables.endpoints, ifindexOf));
      const ifaces = new Set(tables.endpoints.map(ifindexOf));
      const im = obj.map('tg_ifaces');
      for (const i of ifaces) im.update(ifaceKey(i), ifaceValue());
      return new BpfHarness(obj, tables, obj.program('tollgate_ingress'), obj.program('tollgate_egress'), obj.map('tg_last'), obj.map('tg_conntrack'));
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  async run(direction: 'ingress' | 'egress', data: Buffer, o: { ifindex?: number; repeat?: number } = {}): Promise<RunResult> {
    const prog = direction === 'ingress' ? this.ingress : this.egress;
    const r = await prog.testRun({ data, repeat: o.repeat ?? 1, ifindex: o.ifindex });
    const v = this.lastMap.lookup(Buffer.alloc(4));
    if (!v) throw new Error('tg_last has no entry 0');
    return { retval: r.retval, duration: r.duration, last: readLast(v) };
  }

  /** What the loader does after a switch: the node's policy generation up by one (tests that write entries themselves). */
  bumpGeneration(): void {
    bumpGeneration(this.obj.map('tg_gen'));
  }

  clearConntrack(): number {
    let n = 0;
    for (const k of this.conntrack.keys()) if (this.conntrack.delete(k)) n++;
    return n;
  }

  row(index: number): RuleRow | undefined {
    return this.tables.rules.at(index);
  }

  close(): void {
    this.obj.close();
  }
}

/**
 * decidedBy for the rule index the kernel reported, in the reference evaluator's words (describeRule and its
 * tier-end and default lines), found through the rule table row -> the IR rule or tier.
 */
export function describeRow(program: Program, row: RuleRow | undefined, last: LastDecision): string {
  if (!row || row.index === 0) return reasonText(last.reason);
  const ep = program.endpoints.find((e) => e.id === row.endpoint);
  const chain = ep?.[row.direction];
  if (!chain) return `rule index ${row.index}: ${row.endpoint} ${row.direction} is not in the program`;
  if (row.kind === 'default') return defaultText(chain);
  const tier = chain.tiers[row.tierIndex];
  if (row.kind === 'tier-end') return tierEndText(tier);
  return describeRule(tier.rules[row.position ?? 0], tier);
}

export { PROBE_SPORT };

/** What the kernel did with one packet in one direction: the verdict the program returned, tg_last and its row. */
export interface KernelVerdict {
  allowed: boolean;
  last: LastDecision;
  row?: RuleRow;
}

export async function kernelVerdict(h: BpfHarness, dir: Direction, data: Buffer): Promise<KernelVerdict> {
  const r = await h.run(dir, data);
  const allowed = r.retval === 0;
  if (allowed !== (r.last.verdict === VERDICT.ALLOW)) throw new Error(`${dir}: program returned ${r.retval} but recorded verdict ${r.last.verdict}`);
  return { allowed, last: r.last, row: h.row(r.last.rule) };
}

function decidedByPolicy(last: LastDecision): boolean {
  return last.reason === REASON.POLICY || last.reason === REASON.POLICY_RECHECK;
}

export async function probeWith(h: BpfHarness, program: Program, probe: Probe, craftOpts: CraftOptions = {}): Promise<ProbeResult> {
  const pp = probePacket(program, probe);
  if (typeof pp === 'string') return packetlessResult(probe, pp);
  h.clearConntrack();
  const data = craft(pp.pkt, craftOpts);
  const one = async (dir: Direction): Promise<DirectionResult> => {
    const k = await kernelVerdict(h, dir, data);
    return { allowed: k.allowed, decidedBy: decidedByPolicy(k.last) ? describeRow(program, k.row, k.last) : reasonText(k.last.reason) };
  };
  const egress = await one('egress');
  const ingress = await one('ingress');
  return { ...probeHead(probe), allowed: egress.allowed && ingress.allowed, egress, ingress };
}

/**
 * One direction's Decision (the shape `trace` prints) from what the kernel reported: verdict from the program's
 * return value; decidedBy, ruleId and tier from the rule-table row of tg_last's rule index.
 */
export function kernelDecision(ep: Endpoint, dir: Direction, pkt: Packet, k: KernelVerdict): Decision {
  const word = k.allowed ? 'allowed' : 'denied';
  if (!decidedByPolicy(k.last)) {
    const text = reasonText(k.last.reason);
    return { allowed: k.allowed, decidedBy: text, steps: [`${text}: ${word}`] };
  }
  const { row } = k;
  if (!row || row.index === 0 || row.endpoint !== ep.id || row.direction !== dir) {
    const what = !row ? 'not in the rule table' : row.index === 0 ? 'no rule' : `a row of ${row.endpoint} ${row.direction}`;
    throw new Error(`${ep.id} ${dir}: the kernel reported rule index ${k.last.rule} (ep_id ${k.last.epId}), which is ${what}`);
  }
  if (row.kind === 'rule') {
    const rule = ep[dir].tiers[row.tierIndex]?.rules[row.position ?? -1];
    if (!rule || rule.id !== row.ruleId) throw new Error(`${ep.id} ${dir}: rule index ${row.index} names ${row.ruleId}, which is not at tier ${row.tierIndex} position ${row.position} of the program`);
  }
  const at = row.kind === 'default' ? { tierIndex: ep[dir].tiers.length } : { tierIndex: row.tierIndex, ...(row.kind === 'rule' ? { position: row.position } : {}) };
  return walkTo(ep, dir, pkt, { ...at, allowed: k.allowed, by: 'the kernel' });
}

/**
 * `trace` by the kernel: fresh conntrack, the source pod's egress program, then the destination pod's ingress
 * program; a side that is not a pod (an address outside the cluster) does not take part, as in evaluateConnection.
 */
export async function traceWith(h: BpfHarness, program: Program, pkt: Packet, craftOpts: CraftOptions = {}): Promise<ConnectionVerdict> {
  const from = endpointByAddr(program, pkt.src);
  const to = endpointByAddr(program, pkt.dst);
  h.clearConntrack();
  const data = craft(pkt, craftOpts);
  const egress = from ? kernelDecision(from, 'egress', pkt, await kernelVerdict(h, 'egress', data)) : undefined;
  const ingress = to ? kernelDecision(to, 'ingress', pkt, await kernelVerdict(h, 'ingress', data)) : undefined;
  return { allowed: (egress?.allowed ?? true) && (ingress?.allowed ?? true), ...(egress ? { egress } : {}), ...(ingress ? { ingress } : {}) };
}

/** Loads the program's datapath, traces one connection through it and releases it. */
export async function traceConnection(program: Program, pkt: Packet): Promise<ConnectionVerdict> {
  const h = await BpfHarness.open(program);
  try {
    return await traceWith(h, program, pkt);
  } finally {
    h.close();
  }
}

/** Loads the program's datapath once and runs every probe through it (fresh conntrack per probe). */
export async function runProbes(program: Program, probes: Probe[]): Promise<ProbeResult[]> {
  const h = await BpfHarness.open(program);
  try {
    const out: ProbeResult[] = [];
    for (const p of probes) out.push(await probeWith(h, program, p));
    return out;
  } finally {
    h.close();
  }
}

export const engine: Engine = {
  name: 'bpf',
  run(compiled: Compiled, probes: Probe[]): Promise<ProbeResult[]> {
    return runProbes(compiled.program, probes);
  },
};

export const bpfEngine = engine;
