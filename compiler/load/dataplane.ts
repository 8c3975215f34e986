// A long-lived dataplane handle for agents that embed Tollgate and keep their policy in memory (as Cilium's and
// Calico's agents do): `openDataplane(opts)` -> `{ load(program), close() }`.
//
// The first load is the ordinary transactional load() (loader.ts); the handle keeps what it wrote: an index of
// the tables (compiler/emit/bpf/delta.ts), the state, the pinned maps open. A later load whose Program differs
// from the previous one only by rules modified in place, each in one dimension (peer set, port/protocol set,
// source ports) or only in its action, is applied INCREMENTALLY into the live tables (no new table ids, no
// buildTables over the Program, no interface lookups, no JSON of the rules before the switch):
//   1. endpoint entries whose flags gain a map to look up: the wider flags, same ep_id (same answers);
//   2. decisions of new classes, then class entries longest first (delta.ts says why every packet meanwhile
//      gets the old policy or the new one);
//   3. the switch: the affected endpoint entries get fresh ep_ids (conntrack re-checks flows the old policy
//      allowed), same table_id and rule_base; then the node's policy generation (tg_gen) goes up, so established
//      flows take the endpoint lookup (and the ep_id check) again;
//   4. after the grace period: entries no longer wanted; the state (rule records, ep ids; a rule whose id
//      changed has its counter row carried under the old id and zeroed).
// Anything else falls back to load(), and the report says why (`fallback`); so does the same Program object
// again (the handle keeps the Program it loaded: a Program must not be mutated after a load, pass a changed
// copy). A failed write restores every entry written (in reverse order) and reports "nothing was changed"; a
// failure after the switch reports that the new policy IS enforcing; either way the next load is a full one.
import * as fs from 'fs';
import type { Program } from '../ir/types';
import { buildIndex, computeDelta, diffPrograms, IndexError, opEntry, warmUp, type Delta, type OpEntry, type RuleChange, type TablesIndex } from '../emit/bpf/delta';
import { epValue } from '../emit/bpf/layout';
import { policyName, type EndpointEntry } from '../emit/bpf/tables';
import {
  acquireLock, bumpGeneration, closeAll, describeErr, epKeyOf, GRACE_MS, LoadError, loadKeeping, openLiveMaps, readCounters, zeroCounters,
  type LoadOptions, type LoadReport,
} from './loader';
import type { BpfMap } from './native';
import { counterKey, readLoadState, scopePaths, writeLoadState, type LoadState } from './state';

export interface DataplaneOptions extends LoadOptions {
  /** tests: an incremental update fails at its Nth map write (0 = the first), after the writes before it */
  failIncrementalAt?: number;
  /** tests: an incremental update fails after the switch (before the entries no longer wanted are deleted) */
  failAfterSwitch?: boolean;
  /** tests: runs when the handle's full load has released the lock (another process may load right then) */
  afterFullLoad?: () => Promise<void>;
}

export interface DataplaneReport extends LoadReport {
  /** what an incremental update wrote: tables touched, entries written before the switch, endpoint entries
   *  switched, entries deleted after it */
  incremental?: { tables: number; written: number; switched: number; deleted: number };
}

export interface Dataplane {
  load(program: Program): Promise<DataplaneReport>;
  /** closes the maps the handle holds open (the policy stays loaded; `unload` removes it) */
  close(): void;
}

export function openDataplane(opts: DataplaneOptions = {}): Dataplane {
  return new Handle(opts);
}

const ms = (from: bigint): number => Number(process.hrtime.bigint() - from) / 1e6;

interface Kept {
  program: Program;
  /** undefined: the next load is a full one, for `stale` */
  idx?: TablesIndex;
  stale?: string;
  state: LoadState;
  stat: { ino: number; size: number; mtimeMs: number };
  maps: Map<string, BpfMap>;
  ifindex: Map<string, number>;
  /** "endpoint|direction" -> absolute index of its first rule row */
  rowBase: Map<string, number>;
  report: LoadReport;
  counts: Record<string, number>;
}

