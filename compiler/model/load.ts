// The first two passes, manifests -> model, for the compiler (pipeline.compile) and for the commands that need
// the model but not the IR (validate, lab up): they load this module without pulling in resolve, IR or optimize.
import { Diagnostics, InputError } from './diagnostics';
import { loadSources } from '../manifests/load';
import { buildModel } from './build';
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
  const sources = loadSources(inputs, diagnostics, opts.stdin);
  // The model is built even when loading reported errors, so one run reports every problem it can see.
  const model = buildModel(sources, diagnostics, { tenants: opts.tenants });
  if (diagnostics.hasErrors()) throw new InputError(diagnostics.items);
  return { model, diagnostics };
}
