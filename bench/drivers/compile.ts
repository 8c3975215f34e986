// Driver: compile time. Writes `policies` NetworkPolicies over `pods` pods as manifests (bench/generate.ts) and
// times the whole pipeline, `compile()` from compiler/pipeline.ts: load, model, lower, optimize. Also times the
// netfilter emitters on the Program it produced.
import { spawnSync } from 'child_process';
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

/**
 * measureCompile in a child process with a time limit, so a slow compiler costs the benchmark at most
 * `timeoutMs` (the figure is then null, with the limit as the reason).
 */
export function measureCompileLimited(policies: number, pods: number, timeoutMs: number): CompileSample {
  const r = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), __filename, 'child', String(policies), String(pods)], {
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT')
    return { policies, pods, compileMs: null, reason: `compile() did not finish within ${Math.round(timeoutMs / 1000)} s (the target for 10000 policies over 5000 pods is 2 s)` };
  const line = (r.stdout || '').trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as CompileSample;
  } catch {
    return { policies, pods, compileMs: null, reason: `the compile child failed (exit ${r.status}): ${(r.stderr || '').trim().split('\n')[0]}` };
  }
}

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

if (require.main === module && process.argv[2] === 'child') {
  process.stdout.write(JSON.stringify(measureCompile(Number(process.argv[3]), Number(process.argv[4]))) + '\n');
}
