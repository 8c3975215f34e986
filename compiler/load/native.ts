// TypeScript face of the native addon (build/Release/tollgate_native.node, sources in native/).
//
// The addon knows objects, maps, programs and tc hooks, never policies. Every argument is validated here, with
// an exact message, before native code is called; the C++ side only checks types. Errors from the kernel are
// `Error`s carrying `code` ('EPERM', 'ENOENT', ...), `errno` (positive) and `syscall` ('bpf_object__load', ...).
// Blocking work (load, attach/detach/list, test runs, batch updates) returns Promises (one worker each).
import * as fs from 'fs';
import * as path from 'path';
import { kernelHz } from './hz';

// ---------------------------------------------------------------------------------------------------------
// Errors

/** An error raised by the addon: the kernel's errno, its name and the call that failed. */
export interface NativeError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
  /** Load failures: the whole kernel verifier log (the message carries its tail). */
  verifierLog?: string;
  /** libbpf's own warnings printed during the failing call. */
  libbpfLog?: string;
}

/** Thrown by argument validation, before any native call. */
export class InvalidArgumentError extends TypeError {
  readonly code = 'ERR_INVALID_ARG';
}

export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string';
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Buffer.isBuffer(v)) return `a Buffer of ${v.length} bytes`;
  if (Array.isArray(v)) return `an array of ${v.length} items`;
  if (typeof v === 'function') return 'a function';
  return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
}

function fail(fn: string, field: string, expected: string, got: unknown): never {
  throw new InvalidArgumentError(`${fn}: ${field} must be ${expected}, got ${describe(got)}`);
}

function checkString(fn: string, field: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) fail(fn, field, 'a non-empty string', v);
  if (v.includes('\0')) fail(fn, field, 'a string without NUL characters', v);
  return v;
}

function checkU32(fn: string, field: string, v: unknown, min = 0, max = 0xffffffff): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(fn, field, `an integer from ${min} to ${max}`, v);
  }
  return v;
}

function checkBuffer(fn: string, field: string, v: unknown, size?: number, sizeWhat?: string): Buffer {
  if (!Buffer.isBuffer(v)) fail(fn, field, size === undefined ? 'a Buffer' : `a Buffer of ${size} bytes`, v);
  if (size !== undefined && v.length !== size) {
    fail(fn, field, `a Buffer of ${size} bytes${sizeWhat ? ` (${sizeWhat})` : ''}`, v);
  }
  return v;
}

function checkObject(fn: string, field: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Buffer.isBuffer(v)) fail(fn, field, 'an object', v);
  return v as Record<string, unknown>;
}

const IFNAME = /^[^\s/:]{1,15}$/;
const NETNS_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

function checkIfname(fn: string, v: unknown): string {
  if (typeof v !== 'string' || !IFNAME.test(v)) {
    fail(fn, 'ifname', 'an interface name of 1 to 15 characters without spaces, / or :', v);
  }
  return v;
}

/** A netns is a name from `ip netns` (-> /var/run/netns/NAME) or an absolute path (e.g. /proc/PID/ns/net). */
function netnsPath(fn: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string' && v.startsWith('/') && !v.includes('\0')) return v;
  if (typeof v !== 'string' || !NETNS_NAME.test(v)) {
    fail(fn, 'netns', "a network namespace name (as in `ip netns`) or an absolute path", v);
  }
  return `/var/run/netns/${v}`;
}

function checkDirection(fn: string, v: unknown): Direction {
  if (v !== 'ingress' && v !== 'egress') fail(fn, 'direction', "'ingress' or 'egress'", v);
  return v;
}

export const BPFFS_ROOT = '/sys/fs/bpf';
/** Where Tollgate pins its objects. */
export const PIN_ROOT = '/sys/fs/bpf/tollgate';

