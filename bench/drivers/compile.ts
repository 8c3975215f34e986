// Driver: compile time. Writes `policies` NetworkPolicies over `pods` pods as manifests (bench/generate.ts) and
// times the whole pipeline, `compile()` from compiler/pipeline.ts: load, model, lower, optimize. Also times the
// netfilter emitters on the Program it produced.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { syntheticManifests } from '../generate';
import { emitIptables, emitNftables } from '../../compiler/emit/iptables';
import type { Program } from '../../compiler/ir/types';

export interface CompileSample {
  policies: number;
  pods: number;
  /** wall time of compile(), ms; null when the pipeline cannot run yet */
  compileMs: number | null;
  /** why compileMs is null */
  reason?: string;
  endpoints?: number;
  rules?: number;
  emitFlatMs?: number;
  emitNftMs?: number;
}

type CompileFn = (inputs: string[], opts?: { noOptimize?: boolean }) => { program: Program };

function loadPipeline(): { compile?: CompileFn; missing?: string } {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return { compile: require('../../compiler/pipeline').compile as CompileFn };
  } catch (err) {
    const e = err as Error;
    const first = e.message.split('\n')[0];
    return { missing: `compiler/pipeline.ts cannot be loaded yet: ${first}` };
  }
}

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

export function measureCompile(policies: number, pods: number): CompileSample {
  const p = loadPipeline();
  if (!p.compile) return { policies, pods, compileMs: null, reason: p.missing };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tgb-compile-'));
  try {
    const file = path.join(dir, 'cluster.yaml');
    fs.writeFileSync(file, syntheticManifests({ policies, pods }));
    let program: Program;
    const t0 = process.hrtime.bigint();
    try {
      program = p.compile([file]).program;
    } catch (err) {
      const e = err as Error & { diagnostics?: unknown[] };
      const n = Array.isArray(e.diagnostics) ? ` (${e.diagnostics.length} diagnostics)` : '';
      return { policies, pods, compileMs: null, reason: `compile() failed${n}: ${e.message.split('\n')[0]}` };
    }
    const compileMs = ms(t0);
    const rules = program.endpoints.reduce((n, e) => n + [e.ingress, e.egress].reduce((m, c) => m + c.tiers.reduce((k, t) => k + t.rules.length, 0), 0), 0);
    const t1 = process.hrtime.bigint();
    emitIptables(program, { style: 'flat', comments: false });
    const emitFlatMs = ms(t1);
    const t2 = process.hrtime.bigint();
    emitNftables(program, { comments: false });
    const emitNftMs = ms(t2);
    return { policies, pods, compileMs, endpoints: program.endpoints.length, rules, emitFlatMs, emitNftMs };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
