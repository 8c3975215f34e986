// The bpf engine against the ir engine on every conformance case (test/conformance/**), IPv4 and IPv6: the same
// ProbeResult JSON, field for field (verdicts, both directions' decidedBy, notes). The kernel decides: each case
// is compiled, loaded through the native addon and probed with BPF_PROG_TEST_RUN.
import { strict as assert } from 'assert';
import * as path from 'path';
import { compile } from '../compiler/pipeline';
import { engine as irEngine } from '../compiler/engines/ir';
import { engine as bpfEngine } from '../compiler/engines/bpf';
import type { Probe } from '../compiler/engines/types';
import { discoverCases, loadCase, protocolNumber } from './conformance/cases';

describe('bpf engine equals the ir engine on every conformance case (kernel)', function () {
  this.timeout(600000);
  for (const file of discoverCases()) {
    it(path.relative(path.join(__dirname, 'conformance'), file), async () => {
      const c = loadCase(file);
      const compiled = compile([file]);
      const probes: Probe[] = [];
      const seen = new Set<string>();
      for (const e of c.expectations) for (const family of [4, 6] as const) {
        const key = `${e.probe.port}/${e.probe.protocol}/${family}`;
        if (seen.has(key)) continue;
        seen.add(key);
        for (const from of c.pods) for (const to of c.pods) if (from !== to) probes.push({ from, to, port: e.probe.port, protocol: protocolNumber(e.probe, family), family });
      }
      const want = await irEngine.run(compiled, probes);
      const got = await bpfEngine.run(compiled, probes);
      assert.deepEqual(got, want);
    });
  }
});
