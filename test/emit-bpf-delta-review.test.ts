// Review of the incremental table delta (compiler/emit/bpf/delta.ts): a rule changed in one dimension and in
// its action (the random mutations of test/emit-bpf-delta.test.ts make them too: kind 'dimAction').
// Either the change falls back, or the tables the index holds after a delta must answer as a full build
// of the new Program (answers: the longest class entry per dimension, then the decision or the miss verdict).
import { strict as assert } from 'assert';
import type { Match, Program, Rule } from '../compiler/ir/types';
import { buildTables, type BpfTables, type EndpointEntry } from '../compiler/emit/bpf/tables';
import { buildIndex, computeDelta, diffPrograms, tablesOf } from '../compiler/emit/bpf/delta';
import { cidrToPrefix, contains, PORT_WIDTH, type Prefix } from '../compiler/emit/bpf/prefix';
import { endpoint, program, rule, tier } from './bpf-fixtures';

type Tables = Pick<BpfTables, 'endpoints' | 'peer4' | 'peer6' | 'ports' | 'sports' | 'decisions'>;

/** (rule row, verdict) the datapath gives an entry for a peer address and a (protocol << 16 | port). */
function answer(t: Tables, e: EndpointEntry, peer: bigint, l4: bigint): string {
  const longest = (es: { tableId: number; p: Prefix; cls: number }[], x: bigint, width: number): number => {
    let best: { p: Prefix; cls: number } | undefined;
    for (const c of es) if (c.tableId === e.tableId && contains(c.p, { v: x, len: width }, width) && (!best || c.p.len > best.p.len)) best = c;
    return best ? best.cls : 0;
  };
  const p = longest(e.family === 4 ? t.peer4 : t.peer6, peer, e.family === 4 ? 32 : 128);
  const q = longest(t.ports, l4, PORT_WIDTH);
  const d = t.decisions.find((x) => x.tableId === e.tableId && x.peer === p && x.port === q && x.sport === 0);
  return d ? `${e.ruleBase + d.rule}/${d.verdict}` : `${e.missRule}/${e.missVerdict}`;
}

function oneRule(r: Rule, end: 'Allow' | 'Deny' = 'Allow'): Program {
  return program(endpoint('ns/a', ['10.9.9.9'], [tier('t', [r, rule('other', 'Allow', { proto: 17, dports: [{ from: 53, to: 53 }] })], end)]));
}

/** Applies old -> next through the index; the answers of the index must be those of a full build of next. */
function deltaAnswers(old: Program, next: Program, packets: [string, number, number][]): { incremental: boolean; got: string[]; want: string[] } {
  const t0 = buildTables(old);
  const idx = buildIndex(t0, old);
  const diff = diffPrograms(old, next, idx.local);
  assert.ok(!('reason' in diff), JSON.stringify(diff));
  const r = computeDelta(idx, diff.changes, 1000);
  if (!r.ok) return { incremental: false, got: [], want: [] };
  const t1 = buildTables(next);
  const live = tablesOf(idx);
  const ask = (t: Tables, e: EndpointEntry): string[] => packets.map(([peer, proto, port]) => answer(t, e, cidrToPrefix(`${peer}/32`).v, (BigInt(proto) << 16n) | BigInt(port)));
  return { incremental: true, got: ask(live, live.endpoints[0]), want: ask(t1, t1.endpoints[0]) };
}

describe('emit-bpf delta review: a rule changed in one dimension AND in its action', () => {
  const packets: [string, number, number][] = [['10.1.1.1', 6, 80], ['10.1.1.1', 6, 81], ['10.1.1.1', 6, 82], ['10.1.1.1', 17, 53]];
  const r = (action: Rule['action'], match: Match): Rule => rule('r', action, match);

  it('ports 80 Allow -> ports 80-81 Deny: the decisions of the class the rule keeps follow the new action', () => {
    const old = oneRule(r('Allow', { proto: 6, dports: [{ from: 80, to: 80 }] }));
    const next = oneRule(r('Deny', { proto: 6, dports: [{ from: 80, to: 81 }] }));
    const a = deltaAnswers(old, next, packets);
    if (a.incremental) assert.deepEqual(a.got, a.want, 'answers of the index after the delta vs a full build');
  });

  it('peer 10.1.0.0/16 Allow -> peer 10.0.0.0/8 Deny', () => {
    const old = oneRule(r('Allow', { peer: ['10.1.0.0/16'], proto: 6 }));
    const next = oneRule(r('Deny', { peer: ['10.0.0.0/8'], proto: 6 }));
    const a = deltaAnswers(old, next, [['10.1.1.1', 6, 80], ['10.2.1.1', 6, 80], ['11.0.0.1', 6, 80]]);
    if (a.incremental) assert.deepEqual(a.got, a.want, 'answers of the index after the delta vs a full build');
  });
});
