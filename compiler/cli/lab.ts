// `tollgate lab up PATHS... [--keep]`, `lab down`, `lab status [--output json]`, `lab exec NS/POD -- CMD...`
// The lab is one node: a netns per pod joined by a veth to a node netns that routes between them, with responders
// on every declared port. See compiler/lab/build.ts for the shape.
import { Option } from 'commander';
import type { Command } from 'commander';
import { labDown, labExec, labOptions, labStatus, labUp, type LabState } from '../lab';
import { CliError, printWarnings, readStdinIfNeeded, tenantOption } from './common';

function prefixOption(): Option {
  // Tests and side-by-side labs use another prefix; users never need it.
  return new Option('--prefix <prefix>', 'kernel object name prefix').default(process.env.TOLLGATE_LAB_PREFIX || 'tg').hideHelp();
}

function describe(s: LabState): string {
  const rows = s.pods.map((p) => [
    p.id,
    p.netns,
    `${p.hostIf}@${s.nodeNetns}(${p.hostIfindex})`,
    [...p.ipv4, ...p.ipv6].join(','),
    p.ports.map((x) => `${x.port}/${x.protocol === 6 ? 'TCP' : x.protocol === 17 ? 'UDP' : x.protocol === 132 ? 'SCTP' : x.protocol}`).join(',') || '-',
  ]);
  const head = ['POD', 'NETNS', 'HOST VETH', 'ADDRESSES', 'PORTS'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  let out = [line(head), ...rows.map(line)].join('\n') + '\n';
  for (const k of s.skipped) out += `skipped ${k.pod}: ${k.reason}\n`;
  return out;
}

export function register(program: Command): void {
  const lab = program.command('lab').description('a one-node lab: pods as network namespaces, with real traffic between them');

  lab
    .command('up')
    .description('build the lab from the pods in the manifests (a failed up removes what it built)')
    .argument('<paths...>', 'manifest files or directories, or - for stdin')
    .option('--keep', 'when up fails, keep what was built so it can be inspected')
    .addOption(tenantOption())
    .addOption(prefixOption())
    .action(async (paths: string[], opts: { keep?: boolean; tenant?: string[]; prefix: string }) => {
      // model/load, not the pipeline: the lab needs pods, not rules. Required here, not at the top, so that
      // `lab down` and `lab exec` work whatever state the compiler's passes are in.
      const { loadModel } = require('../model/load') as typeof import('../model/load');
      const { model, diagnostics } = loadModel(paths, { stdin: readStdinIfNeeded(paths), tenants: opts.tenant });
      printWarnings(diagnostics);
      const started = Date.now();
      let state: LabState;
      // Ctrl-C while building: finish the step at hand, then remove what was built (unless --keep).
      const abort = new AbortController();
      const onSignal = (): void => {
        process.stderr.write('tollgate: lab up: interrupted, stopping\n');
        abort.abort();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        state = await labUp(model, { ...labOptions(opts.prefix), sources: paths, keepOnFailure: opts.keep, signal: abort.signal });
      } catch (err) {
        if ((err as Error).name === 'InputError') throw err;
        throw new CliError((err as Error).message, abort.signal.aborted ? 130 : 1);
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
      process.stdout.write(describe(state));
      process.stderr.write(`tollgate: lab up: ${state.pods.length} pods in ${Date.now() - started} ms (node netns ${state.nodeNetns})\n`);
    });

  lab
    .command('down')
    .description('remove the lab: responders, network namespaces, veths, the state file (safe to repeat)')
    .addOption(prefixOption())
    .action(async (opts: { prefix: string }) => {
      const r = await labDown(labOptions(opts.prefix));
      process.stderr.write(`tollgate: lab down: removed ${r.netns.length} network namespaces, stopped ${r.processes} processes\n`);
    });

  lab
    .command('status')
    .description('show the lab that is up')
    .addOption(new Option('--output <form>', 'text or json').choices(['text', 'json']).default('text'))
    .addOption(prefixOption())
    .action(async (opts: { output: 'text' | 'json'; prefix: string }) => {
      const st = await labStatus(labOptions(opts.prefix));
      if (opts.output === 'json') {
        process.stdout.write(JSON.stringify(st, null, 2) + '\n');
      } else if (!st.up || !st.state) {
        process.stdout.write('no lab is up\n');
      } else {
        process.stdout.write(describe(st.state));
        for (const p of st.problems) process.stdout.write(`problem: ${p}\n`);
      }
      if (st.problems.length > 0) process.exitCode = 1;
    });

  lab
    .command('exec')
    .description('run a command inside a pod of the lab: lab exec NS/POD -- CMD [ARGS...]')
    .argument('<pod>', 'namespace/name')
    .argument('<command...>', 'the command and its arguments (after --)')
    .addOption(prefixOption())
    .action(async (pod: string, command: string[], opts: { prefix: string }) => {
      if (!/^[^/\s]+\/[^/\s]+$/.test(pod)) throw new CliError(`lab exec: expected NS/POD, found '${pod}'`);
      try {
        const r = await labExec(labOptions(opts.prefix), pod, command);
        process.exitCode = r.code;
      } catch (err) {
        throw new CliError((err as Error).message, 1);
      }
    });
}
