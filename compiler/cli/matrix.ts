// `tollgate matrix PATHS... [--engine ir|bpf|netns] [--probe PORT/PROTO]... [--family 4|6] [--output table|json]`
// Probes from every pod to every other pod; with no --probe, every port/protocol the destination pod declares.
// The JSON shape is a contract (scripts depend on it):
//   {"engine": "ir", "results": [{"from", "to", "port", "protocol", "allowed", "egress": {...}, "ingress": {...}}]}
import { Option } from 'commander';
import type { Command } from 'commander';
import { PROTO, type Family } from '../model/types';
import type { Endpoint, Program } from '../ir/types';
import { compile, type Compiled } from '../pipeline';
import { getEngine } from '../engines';
import type { Probe, ProbeResult } from '../engines/types';
import { addressOf, protocolName } from '../engines/ir';
import { CliError, printWarnings, readStdinIfNeeded, tenantOption } from './common';

export interface ProbeSpec {
  port: number;
  protocol: number;
}

const PROTOCOLS: Record<string, number> = { tcp: PROTO.TCP, udp: PROTO.UDP, sctp: PROTO.SCTP, icmp: PROTO.ICMP, icmpv6: PROTO.ICMPv6 };

/** "80/TCP", "53/udp", "80" (TCP), "ICMP" (echo request; ICMPv6 in family 6). */
export function parseProbe(text: string): ProbeSpec {
  const m = /^(?:(\d{1,5})(?:\/([A-Za-z0-9]+))?|([A-Za-z0-9]+))$/.exec(text.trim());
  const protoText = (m?.[2] ?? m?.[3] ?? 'TCP').toLowerCase();
  const protocol = PROTOCOLS[protoText];
  if (!m || protocol === undefined) throw new CliError(`--probe ${JSON.stringify(text)}: expected PORT/PROTO, e.g. 80/TCP, 53/UDP, 9000/SCTP or ICMP`);
  const icmp = protocol === PROTO.ICMP || protocol === PROTO.ICMPv6;
  const port = m[1] === undefined ? 0 : Number(m[1]);
  if (!icmp && (m[1] === undefined || port < 1 || port > 65535)) throw new CliError(`--probe ${JSON.stringify(text)}: expected a port 1..65535 before /${protoText.toUpperCase()}`);
  return { port: icmp ? 0 : port, protocol };
}

export function parseFamily(text: string): Family {
  if (text !== '4' && text !== '6') throw new CliError(`--family ${JSON.stringify(text)}: expected 4 or 6`);
  return Number(text) as Family;
}

export function probeKey(p: { port: number; protocol: number | string }): string {
  const proto = typeof p.protocol === 'number' ? protocolName(p.protocol) : p.protocol;
  return proto === 'ICMP' || proto === 'ICMPv6' ? proto : `${p.port}/${proto}`;
}

/** Every probe of the matrix, in order: by probe, then from, then to (a pod is never probed to itself). */
export function planProbes(program: Program, family: Family, specs: ProbeSpec[]): { probes: Probe[]; pods: Endpoint[]; skipped: Endpoint[] } {
  const all = [...program.endpoints].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const pods = all.filter((e) => addressOf(e, family) !== undefined);
  const skipped = all.filter((e) => addressOf(e, family) === undefined);
  const fam = (s: ProbeSpec): ProbeSpec => (s.protocol === PROTO.ICMP || s.protocol === PROTO.ICMPv6 ? { port: 0, protocol: family === 4 ? PROTO.ICMP : PROTO.ICMPv6 } : s);
  const probes: Probe[] = [];
  const push = (from: Endpoint, to: Endpoint, s: ProbeSpec): void => {
    probes.push({ from: from.id, to: to.id, port: s.port, protocol: s.protocol, family });
  };
  if (specs.length) {
    for (const s of specs.map(fam)) for (const from of pods) for (const to of pods) if (from !== to) push(from, to, s);
  } else {
    // every port/protocol some destination declares, each probed only towards pods that declare it
    const declared = new Map<string, ProbeSpec>();
    for (const to of pods) for (const p of to.ports) declared.set(`${p.protocol}:${p.port}`, { port: p.port, protocol: p.protocol });
    const specsAll = [...declared.values()].sort((a, b) => a.protocol - b.protocol || a.port - b.port);
    for (const s of specsAll)
      for (const from of pods)
        for (const to of pods) if (from !== to && to.ports.some((p) => p.port === s.port && p.protocol === s.protocol)) push(from, to, s);
  }
  return { probes, pods, skipped };
}

