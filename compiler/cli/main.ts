// `tollgate` command line. Each command lives in its own module and registers itself here.
import { Command, CommanderError } from 'commander';
import { InputError, formatDiagnostic } from '../model/diagnostics';
import { CliError } from './common';

const COMMANDS = ['validate', 'compile', 'matrix', 'trace', 'load', 'lab', 'demo', 'bench'] as const;

export function buildCli(): Command {
  const program = new Command('tollgate')
    .description('Compile Kubernetes and Calico network policy into eBPF programs, load and test them')
    .showHelpAfterError()
    .exitOverride();
  for (const name of COMMANDS) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const mod = require(`./${name}`) as { register(p: Command): void };
    mod.register(program);
  }
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildCli();
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    process.exitCode = report(err);
  }
}

function report(err: unknown): number {
  if (err instanceof CommanderError) {
    // commander already printed its message (help, version, or a usage error)
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof InputError) {
    for (const d of err.diagnostics) process.stderr.write(formatDiagnostic(d) + '\n');
    const n = err.diagnostics.filter((d) => d.severity === 'error').length;
    process.stderr.write(`tollgate: ${n} error${n === 1 ? '' : 's'} in the input\n`);
    return 2;
  }
  if (err instanceof CliError) {
    process.stderr.write(`tollgate: ${err.message}\n`);
    return err.exitCode;
  }
  const e = err as NodeJS.ErrnoException;
  process.stderr.write(`tollgate: ${e && e.message ? e.message : String(err)}\n`);
  if (e && e.code) process.stderr.write(`  (${[e.code, e.syscall].filter(Boolean).join(', ')})\n`);
  if (process.env.TOLLGATE_DEBUG && e && e.stack) process.stderr.write(e.stack + '\n');
  return 1;
}
