// `tollgate load PATHS... [--iface-map FILE] [--netns NAME] [--lab]`, `tollgate unload`, `tollgate status`.
// The transactional loader is compiler/load/loader.ts; this module parses options and prints.
import * as fs from 'fs';
import { LineCounter, parseDocument, isMap, isScalar } from 'yaml';
import { Option } from 'commander';
import type { Command } from 'commander';
import type { Program } from '../ir/types';
import type { LoadOptions, LoadReport, StatusReport, UnloadReport } from '../load/loader';
import type { ScopeOptions } from '../load/state';
import { CliError, printWarnings, readStdinIfNeeded, tenantOption } from './common';

const IFNAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,14}$/;
const POD_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** `--iface-map FILE`: a YAML or JSON map "namespace/pod": interface. Errors name file:line:col. */
export function readIfaceMap(file: string): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`--iface-map: cannot read ${file}: ${(err as Error).message}`);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const at = (offset: number | undefined): string => {
    if (offset === undefined) return file;
    const p = lc.linePos(offset);
    return `${file}:${p.line}:${p.col}`;
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new CliError(`${at(e.pos[0])}: error: --iface-map: expected YAML or JSON, found a syntax error: ${e.message.split('\n')[0]}`);
  }
  if (doc.contents === null) return {};
  if (!isMap(doc.contents)) {
    throw new CliError(`${at(doc.contents.range?.[0])}: error: --iface-map: expected a map of "namespace/pod": interface, found ${isScalar(doc.contents) ? `'${String(doc.contents.value)}'` : 'a list'}`);
  }
  const out: Record<string, string> = {};
  const problems: string[] = [];
  for (const pair of doc.contents.items) {
    const k = pair.key;
    const v = pair.value;
    const key = isScalar(k) ? String(k.value) : undefined;
    const keyAt = at(isScalar(k) ? k.range?.[0] : undefined);
    if (key === undefined || !POD_RE.test(key)) {
      problems.push(`${keyAt}: error: --iface-map: expected a key "namespace/pod", found ${key === undefined ? 'a non-scalar key' : `'${key}'`}`);
      continue;
    }
    const val = isScalar(v) && typeof v.value === 'string' ? v.value : undefined;
    if (val === undefined || !IFNAME_RE.test(val)) {
      const found = isScalar(v) ? `'${String(v.value)}'` : v === null ? 'nothing' : 'a list or map';
      const range = (v as { range?: [number, number, number] } | null)?.range;
      problems.push(`${at(range?.[0] ?? (isScalar(k) ? k.range?.[0] : undefined))}: error: --iface-map ${key}: expected an interface name (1 to 15 of letters, digits, '_', '-', '.'), found ${found}`);
      continue;
    }
    if (key in out) {
      problems.push(`${keyAt}: error: --iface-map: pod ${key} is named twice`);
      continue;
    }
    out[key] = val;
  }
  if (problems.length > 0) throw new CliError(problems.join('\n'));
  return out;
}

interface ScopeFlags {
  netns?: string;
  pinRoot?: string;
  stateDir?: string;
}

function scopeOf(o: ScopeFlags): ScopeOptions {
  return { ...(o.netns ? { netns: o.netns } : {}), ...(o.pinRoot ? { pinRoot: o.pinRoot } : {}), ...(o.stateDir ? { stateDir: o.stateDir } : {}) };
}

function hidden(flags: string, desc: string): Option {
  // tests keep their pins and state apart from a user's; users never need these
  return new Option(flags, desc).hideHelp();
}

function outputOption(): Option {
  return new Option('--output <format>', 'output format').choices(['text', 'json']).default('text');
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]): string => '  ' + r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

async function withLoader<T>(fn: (l: typeof import('../load/loader')) => Promise<T>): Promise<T> {
  const l = require('../load/loader') as typeof import('../load/loader');
  try {
    return await fn(l);
  } catch (err) {
    if (err instanceof l.LoadError) throw new CliError(err.message, err.exitCode);
    throw err;
  }
}

function attachModes(atts: LoadReport['attachments']): string {
  const modes = [...new Set(atts.map((a) => a.mode))].sort();
  return modes.length === 0 ? 'no interfaces' : modes.map((m) => (m === 'tcx' ? 'tcx' : 'tc clsact replace')).join(', ');
}

/** Where a program sits: its tcx hook, or the handle/priority of its clsact filter. */
function placeOf(a: { mode: string; handle: number; priority: number }): string {
  return a.mode === 'tcx' ? 'tcx' : `tc 0x${a.handle.toString(16)}/${a.priority}`;
}

