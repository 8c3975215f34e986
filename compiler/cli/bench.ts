// `tollgate bench [--quick] [--json] [--out DIR]`: the same rules in every dataplane, measured side by side in
// one run (bench/run.ts); progress on stderr; a report in bench/results/; with --json a summary on stdout.
import * as path from 'path';
import type { Command } from 'commander';
import { CliError } from './common';

export function register(program: Command): void {
  program
    .command('bench')
    .description('benchmark Tollgate against iptables (legacy, nft, ipset) and nftables on the same rules; writes bench/results/')
    .option('--quick', 'small sizes (CI smoke run, under 3 minutes)')
    .option('--json', 'print a summary with the ratios as JSON on stdout')
    .option('--out <dir>', 'where to write the report', path.join(__dirname, '..', '..', 'bench', 'results'))
    .action(async (opts: { quick?: boolean; json?: boolean; out: string }) => {
      if (process.getuid && process.getuid() !== 0) throw new CliError('bench needs root (network namespaces, iptables, BPF)', 1);
      const { runBench } = require('../../bench/run') as typeof import('../../bench/run');
      const { QUICK, FULL } = require('../../bench/trials') as typeof import('../../bench/trials');
      const { writeReport, summary } = require('../../bench/report') as typeof import('../../bench/report');
      const t0 = Date.now();
      const progress = (msg: string): void => {
        const s = Math.round((Date.now() - t0) / 1000);
        process.stderr.write(`[bench ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}] ${msg}\n`);
      };
      const res = await runBench(opts.quick ? QUICK : FULL, progress);
      const files = writeReport(res, opts.out);
      progress(`report: ${files.md}`);
      if (opts.json) {
        process.stdout.write(JSON.stringify(summary(res, files), null, 2) + '\n');
      } else {
        for (const [k, v] of Object.entries(res.ratios)) process.stdout.write(`${k}: ${v === null ? `null (${res.reasons[k as keyof typeof res.reasons]})` : v.toFixed(3)}\n`);
        process.stdout.write(`report: ${files.md}\n`);
      }
      if (res.errors.length) process.exitCode = 1;
    });
}
