// A local adapter, until compiler/load/bench-hook.ts exists: Tollgate's per-packet cost through the BPF
// engine's test harness (compiler/engines/bpf.ts BpfHarness: the generated datapath, compiled with clang, maps
// filled from the Program, run by BPF_PROG_TEST_RUN). Only the test-run figures; real traffic needs the loader.
//   new flow:    conntrack emptied before every run, one run each, median of the kernel's per-run duration;
//   established: one run to create the conntrack entry, then `repeat` runs (mean).
// The harness is opened with its defaults (tg_record_last = 1: one extra array write per packet); with
// record: false the datapath currently fails the verifier (reported to the BPF owner).
import type { Packet, Program } from '../../compiler/ir/types';

export interface HarnessTestRun {
  /** one datapath for `program` (one clang compile), every packet measured through it */
  (program: Program, packets: Packet[], opts: { repeat: number; direction: 'ingress' | 'egress' }): Promise<{ newflowNs: number; establishedNs: number; allowed: boolean }[]>;
}

export function harnessTestRun(): { run?: HarnessTestRun; missing?: string } {
  let engine: typeof import('../../compiler/engines/bpf');
  let packet: typeof import('../../compiler/emit/bpf/packet');
  try {
    engine = require('../../compiler/engines/bpf') as typeof import('../../compiler/engines/bpf');
    packet = require('../../compiler/emit/bpf/packet') as typeof import('../../compiler/emit/bpf/packet');
  } catch (err) {
    return { missing: `compiler/engines/bpf.ts (BpfHarness) cannot be loaded: ${(err as Error).message.split('\n')[0]}` };
  }
  const run: HarnessTestRun = async (program, pkts, opts) => {
    const h = await engine.BpfHarness.open(program);
    const out: { newflowNs: number; establishedNs: number; allowed: boolean }[] = [];
    try {
      for (const pkt of pkts) {
        const data = packet.craft(pkt);
        const samples: number[] = [];
        let allowed = true;
        const fresh = Math.max(50, Math.min(2000, Math.round(opts.repeat / 100)));
        for (let i = 0; i < fresh; i++) {
          h.clearConntrack();
          const r = await h.run(opts.direction, data, { repeat: 1 });
          if (r.retval !== 0) allowed = false;
          samples.push(r.duration);
        }
        samples.sort((a, b) => a - b);
        h.clearConntrack();
        await h.run(opts.direction, data, { repeat: 1 });
        const est = await h.run(opts.direction, data, { repeat: opts.repeat });
        out.push({ newflowNs: samples[samples.length >> 1], establishedNs: est.duration, allowed });
      }
      return out;
    } finally {
      h.close();
    }
  };
  return { run };
}
