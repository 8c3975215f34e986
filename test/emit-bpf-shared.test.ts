// buildTables computes and writes the classes and decisions of an (endpoint, direction, address) once per
// distinct chain, family and set of rules the local address admits (one table_id), and every other entry with
// the same key points at that table with its own rule_base.
// Oracle: what each endpoint entry of a program looks up (its table's classes and decisions, rules made
// absolute by its rule_base) is exactly what it looks up when its endpoint is built alone (rule rows shifted),
// whether endpoints share chains (same objects, fresh copies) or differ in one action, one match, one tier
// end, or only in the addresses their local/notLocal rules admit; each table is written once.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import { buildTables, type BpfTables, type ClassEntry, type RuleRow } from '../compiler/emit/bpf/tables';
import { endpointContents, policyContents } from '../compiler/emit/bpf/serialize';
import { DIR } from '../compiler/emit/bpf/codes';
import { classValue, decisionKey, decisionValue, epKey, epValue, peerKey, portKey } from '../compiler/emit/bpf/layout';
import { PORT_WIDTH, prefixBytes } from '../compiler/emit/bpf/prefix';
import type { Action, Chain, Endpoint, Match, Rule } from '../compiler/ir/types';

const MATCHES: Match[] = [
  { peer: ['10.0.0.0/24'] },
  { peer: ['10.0.0.0/24', 'fd00::/64'], proto: 6, dports: [{ from: 80, to: 81 }] },
  { peer: ['10.0.1.0/24'], notPeer: ['10.0.1.128/25'] },
  { proto: 17, notDports: [{ from: 53, to: 53 }] },
  { local: ['10.1.0.1/32'] },
  { notLocal: ['10.1.0.2/32', 'fd01::2/128'], proto: 6 },
  { family: 6, proto: 58, icmp: { type: 128 } },
  { proto: 6, sports: [{ from: 1000, to: 2000 }] },
  { peer: ['0.0.0.0/0'], notProto: 6 },
  {},
];
const ACTIONS: Action[] = ['Allow', 'Deny', 'Pass', 'Log'];

const ruleSpec = fc.record({ m: fc.nat(MATCHES.length - 1), a: fc.constantFrom(...ACTIONS) });
const tierSpec = fc.record({ rules: fc.array(ruleSpec, { maxLength: 5 }), end: fc.constantFrom('Allow' as const, 'Deny' as const, 'Pass' as const) });

function chainOf(tiers: { rules: { m: number; a: Action }[]; end: 'Allow' | 'Deny' | 'Pass' }[]): Chain {
  return {
    tiers: tiers.map((t, ti) => ({
      name: `t${ti}`, kind: 'calico', end: { action: t.end, reason: 'end', policies: [] },
      rules: t.rules.map((r, i): Rule => ({ id: `p${ti}/${i}`, action: r.a, match: JSON.parse(JSON.stringify(MATCHES[r.m])) as Match, source: { kind: 'GlobalNetworkPolicy', name: `p${ti}`, direction: 'ingress', index: i } })),
    })),
  };
}

/** The tables of `alone` (one endpoint built by itself) as they stand inside a larger build: rows from `rowBase`. */
function shifted(alone: BpfTables, rowBase: number): Omit<BpfTables, 'rules'> & { rules: RuleRow[] } {
  const off = rowBase - 1;
  return {
    ...alone,
    rules: [...alone.rules].slice(1).map((r) => ({ ...r, index: r.index + off })),
    endpoints: alone.endpoints.map((e) => ({ ...e, missRule: e.missRule + off, ruleBase: e.ruleBase + off })),
  };
}

/** What one endpoint entry looks up, without ids: its fields, its table's entries, decision rules absolute. */
function view(t: Omit<BpfTables, 'rules'>, e: BpfTables['endpoints'][number]): unknown {
  const cls = (es: ClassEntry[]): string[] => es.filter((c) => c.tableId === e.tableId).map((c) => `${c.p.v.toString(16)}/${c.p.len} -> ${c.cls}`);
  const { epId: _e, tableId: _t, ruleBase: _r, ...fields } = e;
  return {
    fields, peer4: cls(t.peer4), peer6: cls(t.peer6), ports: cls(t.ports), sports: cls(t.sports),
    decisions: t.decisions.filter((d) => d.tableId === e.tableId).map((d) => `${d.peer},${d.port},${d.sport} -> ${e.ruleBase + d.rule} ${d.verdict}`),
  };
}