export function renderLoad(r: LoadReport): string {
  const how = r.mode === 'maps-only'
    ? `maps only: no clang, ${r.verified ? 'programs loaded for new interfaces only' : 'no program load'}`
    : `new program: clang ${r.clang === 'ran' ? 'ran' : 'not needed (cached object)'}, verified and attached (${attachModes(r.attachments)})`;
  let out = `loaded generation ${r.generation} (${how}): enforcing after ${r.timings.enforcingMs.toFixed(1)} ms, done in ${r.timings.totalMs.toFixed(1)} ms\n`;
  const byIf = new Map<string, string[]>();
  for (const a of r.attachments) byIf.set(a.ifname, [...(byIf.get(a.ifname) ?? []), `${a.hook}: ${a.program} (prog ${a.progId}, ${a.mode})`]);
  out += table(['POD', 'INTERFACE', 'TC HOOKS'], r.endpoints.map((e) => [e.endpoint, `${e.ifname} (${e.ifindex})`, (byIf.get(e.ifname) ?? []).join(', ')]));
  if (r.skipped.length > 0) out += `not on this node (no interface named): ${r.skipped.join(', ')}\n`;
  out += `entries: ${Object.entries(r.entries).map(([k, v]) => `${k} ${v}`).join(', ')}\n`;
  return out;
}

export function renderStatus(s: StatusReport, all: boolean): string {
  if (!s.loaded) return 'nothing loaded\n';
  let out = `generation ${s.generation}, loaded ${s.loadedAt}${s.netns ? `, netns ${s.netns}` : ''}\n\nattached:\n`;
  out += table(['INTERFACE', 'TC HOOK', 'PROGRAM', 'PROG ID', 'ATTACHED BY', 'STATE'], s.attachments.map((a) => [
    `${a.ifname} (${a.ifindex})`, a.hook, a.program, String(a.progId), placeOf(a), a.present ? 'attached' : `MISSING: ${a.note ?? ''}`,
  ]));
  if (s.others.length > 0) out += `other programs on these hooks: ${s.others.map((o) => `${o.ifname} ${o.hook} ${placeOf(o)} ${o.name || `prog ${o.progId}`}${o.name ? ` (prog ${o.progId})` : ''}`).join(', ')}\n`;
  out += '\nmaps:\n';
  out += table(['MAP', 'TYPE', 'ENTRIES', 'MAX', 'FILL'], s.maps.map((m) => [
    m.map, m.type, m.type.endsWith('array') ? '-' : String(m.entries), String(m.maxEntries), m.type.endsWith('array') ? '-' : `${((100 * m.entries) / m.maxEntries).toFixed(1)}%`,
  ]));
  out += `conntrack: ${s.conntrackEntries} entries\n\ncounters since the first load${all ? '' : ' (rules, and defaults that counted)'}:\n`;
  const rows = s.counters.filter((c) => c.endpoint !== '' && (all || c.kind === 'rule' || c.packets > 0));
  out += table(['INDEX', 'ENDPOINT', 'DIR', 'RULE', 'ACTION', 'PACKETS', 'BYTES'], rows.map((c) => [
    String(c.index), c.endpoint, c.direction, c.ruleId ?? `${c.kind}${c.tier ? ` of ${c.tier}` : ''}`, c.action, String(c.packets), String(c.bytes),
  ]));
  for (const p of s.problems) out += `problem: ${p}\n`;
  return out;
}

export function renderUnload(r: UnloadReport): string {
  if (!r.hadState && !r.removedPins) return 'nothing loaded\n';
  const ifs = new Set(r.detached.map((d) => d.ifname));
  let out = `detached ${r.detached.length} programs from ${ifs.size} interfaces${r.removedPins ? ', removed the pinned maps' : ''}, removed the state\n`;
  for (const n of r.notes) out += `note: ${n}\n`;
  return out;
}