class Handle implements Dataplane {
  private kept?: Kept;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly statePath: string;

  constructor(private readonly opts: DataplaneOptions) {
    this.statePath = scopePaths(opts).statePath;
  }

  load(program: Program): Promise<DataplaneReport> {
    // one load at a time through a handle: each starts from what the previous one left
    const run = this.queue.then(() => this.loadOne(program));
    this.queue = run.catch(() => undefined);
    return run;
  }

  close(): void {
    if (this.kept) closeAll(this.kept.maps);
    this.kept = undefined;
  }

  private async loadOne(program: Program): Promise<DataplaneReport> {
    const k = this.kept;
    if (!k) return this.full(program);
    if (!k.idx) return this.full(program, k.stale ?? 'no index of the live tables');
    if (this.opts.forceReload || this.opts.objectOverride) return this.full(program, 'a new object was asked for (forceReload / objectOverride)');
    // the diff compares the kept Program with this one: the same object (mutated in place or not) would compare equal
    if (program === k.program) return this.full(program, 'the same Program object as the previous load (Programs must not be changed after a load: a changed copy is compared)');
    const t0 = process.hrtime.bigint();
    const lock = acquireLock(this.statePath);
    let fallback: string;
    try {
      // a dead owner's lock taken over: interfaces may run programs the state does not name (load() replaces all)
      const r = lock.crashed ? { reason: 'a crashed load left its lock' } : await this.incremental(k, k.idx, program, t0);
      if ('report' in r) return r.report;
      fallback = r.reason;
    } finally {
      lock.release();
    }
    return this.full(program, fallback);
  }

  /** The ordinary load; then the index of what it wrote, off the enforcing path. */
  private async full(program: Program, fallback?: string): Promise<DataplaneReport> {
    // the state and its stat as the load wrote them (read under its lock): another load may follow at once
    const { report, tables, local, state, stat } = await loadKeeping(program, this.opts);
    await this.opts.afterFullLoad?.();
    if (fallback !== undefined) report.fallback = fallback;
    const old = this.kept;
    if (!state) throw new LoadError(`no load state at ${this.statePath} after a load`);
    const maps = old && old.state.mapsDir === state.mapsDir ? old.maps : openLiveMaps(state);
    if (old && old.maps !== maps) closeAll(old.maps);
    let idx: TablesIndex | undefined;
    let stale: string | undefined;
    try {
      idx = buildIndex(tables, { ...program, endpoints: local.map((l) => l.ep) });
      warmUp(program, idx.local);
    } catch (err) {
      if (!(err instanceof IndexError)) throw err;
      stale = `the tables could not be indexed (${err.message})`;
    }
    const rowBase = new Map<string, number>();
    for (const r of state.rules) if (r.endpoint && !rowBase.has(`${r.endpoint}|${r.direction}`)) rowBase.set(`${r.endpoint}|${r.direction}`, r.index);
    this.kept = {
      program, idx, stale, state, stat: statKey(stat), maps, ifindex: new Map(local.map((l) => [l.ep.id, l.ifindex])), rowBase,
      report, counts: { ...report.entries },
    };
    return report;
  }

