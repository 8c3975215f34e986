// The first two passes, manifests -> model, for the compiler (pipeline.compile) and for the commands that need
// the model but not the IR (validate, lab up): they load this module without pulling in resolve, IR or optimize.
import { Diagnostics, InputError } from './diagnostics';
import { readSources } from '../manifests/load';
import { ModelBuilder } from './build';
import type { Model } from './types';

export interface LoadModelOptions {
  /** Shift-left: the inputs may hold only namespaced policy in these namespaces. */
  tenants?: string[];
  /** Text for the input path '-'. */
  stdin?: string;
}

/** Loads and validates; throws InputError carrying every diagnostic when any input is bad. */
export function loadModel(inputs: string[], opts: LoadModelOptions = {}): { model: Model; diagnostics: Diagnostics } {
  const diagnostics = new Diagnostics();
  // Each object is built into the model as soon as it is read (its parsed value then dies young). The model is
  // built even when loading reported errors, so one run reports every problem it can see: the problems of loading
  // (paths, YAML syntax) first, then those of the objects, as when every text is read before any object is built.
  const built = new Diagnostics();
  const builder = new ModelBuilder(built, { tenants: opts.tenants });
  readSources(inputs, diagnostics, builder, opts.stdin);
  const model = builder.finish();
  for (const d of built.items) diagnostics.add(d);
  if (diagnostics.hasErrors()) throw new InputError(diagnostics.items);
  return { model, diagnostics };
}
