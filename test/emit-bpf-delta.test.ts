// The incremental table delta (compiler/emit/bpf/delta.ts) against full builds: random Programs, random
// single-rule mutations in one dimension (peer, ports, source ports, action) and in two (which must fall back),
// and the conformance cases' Programs with their first rules moved to another port, peer block or action.
// Class ids differ between a delta and a full build, so tables are compared by what the datapath answers:
// a model of its lookups (endpoint entry, exact hash then trie per the entry's flags, source port only with
// TG_EP_SPORTS, decision or miss) gives (rule row, verdict) for sampled packets, including every prefix
// boundary +-1. The write order is checked too: after every single op, each packet gets its old or new answer.
import { strict as assert } from 'assert';
import * as fc from 'fast-check';
import type { Action, Match, Program, Rule, TierChain } from '../compiler/ir/types';
import { buildTables, type BpfTables, type EndpointEntry } from '../compiler/emit/bpf/tables';
import { buildIndex, computeDelta, diffPrograms, opEntry, tablesOf, type Op } from '../compiler/emit/bpf/delta';
import { policyContents } from '../compiler/emit/bpf/serialize';
import { cidrToPrefix, mask, PORT_WIDTH, type Prefix } from '../compiler/emit/bpf/prefix';
import { EP_FLAG } from '../compiler/emit/bpf/codes';
import { syntheticProgram } from '../bench/generate';
import { compile } from '../compiler/pipeline';
import { arbitraries, chainOf, endpoint, program } from './bpf-fixtures';
import { discoverCases } from './conformance/cases';

type Answer = string; // "rule/verdict"

/** The maps as the datapath sees them: class entries by map, decisions, endpoint entries. */
class Maps {
  readonly cls = new Map<string, number>();
  readonly dec = new Map<string, { rule: number; verdict: number }>();
  eps: EndpointEntry[] = [];

  static of(t: Pick<BpfTables, 'endpoints' | 'peer4' | 'peer6' | 'ports' | 'sports' | 'decisions'>): Maps {
    const m = new Maps();
    m.eps = t.endpoints.map((e) => ({ ...e }));
    for (const e of t.peer4) m.cls.set(Maps.key('peer', 4, e.tableId, e.p), e.cls);
    for (const e of t.peer6) m.cls.set(Maps.key('peer', 6, e.tableId, e.p), e.cls);
    for (const e of t.ports) m.cls.set(Maps.key('port', 4, e.tableId, e.p), e.cls);
    for (const e of t.sports) m.cls.set(Maps.key('sport', 4, e.tableId, e.p), e.cls);
    for (const d of t.decisions) m.dec.set(`${d.tableId}|${d.peer},${d.port},${d.sport}`, { rule: d.rule, verdict: d.verdict });
    return m;
  }

  static key(dim: string, family: number, tableId: number, p: Prefix): string {
    return `${dim === 'peer' ? `peer${family}` : dim}|${tableId}|${p.v}/${p.len}`;
  }

  apply(op: Op): void {
    if (op.kind === 'class') {
      const k = Maps.key(op.dim, op.family, op.tableId, op.p);
      const had = this.cls.get(k);
      assert.equal(had ?? null, op.before, `op.before of ${k}`);
      if (op.cls === null) this.cls.delete(k);
      else this.cls.set(k, op.cls);
    } else {
      const k = `${op.tableId}|${op.peer},${op.port},${op.sport}`;
      assert.deepEqual(this.dec.get(k) ?? null, op.before, `op.before of decision ${k}`);
      if (op.value === null) this.dec.delete(k);
      else this.dec.set(k, op.value);
    }
  }

  /** trie: longest of the lengths below `full`; exact: the full length only */
  private lookup(dim: string, family: number, tableId: number, v: bigint, width: number, exact: boolean, lpm: boolean): number {
    if (exact) {
      const c = this.cls.get(Maps.key(dim, family, tableId, { v, len: width }));
      if (c !== undefined) return c;
    }
    if (lpm) {
      for (let l = dim === 'sport' ? width : width - 1; l >= 0; l--) {
        const c = this.cls.get(Maps.key(dim, family, tableId, { v: mask(v, l, width), len: l }));
        if (c !== undefined) return c;
      }
    }
    return 0;
  }

