// Driver: what the same rules cost each dataplane in rules and entries, how long emitting and loading takes,
// and how long a one-rule change takes to apply. For each N (and each CIDR-set size) the synthetic Program is
// emitted for every netfilter dataplane and loaded into a throwaway netns; flat iptables with a large CIDR set
// becomes one rule per member, so past FLAT_LOAD_LIMIT rules it is counted but not loaded.
// Tollgate: loaded by the real loader through the hook (bench/hook.ts) into the same netns (its interface is a
// veth there): load time (a new object: clang when the object cache misses, the verifier, every map written),
// map entries, map memory (the kernel's memlock of every map, sized for two generations), and the single-rule
// update: rule 0's port changed and loaded again through the loader's dataplane handle, which applies it
// incrementally (only the changed entries, into the live tables; no clang, no verifier); `mode` says so, or
// names the fallback.
// Flat iptables-legacy's single-rule update is `iptables -R` of rule 1 (the kernel takes the whole table anew).
import type { Program } from '../../compiler/ir/types';
import { syntheticProgram } from '../generate';
import { emitIptables, emitNftables } from '../../compiler/emit/iptables';
import { BENCH_PREFIX } from '../dataplanes';
import { inNs, run } from '../netlab';
import { tollgateHook } from '../hook';
import { median } from '../stats';

export interface UpdateSample {
  /** 'incremental' for Tollgate (its dataplane handle), else how it fell back ('maps-only'); 'iptables -R' for flat iptables */
  mode: string;
  /** Tollgate: why an update was not incremental (the first reason seen) */
  fallback?: string;
  clang?: string;
  /** median over the updates: until the new rule enforces */
  enforcingMs: number;
  /** median: until the old entries are gone (Tollgate) */
  totalMs: number;
  samples: number[];
  /** Tollgate, medians: tables from the IR, writing the new entries, the switch */
  tablesMs?: number;
  writeMs?: number;
  switchMs?: number;
}

export interface CountSample {
  rules: number;
  setSize: number;
  dataplane: 'iptables-flat' | 'ipset' | 'nftables' | 'tollgate';
  /** rules the dataplane holds */
  ruleCount: number;
  /** ipset / nft set elements */
  setEntries: number;
  emitMs: number;
  /** wall time to load into an empty netns; null when not loaded (with the reason) */
  loadMs: number | null;
  reason?: string;
  /** Tollgate: BPF map entries written (policy and endpoint maps) */
  mapEntries?: number;
  /** Tollgate: memlock bytes of every map of the load, and per map */
  memoryBytes?: number;
  maps?: { name: string; type: string; keySize: number; valueSize: number; maxEntries: number; entries: number; memlockBytes: number }[];
  /** Tollgate: how the first load went (new object, clang ran or cached) */
  loadMode?: string;
  update?: UpdateSample;
}

/** The synthetic Program with rule 0's port moved to `port` (a one-rule change). */
function withRule0Port(p: Program, port: number): Program {
  const ep = p.endpoints[0];
  const tier = ep.ingress.tiers[0];
  const rules = tier.rules.map((r, i) => (i === 0 ? { ...r, match: { ...r.match, dports: [{ from: port, to: port }] } } : r));
  return { ...p, endpoints: [{ ...ep, ingress: { tiers: [{ ...tier, rules }] } }] };
}

/** A port no synthetic rule uses. */
export const UPDATE_PORT = 65000;

function updateSample(mode: string, samples: { enforcingMs: number; totalMs: number; clang?: string; fallback?: string; tablesMs?: number; writeMs?: number; switchMs?: number }[]): UpdateSample {
  const part = (k: 'tablesMs' | 'writeMs' | 'switchMs'): Partial<UpdateSample> => (samples.every((x) => typeof x[k] === 'number') ? { [k]: median(samples.map((x) => x[k] as number)) } : {});
  return {
    mode, ...(samples[0]?.clang ? { clang: samples[0].clang } : {}), ...fallbackOf(samples), enforcingMs: median(samples.map((x) => x.enforcingMs)), totalMs: median(samples.map((x) => x.totalMs)),
    samples: samples.map((x) => x.enforcingMs), ...part('tablesMs'), ...part('writeMs'), ...part('switchMs'),
  };
}

function fallbackOf(samples: { fallback?: string }[]): Partial<UpdateSample> {
  const f = samples.find((x) => x.fallback !== undefined)?.fallback;
  return f !== undefined ? { fallback: f } : {};
}

