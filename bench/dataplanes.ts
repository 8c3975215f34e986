// The dataplanes a benchmark compares, each loaded from the same IR Program into a node netns.
//   none             no rules at all
//   iptables-legacy  flat iptables rules through iptables-legacy-restore (and ip6tables-legacy-restore)
//   iptables-nft     the same flat rules through iptables-nft-restore
//   ipset            Calico-style chains with ipsets, through iptables-legacy-restore
//   nftables         the nftables ruleset with sets
//   tollgate         Tollgate's BPF programs, loaded by the real loader through the hook (bench/hook.ts)
import type { Program } from '../compiler/ir/types';
import { emitIp6tables, emitIptables, emitNftables } from '../compiler/emit/iptables';
import { inNs } from './netlab';
import { tollgateHook } from './hook';

export const DATAPLANES = ['none', 'iptables-legacy', 'iptables-nft', 'ipset', 'nftables', 'tollgate'] as const;
export type Dataplane = (typeof DATAPLANES)[number];

export interface Loaded {
  dataplane: Dataplane;
  /** wall time to emit and load the ruleset, ms */
  loadMs: number;
  /** rules the dataplane holds (iptables -A lines, nft rules; map entries for tollgate) */
  ruleCount: number;
  /** set / map entries besides the rules */
  setEntries: number;
  unload(): Promise<void>;
}

/** The prefix of every chain, set and table the benchmarks create. */
export const BENCH_PREFIX = 'TGB';

/** Why a dataplane cannot be loaded on this machine right now; undefined when it can. */
export function unavailable(dp: Dataplane): string | undefined {
  return dp === 'tollgate' ? tollgateHook().missing : undefined;
}

export async function loadDataplane(dp: Dataplane, program: Program, nodeNs: string): Promise<Loaded> {
  const t0 = process.hrtime.bigint();
  const ms = (): number => Number(process.hrtime.bigint() - t0) / 1e6;
  switch (dp) {
    case 'none':
      return { dataplane: dp, loadMs: 0, ruleCount: 0, setEntries: 0, unload: async () => undefined };
    case 'iptables-legacy':
    case 'iptables-nft': {
      const out = emitIptables(program, { style: 'flat', prefix: BENCH_PREFIX, comments: false });
      const out6 = emitIp6tables(program, { style: 'flat', prefix: BENCH_PREFIX, comments: false });
      const six = dp.replace('iptables', 'ip6tables');
      inNs(nodeNs, `${dp}-restore`, [], out.rules);
      inNs(nodeNs, `${six}-restore`, [], out6.rules);
      return {
        dataplane: dp,
        loadMs: ms(),
        ruleCount: out.ruleCount,
        setEntries: 0,
        unload: async () => {
          inNs(nodeNs, `${dp}-restore`, [], '*filter\nCOMMIT\n');
          inNs(nodeNs, `${six}-restore`, [], '*filter\nCOMMIT\n');
          if (dp === 'iptables-nft') inNs(nodeNs, 'nft', ['flush', 'ruleset']);
        },
      };
    }
    case 'ipset': {
      const out = emitIptables(program, { style: 'calico', prefix: BENCH_PREFIX, comments: false });
      const out6 = emitIp6tables(program, { style: 'calico', prefix: BENCH_PREFIX, comments: false });
      const ipsets = out.ipsets + out6.ipsets;
      if (ipsets) inNs(nodeNs, 'ipset', ['restore'], ipsets);
      inNs(nodeNs, 'iptables-legacy-restore', [], out.rules);
      inNs(nodeNs, 'ip6tables-legacy-restore', [], out6.rules);
      const entries = ipsets.split('\n').filter((l) => l.startsWith('add ')).length;
      return {
        dataplane: dp,
        loadMs: ms(),
        ruleCount: out.ruleCount,
        setEntries: entries,
        unload: async () => {
          inNs(nodeNs, 'iptables-legacy-restore', [], '*filter\nCOMMIT\n');
          inNs(nodeNs, 'ip6tables-legacy-restore', [], '*filter\nCOMMIT\n');
          for (const s of [...out.sets, ...out6.sets]) inNs(nodeNs, 'ipset', ['destroy', s]);
        },
      };
    }
    case 'nftables': {
      const table = `${BENCH_PREFIX.toLowerCase()}_bench`;
      const out = emitNftables(program, { table, comments: false });
      inNs(nodeNs, 'nft', ['-f', '-'], out.ruleset);
      const entries = out.ruleset.split('\n').filter((l) => l.startsWith('add element')).reduce((n, l) => n + l.split(',').length, 0);
      return {
        dataplane: dp,
        loadMs: ms(),
        ruleCount: out.ruleCount,
        setEntries: entries,
        unload: async () => {
          inNs(nodeNs, 'nft', ['delete', 'table', 'inet', table]);
        },
      };
    }
    case 'tollgate': {
      const hook = tollgateHook();
      if (!hook.impl) throw new Error(`tollgate dataplane unavailable: ${hook.missing}`);
      const r = await hook.impl.loadIntoNetns(program, nodeNs);
      return { dataplane: dp, loadMs: ms(), ruleCount: r.mapEntries, setEntries: 0, unload: r.unload };
    }
  }
}