  decide(e: EndpointEntry, peer: bigint, l4: bigint, sport: bigint): Answer {
    const w = e.family === 4 ? 32 : 128;
    const f = e.flags;
    const p = this.lookup('peer', e.family, e.tableId, peer, w, !!(f & EP_FLAG.PEER_EXACT), !!(f & EP_FLAG.PEER_LPM));
    const q = this.lookup('port', 4, e.tableId, l4, PORT_WIDTH, !!(f & EP_FLAG.PORT_EXACT), !!(f & EP_FLAG.PORT_LPM));
    const s = f & EP_FLAG.SPORTS ? this.lookup('sport', 4, e.tableId, sport, PORT_WIDTH, false, true) : 0;
    const d = this.dec.get(`${e.tableId}|${p},${q},${s}`);
    return d ? `${e.ruleBase + d.rule}/${d.verdict}` : `${e.missRule}/${e.missVerdict}`;
  }
}

interface Probe {
  ep: string; // endpoint|direction|addr
  peer: bigint;
  l4: bigint;
  sport: bigint;
}

const epKey = (e: EndpointEntry): string => `${e.endpoint}|${e.direction}|${e.addr}`;

/** Packets at every boundary (+-1) of every prefix the tables or the rules name, and a few more. */
function probes(entries: EndpointEntry[], ts: Maps[], programs: Program[]): Probe[] {
  const peers = { 4: new Set<bigint>([0n, 0xffffffffn]), 6: new Set<bigint>([0n, (1n << 128n) - 1n]) };
  const ports = new Set<bigint>([0n, (6n << 16n) | 80n, (17n << 16n) | 53n, (1n << 16n) | (8n << 8n), (47n << 16n)]);
  const edge = (set: Set<bigint>, p: Prefix, width: number): void => {
    const end = p.v + (1n << BigInt(width - p.len)) - 1n;
    const max = (1n << BigInt(width)) - 1n;
    for (const x of [p.v - 1n, p.v, end, end + 1n]) if (x >= 0n && x <= max) set.add(x);
  };
  for (const m of ts) for (const k of m.cls.keys()) {
    const [dim, , pv] = k.split('|');
    const [v, len] = pv.split('/');
    const p = { v: BigInt(v), len: Number(len) };
    if (dim === 'peer4') edge(peers[4], p, 32);
    else if (dim === 'peer6') edge(peers[6], p, 128);
    else edge(ports, p, PORT_WIDTH);
  }
  for (const prog of programs) for (const ep of prog.endpoints) for (const d of ['ingress', 'egress'] as const) for (const t of ep[d].tiers) for (const r of t.rules) {
    for (const c of [...(r.match.peer ?? []), ...(r.match.notPeer ?? [])]) {
      const fam = c.includes(':') ? 6 : 4;
      edge(peers[fam], cidrToPrefix(c), fam === 4 ? 32 : 128);
    }
    for (const rg of [...(r.match.dports ?? []), ...(r.match.notDports ?? []), ...(r.match.sports ?? []), ...(r.match.notSports ?? [])]) {
      for (const proto of [6n, 17n]) for (const x of [rg.from - 1, rg.from, rg.to, rg.to + 1]) if (x >= 0 && x <= 65535) ports.add((proto << 16n) | BigInt(x));
    }
  }
  const sports = [...ports].filter((x) => x >> 16n === 6n || x >> 16n === 17n).slice(0, 6);
  const out: Probe[] = [];
  for (const e of entries) {
    for (const peer of peers[e.family]) for (const l4 of ports) {
      out.push({ ep: epKey(e), peer, l4, sport: sports.length ? sports[out.length % sports.length] : 0n });
    }
  }
  return out;
}

function answers(m: Maps, ps: Probe[]): Answer[] {
  const byKey = new Map(m.eps.map((e) => [epKey(e), e]));
  return ps.map((p) => m.decide(byKey.get(p.ep)!, p.peer, p.l4, p.sport));
}

type Mutation = { kind: 'peer' | 'port' | 'sport' | 'action' | 'two' | 'dimAction'; pick: number; cidrs: string[]; port: number; action: Action; both: boolean; second?: { pick: number; cidrs: string[]; port: number } };

const CIDRS = ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.3/32', '10.1.2.4/32', '10.200.0.0/14', '0.0.0.0/0', '192.168.0.0/16', 'fd00::/8', 'fd00:1::/32', 'fd00:1::3/128'];