async function tollgateCounts(ns: string, program: Program, rules: number, setSize: number, updates: number): Promise<CountSample> {
  const hook = tollgateHook();
  const base = { rules, setSize, dataplane: 'tollgate' as const, ruleCount: 0, setEntries: 0, emitMs: 0 };
  if (!hook.impl) return { ...base, loadMs: null, reason: hook.missing };
  const t0 = process.hrtime.bigint();
  const l = await hook.impl.loadIntoNetns(program, ns);
  try {
    const loadMs = ms(t0);
    const ups: { enforcingMs: number; totalMs: number; clang?: string; mode: string; fallback?: string }[] = [];
    for (let i = 0; i < updates; i++) ups.push(await l.update(i % 2 === 0 ? withRule0Port(program, UPDATE_PORT) : program));
    const modes = [...new Set(ups.map((u) => u.mode))];
    return {
      ...base, ruleCount: l.mapEntries, emitMs: l.load.tablesMs, loadMs, mapEntries: l.mapEntries, loadMode: `${l.load.mode}, clang ${l.load.clang}`,
      memoryBytes: l.maps.reduce((a, m) => a + m.memlockBytes, 0), maps: l.maps, update: updateSample(modes.join('+'), ups),
    };
  } finally {
    await l.unload();
  }
}

export const FLAT_LOAD_LIMIT = 200000;

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

export async function measureCounts(netnsTag: string, rules: number, setSize: number, updates = 3): Promise<CountSample[]> {
  const ns = `${netnsTag}-count`;
  const iface = `${netnsTag}b`;
  const program = syntheticProgram({ rules, iface, serverIp: '10.77.2.2', setSize });
  const out: CountSample[] = [];
  run('ip', ['netns', 'add', ns]);
  try {
    inNs(ns, 'ip', ['link', 'add', iface, 'type', 'veth', 'peer', 'name', `${netnsTag}p`]);
    {
      const t0 = process.hrtime.bigint();
      const e = emitIptables(program, { style: 'flat', prefix: BENCH_PREFIX, comments: false });
      const emitMs = ms(t0);
      if (e.ruleCount <= FLAT_LOAD_LIMIT) {
        const t1 = process.hrtime.bigint();
        inNs(ns, 'iptables-legacy-restore', [], e.rules, 600000);
        const loadMs = ms(t1);
        const ups: { enforcingMs: number; totalMs: number }[] = [];
        const chain = `${BENCH_PREFIX}-tw-${iface}`;
        const rule0 = program.endpoints[0].ingress.tiers[0].rules[0].match;
        for (let i = 0; i < updates; i++) {
          const port = i % 2 === 0 ? UPDATE_PORT : Number(rule0.dports?.[0].from);
          const t2 = process.hrtime.bigint();
          inNs(ns, 'iptables-legacy', ['-w', '-R', chain, '1', '-s', String(rule0.peer?.[0]), '-p', 'udp', '-m', 'udp', '--dport', String(port), '-j', 'RETURN'], undefined, 600000);
          const d = ms(t2);
          ups.push({ enforcingMs: d, totalMs: d });
        }
        inNs(ns, 'iptables-legacy-restore', [], '*filter\nCOMMIT\n');
        out.push({ rules, setSize, dataplane: 'iptables-flat', ruleCount: e.ruleCount, setEntries: 0, emitMs, loadMs, update: updateSample('iptables -R', ups) });
      } else out.push({ rules, setSize, dataplane: 'iptables-flat', ruleCount: e.ruleCount, setEntries: 0, emitMs, loadMs: null, reason: `${e.ruleCount} rules: over the ${FLAT_LOAD_LIMIT} loaded by the benchmark` });
    }
    {
      const t0 = process.hrtime.bigint();
      const e = emitIptables(program, { style: 'calico', prefix: BENCH_PREFIX, comments: false });
      const emitMs = ms(t0);
      const t1 = process.hrtime.bigint();
      if (e.ipsets) inNs(ns, 'ipset', ['restore'], e.ipsets, 600000);
      inNs(ns, 'iptables-legacy-restore', [], e.rules, 600000);
      const loadMs = ms(t1);
      const entries = e.ipsets.split('\n').filter((l) => l.startsWith('add ')).length;
      out.push({ rules, setSize, dataplane: 'ipset', ruleCount: e.ruleCount, setEntries: entries, emitMs, loadMs });
    }
    {
      const t0 = process.hrtime.bigint();
      const e = emitNftables(program, { table: `${BENCH_PREFIX.toLowerCase()}_count`, comments: false });
      const emitMs = ms(t0);
      const t1 = process.hrtime.bigint();
      inNs(ns, 'nft', ['-f', '-'], e.ruleset, 600000);
      const loadMs = ms(t1);
      const entries = e.ruleset.split('\n').filter((l) => l.startsWith('add element')).reduce((n, l) => n + l.split(',').length, 0);
      out.push({ rules, setSize, dataplane: 'nftables', ruleCount: e.ruleCount, setEntries: entries, emitMs, loadMs });
    }
    out.push(await tollgateCounts(ns, program, rules, setSize, updates));
  } finally {
    run('ip', ['netns', 'del', ns]);
  }
  return out;
}
