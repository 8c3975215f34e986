// The compiler, top to bottom. Each pass reads only what the one before it produced:
//   manifests (text -> located documents) -> model (typed, defaulted, validated objects)
//   -> resolve + IR (selectors to address sets, policies to ordered per-endpoint chains) -> optimize.
// Backends (emit/) and the loader (load/) start from the Program this returns.
import { InputError, type Diagnostics } from './model/diagnostics';
import { loadModel, type LoadModelOptions } from './model/load';
import { lowerModel } from './ir/lower';
import { optimize } from './optimize';
import type { Model } from './model/types';
import type { Program } from './ir/types';

export interface CompileOptions extends LoadModelOptions {
  /** Skip the optimizer (the reference semantics, rule for rule). */
  noOptimize?: boolean;
}

/** Wall time of each pass of compile(), ms (optimizeMs is 0 with noOptimize). */
export interface CompileStages {
  /** manifests read and validated into the model (loadModel) */
  loadModelMs: number;
  /** selectors resolved and policies lowered to per-endpoint chains (lowerModel) */
  lowerMs: number;
  optimizeMs: number;
}

export interface Compiled {
  model: Model;
  program: Program;
  diagnostics: Diagnostics;
  /** set by compile() */
  stages?: CompileStages;
}

/** manifests -> model (model/load.ts), for callers of the pipeline that want the model only. */
export { loadModel };

export function compile(inputs: string[], opts: CompileOptions = {}): Compiled & { stages: CompileStages } {
  const t0 = performance.now();
  const { model, diagnostics } = loadModel(inputs, opts);
  const t1 = performance.now();
  let program = lowerModel(model, diagnostics);
  if (diagnostics.hasErrors()) throw new InputError(diagnostics.items);
  const t2 = performance.now();
  // Optimization must never change a verdict (test/optimize.property.test.ts holds it to that).
  if (!opts.noOptimize) program = optimize(program);
  const stages = { loadModelMs: t1 - t0, lowerMs: t2 - t1, optimizeMs: performance.now() - t2 };
  return { model, program, diagnostics, stages };
}