export function register(program: Command): void {
  program
    .command('load')
    .description("compile and attach to each pod's host-side interface (pod egress at tc ingress, pod ingress at tc egress); updates are transactional")
    .argument('[paths...]', 'manifest files or directories, or - for stdin')
    .option('--iface-map <file>', 'YAML or JSON map "namespace/pod": interface (wins over the tollgate.dev/interface annotation)')
    .option('--netns <name>', 'the network namespace the interfaces are in (e.g. a lab node: tg-node)')
    .option('--lab', "use the interfaces and node netns of the lab that is up ('tollgate lab up')")
    .option('--ir <file>', 'load an IR program (JSON, as `tollgate compile --emit ir-json` prints) instead of manifests')
    .option('--reload', 'load a new program even when only map contents change')
    .addOption(new Option('--attach <mode>', 'attach through tcx (Linux 6.6+; the default when the kernel has it) or a tc clsact filter').choices(['tcx', 'tc']))
    .addOption(outputOption())
    .addOption(tenantOption())
    .addOption(hidden('--lab-prefix <prefix>', 'the lab prefix (tests)'))
    .addOption(hidden('--pin-root <dir>', 'bpffs directory for pins (tests)'))
    .addOption(hidden('--state-dir <dir>', 'state directory (tests)'))
    .action(async (paths: string[], o: ScopeFlags & { ifaceMap?: string; lab?: boolean; labPrefix?: string; ir?: string; reload?: boolean; attach?: 'tcx' | 'tc'; output: string; tenant?: string[] }) => {
      let prog: Program;
      const sources = o.ir ? [o.ir] : paths;
      if (o.ir) {
        if (paths.length > 0) throw new CliError('load: expected manifest paths or --ir FILE, found both');
        try {
          prog = JSON.parse(fs.readFileSync(o.ir, 'utf8')) as Program;
        } catch (err) {
          throw new CliError(`--ir ${o.ir}: expected an IR program in JSON: ${(err as Error).message}`);
        }
        if (!prog || prog.version !== 1 || !Array.isArray(prog.endpoints)) throw new CliError(`--ir ${o.ir}: expected an IR program (version 1, endpoints), found something else`);
      } else {
        if (paths.length === 0) throw new CliError('load: expected manifest paths (or --ir FILE), found none');
        const { compile } = require('../pipeline') as typeof import('../pipeline');
        const compiled = compile(paths, { tenants: o.tenant, stdin: readStdinIfNeeded(paths) });
        printWarnings(compiled.diagnostics);
        prog = compiled.program;
      }
      let ifaceMap: Record<string, string> = {};
      let netns = o.netns;
      if (o.lab) {
        const lab = require('../lab') as typeof import('../lab');
        const ifs = lab.labInterfaces(lab.labOptions(o.labPrefix ?? 'tg'));
        if (ifs.length === 0) throw new CliError("--lab: no lab is up; run 'tollgate lab up PATHS...' first");
        if (netns && netns !== ifs[0].netns) throw new CliError(`--lab: the lab's interfaces are in netns ${ifs[0].netns}, found --netns ${netns}`);
        netns = ifs[0].netns;
        // pods of the lab that the input does not have are not loaded (and not an error)
        const known = new Set(prog.endpoints.map((e) => e.id));
        for (const i of ifs) if (known.has(i.pod)) ifaceMap[i.pod] = i.ifname;
      }
      if (o.ifaceMap) ifaceMap = { ...ifaceMap, ...readIfaceMap(o.ifaceMap) };
      const opts: LoadOptions = {
        ...scopeOf({ ...o, netns }), ifaceMap, ifaceMapSource: o.ifaceMap ? `--iface-map ${o.ifaceMap}` : o.lab ? 'the lab' : undefined,
        forceReload: !!o.reload, sources, ...(o.attach ? { attachMode: o.attach } : {}),
      };
      const r = await withLoader((l) => l.load(prog, opts));
      process.stdout.write(o.output === 'json' ? JSON.stringify(r, null, 2) + '\n' : renderLoad(r));
    });

  program
    .command('unload')
    .description('detach every program Tollgate attached (tcx or tc), remove its qdiscs (when it made them and they are empty), pins and state; safe to repeat')
    .option('--netns <name>', 'the network namespace given to load')
    .addOption(outputOption())
    .addOption(hidden('--pin-root <dir>', 'bpffs directory for pins (tests)'))
    .addOption(hidden('--state-dir <dir>', 'state directory (tests)'))
    .action(async (o: ScopeFlags & { output: string }) => {
      const r = await withLoader((l) => l.unload(scopeOf(o)));
      process.stdout.write(o.output === 'json' ? JSON.stringify(r, null, 2) + '\n' : renderUnload(r));
    });

  program
    .command('status')
    .description('what is attached where, map fill levels, per-rule counters and conntrack entries')
    .option('--netns <name>', 'the network namespace given to load')
    .option('--all', 'list every counter row (tier ends and defaults too)')
    .addOption(outputOption())
    .addOption(hidden('--pin-root <dir>', 'bpffs directory for pins (tests)'))
    .addOption(hidden('--state-dir <dir>', 'state directory (tests)'))
    .action(async (o: ScopeFlags & { output: string; all?: boolean }) => {
      const s = await withLoader((l) => l.status(scopeOf(o)));
      process.stdout.write(o.output === 'json' ? JSON.stringify(s, null, 2) + '\n' : renderStatus(s, !!o.all));
      if (s.problems.length > 0) process.exitCode = 1;
    });
}
