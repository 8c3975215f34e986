// The benchmarks' way into Tollgate's dataplane (bench/hook.ts): the real transactional loader, as
// `tollgate load --netns NAME` runs it (default pin root and state directory, scope netns-NAME).
//
//   loadIntoNetns: load() through a dataplane handle (openDataplane, as an agent embedding Tollgate keeps one),
//                  then the kernel's own accounting of every map the load pinned (memlock from
//                  /proc/self/fdinfo); update() loads again through the handle: incremental for rules modified
//                  in place, else maps-only when the shape holds (the report says which, and why).
//   testRun:       the Program is loaded by load() into a throwaway netns with its endpoint on that netns's
//                  loopback (ifindex 1, which is also what BPF_PROG_TEST_RUN hands the program without an
//                  ifindex); a second instance of the cached object over the pinned maps (loadInstance, no
//                  clang) is test-run. New flow: conntrack emptied before each single run, the median of the
//                  kernel's per-run time; established: one run creates the entry, then `repeat` runs (mean).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Endpoint, Packet, Program } from '../ir/types';
import type { TollgateBenchHook, TollgateLoadFigures, TollgateLoaded, TollgateMapMemory } from '../../bench/hook';
import { craft } from '../emit/bpf/packet';
import { endpointByAddr } from '../ir/evaluate';
import { openDataplane, type DataplaneReport } from './dataplane';
import { genPinOf, load, loadInstance, unload } from './loader';
import { BpfMap, PIN_ROOT, type BpfObject, type BpfProgram } from './native';
import { readLoadState, scopePaths, STATE_DIR } from './state';

function figures(r: DataplaneReport): TollgateLoadFigures {
  const t = r.timings;
  return {
    mode: r.mode, ...(r.fallback !== undefined ? { fallback: r.fallback } : {}), clang: r.clang, verified: r.verified, enforcingMs: t.enforcingMs, totalMs: t.totalMs, tablesMs: t.tablesMs,
    ...(t.clangMs !== undefined ? { clangMs: t.clangMs } : {}), ...(t.verifierMs !== undefined ? { verifierMs: t.verifierMs } : {}),
    writeMs: t.writeMs, switchMs: t.switchMs,
  };
}

function memlock(fd: number): number {
  const m = /^memlock:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  if (!m) throw new Error(`/proc/self/fdinfo/${fd}: no memlock line (is fd ${fd} a BPF map?)`);
  return Number(m[1]);
}

/** Every map the load of `netns` pinned (its generation's maps, the shared conntrack and tg_gen), as the kernel counts them. */
function mapMemory(netns: string, entries: Record<string, number>): TollgateMapMemory[] {
  const s = readLoadState(scopePaths({ netns }).statePath);
  if (!s) throw new Error(`no load state for netns ${netns} after a load`);
  const pins = fs.readdirSync(s.mapsDir).filter((f) => f.startsWith('tg_')).map((f) => path.join(s.mapsDir, f));
  pins.push(s.conntrackPin, genPinOf(s.conntrackPin));
  return pins.map((pin) => {
    const m = BpfMap.openPinned(pin);
    try {
      const name = pin === s.conntrackPin ? 'tg_conntrack' : path.basename(pin); // (its pin's name has a layout suffix)
      return { name, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, entries: entries[name] ?? 0, memlockBytes: memlock(m.fd) };
    } finally {
      m.close();
    }
  });
}