/** Ids are handed out once each (to ep_ids and table_ids alike), and every table entry belongs to an entry's table. */
function checkIds(t: BpfTables, first: number): { tables: number } {
  const tables = new Set(t.endpoints.map((e) => e.tableId));
  const ids = [...t.endpoints.map((e) => e.epId), ...tables];
  assert.equal(new Set(ids).size, ids.length, 'ids reused');
  assert.ok(ids.every((id) => id >= first), `an id below ${first}`);
  for (const es of [t.peer4, t.peer6, t.ports, t.sports, t.decisions]) for (const x of es) assert.ok(tables.has(x.tableId), `table ${x.tableId} of no entry`);
  return { tables: tables.size };
}

const ADDRS = [['10.1.0.1', 'fd01::1'], ['10.1.0.2', 'fd01::2'], ['10.1.0.3']];

describe('bpf tables: work shared between endpoints with the same chains', () => {
  it('a program builds to its endpoints built alone, one after the other', () => {
    let shared = 0;
    let decisions = 0;
    fc.assert(
      fc.property(fc.array(tierSpec, { minLength: 1, maxLength: 3 }), fc.array(fc.record({ kind: fc.constantFrom('same', 'copy', 'action', 'match', 'end'), tier: fc.nat(), rule: fc.nat(), m: fc.nat(MATCHES.length - 1), a: fc.constantFrom(...ACTIONS), end: fc.constantFrom('Allow' as const, 'Deny' as const, 'Pass' as const), addrs: fc.nat(ADDRS.length - 1) }), { minLength: 1, maxLength: 6 }), (tiers, variants) => {
        const base = chainOf(tiers);
        const eps: Endpoint[] = [];
        variants.forEach((v, i) => {
          let c = base;
          if (v.kind !== 'same') {
            const spec = JSON.parse(JSON.stringify(tiers)) as typeof tiers;
            const t = spec[v.tier % spec.length];
            if (v.kind === 'end') t.end = v.end;
            if (t.rules.length) {
              const r = t.rules[v.rule % t.rules.length];
              if (v.kind === 'action') r.a = v.a;
              if (v.kind === 'match') r.m = v.m;
            }
            c = chainOf(spec);
          }
          eps.push({ id: `n/p${i}`, namespace: 'n', name: `p${i}`, ips: ADDRS[v.addrs], labels: {}, ports: [], ingress: c, egress: i % 2 ? base : c });
        });
        const all = buildTables({ version: 1, endpoints: eps }, { epIdBase: 7 });
        const rules = [all.rules.at(0)!];
        const views: unknown[] = [];
        let haveSports = false;
        for (const ep of eps) {
          const a = shifted(buildTables({ version: 1, endpoints: [ep] }), rules.length);
          rules.push(...a.rules);
          views.push(...a.endpoints.map((e) => view(a, e)));
          haveSports ||= a.haveSports;
        }
        assert.deepEqual([...all.rules], rules);
        assert.deepEqual(all.endpoints.map((e) => view(all, e)), views);
        assert.equal(all.haveSports, haveSports);
        const { tables } = checkIds(all, 7);
        // a table is written once: the entries in the maps are those of the distinct tables, not of every entry
        const firstOf = new Map(all.endpoints.map((e) => [e.tableId, e]));
        const written = (k: 'peer4' | 'peer6' | 'ports' | 'sports' | 'decisions'): number => [...firstOf.values()].reduce((n, e) => n + (view(all, e) as Record<string, unknown[]>)[k].length, 0);
        for (const k of ['peer4', 'peer6', 'ports', 'sports', 'decisions'] as const) assert.equal(all[k].length, written(k), k);
        shared += all.endpoints.length - tables;
        decisions += all.decisions.length;
      }),
      { numRuns: 300 },
    );
    assert.ok(decisions > 300, `only ${decisions} decision entries in all`);
    assert.ok(shared > 300, `only ${shared} entries shared a table in all`);
  });

  it('the maps are written entry by entry as peerKey, portKey, classValue, decisionKey, decisionValue, epKey and epValue lay them out', () => {
    fc.assert(
      fc.property(fc.array(tierSpec, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(ADDRS.length - 1), { minLength: 1, maxLength: 5 }), (tiers, addrs) => {
        const c = chainOf(tiers);
        const eps: Endpoint[] = addrs.map((a, i) => ({ id: `n/p${i}`, namespace: 'n', name: `p${i}`, ips: ADDRS[a], labels: {}, ports: [], ingress: c, egress: chainOf(tiers) }));
        const t = buildTables({ version: 1, endpoints: eps });
        const byMap = new Map(policyContents(t).map((m) => [m.map, m]));
        const expect = (map: string, family: 4 | 6, es: ClassEntry[]): void => {
          const m = byMap.get(map)!;
          const width = family === 4 ? 32 : 128;
          assert.equal(m.count, es.length, map);
          assert.ok(m.keys.equals(Buffer.concat(es.map((e) => peerKey(family, e.tableId, prefixBytes(e.p, width), e.p.len)))), `${map} keys`);
          assert.ok(m.values.equals(Buffer.concat(es.map((e) => classValue(e.cls)))), `${map} values`);
        };
        expect('tg_peer4', 4, t.peer4.filter((e) => e.p.len !== 32));
        expect('tg_peer4_exact', 4, t.peer4.filter((e) => e.p.len === 32));
        expect('tg_peer6', 6, t.peer6.filter((e) => e.p.len !== 128));
        expect('tg_peer6_exact', 6, t.peer6.filter((e) => e.p.len === 128));
        const expectPorts = (map: string, es: ClassEntry[]): void => {
          const m = byMap.get(map)!;
          assert.equal(m.count, es.length, map);
          const key = (e: ClassEntry): Buffer => {
            const b = prefixBytes(e.p, PORT_WIDTH);
            return portKey(e.tableId, b[0], b.readUInt16BE(1), e.p.len);
          };
          assert.ok(m.keys.equals(Buffer.concat(es.map(key))), `${map} keys`);
          assert.ok(m.values.equals(Buffer.concat(es.map((e) => classValue(e.cls)))), `${map} values`);
        };
        expectPorts('tg_ports', t.ports.filter((e) => e.p.len !== PORT_WIDTH));
        expectPorts('tg_port_exact', t.ports.filter((e) => e.p.len === PORT_WIDTH));
        if (t.haveSports) expectPorts('tg_sports', t.sports);
        else assert.equal(byMap.get('tg_sports'), undefined);
        const d = byMap.get('tg_decisions')!;
        assert.equal(d.count, t.decisions.length);
        assert.ok(d.keys.equals(Buffer.concat(t.decisions.map((x) => decisionKey(x.tableId, x.peer, x.port, x.sport)))), 'tg_decisions keys');
        assert.ok(d.values.equals(Buffer.concat(t.decisions.map((x) => decisionValue(x.rule, x.verdict)))), 'tg_decisions values');
        const ifindexOf = (e: BpfTables['endpoints'][number]): number => 100 + e.epId * 3;
        const epMap = endpointContents(t.endpoints, ifindexOf);
        assert.equal(epMap.count, t.endpoints.length);
        const epKeys = t.endpoints.map((e) => epKey({ ifindex: ifindexOf(e), direction: e.direction === 'ingress' ? DIR.INGRESS : DIR.EGRESS, family: e.family, addr: e.addr }));
        assert.ok(epMap.keys.equals(Buffer.concat(epKeys)), 'tg_endpoints keys');
        assert.ok(epMap.values.equals(Buffer.concat(t.endpoints.map((e) => epValue(e)))), 'tg_endpoints values');
      }),
      { numRuns: 200 },
    );
  });
});
