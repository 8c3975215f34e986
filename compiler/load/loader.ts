// The transactional loader: `tollgate load`, `unload` and `status` (docs/design.md, "The BPF datapath").
//
// A load prepares everything new before anything that enforces changes:
//   - the tables of the endpoints on this node, under FRESH table ids, and endpoint entries with FRESH ep_ids
//     (never reused: an ep_id is also the policy generation a conntrack entry remembers, so a flow allowed under
//     older policy is checked once more; a table id is never reused, so no live entry's table changes under it);
//   - rule indexes in the counter bank the live generation does not use (two banks alternate);
//   - when the shape (map sizes, datapath sources) is unchanged: no clang, no program load; the new entries go
//     into the pinned maps next to the live ones (maps are sized for two generations);
//   - when it changed: the object (clang only when the object cache misses), conntrack reused from its pin so
//     flows survive, loaded (verifier), every map filled and pinned under a new generation directory.
// Then the switch: per endpoint entry one atomic map update (maps-only), or per interface and hook one atomic
// replace (new object): of our tcx program (BPF_F_REPLACE of its id), or of our cls_bpf filter at the same
// handle and priority. Attachments go through tcx when the kernel has it (Linux 6.6+), else through clsact;
// LoadOptions.attachMode forces one. A hook that changes mode gets its new program first (tcx runs before clsact
// and its PASS/DROP ends the hook); the old filter goes after the switch. Then the old entries, filters and pins go.
// A failure before the switch removes everything new and leaves the old programs and maps enforcing.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { Endpoint, Program } from '../ir/types';
import { buildTables, shapeOf, type BpfTables } from '../emit/bpf';
import { CBuilder, ident } from '../emit/bpf/cgen';
import { BPF_DIR, DIR } from '../emit/bpf/codes';
import { epKey, epValue, ifaceKey, ifaceValue, LAYOUT, readCounter } from '../emit/bpf/layout';
import { compileBpf } from '../emit/bpf/objcache';
import { policyContents, type MapContents } from '../emit/bpf/serialize';
import {
  attachTc, BpfMap, BpfObject, detachTc, ensureBpffs, ifindex as nativeIfindex, isNativeError, listTc, removeClsact,
  tcxAttach, tcxDetach, tcxList, tcxSupported, type BpfProgram, type TcFilter,
} from './native';
import {
  readLoadState, removeLoadState, scopePaths, writeLoadState,
  counterKey, type AttachMode, type Attachment, type EndpointRecord, type LoadPaths, type LoadState, type RuleRecord, type ScopeOptions,
} from './state';

export const IFACE_ANNOTATION = 'tollgate.dev/interface';
/** Where Tollgate's filters sit on a hook ('tg'); a filter there that is not Tollgate's is never replaced. */
export const TC_HANDLE = 0x7467;
export const TC_PRIORITY = 1;
const PROGRAMS = { ingress: 'tollgate_egress', egress: 'tollgate_ingress' } as const; // tc hook -> program
/** A packet that read the old endpoint entry may still be looking its classes up: wait before deleting them. */
export const GRACE_MS = 10;
/** Up to this many entries per map are written with plain updates, more with one batch (in a worker). */
const SYNC_WRITE_MAX = 512;

/** A problem that leaves the kernel as it was; exitCode 2 for input problems (missing interfaces). */
export class LoadError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'LoadError';
  }
}

export interface LoadOptions extends ScopeOptions {
  /** "ns/pod" -> host-side interface; wins over the pod annotation */
  ifaceMap?: Record<string, string>;
  /** where ifaceMap came from, for messages */
  ifaceMapSource?: string;
  /** map name -> max_entries, set on a newly loaded object (tests force a map too small for its entries) */
  mapMaxEntries?: Record<string, number>;
  /** load a new object even when the shape is unchanged */
  forceReload?: boolean;
  /** load this object file instead of compiling the shape (tests: an object the verifier rejects); implies a new object */
  objectOverride?: string;
  /** tests: fail the switch when it reaches this interface (after switching the ones before it) */
  failSwitchAt?: string;
  sources?: string[];
  /** how programs are attached: tcx (default when the kernel has it) or a clsact cls_bpf filter */
  attachMode?: AttachMode;
}

/** The mode new attachments use: the one asked for, else tcx when the kernel has it. */
export function attachModeFor(opts: Pick<LoadOptions, 'attachMode'>): AttachMode {
  if (opts.attachMode === 'tcx' && !tcxSupported()) {
    throw new LoadError('nothing was loaded: attach mode tcx asked for, but this kernel has no tcx hooks (Linux 6.6+); use tc', 2);
  }
  return opts.attachMode ?? (tcxSupported() ? 'tcx' : 'tc');
}

export interface LoadTimings {
  /** tables and map contents from the IR */
  tablesMs: number;
  clangMs?: number;
  verifierMs?: number;
  /** writing the new entries (and, for a new object, pins) */
  writeMs: number;
  /** the switch: endpoint flips or tc replaces */
  switchMs: number;
  /** from the call to the end of the switch: the new policy enforces */
  enforcingMs: number;
  /** old entries, filters and pins removed, state written */
  totalMs: number;
}

export interface LoadReport {
  /** 'incremental': rules modified in place, written into the live tables (compiler/load/dataplane.ts) */
  mode: 'maps-only' | 'new-object' | 'incremental';
  /** why an update through a dataplane handle was not incremental */
  fallback?: string;
  /** 'ran' or 'cached' when an object was needed; 'not-needed' for maps-only */
  clang: 'ran' | 'cached' | 'not-needed';
  /** whether a program went through the verifier */
  verified: boolean;
  generation: number;
  objectPath: string;
  endpoints: { endpoint: string; ifname: string; ifindex: number }[];
  skipped: string[];
  attachments: Attachment[];
  entries: Record<string, number>;
  timings: LoadTimings;
}

const ms = (from: bigint): number => Number(process.hrtime.bigint() - from) / 1e6;

// ---------------------------------------------------------------------------------------------------------
// Shape: the C text is only the map sizes and the #include, so it changes only when a size class changes.

/** Map sizes for two generations side by side (old + new during an update), counters in two banks. */
export function loaderShape(t: BpfTables): Record<string, number> {
  const s = shapeOf(t) as unknown as Record<string, number>;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(s)) out[k] = k.startsWith('TG_MAX_') && k !== 'TG_MAX_CONNTRACK' ? v * 2 : v;
  return out;
}

