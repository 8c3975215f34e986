// How to start the agent (agent.ts) inside a netns. From a build, agent.js sits beside this file. From the
// sources, the agent is transpiled once (TypeScript's transpileModule; it imports only Node built-ins) into a
// cache under /run/tollgate keyed by its content, so each probe or responder process is a plain `node file.js`:
// about 65 ms and 40 MB instead of 150 ms and 52 MB through tsx. If that fails, tsx runs the source.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

const CACHE_DIR = '/run/tollgate/agent';
let cached: string[] | undefined;

function transpiled(source: string): string {
  const text = fs.readFileSync(source, 'utf8');
  const file = path.join(CACHE_DIR, `agent-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.js`);
  if (fs.existsSync(file)) return file;
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const ts = require('typescript') as typeof import('typescript');
  const out = ts.transpileModule(text, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 }, fileName: source });
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, out.outputText);
  fs.renameSync(tmp, file); // atomic: concurrent labs may write the same file
  return file;
}

export function agentCommand(): string[] {
  if (cached) return cached;
  if (!__filename.endsWith('.ts')) return (cached = [process.execPath, path.join(__dirname, 'agent.js')]);
  const source = path.join(__dirname, 'agent.ts');
  try {
    cached = [process.execPath, transpiled(source)];
  } catch {
    cached = [process.execPath, '-r', require.resolve('tsx/cjs'), source];
  }
  return cached;
}

/** Whether a command line is the agent's (for `lab down`, which stops only what the lab started). */
export function isAgentArgv(argv: string[]): boolean {
  return argv.some((a) => /(^|\/)agent(-[0-9a-f]{16})?\.(ts|js)$/.test(a));
}
