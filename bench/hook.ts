// THE TOLLGATE BPF HOOK. The benchmarks measure Tollgate's own dataplane through this one interface, which the
// BPF/loader side provides as `export const tollgateBenchHook: TollgateBenchHook` in compiler/load/bench-hook.ts.
// Until that module exists every Tollgate figure is reported as null with the reason below, never estimated.
import type { Packet, Program } from '../compiler/ir/types';

export interface TollgateBenchHook {
  /** Compile `program`, load it and attach it to `ifaces` (host-side interfaces) inside netns `netns`. */
  loadIntoNetns(program: Program, netns: string, ifaces: string[]): Promise<{ mapEntries: number; unload(): Promise<void> }>;
  /**
   * BPF_PROG_TEST_RUN of the compiled datapath for `program`, one packet, `repeat` times: mean ns per run.
   * `established` = the packet's flow is already in conntrack (the second packet of an allowed flow).
   * `ifname` = the host-side interface the packet arrives on or leaves by (for the endpoint lookup).
   */
  testRun(program: Program, packet: Packet, opts: { repeat: number; established: boolean; ifname: string; direction: 'ingress' | 'egress' }): Promise<{ ns: number; allowed: boolean }>;
  /** The floor: mean ns per run of an empty tc program (returns TC_ACT_OK) through the same test-run path. */
  emptyTestRun(repeat: number): Promise<number>;
}

export const HOOK_MODULE = 'compiler/load/bench-hook.ts';

export function tollgateHook(): { impl?: TollgateBenchHook; missing?: string } {
  let mod: { tollgateBenchHook?: TollgateBenchHook };
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    mod = require('../compiler/load/bench-hook');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'MODULE_NOT_FOUND' && String(e.message).includes('bench-hook')) {
      return { missing: `${HOOK_MODULE} (export tollgateBenchHook) does not exist yet: the BPF loader has not landed` };
    }
    return { missing: `${HOOK_MODULE} failed to load: ${e.message}` };
  }
  if (!mod.tollgateBenchHook) return { missing: `${HOOK_MODULE} exports no tollgateBenchHook` };
  return { impl: mod.tollgateBenchHook };
}
