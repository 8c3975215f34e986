// What `tollgate load` left in the kernel, so that the next load can update it in place, `unload` can remove
// exactly what Tollgate made and `status` can cross-check what is attached. One state per scope: the host's
// network namespace, or one named netns (`--netns`, e.g. a lab's node). The maps are pinned under the pin root
// (bpffs); the JSON lives next to them in /run/tollgate (bpffs holds only BPF objects).
//
//   <pinRoot>/<scope>/tg_conntrack        the conntrack map, shared by every generation (flows survive updates)
//   <pinRoot>/<scope>/g<N>/<map>          every other map of the object loaded by generation N
//   <stateDir>/state.json                 host scope; state-<netns>.json for a netns scope
//   <stateDir>/objects/<shapeKey>.o       the compiled object, so a later load can attach it without clang
import * as fs from 'fs';
import * as path from 'path';
import type { Family } from '../model/types';
import { PIN_ROOT } from './native';

export const STATE_DIR = '/run/tollgate';

export interface LoadPaths {
  /** bpffs directory of this scope */
  pinDir: string;
  statePath: string;
  objectDir: string;
}

export interface ScopeOptions {
  /** default PIN_ROOT (/sys/fs/bpf/tollgate); tests pass their own */
  pinRoot?: string;
  /** default /run/tollgate */
  stateDir?: string;
  /** `ip netns` name where the interfaces are; undefined = the caller's network namespace */
  netns?: string;
}

const NETNS_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export function scopePaths(o: ScopeOptions): LoadPaths {
  const pinRoot = o.pinRoot ?? PIN_ROOT;
  const stateDir = o.stateDir ?? STATE_DIR;
  if (o.netns !== undefined && !NETNS_RE.test(o.netns)) {
    throw new Error(`--netns: expected a network namespace name as \`ip netns\` lists it, found '${o.netns}'`);
  }
  const scope = o.netns === undefined ? 'host' : `netns-${o.netns}`;
  return {
    pinDir: path.join(pinRoot, scope),
    statePath: path.join(stateDir, o.netns === undefined ? 'state.json' : `state-${o.netns}.json`),
    objectDir: path.join(stateDir, 'objects'),
  };
}

export type AttachMode = 'tcx' | 'tc';

/** One program Tollgate attached: a tcx program (Linux 6.6+) or a cls_bpf filter of the clsact qdisc. */
export interface Attachment {
  ifname: string;
  ifindex: number;
  /** the tc hook: 'ingress' runs the pod's egress policy, 'egress' its ingress policy */
  hook: 'ingress' | 'egress';
  program: 'tollgate_ingress' | 'tollgate_egress';
  /** 'tcx': first program of the interface's tcx hook (known by its progId); 'tc': the cls_bpf filter at handle/priority
   *  (states written before tcx have no mode: read as 'tc') */
  mode: AttachMode;
  /** tc only (0 for tcx) */
  handle: number;
  /** tc only (0 for tcx) */
  priority: number;
  progId: number;
  /** tc: Tollgate created the clsact qdisc of this interface (unload removes it when it is empty); false for tcx */
  qdiscCreated: boolean;
}

/** One entry of tg_endpoints as written. */
export interface EndpointRecord {
  endpoint: string;
  ifname: string;
  ifindex: number;
  direction: 'ingress' | 'egress';
  family: Family;
  addr: string;
  epId: number;
  /** the table (class and decision entries) the entry looks up */
  tableId: number;
  /** the value (struct tg_ep_value), hex (restored when a later switch is rolled back) */
  value: string;
}

/** One row of the rule table (counter index = index). */
export interface RuleRecord {
  index: number;
  endpoint: string;
  direction: 'ingress' | 'egress';
  kind: 'rule' | 'tier-end' | 'default';
  action: string;
  tier: string;
  ruleId?: string;
  policy?: string;
}

export interface LoadState {
  version: 1;
  netns?: string;
  pinDir: string;
  generation: number;
  /** the next fresh ep_id: ids are never reused, so a conntrack entry always knows its policy is older */
  nextEpId: number;
  /** hash of the shape (map sizes) and the datapath sources: equal = the loaded program can be kept */
  shapeKey: string;
  shape: Record<string, number>;
  objectPath: string;
  /** the directory of this generation's pinned maps */
  mapsDir: string;
  conntrackPin: string;
  /** rule indexes of this generation start here (counters alternate between two banks) */
  ruleBase: number;
  ruleBankSize: number;
  /** counts of earlier generations by counterKey(rule), so status shows totals across updates */
  carried?: Record<string, { packets: number; bytes: number }>;
  attachments: Attachment[];
  endpoints: EndpointRecord[];
  rules: RuleRecord[];
  /** endpoints of the input that name no interface (not on this node) */
  skipped: string[];
  sources: string[];
  loadedAt: string;
}

export function readLoadState(file: string): LoadState | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let s: LoadState;
  try {
    s = JSON.parse(text) as LoadState;
  } catch (err) {
    throw new Error(`${file}: expected the JSON state of tollgate load, found unparsable text (${(err as Error).message}); remove it with 'tollgate unload'`);
  }
  if (s.version !== 1 || !Array.isArray(s.attachments) || !Array.isArray(s.endpoints)) {
    throw new Error(`${file}: expected a tollgate load state (version 1), found something else`);
  }
  // states of loads before tcx: every attachment a clsact filter
  s.attachments = s.attachments.map((a) => ({ ...a, mode: a.mode ?? 'tc' }));
  return s;
}

export function writeLoadState(file: string, s: LoadState): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(s) + '\n');
  fs.renameSync(tmp, file); // a reader sees the old state or the new one, never half
}

export function removeLoadState(file: string): void {
  fs.rmSync(file, { force: true });
}

/** A rule row's identity across generations (its index changes, its id does not). */
export function counterKey(r: Pick<RuleRecord, 'endpoint' | 'direction' | 'kind' | 'tier' | 'ruleId'>): string {
  return r.kind === 'rule' && r.ruleId ? `${r.endpoint}|${r.direction}|${r.ruleId}` : `${r.endpoint}|${r.direction}|${r.kind}|${r.tier}`;
}