function checkPinPath(fn: string, v: unknown): string {
  if (typeof v !== 'string' || !v.startsWith(`${BPFFS_ROOT}/`) || v.includes('\0') ||
      v.split('/').some((seg) => seg === '..' || seg === '.') || v.endsWith('/')) {
    fail(fn, 'path', `an absolute path of a file under ${BPFFS_ROOT}/`, v);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------------------
// The addon, loaded on first use

interface NativeMapInfo {
  name: string; type: string; typeId: number; keySize: number; valueSize: number; maxEntries: number;
  flags: number; id: number; perCpu: boolean; fd: number;
}
interface NativeMapHandle {
  info(): NativeMapInfo;
  lookup(key: Buffer): Buffer | null;
  update(key: Buffer, value: Buffer, flags: number): void;
  delete(key: Buffer): boolean;
  updateBatch(keys: Buffer, values: Buffer, count: number): Promise<void>;
  keys(): Buffer[];
  pin(path: string): void;
  close(): void;
}
interface NativeProgramInfo { name: string; type: string; id: number; fd: number }
interface NativeProgramHandle {
  info(): NativeProgramInfo;
  testRun(data: Buffer, repeat: number, ifindex: number, dataSizeOut: number): Promise<TestRunResult>;
  pin(path: string): void;
  close(): void;
}
interface NativeObjectHandle {
  readonly loaded: boolean;
  readonly closed: boolean;
  readonly path: string;
  setConst(name: string, value: Buffer): void;
  consts(): ConstInfo[];
  setMapMaxEntries(map: string, n: number): void;
  reuseMap(map: string, pinPath: string): void;
  load(): Promise<void>;
  map(name: string): NativeMapHandle;
  program(name: string): NativeProgramHandle;
  mapNames(): string[];
  programNames(): string[];
  close(): void;
}
interface TcTargetArg { ifname: string; netns?: string; direction: Direction }
interface NativeAddon {
  NativeObject: new (path: string) => NativeObjectHandle;
  NativeMap: { openPinned(path: string): NativeMapHandle };
  attachTc(t: TcTargetArg, progFd: number, handle: number, priority: number): Promise<TcAttachResult>;
  detachTc(t: TcTargetArg, handle: number, priority: number): Promise<void>;
  listTc(t: TcTargetArg): Promise<TcFilter[]>;
  destroyTcHook(t: TcTargetArg): Promise<boolean>;
  tcxAttach(t: TcTargetArg, progFd: number, replaceProgId: number): Promise<{ progId: number }>;
  tcxDetach(t: TcTargetArg, progId: number): Promise<void>;
  tcxList(t: TcTargetArg): Promise<TcxListing>;
  tcxSupported(): boolean;
  ensureBpffs(): boolean;
  ifindex(ifname: string, netns: string | undefined): number;
  numPossibleCpus(): number;
  unpin(path: string): void;
}

let addon: NativeAddon | undefined;

/** Where the built addon may be: $TOLLGATE_NATIVE alone when set, else build/Release above this file. */
function addonCandidates(): string[] {
  if (process.env.TOLLGATE_NATIVE) return [path.resolve(process.env.TOLLGATE_NATIVE)];
  const out: string[] = [];
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    out.push(path.join(dir, 'build', 'Release', 'tollgate_native.node'));
    dir = path.dirname(dir);
  }
  return out;
}

export function loadAddon(): NativeAddon {
  if (addon) return addon;
  const candidates = addonCandidates();
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) {
    const err = new Error(
      'the native addon tollgate_native.node is not built (looked in ' + candidates.join(', ') +
      '); build it with `npm run build:native` (or `bash scripts/setup.sh`, which also installs libbpf-dev)',
    ) as NativeError;
    err.code = 'ERR_NATIVE_MISSING';
    throw err;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  addon = require(found) as NativeAddon;
  return addon;
}

/** True when the addon is built (does not load it). */
export function nativeAvailable(): boolean {
  return addonCandidates().some((p) => fs.existsSync(p));
}

// ---------------------------------------------------------------------------------------------------------
// Public API

export type Direction = 'ingress' | 'egress';
export type UpdateFlags = 'any' | 'noexist' | 'exist';
export interface ConstInfo { name: string; offset: number; size: number }
export interface TestRunOptions { data: Buffer; repeat?: number; ifindex?: number; dataSizeOut?: number }
export interface TestRunResult { retval: number; duration: number /* ns per run */; dataOut: Buffer }
export interface TcAttachResult { handle: number; priority: number; progId: number; qdiscCreated: boolean }
export interface TcFilter {
  handle: number; priority: number; progId: number; name: string;
  /** 'bpf' for BPF filters; other classifiers are listed too. */
  kind: string; protocol: number; chain: number; directAction: boolean;
}

/** One program on a tcx hook. */
export interface TcxProgram { progId: number; name: string }
/** The programs of a tcx hook, first (runs first) to last, and the hook's revision (bumped by each change). */
export interface TcxListing { programs: TcxProgram[]; revision: number }

/** Mounts the BPF filesystem at /sys/fs/bpf when it is absent. Returns true when it mounted it. */
export function ensureBpffs(): boolean {
  return loadAddon().ensureBpffs();
}

export function numPossibleCpus(): number {
  return loadAddon().numPossibleCpus();
}

export function ifindex(ifname: string, netns?: string): number {
  checkIfname('ifindex', ifname);
  const ns = netnsPath('ifindex', netns);
  return loadAddon().ifindex(ifname, ns);
}

/** Removes a pinned object (map, program or link) from the BPF filesystem. */
export function unpin(pinPath: string): void {
  loadAddon().unpin(checkPinPath('unpin', pinPath));
}

function makePinDir(pinPath: string): void {
  fs.mkdirSync(path.dirname(pinPath), { recursive: true, mode: 0o700 });
}

const FLAGS: Record<UpdateFlags, number> = { any: 0, noexist: 1, exist: 2 };

export class BpfMap {
  readonly name: string;
  /** libbpf's name of the map type: 'hash', 'lpm_trie', 'percpu_array', ... */
  readonly type: string;
  readonly keySize: number;
  /** The value size of one element (per CPU, for per-CPU maps). */
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly id: number;
  readonly perCpu: boolean;
  /** Bytes of a value as lookup() returns it and update() takes it: round_up(valueSize, 8) * nCPU for per-CPU. */
  readonly valueBytes: number;
  private readonly h: NativeMapHandle;
  private readonly fdAtOpen: number;

  /** @internal use BpfObject.map() or BpfMap.openPinned() */
  constructor(handle: NativeMapHandle) {
    const i = handle.info();
    this.h = handle;
    this.name = i.name;
    this.type = i.type;
    this.keySize = i.keySize;
    this.valueSize = i.valueSize;
    this.maxEntries = i.maxEntries;
    this.id = i.id;
    this.perCpu = i.perCpu;
    this.fdAtOpen = i.fd;
    this.valueBytes = i.perCpu ? Math.ceil(i.valueSize / 8) * 8 * numPossibleCpus() : i.valueSize;
  }

  /** The map's file descriptor (-1 once closed). */
  get fd(): number {
    return this.h.info().fd >= 0 ? this.fdAtOpen : -1;
  }

  static openPinned(pinPath: string): BpfMap {
    checkPinPath('BpfMap.openPinned', pinPath);
    return new BpfMap(loadAddon().NativeMap.openPinned(pinPath));
  }

  private fn(op: string): string {
    return `BpfMap.${op} (map '${this.name}')`;
  }

  lookup(key: Buffer): Buffer | null {
    checkBuffer(this.fn('lookup'), 'key', key, this.keySize, 'the key size');
    return this.h.lookup(key);
  }

  /** Per-CPU maps: the value of each possible CPU, valueSize bytes each. Other maps: one value. */
  lookupPerCpu(key: Buffer): Buffer[] | null {
    const v = this.lookup(key);
    if (!v) return null;
    if (!this.perCpu) return [v];
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const out: Buffer[] = [];
    for (let off = 0; off < v.length; off += stride) out.push(v.subarray(off, off + this.valueSize));
    return out;
  }

  update(key: Buffer, value: Buffer, flags: UpdateFlags = 'any'): void {
    const fn = this.fn('update');
    checkBuffer(fn, 'key', key, this.keySize, 'the key size');
    checkBuffer(fn, 'value', value, this.valueBytes,
      this.perCpu ? `round_up(valueSize ${this.valueSize}, 8) * ${numPossibleCpus()} CPUs` : 'the value size');
    if (!(flags in FLAGS)) fail(fn, 'flags', "'any', 'noexist' or 'exist'", flags);
    this.h.update(key, value, FLAGS[flags]);
  }

  /** Returns false when the key was not there. */
  delete(key: Buffer): boolean {
    checkBuffer(this.fn('delete'), 'key', key, this.keySize, 'the key size');
    return this.h.delete(key);
  }

  /** Packed keys (count * keySize bytes) and values (count * valueBytes); BPF_MAP_UPDATE_BATCH or a loop. */
  updateBatch(keys: Buffer, values: Buffer, count: number): Promise<void> {
    const fn = this.fn('updateBatch');
    checkU32(fn, 'count', count);
    checkBuffer(fn, 'keys', keys, count * this.keySize, `${count} keys of ${this.keySize} bytes`);
    checkBuffer(fn, 'values', values, count * this.valueBytes, `${count} values of ${this.valueBytes} bytes`);
    if (count === 0) return Promise.resolve();
    return this.h.updateBatch(keys, values, count);
  }

  keys(): Buffer[] {
    return this.h.keys();
  }

  /** Pins the map at a path under /sys/fs/bpf, creating missing parent directories. */
  pin(pinPath: string): void {
    checkPinPath(this.fn('pin'), pinPath);
    makePinDir(pinPath);
    this.h.pin(pinPath);
  }

  unpin(pinPath: string): void {
    unpin(checkPinPath(this.fn('unpin'), pinPath));
  }

  close(): void {
    this.h.close();
  }
}

/** The largest output buffer testRun() allocates: 64 KiB, the largest packet. */
const MAX_DATA_OUT = 0x10000;

export class BpfProgram {
  readonly name: string;
  /** libbpf's name of the program type: 'sched_cls', ... */
  readonly type: string;
  /** The kernel's program id (what `bpftool prog` and listTc() show). */
  readonly id: number;
  private readonly h: NativeProgramHandle;
  private readonly fdAtOpen: number;

  /** @internal use BpfObject.program() */
  constructor(handle: NativeProgramHandle) {
    const i = handle.info();
    this.h = handle;
    this.name = i.name;
    this.type = i.type;
    this.id = i.id;
    this.fdAtOpen = i.fd;
  }

  get fd(): number {
    return this.h.info().fd >= 0 ? this.fdAtOpen : -1;
  }

  /**
   * BPF_PROG_TEST_RUN. `ifindex` (tc programs) is passed in a struct __sk_buff context; the kernel then sets
   * skb->dev to that interface (it must exist in the caller's network namespace), so skb->ifindex reads it.
   */
  testRun(opts: TestRunOptions): Promise<TestRunResult> {
    const fn = `BpfProgram.testRun (program '${this.name}')`;
    checkObject(fn, 'opts', opts);
    const data = checkBuffer(fn, 'opts.data', opts.data);
    if (data.length === 0) fail(fn, 'opts.data', 'a non-empty Buffer', data);
    const repeat = opts.repeat === undefined ? 1 : checkU32(fn, 'opts.repeat', opts.repeat, 1);
    const ifi = opts.ifindex === undefined ? -1 : checkU32(fn, 'opts.ifindex', opts.ifindex, 1);
    // The output buffer is allocated before the run; no packet is larger than 64 KiB, so no buffer needs to be.
    const out = opts.dataSizeOut === undefined ? Math.min(data.length + 256, MAX_DATA_OUT)
      : checkU32(fn, 'opts.dataSizeOut', opts.dataSizeOut, 1, MAX_DATA_OUT);
    return this.h.testRun(data, repeat, ifi, out);
  }

  pin(pinPath: string): void {
    checkPinPath(`BpfProgram.pin (program '${this.name}')`, pinPath);
    makePinDir(pinPath);
    this.h.pin(pinPath);
  }

  close(): void {
    this.h.close();
  }
}

export class BpfObject {
  private readonly h: NativeObjectHandle;

  private constructor(h: NativeObjectHandle) {
    this.h = h;
  }

  /** bpf_object__open_file: parses the ELF object; nothing reaches the kernel before load(). */
  static open(objPath: string): BpfObject {
    checkString('BpfObject.open', 'path', objPath);
    const obj = new BpfObject(new (loadAddon().NativeObject)(objPath));
    // the datapath clock's tick rate (tg_now in bpf/tollgate.bpf.c; 0: the coarse clock helper)
    if (obj.consts().some((c) => c.name === 'tg_hz')) {
      const hz = Buffer.alloc(4);
      hz.writeUInt32LE(kernelHz());
      obj.setConst('tg_hz', hz);
    }
    return obj;
  }

  get path(): string {
    return this.h.path;
  }
  get loaded(): boolean {
    return this.h.loaded;
  }
  get closed(): boolean {
    return this.h.closed;
  }

  /** The `const volatile` globals of .rodata that setConst() can write. */
  consts(): ConstInfo[] {
    return this.h.consts();
  }

  /** Writes a `const volatile` global before load; the value must have the variable's exact size. */
  setConst(name: string, value: Buffer): void {
    checkString('BpfObject.setConst', 'name', name);
    checkBuffer('BpfObject.setConst', 'value', value);
    this.h.setConst(name, value);
  }

  setMapMaxEntries(map: string, n: number): void {
    checkString('BpfObject.setMapMaxEntries', 'map', map);
    checkU32('BpfObject.setMapMaxEntries', 'n', n, 1);
    this.h.setMapMaxEntries(map, n);
  }

  /** Before load: use the pinned map at pinPath instead of creating this one (same type, key and value sizes). */
  reuseMap(map: string, pinPath: string): void {
    checkString('BpfObject.reuseMap', 'map', map);
    checkPinPath('BpfObject.reuseMap', pinPath);
    this.h.reuseMap(map, pinPath);
  }

  /** Loads maps and programs into the kernel; on failure the message ends with the verifier log's tail. */
  load(): Promise<void> {
    return this.h.load();
  }

  map(name: string): BpfMap {
    checkString('BpfObject.map', 'name', name);
    return new BpfMap(this.h.map(name));
  }

  program(name: string): BpfProgram {
    checkString('BpfObject.program', 'name', name);
    return new BpfProgram(this.h.program(name));
  }

  mapNames(): string[] {
    return this.h.mapNames();
  }

  programNames(): string[] {
    return this.h.programNames();
  }

  /** Releases the object and every map/program handle taken from it (pins and tc attachments stay). */
  close(): void {
    this.h.close();
  }
}

interface TcOpts { ifname: string; netns?: string; direction: Direction }

function tcTarget(fn: string, opts: unknown): TcTargetArg & Record<string, unknown> {
  const o = checkObject(fn, 'opts', opts);
  const t: TcTargetArg = { ifname: checkIfname(fn, o.ifname), direction: checkDirection(fn, o.direction) };
  const ns = netnsPath(fn, o.netns);
  if (ns !== undefined) t.netns = ns;
  return Object.assign({}, o, t);
}

/**
 * Attaches a tc program (direct-action) to an interface's ingress or egress hook, creating the clsact qdisc
 * if needed. An existing filter at the same handle and priority is replaced atomically. Defaults: handle 1,
 * priority 1.
 */
export function attachTc(opts: TcOpts & { prog: BpfProgram; handle?: number; priority?: number }): Promise<TcAttachResult> {
  const fn = 'attachTc';
  const t = tcTarget(fn, opts);
  if (!(t.prog instanceof BpfProgram)) fail(fn, 'prog', 'a BpfProgram', t.prog);
  const handle = t.handle === undefined ? 1 : checkU32(fn, 'handle', t.handle, 1);
  const priority = t.priority === undefined ? 1 : checkU32(fn, 'priority', t.priority, 1, 0xffff);
  const fd = t.prog.fd;
  if (fd < 0) fail(fn, 'prog', 'an open BpfProgram', `closed program '${t.prog.name}'`);
  return loadAddon().attachTc({ ifname: t.ifname, netns: t.netns, direction: t.direction }, fd, handle, priority);
}

export function detachTc(opts: TcOpts & { handle: number; priority: number }): Promise<void> {
  const fn = 'detachTc';
  const t = tcTarget(fn, opts);
  const handle = checkU32(fn, 'handle', t.handle, 1);
  const priority = checkU32(fn, 'priority', t.priority, 1, 0xffff);
  return loadAddon().detachTc({ ifname: t.ifname, netns: t.netns, direction: t.direction }, handle, priority);
}

/** Every filter on the hook (a netlink dump), not only Tollgate's. Empty when there is no clsact qdisc. */
export function listTc(opts: TcOpts): Promise<TcFilter[]> {
  const t = tcTarget('listTc', opts);
  return loadAddon().listTc({ ifname: t.ifname, netns: t.netns, direction: t.direction });
}

/**
 * Removes the interface's clsact qdisc (both hooks). Refuses, unless `force`, while any filter is still attached
 * to either hook, so that it never takes away someone else's filters. Resolves false when there was no qdisc.
 */
export async function removeClsact(opts: { ifname: string; netns?: string; force?: boolean }): Promise<boolean> {
  const fn = 'removeClsact';
  const o = checkObject(fn, 'opts', opts);
  const ifname = checkIfname(fn, o.ifname);
  const ns = netnsPath(fn, o.netns);
  if (o.force !== undefined && typeof o.force !== 'boolean') fail(fn, 'force', 'a boolean', o.force);
  const a = loadAddon();
  if (!o.force) {
    const left: string[] = [];
    for (const direction of ['ingress', 'egress'] as const) {
      for (const f of await a.listTc({ ifname, netns: ns, direction })) {
        left.push(`${direction} handle ${f.handle} priority ${f.priority} (${f.kind}${f.name ? ` ${f.name}` : ''})`);
      }
    }
    if (left.length > 0) {
      const err = new Error(`${fn}: '${ifname}' still has filters: ${left.join(', ')}; detach them first or pass force: true`) as NativeError;
      err.code = 'ENOTEMPTY';
      throw err;
    }
  }
  return a.destroyTcHook({ ifname, netns: ns, direction: 'ingress' });
}

// ---------------------------------------------------------------------------------------------------------
// tcx (Linux 6.6+): BPF_TCX_INGRESS/EGRESS, the multi-program hook that runs before clsact. Programs are
// SCHED_CLS; TCX_NEXT (-1) hands the packet on to the next program (and then clsact), TCX_PASS (0) and
// TCX_DROP (2), TC_ACT_OK and TC_ACT_SHOT, end the hook.

let tcxProbe: boolean | undefined;

/** Whether this kernel has tcx hooks (probed once: a query of lo's ingress hook). */
export function tcxSupported(): boolean {
  tcxProbe ??= loadAddon().tcxSupported();
  return tcxProbe;
}

/**
 * Attaches a program to the interface's tcx hook: first in the hook, or, with `replaceProgId`, in place of that
 * program (atomically: every packet meets the old program or the new one).
 */
export function tcxAttach(opts: TcOpts & { prog: BpfProgram; replaceProgId?: number }): Promise<{ progId: number }> {
  const fn = 'tcxAttach';
  const t = tcTarget(fn, opts);
  if (!(t.prog instanceof BpfProgram)) fail(fn, 'prog', 'a BpfProgram', t.prog);
  const replace = t.replaceProgId === undefined ? 0 : checkU32(fn, 'replaceProgId', t.replaceProgId, 1);
  const fd = t.prog.fd;
  if (fd < 0) fail(fn, 'prog', 'an open BpfProgram', `closed program '${t.prog.name}'`);
  return loadAddon().tcxAttach({ ifname: t.ifname, netns: t.netns, direction: t.direction }, fd, replace);
}

/** Removes the program with this id from the interface's tcx hook (ENOENT when it is not there). */
export function tcxDetach(opts: TcOpts & { progId: number }): Promise<void> {
  const fn = 'tcxDetach';
  const t = tcTarget(fn, opts);
  const id = checkU32(fn, 'progId', t.progId, 1);
  return loadAddon().tcxDetach({ ifname: t.ifname, netns: t.netns, direction: t.direction }, id);
}

/** Every program on the interface's tcx hook, not only Tollgate's. */
export function tcxList(opts: TcOpts): Promise<TcxListing> {
  const t = tcTarget('tcxList', opts);
  return loadAddon().tcxList({ ifname: t.ifname, netns: t.netns, direction: t.direction });
}