  private async incremental(k: Kept, idx: TablesIndex, program: Program, t0: bigint): Promise<{ report: DataplaneReport } | { reason: string }> {
    const st = statOf(this.statePath);
    if (st.ino !== k.stat.ino || st.size !== k.stat.size || st.mtimeMs !== k.stat.mtimeMs) return { reason: 'the state changed since this handle wrote it (another load or unload)' };
    const diff = diffPrograms(k.program, program, idx.local);
    if ('reason' in diff) return { reason: diff.reason };
    let r: ReturnType<typeof computeDelta>;
    try {
      r = computeDelta(idx, diff.changes, k.state.nextEpId);
    } catch (err) {
      if (!(err instanceof IndexError)) throw err;
      r = { ok: false, reason: `the index of the live tables is inconsistent (${err.message})`, dirty: true };
    }
    if (!r.ok) {
      if (r.dirty) k.idx = undefined;
      return { reason: r.reason };
    }
    const d = r.delta;
    // each op as its map's key and value, encoded once
    const pre = d.pre.map(opEntry);
    const room = this.capacity(k, pre);
    if (room) {
      k.idx = undefined;
      return { reason: room };
    }
    const tablesMs = ms(t0);

    // Writes: each one remembered with what it replaced, so a failure restores all of them (in reverse order).
    const tw = process.hrtime.bigint();
    const applied: { m: BpfMap; key: Buffer; before: Buffer | null }[] = [];
    let n = 0;
    const put = (map: string, key: Buffer, value: Buffer | null, before: Buffer | null): void => {
      const m = k.maps.get(map);
      if (!m) throw new Error(`no pinned map ${map}`);
      if (this.opts.failIncrementalAt === n++) throw new Error(`injected failure at write ${n - 1} (${map})`);
      if (value) m.update(key, value);
      else m.delete(key);
      applied.push({ m, key, before });
    };
    const eps = (f: { before: EndpointEntry; after: EndpointEntry }): void => put('tg_endpoints', this.epKey(k, f.after), epValue(f.after), epValue(f.before));
    let ts = tw;
    try {
      for (const f of d.widen) eps(f);
      for (const e of pre) put(e.map, e.key, e.value, e.before);
      ts = process.hrtime.bigint();
      for (const f of d.flips) eps(f);
      bumpGeneration(k.maps.get('tg_gen')!);
    } catch (err) {
      const notes: string[] = [];
      for (const a of applied.reverse()) {
        try {
          if (a.before) a.m.update(a.key, a.before);
          else a.m.delete(a.key);
        } catch (e) {
          notes.push(describeErr(e));
        }
      }
      // flows checked against flipped entries meanwhile are checked against the restored ones again
      try {
        bumpGeneration(k.maps.get('tg_gen')!);
      } catch (e) {
        notes.push(describeErr(e));
      }
      k.idx = undefined;
      k.stale = 'the previous incremental update failed and was rolled back';
      // flips before the failing one were live: conntrack may hold their fresh ids, never to be handed out again
      const bumped = this.keepIdsUsed(k, d.nextId);
      const also = bumped ? `; ${bumped}` : '';
      if (notes.length) {
        throw new LoadError(`the incremental update failed and restoring ${notes.length} of the ${applied.length} entries it wrote failed too (${notes[0]}${also}); load the policy again: ${describeErr(err)}`);
      }
      throw new LoadError(`nothing was changed: the incremental update failed and was rolled back (the previous policy is enforcing${also}): ${describeErr(err)}`);
    }
    const writeMs = Number(ts - tw) / 1e6;
    const switchMs = ms(ts);
    const enforcingMs = ms(t0);

    // The switch is made: the maps and the index hold `program` from here on, whatever fails below.
    k.program = program;
    // After the switch: the grace period, entries no longer wanted, the state.
    try {
      await new Promise((res) => setTimeout(res, GRACE_MS));
      if (this.opts.failAfterSwitch) throw new Error('injected failure after the switch');
      const post = d.post.map(opEntry);
      for (const e of post) k.maps.get(e.map)?.delete(e.key);
      for (const e of [...pre, ...post]) {
        k.counts[e.map] = (k.counts[e.map] ?? 0) + (e.before === null && e.value ? 1 : 0) - (e.before !== null && !e.value ? 1 : 0);
      }
      await this.writeState(k, d, diff.changes);
    } catch (err) {
      // entries no longer wanted may remain, the state may be behind: the next load rewrites everything
      k.idx = undefined;
      k.stale = `the previous incremental update failed after the switch (${describeErr(err)})`;
      const bumped = this.keepIdsUsed(k, d.nextId);
      throw new LoadError(`the new policy IS enforcing (the switch was made), but the work after it failed; the next load through this handle is a full one: ${describeErr(err)}${bumped ? ` (${bumped})` : ''}`);
    }
    const report: DataplaneReport = {
      ...k.report, mode: 'incremental', clang: 'not-needed', verified: false, generation: k.state.generation, attachments: k.state.attachments,
      entries: { ...k.counts }, timings: { tablesMs, writeMs, switchMs, enforcingMs, totalMs: ms(t0) },
      incremental: { tables: d.tables, written: d.widen.length + d.pre.length, switched: d.flips.length, deleted: d.post.length },
    };
    delete report.fallback;
    return { report };
  }

