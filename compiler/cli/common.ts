// Shared bits of the CLI: option parsing helpers and the error type commands throw for usage problems.
import { Command, Option } from 'commander';
import { formatDiagnostic, type Diagnostics } from '../model/diagnostics';

/** A usage or environment problem the user can fix; printed without a stack, exits with `exitCode`. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'CliError';
  }
}

/** `--tenant NS[,NS...]`, repeatable; shared by every command that reads manifests. */
export function tenantOption(): Option {
  return new Option('--tenant <namespaces>', 'shift-left: accept only namespaced policy in these namespaces (comma-separated)')
    .argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), ...v.split(',').map((s) => s.trim()).filter(Boolean)]);
}

export function printWarnings(diags: Diagnostics): void {
  for (const d of diags.warnings) process.stderr.write(formatDiagnostic(d) + '\n');
}

/** Reads all of stdin when an input path is '-'. */
export function readStdinIfNeeded(inputs: string[]): string | undefined {
  if (!inputs.includes('-')) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return require('fs').readFileSync(0, 'utf8');
}

export type { Command };
