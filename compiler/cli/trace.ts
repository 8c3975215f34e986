// `tollgate trace PATHS... --from NS/POD|IP --to NS/POD|IP --probe PORT/PROTO [--engine ir|bpf] [--output text|json]`
// The verdict of one connection and the chain that decided it, tier by tier, naming objects and rules.
// --engine ir asks the reference evaluator; --engine bpf runs the packet through the real programs
// (BPF_PROG_TEST_RUN, engines/bpf traceConnection): verdicts and what decided come from the kernel, the output
// is the same JSON and text.
// An address that belongs to a pod is that pod; any other address is outside the cluster (only the local side
// of the connection takes part).
import { Option } from 'commander';
import type { Command } from 'commander';
import type { Family, Model } from '../model/types';
import type { Decision, Endpoint, Packet, Program } from '../ir/types';
import { compile } from '../pipeline';
import { evaluateConnection, endpointByAddr, type ConnectionVerdict } from '../ir/evaluate';
import { addressOf, packetFor, protocolName } from '../engines/ir';
import { parseIp } from '../model/addresses';
import { CliError, printWarnings, readStdinIfNeeded, tenantOption } from './common';
import { parseFamily, parseProbe, probeKey, type ProbeSpec } from './matrix';

export interface Side {
  /** what the user wrote */
  given: string;
  /** the pod, when the address is a pod's */
  endpoint?: Endpoint;
  addr: string;
}

/** Resolves --from / --to: "ns/pod" (must be a pod with an address of the family) or an address. */
export function resolveSide(program: Program, model: Model | undefined, text: string, family: Family | undefined, flag: string): Side {
  const ip = parseIp(text);
  if (ip) {
    const endpoint = endpointByAddr(program, ip.addr);
    return { given: text, addr: ip.addr, ...(endpoint ? { endpoint } : {}) };
  }
  if (!/^[^/\s]+\/[^/\s]+$/.test(text)) throw new CliError(`${flag} ${JSON.stringify(text)}: expected NAMESPACE/POD or an IP address`);
  const endpoint = program.endpoints.find((e) => e.id === text);
  if (!endpoint) {
    const pod = model?.pods.find((p) => `${p.namespace}/${p.name}` === text);
    if (pod && pod.hostNetwork) {
      const a = pod.ips.find((x) => family === undefined || (family === 6) === x.includes(':'));
      if (a) return { given: text, addr: a }; // policy never selects it: an address like any other
    }
    if (pod) throw new CliError(`${flag} ${text}: the pod has no address${pod.hostNetwork ? ` of family ${family ?? 4}` : ''}, so no policy applies to it`);
    throw new CliError(`${flag} ${text}: no such pod in the input (pods: ${program.endpoints.map((e) => e.id).slice(0, 10).join(', ')}${program.endpoints.length > 10 ? ', ...' : ''})`);
  }
  const addr = addressOf(endpoint, family ?? 4) ?? (family === undefined ? endpoint.ips[0] : undefined);
  if (!addr) throw new CliError(`${flag} ${text}: the pod has no IPv${family} address`);
  return { given: text, endpoint, addr };
}

function sideName(s: Side): string {
  return s.endpoint ? `${s.endpoint.id} (${s.addr})` : `${s.addr} (outside the cluster)`;
}

function decisionJson(d: Decision): Record<string, unknown> {
  return { allowed: d.allowed, decidedBy: d.decidedBy, ...(d.ruleId ? { ruleId: d.ruleId } : {}), ...(d.tier ? { tier: d.tier } : {}), steps: d.steps };
}

/** The JSON contract of `trace --output json` (the same for every engine but the engine's name). */
export function traceJson(engine: string, from: Side, to: Side, pkt: Packet, v: ConnectionVerdict): Record<string, unknown> {
  return {
    engine,
    from: from.endpoint?.id ?? from.addr,
    to: to.endpoint?.id ?? to.addr,
    src: from.addr,
    dst: to.addr,
    port: pkt.dport ?? 0,
    protocol: protocolName(pkt.proto),
    allowed: v.allowed,
    ...(v.egress ? { egress: decisionJson(v.egress) } : {}),
    ...(v.ingress ? { ingress: decisionJson(v.ingress) } : {}),
  };
}

export const TRACE_ENGINES = ['ir', 'bpf'] as const;
export type TraceEngine = (typeof TRACE_ENGINES)[number];

