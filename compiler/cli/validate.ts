// `tollgate validate PATHS... [--tenant NS,...]`: load and validate the manifests, print what was read.
// Exit 0 with a summary (objects per kind, warnings), or exit 2 with every error (InputError, printed by main).
import type { Command } from 'commander';
import { loadModel } from '../model/load';
import type { Model } from '../model/types';
import { printWarnings, readStdinIfNeeded, tenantOption } from './common';

export function register(program: Command): void {
  program
    .command('validate')
    .description('load and validate manifests; print a summary, or every error (exit 2)')
    .argument('<paths...>', 'manifest files or directories (*.yaml, *.yml, *.json), or - for stdin')
    .addOption(tenantOption())
    .action((paths: string[], opts: { tenant?: string[] }) => {
      // model/load, not the pipeline: validate needs none of the IR.
      const { model, diagnostics } = loadModel(paths, { stdin: readStdinIfNeeded(paths), tenants: opts.tenant });
      printWarnings(diagnostics);
      process.stdout.write(summarize(model, diagnostics.warnings.length, opts.tenant));
    });
}

/** Objects per kind as read (implicit namespaces and the implicit default tier are counted apart). */
export function summarize(model: Model, warnings: number, tenants?: string[]): string {
  const rows: [string, number][] = [
    ['Namespace', model.namespaces.filter((n) => !n.implicit).length],
    ['Pod', model.pods.length],
    ['ServiceAccount', model.serviceAccounts.length],
    ['Node', model.nodes.length],
    ['NetworkPolicy (networking.k8s.io)', model.networkPolicies.length],
    ['NetworkPolicy (projectcalico.org)', model.calicoPolicies.filter((p) => p.kind === 'NetworkPolicy').length],
    ['GlobalNetworkPolicy', model.calicoPolicies.filter((p) => p.kind === 'GlobalNetworkPolicy').length],
    ['Tier', model.tiers.filter((t) => t.origin).length],
    ['NetworkSet', model.networkSets.filter((s) => s.namespace !== undefined).length],
    ['GlobalNetworkSet', model.networkSets.filter((s) => s.namespace === undefined).length],
    ['IPPool', model.ipPools.length],
    ['HostEndpoint', model.hostEndpoints.length],
    ['AdminNetworkPolicy', model.adminPolicies.length],
    ['BaselineAdminNetworkPolicy', model.baselinePolicy ? 1 : 0],
  ];
  const shown = rows.filter(([, n]) => n > 0);
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  const lines = shown.map(([k, n]) => `  ${k.padEnd(width)}  ${n}`);
  const implicitNs = model.namespaces.filter((n) => n.implicit).map((n) => n.name);
  if (implicitNs.length) lines.push(`  (namespaces not declared, assumed: ${implicitNs.join(', ')})`);
  if (!model.tiers.some((t) => t.name === 'default' && t.origin)) lines.push('  (tier default not declared, assumed with order 1000000)');
  const total = shown.reduce((s, [, n]) => s + n, 0);
  const head = `valid: ${total} object${total === 1 ? '' : 's'}${tenants && tenants.length ? ` (tenant ${tenants.join(', ')})` : ''}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
  return [head, ...lines].join('\n') + '\n';
}