export function shapeC(shape: Record<string, number>): string {
  const b = new CBuilder().spdx('(GPL-2.0-only OR BSD-2-Clause)');
  b.comment([
    'Generated by tollgate load: the datapath with this node\'s map sizes (two generations each).',
    'Policy is not code: it is all in the maps, which the loader writes.',
  ]).blank();
  for (const k of Object.keys(shape).sort()) b.define(ident(k), shape[k]);
  return b.blank().include('tollgate.bpf.c').toString();
}

export function shapeKey(cText: string): string {
  const h = crypto.createHash('sha256').update(cText);
  for (const f of ['tollgate.bpf.c', 'include/tollgate_maps.h', 'include/verdicts.h']) h.update(fs.readFileSync(path.join(BPF_DIR, f)));
  return h.digest('hex').slice(0, 32);
}

// ---------------------------------------------------------------------------------------------------------
// Interfaces

export interface LocalEndpoint {
  ep: Endpoint;
  ifname: string;
  ifindex: number;
}

function ifindexOrUndefined(ifname: string, netns?: string): number | undefined {
  try {
    return nativeIfindex(ifname, netns);
  } catch (err) {
    if (isNativeError(err) && (err.code === 'ENODEV' || err.code === 'ENOENT' || err.code === 'ERR_INVALID_ARG')) return undefined;
    throw err;
  }
}

function where(netns?: string): string {
  return netns ? `netns ${netns}` : 'this network namespace';
}

/** The endpoints of this node: those with an interface (from --iface-map, else the annotation) that exists. */
export function resolveInterfaces(program: Program, opts: LoadOptions): { local: LocalEndpoint[]; skipped: string[] } {
  const map = opts.ifaceMap ?? {};
  const known = new Set(program.endpoints.map((e) => e.id));
  const unknown = Object.keys(map).filter((k) => !known.has(k));
  const problems: string[] = [];
  if (unknown.length > 0) {
    problems.push(`${opts.ifaceMapSource ?? '--iface-map'}: expected pods of the input, found ${unknown.map((u) => `'${u}'`).join(', ')}`);
  }
  const local: LocalEndpoint[] = [];
  const skipped: string[] = [];
  const byIf = new Map<string, string>();
  for (const ep of program.endpoints) {
    const fromMap = map[ep.id];
    const ifname = fromMap ?? ep.iface;
    if (!ifname) {
      skipped.push(ep.id);
      continue;
    }
    const origin = fromMap !== undefined ? `from ${opts.ifaceMapSource ?? '--iface-map'}` : `from annotation ${IFACE_ANNOTATION}`;
    const other = byIf.get(ifname);
    if (other !== undefined) {
      problems.push(`${ep.id}: interface '${ifname}' (${origin}) is already the interface of ${other}`);
      continue;
    }
    byIf.set(ifname, ep.id);
    const idx = ifindexOrUndefined(ifname, opts.netns);
    if (idx === undefined) {
      problems.push(`${ep.id}: interface '${ifname}' (${origin}) does not exist in ${where(opts.netns)}`);
      continue;
    }
    local.push({ ep, ifname, ifindex: idx });
  }
  if (problems.length > 0) {
    throw new LoadError(`nothing was loaded: ${problems.length} endpoint interface problem${problems.length === 1 ? '' : 's'}:\n  ${problems.join('\n  ')}`, 2);
  }
  return { local, skipped };
}

/** Just before the switch: every interface still there with the same ifindex. */
function recheckInterfaces(local: LocalEndpoint[], netns?: string): void {
  const gone = local.filter((l) => ifindexOrUndefined(l.ifname, netns) !== l.ifindex);
  if (gone.length > 0) {
    throw new LoadError(`interface${gone.length === 1 ? '' : 's'} vanished or changed during the load: ${gone.map((g) => `${g.ifname} (${g.ep.id})`).join(', ')}`);
  }
}

/**
 * A filter of someone else at Tollgate's handle and priority: never replaced. Only clsact has fixed places: on
 * tcx our program goes first and others' programs stay where they are (status reports them).
 */
async function checkHooksFree(ifnames: string[], netns: string | undefined, ours: Set<number>, mode: AttachMode): Promise<void> {
  if (mode === 'tcx') return;
  const foreign: string[] = [];
  for (const ifname of ifnames) {
    for (const hook of ['ingress', 'egress'] as const) {
      for (const f of await listTc({ ifname, netns, direction: hook })) {
        if (f.handle === TC_HANDLE && f.priority === TC_PRIORITY && !ours.has(f.progId) && !isTollgateFilter(f)) {
          foreign.push(`${ifname} ${hook} (${f.kind} ${f.name || `prog ${f.progId}`})`);
        }
      }
    }
  }
  if (foreign.length > 0) {
    throw new LoadError(`nothing was loaded: a filter that is not Tollgate's sits at handle 0x${TC_HANDLE.toString(16)} priority ${TC_PRIORITY} on ${foreign.join(', ')}`);
  }
}

function isTollgateFilter(f: TcFilter): boolean {
  // the kernel keeps 15 characters of a program name: 'tollgate_ingres'; tc shows 'name:[id]'
  return f.kind === 'bpf' && /^tollgate_(ingress|ingres|egress)(:\[\d+\])?$/.test(f.name);
}

// ---------------------------------------------------------------------------------------------------------
// Map helpers

function keyTableIdOffset(map: string): number {
  return map === 'tg_decisions' ? LAYOUT.tg_decision_key.table_id : LAYOUT.tg_port_key.table_id;
}

/** Deletes every policy-map entry whose table id satisfies `drop`. Returns how many went. */
function purge(maps: Map<string, BpfMap>, names: string[], drop: (tableId: number) => boolean): number {
  let n = 0;
  for (const name of names) {
    const m = maps.get(name);
    if (!m) continue;
    const off = keyTableIdOffset(name);
    for (const k of m.keys()) if (drop(k.readUInt32LE(off)) && m.delete(k)) n++;
  }
  return n;
}

