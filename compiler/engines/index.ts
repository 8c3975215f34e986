// Engine registry. 'ir' is always here; 'bpf' and 'netns' are loaded lazily from ./bpf and ./netns when those
// modules exist and export `engine` (their owners drop them in; until then the command exits 2).
import { CliError } from '../cli/common';
import type { Engine } from './types';

export const ENGINE_NAMES = ['ir', 'bpf', 'netns'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export function getEngine(name: string): Engine {
  if (name === 'ir') return (require('./ir') as typeof import('./ir')).engine;
  if (name !== 'bpf' && name !== 'netns') throw new CliError(`unknown engine ${JSON.stringify(name)}: expected one of ${ENGINE_NAMES.join(', ')}`, 2);
  let mod: { engine?: Engine };
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    mod = require(`./${name}`) as { engine?: Engine };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'MODULE_NOT_FOUND') {
      const own = String(e.message).includes(`/${name}'`);
      throw new CliError(`engine ${name} is not available yet${own ? '' : ` (${String(e.message).split('\n')[0]})`}`, 2);
    }
    throw err;
  }
  if (!mod.engine || typeof mod.engine.run !== 'function') throw new CliError(`engine ${name} is not available yet`, 2);
  return mod.engine;
}
