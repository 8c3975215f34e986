// Conformance cases as data: discovery, the expectation language, and truth-table comparison.
// Deliberately independent of the compiler: a case file is read with the `yaml` package only, so the expected
// results can never be derived from the implementation they check.
//
// A case file (test/conformance/<suite>/<case>.yaml) holds Namespaces, Pods, policies, and one final document
//   apiVersion: tollgate.dev/test
//   kind: ConformanceCase
//   metadata: { name: <case> }
//   expect:
//   - probe: 80/TCP          # PORT/PROTO, PROTO one of TCP, UDP, SCTP; or ICMP (echo request; ICMPv6 over IPv6)
//     family: 4              # optional; without it the entry holds for IPv4 and IPv6
//     default: allow         # verdict of every pair the lists below do not name
//     deny: ["x/a -> y/*"]   # applied after the default
//     allow: ["x/b -> x/a"]  # applied after deny when default is allow (exceptions to the exceptions);
//                            # with default deny the order is allow, then deny
// A pattern is "NS/POD -> NS/POD"; either part may be '*'. Every pod probes every other pod (never itself).
import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';

export const CONFORMANCE_DIR = __dirname;

export type Family = 4 | 6;
export type Verdict = 'allow' | 'deny';

export const PROTOCOLS: Readonly<Record<string, number>> = { TCP: 6, UDP: 17, SCTP: 132 };

export interface ProbeSpec {
  port: number;
  protocol: string; // TCP, UDP, SCTP, or ICMP (port 0)
}

export interface Expectation {
  probe: ProbeSpec;
  family: Family;
  /** "ns/pod -> ns/pod" -> expected verdict, for every ordered pair of distinct pods */
  table: Map<string, Verdict>;
}

export interface ConformanceCase {
  suite: string;
  name: string;
  file: string;
  /** first comment line of the file */
  title: string;
  /** "ns/pod", in file order */
  pods: string[];
  expectations: Expectation[];
}

export class CaseError extends Error {}

/** Every case file under the conformance directory, sorted by suite then name. */
export function discoverCases(dir: string = CONFORMANCE_DIR): string[] {
  const out: string[] = [];
  for (const suite of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!suite.isDirectory()) continue;
    for (const f of fs.readdirSync(path.join(dir, suite.name))) {
      if (/\.ya?ml$/.test(f)) out.push(path.join(dir, suite.name, f));
    }
  }
  return out.sort();
}

export function parseProbe(text: string, where: string): ProbeSpec {
  if (/^\s*icmp\s*$/i.test(text)) return { port: 0, protocol: 'ICMP' };
  const m = /^(\d+)\/([A-Za-z]+)$/.exec(text.trim());
  if (!m) throw new CaseError(`${where}: expected a probe PORT/PROTO (e.g. 80/TCP) or ICMP, found ${JSON.stringify(text)}`);
  const port = Number(m[1]);
  const protocol = m[2].toUpperCase();
  if (port < 1 || port > 65535) throw new CaseError(`${where}: expected a port 1..65535, found ${port}`);
  if (!(protocol in PROTOCOLS)) throw new CaseError(`${where}: expected protocol TCP, UDP or SCTP (or the probe ICMP), found ${JSON.stringify(m[2])}`);
  return { port, protocol };
}

export function probeText(p: ProbeSpec): string {
  return p.protocol === 'ICMP' ? 'ICMP' : `${p.port}/${p.protocol}`;
}

/** IANA protocol number of a probe in a family: the ICMP probe is an echo request, ICMPv6 over IPv6. */
export function protocolNumber(p: ProbeSpec, family: Family): number {
  if (p.protocol === 'ICMP') return family === 4 ? 1 : 58;
  return PROTOCOLS[p.protocol];
}

function sameProbe(p: ProbeSpec, r: { port: number; protocol: string }): boolean {
  const proto = r.protocol.toUpperCase();
  if (p.protocol === 'ICMP') return proto === 'ICMP' || proto === 'ICMPV6';
  return r.port === p.port && proto === p.protocol;
}

export function pairKey(from: string, to: string): string {
  return `${from} -> ${to}`;
}

interface Pattern {
  from: [string, string];
  to: [string, string];
  text: string;
}

function parsePattern(text: unknown, where: string): Pattern {
  if (typeof text !== 'string') throw new CaseError(`${where}: expected a pattern "NS/POD -> NS/POD", found ${JSON.stringify(text)}`);
  const m = /^\s*([^\s/]+)\/([^\s/]+)\s*->\s*([^\s/]+)\/([^\s/]+)\s*$/.exec(text);
  if (!m) throw new CaseError(`${where}: expected a pattern "NS/POD -> NS/POD" ('*' for any), found ${JSON.stringify(text)}`);
  return { from: [m[1], m[2]], to: [m[3], m[4]], text };
}