function mutate(r: Rule, m: Mutation): Rule {
  const match: Match = { ...r.match };
  const portMatch = (): void => {
    match.dports = [{ from: m.port, to: m.port + (m.port % 3) * 7 }];
    if (![6, 17, 132].includes(match.proto ?? 0)) match.proto = 6;
    delete match.icmp;
    delete match.notIcmp;
  };
  switch (m.kind) {
    case 'peer':
      match.peer = m.cidrs;
      break;
    case 'port':
      portMatch();
      break;
    case 'sport':
      match.sports = [{ from: m.port, to: m.port + 10 }];
      if (![6, 17, 132].includes(match.proto ?? 0)) match.proto = 17;
      delete match.icmp;
      delete match.notIcmp;
      break;
    case 'action':
      return { ...r, action: m.action === r.action ? (r.action === 'Allow' ? 'Deny' : 'Allow') : m.action };
    case 'two':
      match.peer = m.cidrs;
      portMatch();
      break;
    case 'dimAction':
      // one dimension (peer or ports) and the action together
      if (m.pick % 2) match.peer = m.cidrs;
      else portMatch();
      return { ...r, match, action: m.action === r.action ? (r.action === 'Allow' ? 'Deny' : 'Allow') : m.action };
  }
  return { ...r, match };
}

function withRule(p: Program, endpoints: string[], pick: number, f: (r: Rule) => Rule): Program | undefined {
  let found = false;
  const out: Program = {
    ...p,
    endpoints: p.endpoints.map((ep) => {
      if (!endpoints.includes(ep.id)) return ep;
      let n = 0;
      const tiers: TierChain[] = ep.ingress.tiers.map((t) => ({ ...t, rules: t.rules.map((r) => (n++ === pick ? ((found = true), f(r)) : r)) }));
      return { ...ep, ingress: { tiers } };
    }),
  };
  return found ? out : undefined;
}

/** Runs one mutation through the delta; returns 'incremental' or the fallback reason. */
function check(old: Program, next: Program, everyOp: boolean): string {
  const t0 = buildTables(old);
  const idx = buildIndex(t0, old);
  const diff = diffPrograms(old, next, idx.local);
  if ('reason' in diff) return diff.reason;
  const r = computeDelta(idx, diff.changes, 1000);
  if (!r.ok) return r.reason;
  const t1 = buildTables(next);
  const m0 = Maps.of(t0);
  const m1 = Maps.of(t1);
  const ps = probes(t0.endpoints, [m0, m1], [old, next]);
  const before = answers(m0, ps);
  const after = answers(m1, ps);
  const live = Maps.of(t0);
  const sample = ps.map((_, i) => i).filter((i) => before[i] !== after[i] || i % 7 === 0);
  const within = (what: string): void => {
    const got = answers(live, sample.map((i) => ps[i]));
    sample.forEach((i, k) => assert.ok(got[k] === before[i] || got[k] === after[i], `${what}: probe ${JSON.stringify(ps[i], (_, v) => (typeof v === 'bigint' ? v.toString(16) : v))} got ${got[k]}, old ${before[i]}, new ${after[i]}`));
  };
  const byKey = (l: EndpointEntry[]): Map<string, EndpointEntry> => new Map(l.map((e) => [`${e.tableId}|${epKey(e)}`, e]));
  const flip = (pairs: { after: EndpointEntry }[]): void => {
    const m = byKey(live.eps);
    for (const f of pairs) m.set(`${f.after.tableId}|${epKey(f.after)}`, { ...f.after });
    live.eps = [...m.values()];
  };
  flip(r.delta.widen);
  if (everyOp) within('after widening flags');
  r.delta.pre.forEach((op, i) => {
    live.apply(op);
    if (everyOp) within(`after pre op ${i} ${JSON.stringify(op, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v))}`);
  });
  flip(r.delta.flips);
  assert.deepEqual(answers(live, ps), after, 'after the flip, before the deletions');
  for (const op of r.delta.post) live.apply(op);
  assert.deepEqual(answers(live, ps), after, 'after the deletions');
  // the index holds the new tables, and the live maps are exactly them
  const ix = Maps.of(tablesOf(idx));
  assert.deepEqual(answers(ix, ps), after, 'the index after the delta');
  assert.deepEqual([...live.cls].sort(), [...ix.cls].sort(), 'live class entries == the index');
  assert.deepEqual(new Set(r.delta.flips.map((f) => f.after.epId)).size, r.delta.flips.length, 'fresh ep ids');
  // the decision bound kept up to date equals the bound of a full build (the ceiling falls back as a full load fails)
  const bounds = (x: ReturnType<typeof buildIndex>): number[] => [...x.tables.values()].map((t) => t.needed).sort((p, q) => p - q);
  assert.deepEqual(bounds(idx), bounds(buildIndex(t1, next)), 'decision bounds');
  // and a second delta on the updated index (back to the old Program) is right as well
  const back = diffPrograms(next, old, idx.local);
  if (!('reason' in back)) {
    const r2 = computeDelta(idx, back.changes, r.delta.nextId);
    if (r2.ok) {
      for (const op of r2.delta.pre) live.apply(op);
      flip(r2.delta.flips);
      for (const op of r2.delta.post) live.apply(op);
      assert.deepEqual(answers(live, ps), before, 'back to the old Program');
    }
  }
  return 'incremental';
}

