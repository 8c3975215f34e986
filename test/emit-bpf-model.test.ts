// A pure-TypeScript model of the datapath's lookups over the emitted tables (endpoint entry, exact hash then
// longest prefix for peer and port classes, source-port class, decision or miss), checked against evaluate()
// for random programs and packets. No kernel: many more cases per second than the kernel differential test,
// which checks the same tables through the real programs.
import { strict as assert } from 'assert';
import * as fc from 'fast-check';
import type { Packet, Program } from '../compiler/ir/types';
import { evaluate } from '../compiler/ir/evaluate';
import { buildTables, type BpfTables, type ClassEntry } from '../compiler/emit/bpf/tables';
import { cidrToPrefix, contains, PORT_WIDTH, type Prefix } from '../compiler/emit/bpf/prefix';
import { EP_FLAG, VERDICT } from '../compiler/emit/bpf/codes';
import { arbitraries, chainOf, endpoint, packetOf, program } from './bpf-fixtures';

function longest(entries: ClassEntry[], tableId: number, point: Prefix, width: number): number {
  let best: ClassEntry | undefined;
  for (const e of entries) if (e.tableId === tableId && contains(e.p, point, width) && (!best || e.p.len > best.p.len)) best = e;
  return best?.cls ?? 0;
}

/** What the C program does for a new flow, step by step, on the emitted tables. */
export function modelDecide(t: BpfTables, dir: 'ingress' | 'egress', pkt: Packet): { allowed: boolean; rule: number } {
  const family = pkt.src.includes(':') ? 6 : 4;
  const local = dir === 'ingress' ? pkt.dst : pkt.src;
  const peer = dir === 'ingress' ? pkt.src : pkt.dst;
  const ep = t.endpoints.find((e) => e.direction === dir && e.addr === local);
  if (!ep) throw new Error(`no endpoint entry for ${local} ${dir}`);
  const width = family === 4 ? 32 : 128;
  const peerPoint = cidrToPrefix(`${peer}/${width}`);
  const peerClass = longest(family === 4 ? t.peer4 : t.peer6, ep.tableId, peerPoint, width);
  const icmp = pkt.proto === 1 || pkt.proto === 58;
  const dport = icmp ? ((pkt.icmpType ?? 0) << 8) | (pkt.icmpCode ?? 0) : pkt.dport ?? 0;
  const point = (port: number): Prefix => ({ v: (BigInt(pkt.proto) << 16n) | BigInt(port), len: PORT_WIDTH });
  const portClass = longest(t.ports, ep.tableId, point(dport), PORT_WIDTH);
  const sportClass = ep.flags & EP_FLAG.SPORTS ? longest(t.sports, ep.tableId, point(icmp ? 0 : pkt.sport ?? 0), PORT_WIDTH) : 0;
  const d = t.decisions.find((x) => x.tableId === ep.tableId && x.peer === peerClass && x.port === portClass && x.sport === sportClass);
  return d ? { allowed: d.verdict === VERDICT.ALLOW, rule: ep.ruleBase + d.rule } : { allowed: ep.missVerdict === VERDICT.ALLOW, rule: ep.missRule };
}

function irOf(p: Program, dir: 'ingress' | 'egress', pkt: Packet): { allowed: boolean; ruleId?: string; tier?: string } {
  const d = evaluate(p.endpoints[0], dir, pkt);
  return { allowed: d.allowed, ...(d.ruleId ? { ruleId: d.ruleId } : {}), ...(d.tier ? { tier: d.tier } : {}) };
}

describe('emit-bpf: a TypeScript model of the lookups equals evaluate()', function () {
  this.timeout(300000);
  it('random programs and packets (fast-check, 400 programs)', () => {
    const { tiers, pkt } = arbitraries();
    fc.assert(fc.property(tiers, fc.array(pkt, { minLength: 10, maxLength: 30 }), (ts, pkts) => {
      const chain = chainOf(ts);
      const p = program(endpoint('ns/x', ['10.1.2.3', 'fd00:1::3'], chain, chain));
      const t = buildTables(p);
      for (const k of pkts) for (const dir of ['ingress', 'egress'] as const) {
        const packet = packetOf(k, dir);
        const m = modelDecide(t, dir, packet);
        const row = t.rules.at(m.rule)!;
        const got = { allowed: m.allowed, ...(row.kind === 'rule' ? { ruleId: row.ruleId } : {}), ...(row.kind !== 'default' ? { tier: row.tier } : {}) };
        assert.deepEqual(got, irOf(p, dir, packet), `${dir} ${JSON.stringify(packet)}\nchain ${JSON.stringify(chain)}`);
      }
    }), { numRuns: 400 });
  });
});
