// Equivalence, checked rather than assumed: on the conformance cases (test/conformance/**), with each netfilter
// dataplane loaded into the lab's node netns, real traffic between the lab's pods (the netns engine) is allowed
// or dropped exactly as the IR engine says, probe for probe, IPv4 and IPv6. (The bpf engine is held to the same
// IR engine by test/bpf-conformance.test.ts, so the grids equal Tollgate's.)
// A spread sample of 4 cases by default (about 30 s per case: four dataplanes, both families, denied probes wait
// for their timeout); TGB_CONFORMANCE=all runs every case.
import { strict as assert } from 'assert';
import * as path from 'path';
import { compile } from '../compiler/pipeline';
import { engine as irEngine } from '../compiler/engines/ir';
import { createNetnsEngine } from '../compiler/engines/netns';
import { labDown, labOptions, labStatus, labUp } from '../compiler/lab';
import type { Probe } from '../compiler/engines/types';
import type { Program } from '../compiler/ir/types';
import { loadDataplane, type Dataplane } from '../bench/dataplanes';
import { discoverCases, loadCase, PROTOCOLS } from './conformance/cases';

// 'tg' + at most 4 characters, per process; 'tgbq' is never swept by bench/netlab sweepOrphans
const PREFIX = `tgbq${(process.pid % 1296).toString(36)}`;
const LAB = labOptions(PREFIX);
const netns = createNetnsEngine({ lab: LAB });
const DATAPLANES: Dataplane[] = ['iptables-legacy', 'iptables-nft', 'ipset', 'nftables'];

function sample(files: string[]): string[] {
  if (process.env.TGB_CONFORMANCE === 'all') return files;
  const every = Math.max(1, Math.floor(files.length / 4));
  return files.filter((_, i) => i % every === 0);
}

describe('netfilter dataplanes equal the IR on the conformance cases (lab, real traffic)', function () {
  this.timeout(600000);
  before(async () => {
    await labDown(LAB); // a lab of this prefix left by a killed run of this same pid is ours to remove
  });
  afterEach(async () => {
    await labDown(LAB);
  });

  for (const file of sample(discoverCases())) {
    it(path.relative(path.join(__dirname, 'conformance'), file), async () => {
      const c = loadCase(file);
      const compiled = compile([file]);
      const probes: Probe[] = [];
      const seen = new Set<string>();
      for (const e of c.expectations)
        for (const family of [4, 6] as const) {
          const protocol = PROTOCOLS[e.probe.protocol];
          if (protocol === undefined || protocol === 132) continue; // ICMP and SCTP are not probed by real traffic
          const key = `${e.probe.port}/${protocol}/${family}`;
          if (seen.has(key)) continue;
          seen.add(key);
          for (const from of c.pods) for (const to of c.pods) if (from !== to) probes.push({ from, to, port: e.probe.port, protocol, family });
        }
      await labUp(compiled.model, { ...LAB, sources: [file] });
      const state = (await labStatus(LAB)).state;
      assert.ok(state, 'the lab is up');
      const hostIf = new Map(state.pods.map((p) => [p.id, p.hostIf]));
      const program: Program = { ...compiled.program, endpoints: compiled.program.endpoints.map((e) => ({ ...e, iface: hostIf.get(e.id) })) };
      const want = (await irEngine.run(compiled, probes)).map((r) => `${r.from} -> ${r.to} ${r.port}/${r.protocol}: ${r.allowed ? 'allow' : 'deny'}`);
      for (const dp of DATAPLANES) {
        const loaded = await loadDataplane(dp, program, state.nodeNetns);
        try {
          const got = (await netns.run(compiled, probes)).map((r) => `${r.from} -> ${r.to} ${r.port}/${r.protocol}: ${r.allowed ? 'allow' : 'deny'}`);
          const fam = probes.map((p) => `v${p.family} `);
          const diff = got.map((g, i) => (g === want[i] ? '' : `${fam[i]}${want[i]} (IR), ${g.split(': ')[1]} (real)`)).filter(Boolean);
          assert.deepEqual(diff, [], `${dp}: real traffic differs from the IR`);
        } finally {
          await loaded.unload();
        }
      }
    });
  }
});
