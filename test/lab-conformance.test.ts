// Conformance on real traffic: each case of test/conformance is compiled, the lab holds its pods, Tollgate's
// programs are loaded onto the lab's host-side veths, and the netns engine's verdicts must equal the truth table.
// Consecutive cases with the same pods share one lab (the policy changes by a load, as on a live node).
// TOLLGATE_LAB_CONFORMANCE=all runs every case; a number N runs the first N cases of each suite (default 2), so the
// whole suite stays within minutes on 2 cores. Kernel objects: this process's test prefix; removed in after().
import { strict as assert } from 'assert';
import * as fs from 'fs';
import { compile } from '../compiler/pipeline';
import { createNetnsEngine } from '../compiler/engines/netns';
import type { Probe } from '../compiler/engines/types';
import { labDown, labInterfaces, labOptions, labUp, planLab } from '../compiler/lab';
import { load, unload } from '../compiler/load/loader';
import { compare, discoverCases, formatFailures, loadCase, protocolNumber, type ConformanceCase } from './conformance/cases';
import { TEST_PREFIX } from './lab-support';

const OPTS = labOptions(TEST_PREFIX);
const SCOPE = { pinRoot: `/sys/fs/bpf/${TEST_PREFIX}c`, stateDir: `/run/tollgate/${TEST_PREFIX}-conf`, netns: `${TEST_PREFIX}-node` };
const LIMIT = process.env.TOLLGATE_LAB_CONFORMANCE === 'all' ? Infinity : Number(process.env.TOLLGATE_LAB_CONFORMANCE ?? 2);

function selected(): ConformanceCase[] {
  const perSuite = new Map<string, number>();
  const out: ConformanceCase[] = [];
  for (const file of discoverCases()) {
    const c = loadCase(file);
    const n = perSuite.get(c.suite) ?? 0;
    if (n >= LIMIT) continue;
    perSuite.set(c.suite, n + 1);
    out.push(c);
  }
  return out;
}

describe(`conformance on real traffic (lab + Tollgate loaded; ${Number.isFinite(LIMIT) ? `first ${LIMIT} per suite` : 'every case'})`, function () {
  this.timeout(300000);
  let labKey = '';
  const started = Date.now();
  let probesSent = 0;

  before(async () => {
    await labDown(OPTS);
  });
  after(async () => {
    // eslint-disable-next-line no-console
    console.log(`      [conformance] ${probesSent} probes in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    try {
      await unload(SCOPE);
    } finally {
      await labDown(OPTS);
      fs.rmSync(SCOPE.pinRoot, { recursive: true, force: true });
      fs.rmSync(SCOPE.stateDir, { recursive: true, force: true });
    }
  });

  for (const c of selected()) {
    it(`${c.suite}/${c.name}`, async () => {
      const compiled = compile([c.file]);
      const key = JSON.stringify(planLab(compiled.model, TEST_PREFIX).pods);
      if (key !== labKey) {
        await unload(SCOPE).catch(() => undefined); // the programs sit on veths about to go
        await labDown(OPTS);
        labKey = '';
        await labUp(compiled.model, OPTS);
        labKey = key;
      }
      const ifaceMap = Object.fromEntries(labInterfaces(OPTS).map((i) => [i.pod, i.ifname]));
      await load(compiled.program, { ...SCOPE, ifaceMap });
      const engine = createNetnsEngine({ lab: OPTS, timeoutMs: 500 });
      // One engine run per family with every probe of the case: one round of timeouts, not one per probe kind.
      const comps = [];
      for (const family of [4, 6] as const) {
        const exps = c.expectations.filter((e) => e.family === family);
        if (exps.length === 0) continue;
        const probes: Probe[] = [];
        for (const e of exps)
          for (const from of c.pods)
            for (const to of c.pods) if (from !== to) probes.push({ from, to, port: e.probe.port, protocol: protocolNumber(e.probe, family), family });
        probesSent += probes.length;
        const results = await engine.run(compiled, probes);
        for (const e of exps) comps.push(compare(c, e, results));
      }
      const bad = comps.filter((x) => x.mismatches.length > 0 || x.inconsistent.length > 0);
      if (bad.length > 0) assert.fail(formatFailures(c, comps));
    });
  }
});
