// Driver: compile time. Writes `policies` NetworkPolicies over `pods` pods as manifests (bench/generate.ts) and
// times the whole pipeline, `compile()` of compiler/pipeline.ts with the stage times it reports (loadModel,
// lowerModel, optimize), so a missed target says where the time went. Also times the netfilter emitters on the
// Program it produced, and the BPF map contents (buildTables: classes and decisions; serialization to the maps' binary files).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { syntheticManifests } from '../generate';
import { emitIptables, emitNftables } from '../../compiler/emit/iptables';
import { buildTables } from '../../compiler/emit/bpf/tables';
import { endpointContents, policyContents, toFile } from '../../compiler/emit/bpf/serialize';
import type { Program } from '../../compiler/ir/types';
import type { CompileStages } from '../../compiler/pipeline';

export interface CompileSample {
  policies: number;
  pods: number;
  /** wall time of compile(), ms (the sum of the stages); null when the pipeline cannot run yet */
  compileMs: number | null;
  /** manifests read and validated into the model (loadModel), lowering to IR rules (lowerModel), optimize */
  stages?: CompileStages;
  /** why compileMs is null */
  reason?: string;
  endpoints?: number;
  rules?: number;
  emitFlatMs?: number;
  emitNftMs?: number;
  /** buildTables (classes, decisions) and serializing its map contents, ms; entries in all the policy maps */
  bpf?: { tablesMs: number; serializeMs: number; entries: number; bytes: number } | { reason: string };
  /** when the figure is the median of several fresh processes: every run's manifests-to-map-contents ms, in order */
  runsMs?: number[];
}

/** Manifests to BPF map contents, ms (compile() alone when the BPF emit was not measured); null when not measured. */
export function sampleTotalMs(s: CompileSample): number | null {
  if (s.compileMs === null) return null;
  return s.compileMs + (s.bpf && 'tablesMs' in s.bpf ? s.bpf.tablesMs + s.bpf.serializeMs : 0);
}

/**
 * The run whose total is the median of `samples` (an odd count gives the middle one; even, the lower middle), with
 * every run's total in runsMs, so the stages shown are those of one real run. A run not measured makes the figure
 * not measured (its reason kept): a median of the others would hide a failure.
 */
export function medianSample(samples: CompileSample[]): CompileSample {
  const failed = samples.find((s) => sampleTotalMs(s) === null);
  if (failed || samples.length === 1) return failed ?? samples[0];
  const totals = samples.map((s) => sampleTotalMs(s) as number);
  const order = totals.map((_, i) => i).sort((a, b) => totals[a] - totals[b]);
  return { ...samples[order[(samples.length - 1) >> 1]], runsMs: totals };
}

type CompileFn = (inputs: string[]) => { program: Program; stages: CompileStages };

/** compile() of compiler/pipeline.ts with the stage times it reports. */
export function stagedCompile(inputs: string[]): ReturnType<CompileFn> {
  const { compile } = require('../../compiler/pipeline') as typeof import('../../compiler/pipeline');
  const { program, stages } = compile(inputs);
  return { program, stages };
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
  // the child writes the sample before the BPF emit and again after it: the last complete line counts
  let last: CompileSample | undefined;
  for (const line of (r.stdout || '').trim().split('\n')) {
    try {
      last = JSON.parse(line) as CompileSample;
    } catch {
      // a line cut short by the kill
    }
  }
  const timedOut = !!r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
  if (last && !last.bpf) last.bpf = { reason: timedOut ? `the BPF emit did not finish within the ${Math.round(timeoutMs / 1000)} s limit` : `the BPF emit failed (exit ${r.status}): ${errorLine(r.stderr)}` };
  if (last) return last;
  if (timedOut)
    return { policies, pods, compileMs: null, reason: `compile() did not finish within ${Math.round(timeoutMs / 1000)} s (the target for 10000 policies over 5000 pods is 2 s)` };
  return { policies, pods, compileMs: null, reason: `the compile child failed (exit ${r.status}): ${(r.stderr || '').trim().split('\n')[0]}` };
}

/** The first line of `text` that mentions an error, else its first line. */
function errorLine(text: string | null): string {
  const lines = (text || '').trim().split('\n');
  return lines.find((l) => /error/i.test(l)) ?? lines[0] ?? '';
}

export function measureCompile(policies: number, pods: number, onPartial?: (s: CompileSample) => void): CompileSample {
  const p = loadPipeline();
  if (!p.compile) return { policies, pods, compileMs: null, reason: p.missing };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tgb-compile-'));
  try {
    const file = path.join(dir, 'cluster.yaml');
    fs.writeFileSync(file, syntheticManifests({ policies, pods }));
    let program: Program;
    let stages: CompileStages;
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
    const sample: CompileSample = { policies, pods, compileMs, stages, endpoints: program.endpoints.length, rules, emitFlatMs, emitNftMs };
    // the sample so far, in case the BPF emit does not finish (memory, time): the parent reads the last line
    onPartial?.(sample);
    return { ...sample, bpf: measureBpfEmit(program) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The BPF emit as `tollgate compile -o DIR` runs it, apart from writing files and clang. */
export function measureBpfEmit(program: Program): NonNullable<CompileSample['bpf']> {
  const t0 = process.hrtime.bigint();
  let t;
  try {
    t = buildTables(program);
  } catch (err) {
    return { reason: `buildTables failed: ${(err as Error).message.split('\n')[0]}` };
  }
  const tablesMs = ms(t0);
  const t1 = process.hrtime.bigint();
  const contents = [...policyContents(t), endpointContents(t.endpoints, () => 0)];
  const bytes = contents.map(toFile).reduce((n, b) => n + b.length, 0);
  const serializeMs = ms(t1);
  const entries = t.endpoints.length + t.peer4.length + t.peer6.length + t.ports.length + t.sports.length + t.decisions.length;
  return { tablesMs, serializeMs, entries, bytes };
}

if (require.main === module && process.argv[2] === 'child') {
  const write = (s: CompileSample): void => void process.stdout.write(JSON.stringify(s) + '\n');
  write(measureCompile(Number(process.argv[3]), Number(process.argv[4]), write));
}