/** --engine for trace, checked before any work (exit 2). */
export function traceEngine(name: string): TraceEngine {
  if ((TRACE_ENGINES as readonly string[]).includes(name)) return name as TraceEngine;
  if (name === 'netns') throw new CliError(`engine netns is not available for trace (real traffic cannot say which rule decided): use --engine ir or bpf`, 2);
  throw new CliError(`unknown engine ${JSON.stringify(name)} for trace: expected one of ${TRACE_ENGINES.join(', ')}`, 2);
}

/** The verdict of one connection by the engine (bpf: the datapath is loaded for this one packet, then released). */
export async function traceVerdict(engine: TraceEngine, program: Program, pkt: Packet): Promise<ConnectionVerdict> {
  if (engine === 'ir') return evaluateConnection(program, pkt);
  // loaded here only: it opens the native addon
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return (require('../engines/bpf') as typeof import('../engines/bpf')).traceConnection(program, pkt);
}

export function traceText(from: Side, to: Side, spec: ProbeSpec, v: ConnectionVerdict): string {
  const out: string[] = [];
  out.push(`${sideName(from)} -> ${sideName(to)} ${probeKey(spec)}: ${v.allowed ? 'ALLOWED' : 'DENIED'}`);
  const part = (title: string, d: Decision | undefined, absent: string): void => {
    if (!d) {
      out.push(`${title}: ${absent}`);
      return;
    }
    out.push(`${title}: ${d.allowed ? 'allowed' : 'denied'}`);
    d.steps.forEach((s, i) => out.push(`  ${i + 1}. ${s}`));
    out.push(`  decided by: ${d.decidedBy}${d.ruleId ? `  [${d.ruleId}]` : ''}`);
  };
  part(`egress of ${from.endpoint?.id ?? from.addr}`, v.egress, 'not a pod: no egress policy applies');
  part(`ingress of ${to.endpoint?.id ?? to.addr}`, v.ingress, 'not a pod: no ingress policy applies');
  out.push(v.allowed ? 'replies of this connection are allowed (connection tracking)' : 'the connection is not established');
  return out.join('\n') + '\n';
}

interface TraceOptions {
  from: string;
  to: string;
  probe: ProbeSpec;
  engine: string;
  output: 'text' | 'json';
  family?: Family;
  tenant?: string[];
}

export function register(program: Command): void {
  program
    .command('trace')
    .description('explain one connection: the verdict and the chain of tiers and rules that decided it')
    .argument('<paths...>', 'manifest files or directories (*.yaml, *.yml, *.json), or - for stdin')
    .requiredOption('--from <NS/POD|IP>', 'source pod or address')
    .requiredOption('--to <NS/POD|IP>', 'destination pod or address')
    .addOption(new Option('--probe <PORT/PROTO>', 'the destination port and protocol, e.g. 80/TCP').argParser((v: string) => parseProbe(v)).makeOptionMandatory())
    .addOption(new Option('--engine <engine>', 'who decides: the IR reference evaluator, or the BPF programs in the kernel (ir|bpf)').default('ir'))
    .addOption(new Option('--family <4|6>', 'address family when both sides are pods (default: that of an address given, else 4)').argParser(parseFamily))
    .addOption(new Option('--output <form>', 'output form').choices(['text', 'json']).default('text'))
    .addOption(tenantOption())
    .action(async (paths: string[], opts: TraceOptions) => {
      const engine = traceEngine(opts.engine);
      const compiled = compile(paths, { tenants: opts.tenant, stdin: readStdinIfNeeded(paths) });
      printWarnings(compiled.diagnostics);
      const givenIp = parseIp(opts.from) ?? parseIp(opts.to);
      const family: Family | undefined = opts.family ?? givenIp?.family;
      const from = resolveSide(compiled.program, compiled.model, opts.from, family, '--from');
      const to = resolveSide(compiled.program, compiled.model, opts.to, family ?? (from.addr.includes(':') ? 6 : 4), '--to');
      if (from.addr.includes(':') !== to.addr.includes(':')) throw new CliError(`--from ${from.addr} and --to ${to.addr} are of different address families`);
      if (!from.endpoint && !to.endpoint) throw new CliError(`neither ${opts.from} nor ${opts.to} is a pod: no policy applies to this connection`);
      const pkt = packetFor(from.addr, to.addr, opts.probe.protocol, opts.probe.port);
      const v = await traceVerdict(engine, compiled.program, pkt);
      if (opts.output === 'json') process.stdout.write(JSON.stringify(traceJson(engine, from, to, pkt, v), null, 2) + '\n');
      else process.stdout.write(traceText(from, to, { port: pkt.dport ?? 0, protocol: pkt.proto }, v));
    });
}