/** A grid per probe: rows from, columns to; '.' allowed, 'X' denied, '-' not probed. */
export function renderTable(engineName: string, pods: Endpoint[], results: ProbeResult[]): string {
  const groups = new Map<string, ProbeResult[]>();
  for (const r of results) groups.set(probeKey(r), [...(groups.get(probeKey(r)) ?? []), r]);
  const ids = pods.map((p) => p.id);
  const rowW = Math.max(4, ...ids.map((s) => s.length));
  const colW = ids.map((s) => Math.max(1, s.length));
  const out: string[] = [];
  if (groups.size === 0) out.push(`engine ${engineName}: nothing to probe (fewer than two pods, or no declared ports; use --probe PORT/PROTO)`);
  for (const [key, rs] of groups) {
    const byPair = new Map(rs.map((r) => [`${r.from}\u0000${r.to}`, r]));
    const allowed = rs.filter((r) => r.allowed).length;
    out.push(`probe ${key}  engine ${engineName}  (${allowed} allowed, ${rs.length - allowed} denied; rows: from, columns: to; . allowed, X denied, - not probed)`);
    out.push(`${''.padEnd(rowW)}  ${ids.map((id, i) => id.padEnd(colW[i])).join(' ')}`);
    for (const from of ids) {
      const cells = ids.map((to, i) => {
        const r = byPair.get(`${from}\u0000${to}`);
        return (r ? (r.allowed ? '.' : 'X') : '-').padEnd(colW[i]);
      });
      out.push(`${from.padEnd(rowW)}  ${cells.join(' ')}`.trimEnd());
    }
    const notes = rs.filter((r) => r.note);
    for (const n of notes) out.push(`  note ${n.from} -> ${n.to}: ${n.note}`);
    out.push('');
  }
  return out.join('\n') + '\n';
}

/** The JSON contract: exactly these fields, in this order. */
export function renderJson(engineName: string, results: ProbeResult[]): string {
  return (
    JSON.stringify(
      {
        engine: engineName,
        results: results.map((r) => ({
          from: r.from,
          to: r.to,
          port: r.port,
          protocol: r.protocol,
          allowed: r.allowed,
          egress: { allowed: r.egress.allowed, decidedBy: r.egress.decidedBy },
          ingress: { allowed: r.ingress.allowed, decidedBy: r.ingress.decidedBy },
          ...(r.note ? { note: r.note } : {}),
        })),
      },
      null,
      2,
    ) + '\n'
  );
}

/**
 * The matrix as a library call (what `tollgate matrix --output json` prints, as an object): for conformance
 * tests and scripts. `probes` as text ("80/TCP") or parsed; none = every declared port.
 */
export async function runMatrix(
  compiled: Compiled,
  opts: { engine?: string; probes?: (string | ProbeSpec)[]; family?: Family } = {},
): Promise<{ engine: string; results: ProbeResult[]; pods: Endpoint[]; skipped: Endpoint[] }> {
  const engine = getEngine(opts.engine ?? 'ir');
  const specs = (opts.probes ?? []).map((p) => (typeof p === 'string' ? parseProbe(p) : p));
  const { probes, pods, skipped } = planProbes(compiled.program, opts.family ?? 4, specs);
  return { engine: engine.name, results: await engine.run(compiled, probes), pods, skipped };
}

interface MatrixOptions {
  engine: string;
  probe?: ProbeSpec[];
  family: Family;
  output: 'table' | 'json';
  tenant?: string[];
}

export function register(program: Command): void {
  program
    .command('matrix')
    .description('probe every pod to every other pod and print the verdicts (a grid per probe, or JSON)')
    .argument('<paths...>', 'manifest files or directories (*.yaml, *.yml, *.json), or - for stdin')
    .addOption(new Option('--engine <engine>', 'who decides: the IR reference evaluator, the BPF programs, or real traffic').choices(['ir', 'bpf', 'netns']).default('ir'))
    .addOption(new Option('--probe <PORT/PROTO>', 'probe this port (repeatable); default: every port each destination declares').argParser((v: string, prev: ProbeSpec[] | undefined) => [...(prev ?? []), parseProbe(v)]))
    .addOption(new Option('--family <4|6>', 'address family of the probes').argParser(parseFamily).default(4 as Family))
    .addOption(new Option('--output <form>', 'output form').choices(['table', 'json']).default('table'))
    .addOption(tenantOption())
    .action(async (paths: string[], opts: MatrixOptions) => {
      getEngine(opts.engine); // an unavailable engine fails before any work
      const compiled = compile(paths, { tenants: opts.tenant, stdin: readStdinIfNeeded(paths) });
      printWarnings(compiled.diagnostics);
      const { engine, results, pods, skipped } = await runMatrix(compiled, { engine: opts.engine, probes: opts.probe ?? [], family: opts.family });
      if (opts.output === 'table' && skipped.length) {
        process.stderr.write(`tollgate: skipped ${skipped.length} pod${skipped.length === 1 ? '' : 's'} without an IPv${opts.family} address: ${skipped.map((e) => e.id).join(', ')}\n`);
      }
      process.stdout.write(opts.output === 'json' ? renderJson(engine, results) : renderTable(engine, pods, results));
    });
}
