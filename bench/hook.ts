// THE TOLLGATE BPF HOOK. The benchmarks measure Tollgate's own dataplane through this one interface, which the
// loader side provides as `export const tollgateBenchHook: TollgateBenchHook` in compiler/load/bench-hook.ts
// (the real transactional loader, as `tollgate load --netns` runs it). If that module cannot be loaded every
// Tollgate figure is reported as null with the reason, never estimated.
import type { Packet, Program } from '../compiler/ir/types';

/** What one load or update through the loader did and cost. */
export interface TollgateLoadFigures {
  mode: 'maps-only' | 'new-object' | 'incremental';
  /** why an update through the loader's dataplane handle was not incremental */
  fallback?: string;
  clang: 'ran' | 'cached' | 'not-needed';
  verified: boolean;
  /** from the call until the new policy enforces (the switch done) */
  enforcingMs: number;
  /** until old entries are gone and the state is written */
  totalMs: number;
  tablesMs: number;
  clangMs?: number;
  verifierMs?: number;
  writeMs: number;
  switchMs: number;
}

/** One BPF map of a load, as the kernel accounts it (memlock from /proc/self/fdinfo of the map's fd). */
export interface TollgateMapMemory {
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** entries the load wrote (its own generation only) */
  entries: number;
  memlockBytes: number;
}

export interface TollgateLoaded {
  /** entries written into the policy and endpoint maps by this load */
  mapEntries: number;
  load: TollgateLoadFigures;
  /** every map of the load (the loader sizes them for two generations side by side) */
  maps: TollgateMapMemory[];
  /** load `program` again into the same scope, through the loader's dataplane handle (incremental when only rules changed in place, else maps-only or a new object) */
  update(program: Program): Promise<TollgateLoadFigures>;
  unload(): Promise<void>;
}

export interface TollgateBenchHook {
  /** Load `program` into netns `netns` as `tollgate load --netns` does (endpoints by their interface there). */
  loadIntoNetns(program: Program, netns: string): Promise<TollgateLoaded>;
  /**
   * BPF_PROG_TEST_RUN of the loaded datapath for `program`, one packet: mean ns per run and the verdict.
   * `established` = the packet's flow is already in conntrack (the second packet of an allowed flow); a new flow
   * is measured with conntrack emptied before every run. `direction` = the pod's ingress or egress policy.
   * The program stays loaded for the next call with the same Program object, until close().
   */
  testRun(program: Program, packet: Packet, opts: { repeat: number; established: boolean; direction: 'ingress' | 'egress' }): Promise<{ ns: number; allowed: boolean }>;
  /** Unloads what testRun keeps loaded. */
  close(): Promise<void>;
  /** Removes pins and state of loads into namespaces named `<prefix>…` (after a killed run). */
  sweep(prefix: string): string[];
}

export const HOOK_MODULE = 'compiler/load/bench-hook.ts';

export function tollgateHook(): { impl?: TollgateBenchHook; missing?: string } {
  let mod: { tollgateBenchHook?: TollgateBenchHook };
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    mod = require('../compiler/load/bench-hook');
  } catch (err) {
    return { missing: `${HOOK_MODULE} failed to load: ${(err as Error).message.split('\n')[0]}` };
  }
  if (!mod.tollgateBenchHook) return { missing: `${HOOK_MODULE} exports no tollgateBenchHook` };
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const native = require('../compiler/load/native') as typeof import('../compiler/load/native');
  if (!native.nativeAvailable()) return { missing: 'the native addon is not built (npm run build:native)' };
  return { impl: mod.tollgateBenchHook };
}