async function writeContents(maps: Map<string, BpfMap>, contents: MapContents[]): Promise<void> {
  for (const c of contents) {
    const m = maps.get(c.map);
    if (!m) throw new LoadError(`the loaded object has no map ${c.map} for ${c.count} entries`);
    try {
      if (c.count <= SYNC_WRITE_MAX) {
        // a few entries: direct syscalls, no worker-thread round trip (the latency of small updates)
        for (let i = 0; i < c.count; i++) {
          m.update(c.keys.subarray(i * c.keySize, (i + 1) * c.keySize), c.values.subarray(i * c.valueSize, (i + 1) * c.valueSize));
        }
      } else {
        await m.updateBatch(c.keys, c.values, c.count);
      }
    } catch (err) {
      const e = err as Error;
      throw new LoadError(`map ${c.map} (max_entries ${m.maxEntries}) cannot take the ${c.count} new entries: ${e.message}`);
    }
  }
}

export async function zeroCounters(m: BpfMap, base: number, count: number): Promise<void> {
  if (count <= SYNC_WRITE_MAX) {
    const zero = Buffer.alloc(m.valueBytes);
    const key = Buffer.alloc(4);
    for (let i = 0; i < count; i++) {
      key.writeUInt32LE(base + i);
      m.update(key, zero);
    }
    return;
  }
  const keys = Buffer.alloc(count * 4);
  for (let i = 0; i < count; i++) keys.writeUInt32LE(base + i, i * 4);
  await m.updateBatch(keys, Buffer.alloc(count * m.valueBytes), count);
}

function policyMapNames(shape: Record<string, number>): string[] {
  const names = ['tg_peer4', 'tg_peer4_exact', 'tg_peer6', 'tg_peer6_exact', 'tg_ports', 'tg_port_exact', 'tg_decisions'];
  if (shape.TG_HAVE_SPORTS) names.push('tg_sports');
  return names;
}

export function openPinnedMaps(dir: string): Map<string, BpfMap> {
  const out = new Map<string, BpfMap>();
  for (const f of fs.readdirSync(dir)) if (f.startsWith('tg_')) out.set(f, BpfMap.openPinned(path.join(dir, f)));
  return out;
}

/** The live generation's pinned maps and the scope's tg_gen (what a switch writes). */
export function openLiveMaps(s: Pick<LoadState, 'mapsDir' | 'conntrackPin'>): Map<string, BpfMap> {
  const out = openPinnedMaps(s.mapsDir);
  try {
    out.set('tg_gen', BpfMap.openPinned(genPinOf(s.conntrackPin)));
  } catch (err) {
    closeAll(out);
    throw err;
  }
  return out;
}

/**
 * The maps every object of a scope shares, pinned once in the scope's pin directory (not a generation's):
 * conntrack (flows survive updates) and the policy generation. The conntrack pin's name says its layout: an
 * older pin of another layout (24-byte values, before tg_ct_value had ifindex and gen) is left to the programs
 * that use it, and the first new object after it starts an empty conntrack beside it (its flows are decided
 * again once) and removes the old pin after its switch.
 */
export const SHARED_PINS = { tg_conntrack: 'tg_conntrack_v2', tg_gen: 'tg_gen' } as const;

/** The tg_gen pin next to a conntrack pin (both in the scope's pin directory). */
export function genPinOf(conntrackPin: string): string {
  return path.join(path.dirname(conntrackPin), SHARED_PINS.tg_gen);
}

/**
 * After every switch (endpoint entries written, flipped, deleted, or put back by a rollback): the node's policy
 * generation goes up by one, so every conntrack entry takes the endpoint lookup again once (docs/design.md).
 * Never before the endpoint writes: a packet that checked an old entry in between would store the new gen.
 */
export function bumpGeneration(gen: BpfMap): void {
  const key = Buffer.alloc(4);
  const v = Buffer.alloc(4);
  v.writeUInt32LE(((gen.lookup(key)?.readUInt32LE(0) ?? 0) + 1) >>> 0);
  gen.update(key, v);
}

export function closeAll(maps: Map<string, BpfMap>): void {
  for (const m of maps.values()) m.close();
}

