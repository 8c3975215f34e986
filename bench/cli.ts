// Runs `tollgate bench` on its own (npx tsx bench/cli.ts --quick --json), without loading the other commands:
// the benchmark needs only the emitters, the drivers and, for the Tollgate figures, the loader hook.
import { Command } from 'commander';
import { register } from '../compiler/cli/bench';

const program = new Command('tollgate').exitOverride();
register(program);
program.parseAsync(['bench', ...process.argv.slice(2)], { from: 'user' }).catch((err: Error & { exitCode?: number }) => {
  if (err.exitCode === 0) return;
  process.stderr.write(`tollgate bench: ${err.message}\n`);
  process.exitCode = 1;
});
