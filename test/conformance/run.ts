// Runs a conformance case through an engine (TOLLGATE_ENGINE = ir | bpf | netns, default ir).
// Preferred path: the library (compiler/pipeline compile + compiler/engines getEngine). When a module of that path
// has not landed yet, the harness falls back to the CLI contract, `tollgate matrix FILE --output json`, which is
// also how unseen cases are checked.
import { execFile } from 'child_process';
import * as path from 'path';
import { probeText, protocolNumber, type ConformanceCase, type Family, type ObservedResult, type ProbeSpec } from './cases';

export type EngineName = 'ir' | 'bpf' | 'netns';

export function engineFromEnv(env: NodeJS.ProcessEnv = process.env): EngineName {
  const v = env.TOLLGATE_ENGINE ?? 'ir';
  if (v === 'ir' || v === 'bpf' || v === 'netns') return v;
  throw new Error(`TOLLGATE_ENGINE: expected ir, bpf or netns, found ${JSON.stringify(v)}`);
}

const ROOT = path.resolve(__dirname, '..', '..');

// The library's shapes, restated locally (compiler/engines/types.ts) so this file loads even when the
// modules it would import are mid-edit; the JSON contract is the same.
interface LibProbe {
  from: string;
  to: string;
  port: number;
  protocol: number;
  family: Family;
}
interface LibEngine {
  name: string;
  run(compiled: unknown, probes: LibProbe[]): Promise<ObservedResult[]>;
}
interface Library {
  compile(inputs: string[]): unknown;
  engine: LibEngine;
}

function isMissing(err: unknown, what: string): boolean {
  const e = err as NodeJS.ErrnoException;
  return e?.code === 'MODULE_NOT_FOUND' && String(e.message).includes(what);
}

function isEngine(x: unknown, name: string): x is LibEngine {
  return typeof x === 'object' && x !== null && (x as LibEngine).name === name && typeof (x as LibEngine).run === 'function';
}

let cachedLibrary: { lib?: Library; why?: string } | undefined;

/** The library path, or why it is not usable yet. */
export function loadLibrary(engine: EngineName): { lib?: Library; why?: string } {
  if (cachedLibrary) return cachedLibrary;
  let compile: Library['compile'];
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    compile = (require(path.join(ROOT, 'compiler', 'pipeline')) as { compile: Library['compile'] }).compile;
  } catch (err) {
    return (cachedLibrary = { why: `compiler/pipeline does not load (${(err as Error).message.split('\n')[0]})` });
  }
  let found: LibEngine | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const idx = require(path.join(ROOT, 'compiler', 'engines')) as { getEngine?: (n: string) => unknown };
    if (typeof idx.getEngine === 'function') {
      const e = idx.getEngine(engine);
      if (isEngine(e, engine)) found = e;
    }
  } catch (err) {
    if (!isMissing(err, 'engines')) return (cachedLibrary = { why: `compiler/engines does not load (${(err as Error).message.split('\n')[0]})` });
  }
  if (!found) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const mod = require(path.join(ROOT, 'compiler', 'engines', engine)) as Record<string, unknown>;
      found = Object.values(mod).find((v): v is LibEngine => isEngine(v, engine));
    } catch (err) {
      return (cachedLibrary = { why: `compiler/engines/${engine} does not load (${(err as Error).message.split('\n')[0]})` });
    }
  }
  if (!found) return (cachedLibrary = { why: `no engine named ${engine} in compiler/engines` });
  return (cachedLibrary = { lib: { compile, engine: found } });
}

function probesOf(c: ConformanceCase): Map<Family, ProbeSpec[]> {
  const m = new Map<Family, ProbeSpec[]>();
  for (const e of c.expectations) {
    const list = m.get(e.family) ?? [];
    if (!list.some((p) => probeText(p) === probeText(e.probe))) list.push(e.probe);
    m.set(e.family, list);
  }
  return m;
}

/** Results per family for every probe the case expects. */
export async function runCase(c: ConformanceCase, engine: EngineName, via: 'library' | 'cli' | 'auto' = 'auto'): Promise<{ results: Map<Family, ObservedResult[]>; via: string }> {
  const wanted = probesOf(c);
  const results = new Map<Family, ObservedResult[]>();
  const loaded = via === 'cli' ? { why: 'forced' } : loadLibrary(engine);
  if (loaded.lib) {
    const compiled = loaded.lib.compile([c.file]);
    for (const [family, probes] of wanted) {
      const list: LibProbe[] = [];
      for (const p of probes) for (const from of c.pods) for (const to of c.pods) {
        if (from !== to) list.push({ from, to, port: p.port, protocol: protocolNumber(p, family), family });
      }
      results.set(family, await loaded.lib.engine.run(compiled, list));
    }
    return { results, via: 'library' };
  }
  if (via === 'library') throw new Error(`library path unavailable: ${loaded.why}`);
  for (const [family, probes] of wanted) {
    results.set(family, await runCli(c.file, engine, family, probes));
  }
  return { results, via: `cli (${loaded.why})` };
}

export function runCli(file: string, engine: EngineName, family: Family, probes: ProbeSpec[]): Promise<ObservedResult[]> {
  const args = [path.join(ROOT, 'bin', 'tollgate'), 'matrix', file, '--engine', engine, '--output', 'json', '--family', String(family)];
  for (const p of probes) args.push('--probe', probeText(p));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: ROOT, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const cmd = `tollgate ${args.slice(1).map((a) => path.isAbsolute(a) ? path.relative(ROOT, a) : a).join(' ')}`;
      if (err) {
        reject(new Error(`${cmd} failed (exit ${(err as NodeJS.ErrnoException & { code?: number }).code ?? '?'}):\n${stderr.trim() || stdout.trim()}`));
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(stdout);
      } catch {
        reject(new Error(`${cmd}: expected one JSON object on stdout, found:\n${stdout.slice(0, 400)}`));
        return;
      }
      const r = (parsed as { results?: unknown }).results;
      if (!Array.isArray(r)) {
        reject(new Error(`${cmd}: expected {"engine": ..., "results": [...]}, found ${stdout.slice(0, 200)}`));
        return;
      }
      resolve(r as ObservedResult[]);
    });
  });
}