describe('emit-bpf delta: incremental table updates equal full builds', function () {
  this.timeout(600000);

  it('random Programs, random single-rule mutations (fast-check): answers, write order, fallbacks', () => {
    const { tiers } = arbitraries();
    const mutation: fc.Arbitrary<Mutation> = fc.record({
      kind: fc.constantFrom<Mutation['kind']>('peer', 'port', 'sport', 'action', 'two', 'dimAction', 'peer', 'port'),
      pick: fc.nat(12),
      cidrs: fc.array(fc.constantFrom(...CIDRS), { minLength: 1, maxLength: 3 }),
      port: fc.constantFrom(53, 80, 443, 1000, 1500, 8080),
      action: fc.constantFrom<Action>('Allow', 'Deny', 'Pass', 'Log'),
      both: fc.boolean(),
      // now and then a second rule changed the same way (several rules of one table, one dimension)
      second: fc.option(fc.record({ pick: fc.nat(12), cidrs: fc.array(fc.constantFrom(...CIDRS), { minLength: 1, maxLength: 2 }), port: fc.constantFrom(22, 80, 1200, 9000) }), { nil: undefined }),
    });
    const outcomes = new Map<string, number>();
    const reasons = new Map<string, string>();
    fc.assert(fc.property(tiers, mutation, (ts, m) => {
      const chain = chainOf(ts);
      const old = program(endpoint('ns/x', ['10.1.2.3', 'fd00:1::3'], chain, chain), endpoint('ns/y', ['10.1.2.4'], chain, chain));
      const count = chain.reduce((n, t) => n + t.rules.length, 0);
      if (count === 0) return;
      const eps = m.both ? ['ns/x', 'ns/y'] : ['ns/x'];
      let next = withRule(old, eps, m.pick % count, (r) => mutate(r, m))!;
      if (m.second && m.second.pick % count !== m.pick % count) next = withRule(next, eps, m.second.pick % count, (r) => mutate(r, { ...m, ...m.second!, pick: m.second!.pick }))!;
      const got = check(old, next, true);
      const k = got === 'incremental' ? `${m.kind}: incremental` : `${m.kind}: fallback`;
      outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
      if (got !== 'incremental') reasons.set(k, got);
    }), { numRuns: 300 });
    // the property is not vacuous: every kind of change went incremental many times
    for (const kind of ['peer', 'port', 'sport', 'action']) assert.ok((outcomes.get(`${kind}: incremental`) ?? 0) >= 5, `${kind}: ${JSON.stringify([...outcomes])}`);
    assert.ok((outcomes.get('two: fallback') ?? 0) >= 5, JSON.stringify([...outcomes]));
    assert.match(reasons.get('two: fallback') ?? '', /dimensions|shared|more than one way|starts|stops|family/);
    // a dimension and the action together: the classes the rule keeps would keep decisions walked with the old action
    assert.ok((outcomes.get('dimAction: fallback') ?? 0) >= 5, JSON.stringify([...outcomes]));
  });

  it('the bench change (rule 0 port of 1000 rules) touches a handful of entries', () => {
    const p = syntheticProgram({ rules: 1000, iface: 'x', serverIp: '10.77.2.2' });
    const ep = p.endpoints[0];
    const tier = ep.ingress.tiers[0];
    const rules = tier.rules.map((r, i) => (i === 0 ? { ...r, match: { ...r.match, dports: [{ from: 65000, to: 65000 }] } } : r));
    const next: Program = { ...p, endpoints: [{ ...ep, ingress: { tiers: [{ ...tier, rules }] } }] };
    const t0 = buildTables(p);
    const idx = buildIndex(t0, p);
    const diff = diffPrograms(p, next, idx.local);
    assert.ok(!('reason' in diff));
    const r = computeDelta(idx, diff.changes, 5000);
    assert.ok(r.ok);
    // what the datapath answers for rule 0's and rule 1's peer and ports, and others, against a full build
    const live = Maps.of(t0);
    for (const op of r.delta.pre) live.apply(op);
    live.eps = r.delta.flips.map((f) => f.after);
    for (const op of r.delta.post) live.apply(op);
    const e = live.eps[0];
    const full = Maps.of(buildTables(next));
    const ip = (s: string): bigint => cidrToPrefix(`${s}/32`).v;
    for (const peer of ['10.200.0.0', '10.200.0.1', '10.200.3.200', '10.77.1.9', '8.8.8.8']) for (const port of [65000, 1024, 1025, 1224, 5201, 9]) for (const proto of [6n, 17n]) {
      const l4 = (proto << 16n) | BigInt(port);
      assert.equal(live.decide(e, ip(peer), l4, 0n), full.decide(full.eps[0], ip(peer), l4, 0n), `${peer} ${proto}/${port}`);
    }
    assert.notEqual(live.decide(e, ip('10.200.0.0'), (17n << 16n) | 65000n, 0n), live.decide(e, ip('10.200.0.0'), (17n << 16n) | 1024n, 0n));
    // rule 0's port class moves: one new class with its decision, one entry added, one dropped, one decision gone
    assert.ok(r.delta.pre.length <= 3 && r.delta.post.length <= 3 && r.delta.flips.length === 1, JSON.stringify({ pre: r.delta.pre.length, post: r.delta.post.length }, null, 1));
  });

  it('falls back when rules are added, endpoints change or shared tables diverge', () => {
    const a = endpoint('ns/x', ['10.1.2.3'], chainOf([{ rules: [['Allow', { peer: ['10.1.0.0/16'], proto: 6, dports: [{ from: 80, to: 80 }] }]], end: 'Deny' }]));
    const b = { ...a, id: 'ns/y', name: 'y', ips: ['10.1.2.4'] };
    const p = program(a, b);
    const t = buildTables(p);
    const ing = t.endpoints.filter((e) => e.direction === 'ingress');
    assert.equal(ing[0].tableId, ing[1].tableId, 'the two entries share a table');
    const idx = buildIndex(t, p);
    const onlyX = withRule(p, ['ns/x'], 0, (r) => ({ ...r, match: { ...r.match, dports: [{ from: 81, to: 81 }] } }))!;
    const d = diffPrograms(p, onlyX, idx.local);
    assert.ok(!('reason' in d));
    const r = computeDelta(idx, d.changes, 100);
    assert.ok(!r.ok && /shared/.test(r.reason) && !r.dirty);
    const added: Program = { ...p, endpoints: [{ ...a, ingress: { tiers: [{ ...a.ingress.tiers[0], rules: [...a.ingress.tiers[0].rules, a.ingress.tiers[0].rules[0]] }] } }, b] };
    const d2 = diffPrograms(p, added, idx.local);
    assert.ok('reason' in d2 && /rules added/.test(d2.reason));
    const moved: Program = { ...p, endpoints: [{ ...a, ips: ['10.1.2.9'] }, b] };
    const d3 = diffPrograms(p, moved, idx.local);
    assert.ok('reason' in d3 && /addresses/.test(d3.reason));
    // the decision ceiling: a delta over it falls back (as the full build would fail), and says the index changed
    const both = withRule(p, ['ns/x', 'ns/y'], 0, (r) => ({ ...r, match: { ...r.match, dports: [{ from: 81, to: 81 }] } }))!;
    const d4 = diffPrograms(p, both, idx.local);
    assert.ok(!('reason' in d4));
    const bound = [...idx.tables.values()].find((x) => x.chains.has('ns/x|ingress'))!.needed;
    const r4 = computeDelta(idx, d4.changes, 100, bound - 1);
    assert.ok(!r4.ok && /decision ceiling/.test(r4.reason) && r4.dirty, JSON.stringify(r4));
    const r5 = computeDelta(buildIndex(t, p), d4.changes, 100, bound);
    assert.ok(r5.ok, 'at the ceiling itself it goes through');
  });

  it('the conformance cases\' Programs: each rule (shared by every endpoint it applies to) moved to another port, peer or action', () => {
    const outcomes = new Map<string, number>();
    // what the incremental path leaves to the ordinary load, by design
    const expected = /starts constraining|stops constraining|starts matching|stops matching|matches every packet|shared by/;
    for (const file of discoverCases()) {
      let p: Program;
      try {
        p = compile([file]).program;
      } catch {
        continue; // cases that expect a compile error
      }
      const rules = [...new Set(p.endpoints.flatMap((e) => [...e.ingress.tiers, ...e.egress.tiers].flatMap((t) => t.rules)))].slice(0, 2);
      for (const target of rules) {
        const m = target.match;
        const changes: [string, (r: Rule) => Rule][] = [['action', (r) => ({ ...r, action: r.action === 'Allow' ? 'Deny' : 'Allow' })]];
        // another port of the same protocols, another peer block of the same families
        if (m.dports) changes.push(['port', (r) => ({ ...r, match: { ...r.match, dports: [{ from: 4444, to: 4450 }] } })]);
        if (m.peer?.length) {
          const fams = new Set(m.peer.map((c) => (c.includes(':') ? 6 : 4)));
          changes.push(['peer', (r) => ({ ...r, match: { ...r.match, peer: [...(fams.has(4) ? ['10.77.0.0/16', '10.0.1.1/32'] : []), ...(fams.has(6) ? ['fd00:77::/64'] : [])] } })]);
        }
        for (const [kind, f] of changes) {
          const changed = f(target);
          const swap = (ts: TierChain[]): TierChain[] => ts.map((t) => (t.rules.includes(target) ? { ...t, rules: t.rules.map((r) => (r === target ? changed : r)) } : t));
          const next: Program = { ...p, endpoints: p.endpoints.map((e) => ({ ...e, ingress: { tiers: swap(e.ingress.tiers) }, egress: { tiers: swap(e.egress.tiers) } })) };
          const res = check(p, next, false);
          const got = res === 'incremental' ? 'incremental' : 'fallback';
          if (got === 'fallback') assert.match(res, expected, `${file}: ${kind}`);
          outcomes.set(`${kind}: ${got}`, (outcomes.get(`${kind}: ${got}`) ?? 0) + 1);
        }
      }
    }
    console.log(`      ${JSON.stringify([...outcomes])}`);
    for (const kind of ['port', 'peer', 'action']) assert.ok((outcomes.get(`${kind}: incremental`) ?? 0) >= 20, JSON.stringify([...outcomes]));
  });

  it('ops encode to the bytes the full load writes (every entry of a build with both families, ports, source ports)', () => {
    const { tiers } = arbitraries();
    fc.assert(fc.property(tiers, (ts) => {
      const chain = chainOf(ts);
      const t = buildTables(program(endpoint('ns/x', ['10.1.2.3', 'fd00:1::3'], chain, chain)));
      const want = new Map<string, string>();
      for (const c of policyContents(t)) for (let i = 0; i < c.count; i++) {
        want.set(`${c.map} ${c.keys.subarray(i * c.keySize, (i + 1) * c.keySize).toString('hex')}`, c.values.subarray(i * c.valueSize, (i + 1) * c.valueSize).toString('hex'));
      }
      const ops: Op[] = [
        ...t.peer4.map((e): Op => ({ kind: 'class', dim: 'peer', family: 4, tableId: e.tableId, p: e.p, cls: e.cls, before: null })),
        ...t.peer6.map((e): Op => ({ kind: 'class', dim: 'peer', family: 6, tableId: e.tableId, p: e.p, cls: e.cls, before: null })),
        ...t.ports.map((e): Op => ({ kind: 'class', dim: 'port', family: 4, tableId: e.tableId, p: e.p, cls: e.cls, before: null })),
        ...(t.haveSports ? t.sports : []).map((e): Op => ({ kind: 'class', dim: 'sport', family: 4, tableId: e.tableId, p: e.p, cls: e.cls, before: null })),
        ...t.decisions.map((d): Op => ({ kind: 'decision', tableId: d.tableId, peer: d.peer, port: d.port, sport: d.sport, value: { rule: d.rule, verdict: d.verdict }, before: null })),
      ];
      const got = new Map(ops.map((op) => {
        const e = opEntry(op);
        return [`${e.map} ${e.key.toString('hex')}`, e.value!.toString('hex')];
      }));
      assert.deepEqual([...got].sort(), [...want].sort());
    }), { numRuns: 150 });
  });
});