async function loadIntoNetns(program: Program, netns: string): Promise<TollgateLoaded> {
  const dp = openDataplane({ netns });
  let r: DataplaneReport;
  try {
    r = await dp.load(program);
  } catch (err) {
    // the load may have gone through and the handle's indexing failed after it
    dp.close();
    await unload({ netns }).catch(() => undefined);
    throw err;
  }
  let loaded = true;
  try {
    const maps = mapMemory(netns, r.entries);
    return {
      mapEntries: Object.values(r.entries).reduce((a, b) => a + b, 0),
      load: figures(r),
      maps,
      update: async (p) => figures(await dp.load(p)),
      unload: async () => {
        if (!loaded) return;
        loaded = false;
        dp.close();
        await unload({ netns });
      },
    };
  } catch (err) {
    dp.close();
    await unload({ netns });
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Test runs

interface Session {
  program: Program;
  endpoint: string;
  netns: string;
  obj: BpfObject;
  progs: Record<'ingress' | 'egress', BpfProgram>;
  conntrack: BpfMap;
}

let session: Session | undefined;
let seq = 0;

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: exit ${r.status}: ${(r.stderr || '').trim()}`);
}

/** The endpoint a packet is for: the destination's for its ingress policy, the source's for egress. */
function endpointOf(program: Program, packet: Packet, direction: 'ingress' | 'egress'): Endpoint {
  const addr = direction === 'ingress' ? packet.dst : packet.src;
  const ep = endpointByAddr(program, addr);
  if (!ep) throw new Error(`testRun: no endpoint of the Program has ${addr} (the packet's ${direction === 'ingress' ? 'destination' : 'source'})`);
  return ep;
}

async function closeSession(): Promise<void> {
  const s = session;
  session = undefined;
  if (!s) return;
  try {
    s.conntrack.close();
    s.obj.close();
    await unload({ netns: s.netns });
  } finally {
    spawnSync('ip', ['netns', 'del', s.netns], { stdio: 'ignore' });
  }
}

async function openSession(program: Program, ep: Endpoint): Promise<Session> {
  await closeSession();
  const netns = `tgbh${process.pid.toString(36)}${(seq++).toString(36)}-tr`;
  ip(['netns', 'add', netns]);
  let obj: BpfObject | undefined;
  try {
    ip(['-n', netns, 'link', 'set', 'lo', 'up']);
    // only this endpoint is on the node (on lo); the others keep no interface here
    const only: Program = { ...program, endpoints: program.endpoints.map((e) => (e.id === ep.id ? e : { ...e, iface: undefined })) };
    await load(only, { netns, ifaceMap: { [ep.id]: 'lo' }, ifaceMapSource: 'bench test-run' });
    const s = readLoadState(scopePaths({ netns }).statePath);
    if (!s) throw new Error(`no load state for netns ${netns} after a load`);
    obj = await loadInstance(s.objectPath, s.mapsDir, s.conntrackPin);
    const conntrack = BpfMap.openPinned(s.conntrackPin);
    session = { program, endpoint: ep.id, netns, obj, progs: { ingress: obj.program('tollgate_ingress'), egress: obj.program('tollgate_egress') }, conntrack };
    return session;
  } catch (err) {
    obj?.close();
    await unload({ netns }).catch(() => undefined);
    spawnSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
    throw err;
  }
}

function clearConntrack(m: BpfMap): void {
  for (const k of m.keys()) m.delete(k);
}

async function testRun(program: Program, packet: Packet, opts: { repeat: number; established: boolean; direction: 'ingress' | 'egress' }): Promise<{ ns: number; allowed: boolean }> {
  const ep = endpointOf(program, packet, opts.direction);
  const s = session && session.program === program && session.endpoint === ep.id ? session : await openSession(program, ep);
  const prog = s.progs[opts.direction];
  const data = craft(packet);
  clearConntrack(s.conntrack);
  if (opts.established) {
    const first = await prog.testRun({ data, repeat: 1 });
    const r = await prog.testRun({ data, repeat: opts.repeat });
    return { ns: r.duration, allowed: first.retval === 0 && r.retval === 0 };
  }
  const runs = Math.max(50, Math.min(2000, Math.round(opts.repeat / 100)));
  const samples: number[] = [];
  let allowed = true;
  for (let i = 0; i < runs; i++) {
    clearConntrack(s.conntrack);
    const r = await prog.testRun({ data, repeat: 1 });
    if (r.retval !== 0) allowed = false;
    samples.push(r.duration);
  }
  samples.sort((a, b) => a - b);
  return { ns: samples[samples.length >> 1], allowed };
}

function sweep(prefix: string): string[] {
  if (!/^tg[a-z0-9]+$/.test(prefix)) throw new Error(`sweep: expected a prefix "tg" and [a-z0-9], found '${prefix}'`);
  const gone: string[] = [];
  const rm = (dir: string, match: (f: string) => boolean): void => {
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const f of names.filter(match)) {
      fs.rmSync(path.join(dir, f), { recursive: true, force: true });
      gone.push(path.join(dir, f));
    }
  };
  rm(PIN_ROOT, (f) => f.startsWith(`netns-${prefix}`));
  rm(STATE_DIR, (f) => f.startsWith(`state-${prefix}`));
  return gone;
}

export const tollgateBenchHook: TollgateBenchHook = { loadIntoNetns, testRun, close: closeSession, sweep };
