// A local adapter, until compiler/load/bench-hook.ts exists: Tollgate's datapath on real traffic, built by the
// BPF engine's harness (compiler/engines/bpf.ts BpfHarness) with the node netns's real ifindexes, and attached
// with the native addon's attachTc: the pod-ingress program on tc egress of each endpoint's host-side
// interface (packets leaving to the pod), the pod-egress program on tc ingress (packets arriving from it).
// Not the loader (no pinning, no transactional update): enough to put the same datapath on the same wire.
import type { Program } from '../../compiler/ir/types';

export interface Attached {
  mapEntries: number;
  unload(): Promise<void>;
}

export function harnessTraffic(): { load?: (program: Program, netns: string) => Promise<Attached>; missing?: string } {
  let engine: typeof import('../../compiler/engines/bpf');
  let native: typeof import('../../compiler/load/native');
  try {
    engine = require('../../compiler/engines/bpf') as typeof import('../../compiler/engines/bpf');
    native = require('../../compiler/load/native') as typeof import('../../compiler/load/native');
    if (!native.nativeAvailable()) return { missing: 'the native addon is not built' };
  } catch (err) {
    return { missing: `compiler/engines/bpf.ts (BpfHarness) cannot be loaded: ${(err as Error).message.split('\n')[0]}` };
  }
  const load = async (program: Program, netns: string): Promise<Attached> => {
    const ifaces = [...new Set(program.endpoints.map((e) => e.iface).filter((i): i is string => !!i))];
    const index = new Map(ifaces.map((i) => [i, native.ifindex(i, netns)]));
    const h = await engine.BpfHarness.open(program, {
      ifindexOf: (e) => {
        const i = e.iface ? index.get(e.iface) : undefined;
        if (i === undefined) throw new Error(`endpoint ${e.endpoint}: no host-side interface in netns ${netns}`);
        return i;
      },
    });
    const attached: { ifname: string; direction: 'ingress' | 'egress'; handle: number; priority: number }[] = [];
    const detachAll = async (): Promise<void> => {
      for (const a of attached.splice(0)) await native.detachTc({ ifname: a.ifname, netns, direction: a.direction, handle: a.handle, priority: a.priority });
    };
    try {
      for (const ifname of ifaces) {
        const e = await native.attachTc({ ifname, netns, direction: 'egress', prog: h.ingress });
        attached.push({ ifname, direction: 'egress', handle: e.handle, priority: e.priority });
        const i = await native.attachTc({ ifname, netns, direction: 'ingress', prog: h.egress });
        attached.push({ ifname, direction: 'ingress', handle: i.handle, priority: i.priority });
      }
    } catch (err) {
      await detachAll();
      h.close();
      throw err;
    }
    const t = h.tables;
    const mapEntries = t.endpoints.length + t.peer4.length + t.peer6.length + t.ports.length + t.sports.length + t.decisions.length;
    return {
      mapEntries,
      unload: async () => {
        try {
          await detachAll();
        } finally {
          h.close();
        }
      },
    };
  };
  return { load };
}