function rmPins(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Another instance of an object whose maps are all pinned: the programs share the live maps (no clang). */
export async function loadInstance(objectPath: string, mapsDir: string, conntrackPin: string): Promise<BpfObject> {
  const obj = BpfObject.open(objectPath);
  try {
    for (const name of obj.mapNames()) {
      if (!name.startsWith('tg_')) continue;
      const pin = name === 'tg_conntrack' ? conntrackPin : name === 'tg_gen' ? genPinOf(conntrackPin) : path.join(mapsDir, name);
      obj.reuseMap(name, pin);
    }
    await obj.load();
    return obj;
  } catch (err) {
    obj.close();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Load

interface Prepared {
  mode: AttachMode;
  gen: number;
  epIdBase: number;
  t: BpfTables;
  shape: Record<string, number>;
  cText: string;
  key: string;
  ruleBase: number;
  bank: number;
  local: LocalEndpoint[];
  skipped: string[];
  epRecords: EndpointRecord[];
  rules: RuleRecord[];
  contents: MapContents[];
}

function prepare(program: Program, old: LoadState | undefined, opts: LoadOptions, mode: AttachMode): Prepared {
  const { local, skipped } = resolveInterfaces(program, opts);
  const gen = (old?.generation ?? 0) + 1;
  const epIdBase = old?.nextEpId ?? 1;
  const t = buildTables({ ...program, endpoints: local.map((l) => l.ep) }, { epIdBase });
  const shape = loaderShape(t);
  const bank = shape.TG_MAX_RULES / 2;
  const ruleBase = (gen % 2) * bank;
  // decision rules are relative to each entry's rule_base: moving the entries' bases moves them too
  for (const e of t.endpoints) {
    e.missRule += ruleBase;
    e.ruleBase += ruleBase;
  }
  const rules: RuleRecord[] = Array.from(t.rules, (r) => ({
    index: r.index + ruleBase, endpoint: r.endpoint, direction: r.direction, kind: r.kind, action: r.action, tier: r.tier,
    ...(r.ruleId !== undefined ? { ruleId: r.ruleId } : {}), ...(r.policy !== undefined ? { policy: r.policy } : {}),
  }));
  const ifOf = new Map(local.map((l) => [l.ep.id, l]));
  const epRecords: EndpointRecord[] = t.endpoints.map((e) => {
    const l = ifOf.get(e.endpoint)!;
    return {
      endpoint: e.endpoint, ifname: l.ifname, ifindex: l.ifindex, direction: e.direction, family: e.family, addr: e.addr, epId: e.epId,
      tableId: e.tableId, value: epValue(e).toString('hex'),
    };
  });
  const cText = shapeC(shape);
  return { mode, gen, epIdBase, t, shape, cText, key: shapeKey(cText), ruleBase, bank, local, skipped, epRecords, rules, contents: policyContents(t) };
}

export function epKeyOf(r: { ifindex: number; direction: 'ingress' | 'egress'; family: 4 | 6; addr: string }): Buffer {
  return epKey({ ifindex: r.ifindex, direction: r.direction === 'ingress' ? DIR.INGRESS : DIR.EGRESS, family: r.family, addr: r.addr });
}

function pinsPresent(s: LoadState): boolean {
  return fs.existsSync(s.mapsDir) && fs.existsSync(s.conntrackPin) && fs.existsSync(genPinOf(s.conntrackPin)) && fs.existsSync(s.objectPath);
}

export function describeErr(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * One load/unload at a time per scope: a lock file next to the state, holding the owner's pid. A lock whose
 * owner is dead is taken over, and then `crashed` is true (its half-written entries are purged).
 */
export function acquireLock(statePath: string): { release: () => void; crashed: boolean } {
  const lock = `${statePath}.lock`;
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  let crashed = false;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(lock, 'wx');
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return { release: () => fs.rmSync(lock, { force: true }), crashed };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(fs.readFileSync(lock, 'utf8').trim());
      if (owner > 0 && owner !== process.pid && fs.existsSync(`/proc/${owner}`)) {
        throw new LoadError(`another tollgate load or unload (pid ${owner}) is working on this scope (${lock}); nothing was changed, try again when it is done`);
      }
      crashed = true;
      fs.rmSync(lock, { force: true });
    }
  }
  throw new LoadError(`could not take the lock ${lock}`);
}

export async function load(program: Program, opts: LoadOptions = {}): Promise<LoadReport> {
  return (await loadUnderLock(program, opts, () => undefined)).report;
}

/** load(), also handing back the tables it wrote, the node's endpoints (a dataplane handle indexes them) and the
 *  state it wrote with its file's stat, both read under the lock (another load may follow at once). */
export async function loadKeeping(program: Program, opts: LoadOptions = {}): Promise<{ report: LoadReport; tables: BpfTables; local: LocalEndpoint[]; state: LoadState | undefined; stat: fs.Stats }> {
  const { kept, ...r } = await loadUnderLock(program, opts, (statePath) => ({ state: readLoadState(statePath), stat: fs.statSync(statePath) }));
  return { ...r, ...kept };
}

/** The load under the scope's lock; `underLock` runs after it, still holding the lock (load() reads nothing back). */
async function loadUnderLock<T>(program: Program, opts: LoadOptions, underLock: (statePath: string) => T): Promise<{ report: LoadReport; tables: BpfTables; local: LocalEndpoint[]; kept: T }> {
  const t0 = process.hrtime.bigint();
  ensureBpffs();
  const paths = scopePaths(opts);
  const lock = acquireLock(paths.statePath);
  try {
    const old = readLoadState(paths.statePath);
    const mode = attachModeFor(opts);
    const p = prepare(program, old, opts, mode);
    const tablesMs = ms(t0);
    // After a crashed load some interfaces may run a program over maps the state does not name: replace them all.
    // Attachments of another mode (tc -> tcx) need the switch of a new object.
    const mapsOnly = !!old && !lock.crashed && !opts.forceReload && !opts.objectOverride && old.shapeKey === p.key && pinsPresent(old) &&
      old.attachments.every((a) => a.mode === mode);
    const report = mapsOnly ? await loadMapsOnly(p, old!, paths, opts, t0, tablesMs) : await loadNewObject(p, old, paths, opts, t0, tablesMs);
    return { report, tables: p.t, local: p.local, kept: underLock(paths.statePath) };
  } finally {
    lock.release();
  }
}

/** Per-rule packets and bytes, summed over CPUs. */
export function readCounters(m: BpfMap, index: number): { packets: number; bytes: number } {
  const key = Buffer.alloc(4);
  key.writeUInt32LE(index);
  let packets = 0n;
  let bytes = 0n;
  for (const v of m.lookupPerCpu(key) ?? []) {
    const c = readCounter(v);
    packets += c.packets;
    bytes += c.bytes;
  }
  return { packets: Number(packets), bytes: Number(bytes) };
}

/** After the switch: the old generation's counts join the carried totals (by rule id, not index). */
function carryCounters(old: LoadState | undefined, counters: BpfMap | undefined): Record<string, { packets: number; bytes: number }> {
  const carried: Record<string, { packets: number; bytes: number }> = { ...(old?.carried ?? {}) };
  if (!old || !counters) return carried;
  for (const r of old.rules) {
    if (r.endpoint === '') continue;
    const c = readCounters(counters, r.index);
    if (c.packets === 0 && c.bytes === 0) continue;
    const k = counterKey(r);
    const prev = carried[k] ?? { packets: 0, bytes: 0 };
    carried[k] = { packets: prev.packets + c.packets, bytes: prev.bytes + c.bytes };
  }
  return carried;
}

function makeState(p: Prepared, paths: LoadPaths, opts: LoadOptions, o: { objectPath: string; mapsDir: string; conntrackPin: string; attachments: Attachment[]; carried: Record<string, { packets: number; bytes: number }> }): LoadState {
  const maxId = p.t.endpoints.reduce((m, e) => Math.max(m, e.epId, e.tableId), 0);
  return {
    version: 1, ...(opts.netns !== undefined ? { netns: opts.netns } : {}), pinDir: paths.pinDir, generation: p.gen,
    nextEpId: Math.max(maxId + 1, p.epIdBase), shapeKey: p.key, shape: p.shape, objectPath: o.objectPath,
    mapsDir: o.mapsDir, conntrackPin: o.conntrackPin, ruleBase: p.ruleBase, ruleBankSize: p.bank, attachments: o.attachments,
    endpoints: p.epRecords, rules: p.rules, skipped: p.skipped, sources: opts.sources ?? [], loadedAt: new Date().toISOString(),
    carried: o.carried,
  };
}

function entryCounts(p: Prepared): Record<string, number> {
  const out: Record<string, number> = { tg_endpoints: p.epRecords.length, tg_ifaces: p.local.length };
  for (const c of p.contents) out[c.map] = c.count;
  return out;
}

/**
 * Attaches both programs to an interface in `mode`, each in place of Tollgate's program of that mode on the hook
 * (tcx: our program id, replaced atomically when it is still there; tc: our filter's handle and priority). An
 * attachment of the other mode is left for the caller to remove after the switch.
 */
async function attachBoth(l: { ifname: string; ifindex: number }, netns: string | undefined, progs: Record<'tollgate_ingress' | 'tollgate_egress', BpfProgram>, prev: Attachment[], mode: AttachMode): Promise<Attachment[]> {
  const out: Attachment[] = [];
  for (const hook of ['ingress', 'egress'] as const) {
    const program = PROGRAMS[hook];
    const before = prev.find((a) => a.ifname === l.ifname && a.hook === hook && a.mode === mode);
    const base = { ifname: l.ifname, ifindex: l.ifindex, hook, program, mode };
    if (mode === 'tcx') {
      const on = before && (await tcxList({ ifname: l.ifname, netns, direction: hook })).programs.some((x) => x.progId === before.progId);
      const r = await tcxAttach({ ifname: l.ifname, netns, direction: hook, prog: progs[program], ...(on ? { replaceProgId: before.progId } : {}) });
      out.push({ ...base, handle: 0, priority: 0, progId: r.progId, qdiscCreated: false });
      continue;
    }
    const r = await attachTc({ ifname: l.ifname, netns, direction: hook, prog: progs[program], handle: before?.handle ?? TC_HANDLE, priority: before?.priority ?? TC_PRIORITY });
    out.push({ ...base, handle: r.handle, priority: r.priority, progId: r.progId, qdiscCreated: r.qdiscCreated || (before?.qdiscCreated ?? false) });
  }
  // the qdisc is the interface's: created by the first attach of either hook
  const created = out.some((a) => a.qdiscCreated);
  for (const a of out) a.qdiscCreated = created;
  return out;
}

/**
 * Removes Tollgate's programs from an interface: tcx programs by their id, cls_bpf filters only when ours (same
 * handle, priority and program id or name); the clsact qdisc when we created it and it is empty.
 */
async function detachInterface(atts: Attachment[], netns: string | undefined, notes: string[]): Promise<void> {
  if (atts.length === 0) return;
  const ifname = atts[0].ifname;
  const now = ifindexOrUndefined(ifname, netns);
  if (now !== atts[0].ifindex) {
    notes.push(`${ifname}: ${now === undefined ? 'gone' : `now ifindex ${now}, not ${atts[0].ifindex}`}; its filters went with it`);
    return;
  }
  for (const a of atts) {
    if (a.mode === 'tcx') {
      // by id, without listing the hook first: ENOENT when the program is gone or no longer on it
      await tcxDetach({ ifname, netns, direction: a.hook, progId: a.progId }).catch((err: unknown) => {
        if (!(isNativeError(err) && err.code === 'ENOENT')) throw err;
      });
      continue;
    }
    const present = await listTc({ ifname, netns, direction: a.hook });
    const f = present.find((x) => x.handle === a.handle && x.priority === a.priority);
    if (!f) continue;
    if (f.progId !== a.progId && !isTollgateFilter(f)) {
      notes.push(`${ifname} ${a.hook}: the filter at handle 0x${a.handle.toString(16)} priority ${a.priority} is not Tollgate's (prog ${f.progId} ${f.name}); left in place`);
      continue;
    }
    await detachTc({ ifname, netns, direction: a.hook, handle: a.handle, priority: a.priority });
  }
  if (atts.some((a) => a.mode === 'tc' && a.qdiscCreated)) {
    try {
      await removeClsact({ ifname, netns });
    } catch (err) {
      if (isNativeError(err) && err.code === 'ENOTEMPTY') notes.push(`${ifname}: clsact qdisc kept, other filters use it`);
      else throw err;
    }
  }
}

const ifKey = (a: { ifname: string; ifindex: number }): string => `${a.ifname}/${a.ifindex}`;

/** Attachments by interface (name and ifindex: a recreated interface with the same name is another one). */
function groupByIf(atts: Attachment[]): Map<string, Attachment[]> {
  const m = new Map<string, Attachment[]>();
  for (const a of atts) {
    const l = m.get(ifKey(a)) ?? [];
    l.push(a);
    m.set(ifKey(a), l);
  }
  return m;
}

async function loadMapsOnly(p: Prepared, old: LoadState, paths: LoadPaths, opts: LoadOptions, t0: bigint, tablesMs: number): Promise<LoadReport> {
  const tw = process.hrtime.bigint();
  const maps = openLiveMaps(old);
  const names = policyMapNames(p.shape);
  const newIds = new Set(p.epRecords.map((e) => e.tableId));
  const oldIfs = new Set(old.attachments.map(ifKey));
  const newLocal = p.local.filter((l) => !oldIfs.has(ifKey(l)));
  let instance: BpfObject | undefined;
  let verifierMs: number | undefined;
  try {
    // (a crashed load sends the next one down the new-object path: no leftovers of it can be in these maps)
    await writeContents(maps, p.contents);
    // only the rows this generation uses: the others are never counted into before the next zeroing
    await zeroCounters(maps.get('tg_counters')!, p.ruleBase, p.rules.length);
    if (newLocal.length > 0) {
      await checkHooksFree(newLocal.map((l) => l.ifname), opts.netns, new Set(), p.mode);
      const tv = process.hrtime.bigint();
      instance = await loadInstance(old.objectPath, old.mapsDir, old.conntrackPin);
      verifierMs = ms(tv);
      // only attaching needs the interfaces; entries of an interface that vanished are inert
      recheckInterfaces(p.local, opts.netns);
    }
  } catch (err) {
    purge(maps, names, (id) => newIds.has(id));
    instance?.close();
    closeAll(maps);
    throw err instanceof LoadError ? err : new LoadError(`nothing was changed: preparing the update failed: ${describeErr(err)}`);
  }
  const writeMs = ms(tw);

  // The switch: one atomic update per endpoint entry; new interfaces get their entries, then their filters.
  const ts = process.hrtime.bigint();
  const eps = maps.get('tg_endpoints')!;
  const ifs = maps.get('tg_ifaces')!;
  const oldByKey = new Map(old.endpoints.map((e) => [epKeyOf(e).toString('hex'), e]));
  const flipped: { key: Buffer; before?: EndpointRecord }[] = [];
  const attachments: Attachment[] = old.attachments.filter((a) => p.local.some((l) => l.ifname === a.ifname && l.ifindex === a.ifindex));
  const newAtt: Attachment[] = [];
  try {
    for (const l of newLocal) ifs.update(ifaceKey(l.ifindex), ifaceValue());
    for (const r of p.epRecords) {
      const key = epKeyOf(r);
      eps.update(key, Buffer.from(r.value, 'hex'));
      flipped.push({ key, before: oldByKey.get(key.toString('hex')) });
    }
    if (instance) {
      const progs = { tollgate_ingress: instance.program('tollgate_ingress'), tollgate_egress: instance.program('tollgate_egress') };
      for (const l of newLocal) {
        if (opts.failSwitchAt === l.ifname) throw new Error(`injected failure at ${l.ifname}`);
        newAtt.push(...(await attachBoth(l, opts.netns, progs, [], p.mode)));
      }
    }
    bumpGeneration(maps.get('tg_gen')!);
  } catch (err) {
    // roll back: old values, no new keys, no new filters, no new entries
    for (const f of flipped.reverse()) {
      if (f.before) eps.update(f.key, Buffer.from(f.before.value, 'hex'));
      else eps.delete(f.key);
    }
    // flows the new entries checked in the meantime are checked against the old ones again
    bumpGeneration(maps.get('tg_gen')!);
    const notes: string[] = [];
    for (const atts of groupByIf(newAtt).values()) await detachInterface(atts, opts.netns, notes).catch(() => undefined);
    for (const l of newLocal) ifs.delete(ifaceKey(l.ifindex));
    purge(maps, names, (id) => newIds.has(id));
    instance?.close();
    closeAll(maps);
    throw new LoadError(`the switch failed and was rolled back (the previous policy is enforcing): ${describeErr(err)}`);
  }
  const switchMs = ms(ts);
  const enforcingMs = ms(t0);
  instance?.close();

  // After the switch: endpoint entries and interfaces that went away, then the old generation's classes.
  const newKeys = new Set(p.epRecords.map((r) => epKeyOf(r).toString('hex')));
  for (const e of old.endpoints) {
    const k = epKeyOf(e);
    if (!newKeys.has(k.toString('hex'))) eps.delete(k);
  }
  // flows of the deleted entries (checked under the gen of the switch) take the endpoint lookup, and drop
  bumpGeneration(maps.get('tg_gen')!);
  const notes: string[] = [];
  const keptIfs = new Set(attachments.map(ifKey));
  for (const [k, atts] of groupByIf(old.attachments)) {
    if (keptIfs.has(k)) continue;
    await detachInterface(atts, opts.netns, notes);
    ifs.delete(ifaceKey(atts[0].ifindex));
  }
  await new Promise((r) => setTimeout(r, GRACE_MS));
  purge(maps, names, (id) => !newIds.has(id));
  const carried = carryCounters(old, maps.get('tg_counters'));
  closeAll(maps);
  const all = [...attachments, ...newAtt];
  writeLoadState(paths.statePath, makeState(p, paths, opts, { objectPath: old.objectPath, mapsDir: old.mapsDir, conntrackPin: old.conntrackPin, attachments: all, carried }));
  return {
    mode: 'maps-only', clang: 'not-needed', verified: instance !== undefined, generation: p.gen, objectPath: old.objectPath,
    endpoints: p.local.map((l) => ({ endpoint: l.ep.id, ifname: l.ifname, ifindex: l.ifindex })), skipped: p.skipped,
    attachments: all, entries: entryCounts(p),
    timings: { tablesMs, ...(verifierMs !== undefined ? { verifierMs } : {}), writeMs, switchMs, enforcingMs, totalMs: ms(t0) },
  };
}

async function loadNewObject(p: Prepared, old: LoadState | undefined, paths: LoadPaths, opts: LoadOptions, t0: bigint, tablesMs: number): Promise<LoadReport> {
  // The object: clang only when the cache misses; kept next to the state so later loads need no clang.
  const tc = process.hrtime.bigint();
  fs.mkdirSync(paths.objectDir, { recursive: true });
  const objectPath = opts.objectOverride ?? path.join(paths.objectDir, `${p.key}.o`);
  let clang: 'ran' | 'cached' = 'cached';
  if (!opts.objectOverride && !fs.existsSync(objectPath)) {
    const tmp = `${objectPath}.${process.pid}.tmp`;
    const r = compileBpf(p.cText, tmp);
    fs.renameSync(tmp, objectPath);
    clang = r.cached ? 'cached' : 'ran';
  }
  const clangMs = ms(tc);

  const conntrackPin = path.join(paths.pinDir, SHARED_PINS.tg_conntrack);
  const genPin = genPinOf(conntrackPin);
  const mapsDir = path.join(paths.pinDir, `g${p.gen}`);
  const ctExisted = fs.existsSync(conntrackPin);
  const genExisted = fs.existsSync(genPin);
  rmPins(mapsDir); // a leftover of a crashed load with this generation number
  const tv = process.hrtime.bigint();
  let verifierMs = 0;
  let writeMs = 0;
  const obj = BpfObject.open(objectPath);
  const maps = new Map<string, BpfMap>();
  let progs: Record<'tollgate_ingress' | 'tollgate_egress', BpfProgram>;
  const cleanupNew = (): void => {
    obj.close();
    rmPins(mapsDir);
    if (!ctExisted) fs.rmSync(conntrackPin, { force: true });
    if (!genExisted) fs.rmSync(genPin, { force: true });
  };
  try {
    for (const [name, n] of Object.entries(opts.mapMaxEntries ?? {})) obj.setMapMaxEntries(name, n);
    if (ctExisted) obj.reuseMap('tg_conntrack', conntrackPin);
    if (genExisted) obj.reuseMap('tg_gen', genPin);
    try {
      await obj.load();
    } catch (err) {
      throw new LoadError(`nothing was changed: the kernel refused to load the program: ${describeErr(err)}`);
    }
    verifierMs = ms(tv);
    const tw = process.hrtime.bigint();
    for (const name of obj.mapNames()) if (name.startsWith('tg_')) maps.set(name, obj.map(name));
    await writeContents(maps, p.contents);
    const eps = maps.get('tg_endpoints')!;
    const ifs = maps.get('tg_ifaces')!;
    try {
      for (const l of p.local) ifs.update(ifaceKey(l.ifindex), ifaceValue());
      for (const r of p.epRecords) eps.update(epKeyOf(r), Buffer.from(r.value, 'hex'));
    } catch (err) {
      throw new LoadError(`map tg_endpoints/tg_ifaces (max_entries ${eps.maxEntries}/${ifs.maxEntries}) cannot take ${p.epRecords.length}/${p.local.length} entries: ${describeErr(err)}`);
    }
    for (const [name, m] of maps) {
      if (name === 'tg_conntrack') {
        if (!ctExisted) m.pin(conntrackPin);
      } else if (name === 'tg_gen') {
        if (!genExisted) m.pin(genPin);
      } else {
        m.pin(path.join(mapsDir, name));
      }
    }
    progs = { tollgate_ingress: obj.program('tollgate_ingress'), tollgate_egress: obj.program('tollgate_egress') };
    const ours = new Set((old?.attachments ?? []).map((a) => a.progId));
    await checkHooksFree(p.local.map((l) => l.ifname), opts.netns, ours, p.mode);
    recheckInterfaces(p.local, opts.netns);
    writeMs = ms(tw);
  } catch (err) {
    cleanupNew();
    throw err instanceof LoadError ? err : new LoadError(`nothing was changed: preparing the new program failed: ${describeErr(err)}`);
  }

  // The switch: per interface and hook, an atomic replace of our program of this mode, or the new program first
  // (tcx before clsact: an old cls_bpf filter behind it no longer sees the packets it decides).
  const ts = process.hrtime.bigint();
  const prev = old?.attachments ?? [];
  const done: Attachment[] = [];
  try {
    for (const l of p.local) {
      if (opts.failSwitchAt === l.ifname) throw new Error(`injected failure at ${l.ifname}`);
      const before = prev.filter((a) => a.ifname === l.ifname && a.ifindex === l.ifindex);
      done.push(...(await attachBoth(l, opts.netns, progs, before, p.mode)));
    }
    bumpGeneration(maps.get('tg_gen')!);
  } catch (err) {
    const { notes: rollbackNotes, restored } = await rollbackAttach(done, prev, old, opts.netns);
    // flows the new programs checked in the meantime are checked by the old ones again (a gen made by this load
    // goes with it, and so does the conntrack it made: nothing to bump then)
    if (genExisted) bumpGeneration(maps.get('tg_gen')!);
    cleanupNew();
    if (old && restored.length > 0) {
      // the previous program runs again as a new instance (new program ids): remember those
      const byHook = new Map(restored.map((a) => [`${ifKey(a)}/${a.hook}`, a]));
      writeLoadState(paths.statePath, { ...old, attachments: old.attachments.map((a) => byHook.get(`${ifKey(a)}/${a.hook}`) ?? a) });
    }
    throw new LoadError(`the switch failed and was rolled back${rollbackNotes.length ? ` (${rollbackNotes.join('; ')})` : ' (the previous policy is enforcing)'}: ${describeErr(err)}`);
  }
  const switchMs = ms(ts);
  const enforcingMs = ms(t0);

  // After the switch: interfaces no longer ours, programs of the other mode (tc -> tcx), the old generation's pins.
  const notes: string[] = [];
  const kept = new Set(done.map(ifKey));
  for (const atts of groupByIf(prev.filter((a) => !kept.has(ifKey(a)) || a.mode !== p.mode)).values()) await detachInterface(atts, opts.netns, notes);
  let carried = old?.carried ?? {};
  const oldCounters = path.join(old?.mapsDir ?? '', 'tg_counters');
  if (old && fs.existsSync(oldCounters)) {
    const m = BpfMap.openPinned(oldCounters);
    try {
      carried = carryCounters(old, m);
    } finally {
      m.close();
    }
  }
  if (old && old.mapsDir !== mapsDir) rmPins(old.mapsDir);
  // a conntrack of the layout before (no program uses it any more)
  if (old && old.conntrackPin !== conntrackPin) fs.rmSync(old.conntrackPin, { force: true });
  obj.close();
  writeLoadState(paths.statePath, makeState(p, paths, opts, { objectPath, mapsDir, conntrackPin, attachments: done, carried }));
  return {
    mode: 'new-object', clang, verified: true, generation: p.gen, objectPath,
    endpoints: p.local.map((l) => ({ endpoint: l.ep.id, ifname: l.ifname, ifindex: l.ifindex })), skipped: p.skipped,
    attachments: done, entries: entryCounts(p),
    timings: { tablesMs, clangMs, verifierMs, writeMs, switchMs, enforcingMs, totalMs: ms(t0) },
  };
}

/** Puts the old program back where the new one was attached; removes the new one where there was none. */
async function rollbackAttach(done: Attachment[], prev: Attachment[], old: LoadState | undefined, netns?: string): Promise<{ notes: string[]; restored: Attachment[] }> {
  const notes: string[] = [];
  const restored: Attachment[] = [];
  // replaced in place: the old program goes back; attached anew (no old one of this mode: it is still attached
  // when it was of the other mode, behind or after the new one): the new one goes
  const wasOf = (a: Attachment): Attachment | undefined => prev.find((b) => ifKey(b) === ifKey(a) && b.hook === a.hook && b.mode === a.mode);
  const toRestore = done.filter((a) => wasOf(a) !== undefined);
  const toRemove = done.filter((a) => !toRestore.includes(a));
  for (const atts of groupByIf(toRemove).values()) await detachInterface(atts, netns, notes).catch((e) => notes.push(describeErr(e)));
  if (toRestore.length > 0 && old) {
    let inst: BpfObject | undefined;
    try {
      inst = await loadInstance(old.objectPath, old.mapsDir, old.conntrackPin);
      for (const a of toRestore) {
        const target = { ifname: a.ifname, netns, direction: a.hook, prog: inst.program(a.program) };
        const r = a.mode === 'tcx'
          ? await tcxAttach({ ...target, replaceProgId: a.progId })
          : await attachTc({ ...target, handle: a.handle, priority: a.priority });
        const was = wasOf(a)!;
        restored.push({ ...was, progId: r.progId });
      }
    } catch (e) {
      notes.push(`restoring the previous program failed on ${toRestore.map((a) => `${a.ifname} ${a.hook}`).join(', ')}: ${describeErr(e)}`);
    } finally {
      inst?.close();
    }
  }
  return { notes, restored };
}

// ---------------------------------------------------------------------------------------------------------
// Unload

export interface UnloadReport {
  detached: { ifname: string; hook: string }[];
  removedPins: boolean;
  hadState: boolean;
  notes: string[];
}

export async function unload(opts: ScopeOptions = {}): Promise<UnloadReport> {
  const paths = scopePaths(opts);
  const lock = acquireLock(paths.statePath);
  try {
    return await unloadLocked(paths);
  } finally {
    lock.release();
  }
}

async function unloadLocked(paths: LoadPaths): Promise<UnloadReport> {
  const s = readLoadState(paths.statePath);
  const notes: string[] = [];
  const detached: { ifname: string; hook: string }[] = [];
  if (s) {
    for (const atts of groupByIf(s.attachments).values()) {
      const before = notes.length;
      await detachInterface(atts, s.netns, notes);
      if (notes.length === before) for (const a of atts) detached.push({ ifname: a.ifname, hook: a.hook });
    }
  }
  const pinDir = s?.pinDir ?? paths.pinDir; // where that load pinned, even if the pin root given now differs
  const removedPins = fs.existsSync(pinDir) || fs.existsSync(paths.pinDir);
  rmPins(pinDir);
  rmPins(paths.pinDir);
  // the pin root itself, when no other scope uses it
  try {
    fs.rmdirSync(path.dirname(pinDir));
  } catch {
    /* not empty or not there */
  }
  removeLoadState(paths.statePath);
  return { detached, removedPins, hadState: !!s, notes };
}

// ---------------------------------------------------------------------------------------------------------
// Status

export interface StatusReport {
  loaded: boolean;
  netns?: string;
  generation?: number;
  loadedAt?: string;
  attachments: (Attachment & { present: boolean; note?: string })[];
  /** programs on the managed hooks that are not Tollgate's: cls_bpf (and other) filters, tcx programs (handle/priority 0) */
  others: { ifname: string; hook: string; mode: AttachMode; handle: number; priority: number; name: string; progId: number }[];
  maps: { map: string; type: string; entries: number; maxEntries: number }[];
  counters: { index: number; endpoint: string; direction: string; kind: string; action: string; ruleId?: string; tier: string; packets: number; bytes: number }[];
  conntrackEntries: number;
  problems: string[];
}

export async function status(opts: ScopeOptions = {}): Promise<StatusReport> {
  const paths = scopePaths(opts);
  const s = readLoadState(paths.statePath);
  const r: StatusReport = { loaded: false, attachments: [], others: [], maps: [], counters: [], conntrackEntries: 0, problems: [] };
  if (!s) return r;
  r.loaded = true;
  if (s.netns !== undefined) r.netns = s.netns;
  r.generation = s.generation;
  r.loadedAt = s.loadedAt;
  const tcx = tcxSupported();
  for (const atts of groupByIf(s.attachments).values()) {
    const ifname = atts[0].ifname;
    const idx = ifindexOrUndefined(ifname, s.netns);
    for (const a of atts) {
      if (idx !== a.ifindex) {
        r.attachments.push({ ...a, present: false, note: idx === undefined ? 'interface gone' : `interface now has ifindex ${idx}` });
        r.problems.push(`${ifname} ${a.hook}: ${idx === undefined ? 'interface gone' : 'interface recreated'}`);
        continue;
      }
      // both hooks of this direction: ours is on one, anyone's may be on either
      const filters = await listTc({ ifname, netns: s.netns, direction: a.hook });
      const progs = tcx ? (await tcxList({ ifname, netns: s.netns, direction: a.hook })).programs : [];
      const f = a.mode === 'tc' ? filters.find((x) => x.handle === a.handle && x.priority === a.priority) : undefined;
      const onTcx = a.mode === 'tcx' && progs.some((x) => x.progId === a.progId);
      const present = a.mode === 'tcx' ? onTcx : !!f && f.progId === a.progId;
      const note = a.mode === 'tcx'
        ? (onTcx ? undefined : 'program missing from the tcx hook')
        : !f ? 'filter missing' : f.progId !== a.progId ? `prog ${f.progId} attached, state says ${a.progId}` : undefined;
      if (note) r.problems.push(`${ifname} ${a.hook}: ${note}`);
      r.attachments.push({ ...a, present, ...(note ? { note } : {}) });
      for (const o of filters) {
        if (o !== f) r.others.push({ ifname, hook: a.hook, mode: 'tc', handle: o.handle, priority: o.priority, name: o.name, progId: o.progId });
      }
      for (const o of progs) {
        if (o.progId !== a.progId) r.others.push({ ifname, hook: a.hook, mode: 'tcx', handle: 0, priority: 0, name: o.name, progId: o.progId });
      }
    }
  }
  const pins: [string, string][] = [];
  if (fs.existsSync(s.mapsDir)) for (const f of fs.readdirSync(s.mapsDir).sort()) pins.push([f, path.join(s.mapsDir, f)]);
  else r.problems.push(`pinned maps missing: ${s.mapsDir}`);
  if (fs.existsSync(s.conntrackPin)) pins.push(['tg_conntrack', s.conntrackPin]);
  else r.problems.push(`pinned conntrack missing: ${s.conntrackPin}`);
  for (const [name, pin] of pins) {
    const m = BpfMap.openPinned(pin);
    try {
      const isArray = m.type.endsWith('array');
      const entries = isArray ? m.maxEntries : m.keys().length;
      r.maps.push({ map: name, type: m.type, entries, maxEntries: m.maxEntries });
      if (name === 'tg_conntrack') r.conntrackEntries = entries;
      if (name === 'tg_counters') {
        for (const row of s.rules) {
          const c = readCounters(m, row.index);
          const before = s.carried?.[counterKey(row)] ?? { packets: 0, bytes: 0 };
          r.counters.push({
            index: row.index, endpoint: row.endpoint, direction: row.direction, kind: row.kind, action: row.action, tier: row.tier,
            ...(row.ruleId ? { ruleId: row.ruleId } : {}), packets: c.packets + before.packets, bytes: c.bytes + before.bytes,
          });
        }
      }
    } finally {
      m.close();
    }
  }
  return r;
}
