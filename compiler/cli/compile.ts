// `tollgate compile PATHS... [--emit ir|ir-json|iptables|iptables-calico|nftables] [-o DIR]`
// Runs the pipeline; prints the chosen form to stdout, and with -o writes the BPF artifacts to DIR.
// --emit iptables / iptables-calico prints both families, each section headed by a '# ===== ... =====' line
// (IPv4 iptables-restore input, then IPv6 ip6tables-restore input; ipset restore input first when there are
// sets); with -o DIR the same go to DIR/iptables.rules, DIR/ip6tables.rules and DIR/ipset.restore.
import * as fs from 'fs';
import * as path from 'path';
import { Option } from 'commander';
import type { Command } from 'commander';
import { compile } from '../pipeline';
import { CliError, printWarnings, readStdinIfNeeded, tenantOption } from './common';

const EMITS = ['ir', 'ir-json', 'iptables', 'iptables-calico', 'nftables', 'summary'] as const;
type Emit = (typeof EMITS)[number];

export function register(program: Command): void {
  program
    .command('compile')
    .description('compile manifests into the rule IR and BPF programs (with -o DIR) or another dataplane form')
    .argument('<paths...>', 'manifest files or directories (*.yaml, *.yml, *.json), or - for stdin')
    .addOption(new Option('--emit <form>', 'what to print on stdout').choices(EMITS as unknown as string[]))
    .option('-o, --out <dir>', 'write BPF C, objects, map contents and an attach manifest to this directory')
    .option('--no-optimize', 'keep every rule as lowered (the optimizer never changes a verdict)')
    .addOption(tenantOption())
    .action(async (paths: string[], opts: { emit?: Emit; out?: string; optimize: boolean; tenant?: string[] }) => {
      const compiled = compile(paths, { tenants: opts.tenant, stdin: readStdinIfNeeded(paths), noOptimize: !opts.optimize });
      printWarnings(compiled.diagnostics);
      const emit: Emit = opts.emit ?? (opts.out ? 'summary' : 'ir');
      // the netfilter forms are emitted once: printed, and with -o written as files too
      const style = emit === 'iptables' ? 'flat' : emit === 'iptables-calico' ? 'calico' : undefined;
      const nf = style ? netfilterFiles(compiled.program, style) : undefined;
      process.stdout.write(nf ? netfilterText(nf) : render(emit, compiled));
      if (opts.out && nf) {
        fs.mkdirSync(opts.out, { recursive: true });
        for (const [name, text] of Object.entries(nf)) {
          if (text) fs.writeFileSync(path.join(opts.out, name), text);
        }
      }
      if (opts.out) {
        const { emitBpf } = require('../emit/bpf') as typeof import('../emit/bpf');
        const written = await emitBpf(compiled.program, opts.out);
        process.stderr.write(`tollgate: wrote ${written.files.length} files to ${opts.out}\n`);
      }
    });
}

/** Both families' restore inputs: iptables.rules (IPv4), ip6tables.rules (IPv6), ipset.restore (both; '' if none). */
export function netfilterFiles(p: ReturnType<typeof compile>['program'], style: 'flat' | 'calico'): Record<'ipset.restore' | 'iptables.rules' | 'ip6tables.rules', string> {
  const { emitIptables, emitIp6tables } = require('../emit/iptables') as typeof import('../emit/iptables');
  const v4 = emitIptables(p, { style });
  const v6 = emitIp6tables(p, { style });
  return { 'ipset.restore': v4.ipsets + v6.ipsets, 'iptables.rules': v4.rules, 'ip6tables.rules': v6.rules };
}

/** --emit iptables / iptables-calico on stdout: each file under a '# ===== ... =====' heading. */
function netfilterText(f: ReturnType<typeof netfilterFiles>): string {
  const section = (title: string, text: string): string => `# ===== ${title} =====\n${text}${text.endsWith('\n') ? '' : '\n'}`;
  return (f['ipset.restore'] ? section('ipset restore input (IPv4 and IPv6 sets)', f['ipset.restore']) : '')
    + section('IPv4: iptables-restore input', f['iptables.rules'])
    + section('IPv6: ip6tables-restore input', f['ip6tables.rules']);
}

/** Every form but the netfilter ones (netfilterText). */
function render(emit: Emit, compiled: ReturnType<typeof compile>): string {
  const p = compiled.program;
  switch (emit) {
    case 'ir': {
      const { renderProgram } = require('../ir/print') as typeof import('../ir/print');
      return renderProgram(p);
    }
    case 'ir-json':
      return JSON.stringify(p, null, 2) + '\n';
    case 'nftables': {
      const { emitNftables } = require('../emit/iptables') as typeof import('../emit/iptables');
      return emitNftables(p).ruleset;
    }
    case 'summary': {
      const rules = p.endpoints.reduce((n, e) => n + [e.ingress, e.egress].reduce((m, c) => m + c.tiers.reduce((k, t) => k + t.rules.length, 0), 0), 0);
      return `${p.endpoints.length} endpoints, ${rules} rules\n`;
    }
    default:
      throw new CliError(`unknown --emit ${String(emit)}`);
  }
}