function partMatches(part: [string, string], pod: string): boolean {
  const [ns, name] = pod.split('/');
  return (part[0] === '*' || part[0] === ns) && (part[1] === '*' || part[1] === name);
}

function patternPairs(p: Pattern, pods: string[], where: string): string[] {
  const froms = pods.filter((x) => partMatches(p.from, x));
  const tos = pods.filter((x) => partMatches(p.to, x));
  if (froms.length === 0) throw new CaseError(`${where}: pattern ${JSON.stringify(p.text)}: no pod matches ${p.from.join('/')}`);
  if (tos.length === 0) throw new CaseError(`${where}: pattern ${JSON.stringify(p.text)}: no pod matches ${p.to.join('/')}`);
  const out: string[] = [];
  for (const f of froms) for (const t of tos) if (f !== t) out.push(pairKey(f, t));
  return out;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function loadCase(file: string): ConformanceCase {
  const text = fs.readFileSync(file, 'utf8');
  const suite = path.basename(path.dirname(file));
  const title = (/^#\s*(.*)$/m.exec(text)?.[1] ?? '').trim();
  const pods: string[] = [];
  let spec: Record<string, unknown> | undefined;
  for (const doc of parseAllDocuments(text)) {
    if ('errors' in doc && doc.errors.length > 0) throw new CaseError(`${file}: ${doc.errors[0].message}`);
    const obj: unknown = doc.toJS();
    if (!isRecord(obj)) continue;
    const meta = isRecord(obj.metadata) ? obj.metadata : {};
    if (obj.kind === 'Pod' && obj.apiVersion === 'v1') pods.push(`${String(meta.namespace ?? 'default')}/${String(meta.name)}`);
    if (obj.kind === 'ConformanceCase') {
      if (spec) throw new CaseError(`${file}: expected one ConformanceCase document, found a second`);
      if (obj.apiVersion !== 'tollgate.dev/test') throw new CaseError(`${file}: ConformanceCase: expected apiVersion tollgate.dev/test, found ${JSON.stringify(obj.apiVersion)}`);
      spec = obj;
    }
  }
  if (!spec) throw new CaseError(`${file}: expected a final document of kind ConformanceCase, found none`);
  const name = isRecord(spec.metadata) && typeof spec.metadata.name === 'string' ? spec.metadata.name : path.basename(file).replace(/\.ya?ml$/, '');
  if (!Array.isArray(spec.expect) || spec.expect.length === 0) throw new CaseError(`${file}: ConformanceCase.expect: expected a non-empty list, found ${JSON.stringify(spec.expect)}`);
  if (pods.length < 2) throw new CaseError(`${file}: expected at least two Pods to probe between, found ${pods.length}`);

  const expectations: Expectation[] = [];
  spec.expect.forEach((e: unknown, i: number) => {
    const where = `${file}: expect[${i}]`;
    if (!isRecord(e)) throw new CaseError(`${where}: expected a mapping, found ${JSON.stringify(e)}`);
    const known = new Set(['probe', 'family', 'default', 'deny', 'allow']);
    for (const k of Object.keys(e)) if (!known.has(k)) throw new CaseError(`${where}: unknown field ${JSON.stringify(k)} (expected probe, family, default, deny, allow)`);
    const probe = parseProbe(String(e.probe), `${where}.probe`);
    const def = e.default ?? 'allow';
    if (def !== 'allow' && def !== 'deny') throw new CaseError(`${where}.default: expected allow or deny, found ${JSON.stringify(def)}`);
    let families: Family[];
    if (e.family === undefined) families = [4, 6];
    else if (e.family === 4 || e.family === 6) families = [e.family];
    else throw new CaseError(`${where}.family: expected 4 or 6, found ${JSON.stringify(e.family)}`);
    const list = (key: 'deny' | 'allow'): Pattern[] => {
      const v = e[key];
      if (v === undefined) return [];
      if (!Array.isArray(v)) throw new CaseError(`${where}.${key}: expected a list of patterns, found ${JSON.stringify(v)}`);
      return v.map((p, j) => parsePattern(p, `${where}.${key}[${j}]`));
    };
    const order: Verdict[] = def === 'allow' ? ['deny', 'allow'] : ['allow', 'deny'];
    for (const family of families) {
      if (expectations.some((x) => x.family === family && probeText(x.probe) === probeText(probe))) {
        throw new CaseError(`${where}: probe ${probeText(probe)} IPv${family} is already expected by an earlier entry`);
      }
      const table = new Map<string, Verdict>();
      for (const f of pods) for (const t of pods) if (f !== t) table.set(pairKey(f, t), def);
      for (const verdict of order) {
        list(verdict).forEach((p, j) => {
          for (const k of patternPairs(p, pods, `${where}.${verdict}[${j}]`)) table.set(k, verdict);
        });
      }
      expectations.push({ probe, family, table });
    }
  });
  return { suite, name, file, title, pods, expectations };
}

// ---------------------------------------------------------------------------------------------------------
// Comparison

/** One result of `tollgate matrix --output json` (engines/types ProbeResult), as far as the comparison reads it. */
export interface ObservedResult {
  from: string;
  to: string;
  port: number;
  protocol: string;
  allowed: boolean;
  egress?: { allowed: boolean; decidedBy: string };
  ingress?: { allowed: boolean; decidedBy: string };
  note?: string;
}

export interface Mismatch {
  pair: string;
  expected: Verdict;
  got: Verdict | 'missing';
  detail: string;
}

export interface Comparison {
  expectation: Expectation;
  mismatches: Mismatch[];
  /** results whose allowed disagrees with egress.allowed && ingress.allowed */
  inconsistent: string[];
  grid: string;
}

function describeDirections(r: ObservedResult): string {
  const d = (name: string, x?: { allowed: boolean; decidedBy: string }): string =>
    x ? `${name} ${x.allowed ? 'allowed' : 'denied'} by ${x.decidedBy}` : `${name} not reported`;
  return `${d('egress', r.egress)}; ${d('ingress', r.ingress)}${r.note ? `; note: ${r.note}` : ''}`;
}

/** Compares one expectation with the engine's results for that probe and family. */
export function compare(c: ConformanceCase, e: Expectation, results: ObservedResult[]): Comparison {
  const byPair = new Map<string, ObservedResult>();
  for (const r of results) {
    if (sameProbe(e.probe, r)) byPair.set(pairKey(r.from, r.to), r);
  }
  const mismatches: Mismatch[] = [];
  const inconsistent: string[] = [];
  const cell = new Map<string, string>();
  for (const [pair, expected] of e.table) {
    const r = byPair.get(pair);
    if (!r) {
      mismatches.push({ pair, expected, got: 'missing', detail: 'no result for this pair' });
      cell.set(pair, '?');
      continue;
    }
    const got: Verdict = r.allowed ? 'allow' : 'deny';
    if (r.egress && r.ingress && r.allowed !== (r.egress.allowed && r.ingress.allowed)) {
      inconsistent.push(`${pair}: allowed=${r.allowed} but ${describeDirections(r)}`);
    }
    if (got === expected) {
      cell.set(pair, got === 'allow' ? '.' : 'X');
    } else {
      mismatches.push({ pair, expected, got, detail: describeDirections(r) });
      cell.set(pair, got === 'allow' ? 'A' : 'D');
    }
  }
  return { expectation: e, mismatches, inconsistent, grid: renderGrid(c.pods, cell) };
}

/** Rows: from, columns: to. '.' allowed and expected, 'X' denied and expected, 'A' allowed but expected denied,
 *  'D' denied but expected allowed, '?' no result, '-' a pod to itself (never probed). */
export function renderGrid(pods: string[], cell: Map<string, string>): string {
  const w = Math.max(4, ...pods.map((p) => p.length));
  const pad = (s: string): string => s.padStart(w);
  const lines = [pad('') + ' ' + pods.map(pad).join(' ')];
  for (const f of pods) {
    lines.push(pad(f) + ' ' + pods.map((t) => pad(f === t ? '-' : cell.get(pairKey(f, t)) ?? '?')).join(' '));
  }
  return lines.join('\n');
}

export function formatFailures(c: ConformanceCase, comps: Comparison[]): string {
  const out: string[] = [`${c.suite}/${c.name}: ${c.title}`, `  ${path.relative(process.cwd(), c.file)}`];
  for (const comp of comps) {
    if (comp.mismatches.length === 0 && comp.inconsistent.length === 0) continue;
    const e = comp.expectation;
    out.push('', `${probeText(e.probe)} IPv${e.family}: ${comp.mismatches.length} mismatch(es) (A = allowed but expected denied, D = denied but expected allowed)`);
    out.push(comp.grid);
    for (const m of comp.mismatches.slice(0, 20)) out.push(`  ${m.pair}: expected ${m.expected}, got ${m.got} (${m.detail})`);
    if (comp.mismatches.length > 20) out.push(`  ... and ${comp.mismatches.length - 20} more`);
    for (const s of comp.inconsistent.slice(0, 10)) out.push(`  not egress AND ingress: ${s}`);
  }
  return out.join('\n');
}
