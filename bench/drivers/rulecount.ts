// Driver: what the same rules cost each dataplane in rules and entries, and how long emitting and loading takes.
// For each N (and each CIDR-set size) the synthetic Program is emitted for every netfilter dataplane and loaded
// into a throwaway netns; flat iptables with a large CIDR set becomes one rule per member, so past
// FLAT_LOAD_LIMIT rules it is counted but not loaded.
import { syntheticProgram } from '../generate';
import { emitIptables, emitNftables } from '../../compiler/emit/iptables';
import { BENCH_PREFIX } from '../dataplanes';
import { inNs, run } from '../netlab';

export interface CountSample {
  rules: number;
  setSize: number;
  dataplane: 'iptables-flat' | 'ipset' | 'nftables';
  /** rules the dataplane holds */
  ruleCount: number;
  /** ipset / nft set elements */
  setEntries: number;
  emitMs: number;
  /** wall time to load into an empty netns; null when not loaded (with the reason) */
  loadMs: number | null;
  reason?: string;
}

export const FLAT_LOAD_LIMIT = 200000;

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

export function measureCounts(netnsTag: string, rules: number, setSize: number): CountSample[] {
  const ns = `${netnsTag}-count`;
  const iface = `${netnsTag}b`;
  const program = syntheticProgram({ rules, iface, serverIp: '10.77.2.2', setSize });
  const out: CountSample[] = [];
  run('ip', ['netns', 'add', ns]);
  try {
    {
      const t0 = process.hrtime.bigint();
      const e = emitIptables(program, { style: 'flat', prefix: BENCH_PREFIX, comments: false });
      const emitMs = ms(t0);
      let loadMs: number | null = null;
      let reason: string | undefined;
      if (e.ruleCount <= FLAT_LOAD_LIMIT) {
        const t1 = process.hrtime.bigint();
        inNs(ns, 'iptables-legacy-restore', [], e.rules, 600000);
        loadMs = ms(t1);
        inNs(ns, 'iptables-legacy-restore', [], '*filter\nCOMMIT\n');
      } else reason = `${e.ruleCount} rules: over the ${FLAT_LOAD_LIMIT} loaded by the benchmark`;
      out.push({ rules, setSize, dataplane: 'iptables-flat', ruleCount: e.ruleCount, setEntries: 0, emitMs, loadMs, reason });
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
  } finally {
    run('ip', ['netns', 'del', ns]);
  }
  return out;
}