  /** Old and new entries side by side must fit each map; null when they do. */
  private capacity(k: Kept, pre: OpEntry[]): string | null {
    const adds = new Map<string, number>();
    for (const e of pre) {
      if (e.before === null && e.value) adds.set(e.map, (adds.get(e.map) ?? 0) + 1);
    }
    for (const [map, a] of adds) {
      const m = k.maps.get(map);
      const have = k.counts[map] ?? 0;
      if (!m) return `the loaded object has no map ${map}`;
      if (have + a > m.maxEntries) return `map ${map} (max_entries ${m.maxEntries}) cannot take ${a} more entries beside its ${have}`;
    }
    return null;
  }

  /** After a failed update: the state's next ep id past every id the update handed out (the state file on disk,
   *  which the next full load starts from). A note when that could not be written. */
  private keepIdsUsed(k: Kept, nextId: number): string | undefined {
    try {
      const s = readLoadState(this.statePath);
      if (!s || s.nextEpId >= nextId) return undefined;
      s.nextEpId = nextId;
      writeLoadState(this.statePath, s);
      k.state.nextEpId = Math.max(k.state.nextEpId, nextId);
      return undefined;
    } catch (e) {
      return `the state's next ep id could not be raised to ${nextId} (${describeErr(e)})`;
    }
  }

  private epKey(k: Kept, e: EndpointEntry): Buffer {
    const ifindex = k.ifindex.get(e.endpoint);
    if (ifindex === undefined) throw new Error(`no interface known for ${e.endpoint}`);
    return epKeyOf({ ifindex, direction: e.direction, family: e.family, addr: e.addr });
  }

  private async writeState(k: Kept, d: Delta, changes: RuleChange[]): Promise<void> {
    const s = k.state;
    const byKey = new Map(s.endpoints.map((r) => [`${r.endpoint}|${r.direction}|${r.addr}`, r]));
    for (const f of d.flips) {
      const rec = byKey.get(`${f.after.endpoint}|${f.after.direction}|${f.after.addr}`);
      if (rec) Object.assign(rec, { epId: f.after.epId, value: epValue(f.after).toString('hex') });
    }
    s.nextEpId = Math.max(s.nextEpId, d.nextId);
    const counters = k.maps.get('tg_counters');
    const carried = (s.carried ??= {});
    for (const c of changes) {
      const base = k.rowBase.get(`${c.endpoint}|${c.direction}`);
      if (base === undefined) continue;
      const rec = s.rules[base + c.row - s.ruleBase];
      if (!rec || rec.kind !== 'rule') continue;
      if (counters && c.before.id !== c.after.id) {
        // the row now counts another rule: what it counted so far stays with the old id
        const n = readCounters(counters, rec.index);
        if (n.packets || n.bytes) {
          const key = counterKey(rec);
          const prev = carried[key] ?? { packets: 0, bytes: 0 };
          carried[key] = { packets: prev.packets + n.packets, bytes: prev.bytes + n.bytes };
        }
        await zeroCounters(counters, rec.index, 1);
      }
      rec.action = c.after.action;
      rec.ruleId = c.after.id;
      rec.policy = policyName(c.after.source);
    }
    s.loadedAt = new Date().toISOString();
    writeLoadState(this.statePath, s);
    k.stat = statOf(this.statePath);
  }
}

/** What tells one write of the state file from another. */
function statKey(s: fs.Stats): { ino: number; size: number; mtimeMs: number } {
  return { ino: s.ino, size: s.size, mtimeMs: s.mtimeMs };
}

function statOf(file: string): { ino: number; size: number; mtimeMs: number } {
  try {
    return statKey(fs.statSync(file));
  } catch {
    return { ino: -1, size: -1, mtimeMs: -1 };
  }
}
