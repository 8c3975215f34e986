// Driver: compile time. Writes `policies` NetworkPolicies over `pods` pods as manifests (bench/generate.ts) and
// times the whole pipeline as `compile()` in compiler/pipeline.ts runs it, stage by stage (its exported
// loadModel, then lowerModel, then optimize: test/bench.test.ts holds the result equal to compile()'s), so a
// missed target says where the time went. Also times the netfilter emitters on the Program it produced.
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
  /** wall time of compile(), ms (the sum of the stages); null when the pipeline cannot run yet */
  compileMs: number | null;
  /** manifests read and validated into the model (loadModel), lowering to IR rules (lowerModel), optimize */
  stages?: { loadModelMs: number; lowerMs: number; optimizeMs: number };
  /** why compileMs is null */
  reason?: string;
  endpoints?: number;
  rules?: number;
  emitFlatMs?: number;
  emitNftMs?: number;
}

type CompileFn = (inputs: string[]) => { program: Program; stages: { loadModelMs: number; lowerMs: number; optimizeMs: number } };

/** compile() of compiler/pipeline.ts, its stages timed. */
export function stagedCompile(inputs: string[]): ReturnType<CompileFn> {
  const { loadModel } = require('../../compiler/pipeline') as typeof import('../../compiler/pipeline');
  const { lowerModel } = require('../../compiler/ir/lower') as typeof import('../../compiler/ir/lower');
  const { optimize } = require('../../compiler/optimize') as typeof import('../../compiler/optimize');
  const { InputError } = require('../../compiler/model/diagnostics') as typeof import('../../compiler/model/diagnostics');
  const t0 = process.hrtime.bigint();
  const { model, diagnostics } = loadModel(inputs);
  const t1 = process.hrtime.bigint();
  const lowered = lowerModel(model, diagnostics);
  if (diagnostics.hasErrors()) throw new InputError(diagnostics.items);
  const t2 = process.hrtime.bigint();
  const program = optimize(lowered);
  const t3 = process.hrtime.bigint();
  const d = (a: bigint, b: bigint): number => Number(b - a) / 1e6;
  return { program, stages: { loadModelMs: d(t0, t1), lowerMs: d(t1, t2), optimizeMs: d(t2, t3) } };
}

function loadPipeline(): { compile?: CompileFn; missing?: string } {
  try {
    require('../../compiler/pipeline');
    return { compile: stagedCompile };
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
    let stages: NonNullable<CompileSample['stages']>;
    try {
      ({ program, stages } = p.compile([file]));
    } catch (err) {
      const e = err as Error & { diagnostics?: unknown[] };
      const n = Array.isArray(e.diagnostics) ? ` (${e.diagnostics.length} diagnostics)` : '';
      return { policies, pods, compileMs: null, reason: `compile() failed${n}: ${e.message.split('\n')[0]}` };
    }
    const compileMs = stages.loadModelMs + stages.lowerMs + stages.optimizeMs;
    const rules = program.endpoints.reduce((n, e) => n + [e.ingress, e.egress].reduce((m, c) => m + c.tiers.reduce((k, t) => k + t.rules.length, 0), 0), 0);
    const t1 = process.hrtime.bigint();
    emitIptables(program, { style: 'flat', comments: false });
    const emitFlatMs = ms(t1);
    const t2 = process.hrtime.bigint();
    emitNftables(program, { comments: false });
    const emitNftMs = ms(t2);
    return { policies, pods, compileMs, stages, endpoints: program.endpoints.length, rules, emitFlatMs, emitNftMs };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module && process.argv[2] === 'child') {
  process.stdout.write(JSON.stringify(measureCompile(Number(process.argv[3]), Number(process.argv[4]))) + '\n');
}
