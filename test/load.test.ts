// Kernel tests of the transactional loader (tollgate load / unload / status) with real traffic.
// Topology, all made here and always removed: a node netns tgd-n-PID routing between two pod netns tgd-a-PID
// (10.88.0.1) and tgd-b-PID (10.88.0.2), joined by veths whose host-side ends tgdaPID / tgdbPID live in the node
// netns (as the lab and a routed CNI do). Pins under /sys/fs/bpf/tollgate-tgd-PID, state under
// /run/tollgate/tgd-PID: the user's /sys/fs/bpf/tollgate is never touched.
import { strict as assert } from 'assert';
import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Program, Rule } from '../compiler/ir/types';
import { load, LoadError, status, unload, type LoadOptions } from '../compiler/load/loader';
import { BpfMap, BpfObject, listTc, tcxAttach, tcxDetach, tcxList, tcxSupported } from '../compiler/load/native';
import { readLoadState, scopePaths, writeLoadState } from '../compiler/load/state';
import { LAYOUT } from '../compiler/emit/bpf/layout';
import { clangArgs } from '../compiler/emit/bpf/objcache';
import { shapeC, SHARED_PINS } from '../compiler/load/loader';
import { endpoint, program, rule, tier } from './bpf-fixtures';

const PID = process.pid;
const NODE = `tgd-n-${PID}`;
const NS_A = `tgd-a-${PID}`;
const NS_B = `tgd-b-${PID}`;
const IF_A = `tgda${PID}`.slice(0, 15);
const IF_B = `tgdb${PID}`.slice(0, 15);
const A = '10.88.0.1';
const B = '10.88.0.2';
const PIN_ROOT = `/sys/fs/bpf/tollgate-tgd-${PID}`;
const STATE_DIR = `/run/tollgate/tgd-${PID}`;
const SCOPE = { pinRoot: PIN_ROOT, stateDir: STATE_DIR, netns: NODE };
const IFACES = { 'ns/a': IF_A, 'ns/b': IF_B };
const OPTS: LoadOptions = { ...SCOPE, ifaceMap: IFACES };

function sh(...args: string[]): string {
  return execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}
function netnsList(): string[] {
  return sh('ip', 'netns', 'list').split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
}

function buildTopology(): void {
  sh('ip', 'netns', 'add', NODE);
  sh('ip', 'netns', 'exec', NODE, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  sh('ip', '-n', NODE, 'link', 'set', 'lo', 'up');
  sh('ip', '-n', NODE, 'addr', 'add', '169.254.1.1/32', 'dev', 'lo');
  for (const [ns, hostIf, addr] of [[NS_A, IF_A, A], [NS_B, IF_B, B]]) {
    sh('ip', 'netns', 'add', ns);
    sh('ip', '-n', NODE, 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    sh('ip', '-n', NODE, 'link', 'set', hostIf, 'up');
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up');
    sh('ip', '-n', ns, 'addr', 'add', `${addr}/32`, 'dev', 'eth0');
    sh('ip', '-n', ns, 'route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link');
    sh('ip', '-n', ns, 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0');
    sh('ip', '-n', NODE, 'route', 'add', `${addr}/32`, 'dev', hostIf);
  }
}

function removeTopology(): void {
  const have = netnsList();
  for (const ns of [NS_A, NS_B, NODE]) if (have.includes(ns)) spawnSync('ip', ['netns', 'del', ns]);
}

// TCP echo server in pod B on 8080 and 9090.
const SERVER = `const net = require('net');
let n = 0;
for (const port of [8080, 9090]) net.createServer((s) => { s.on('data', (d) => s.write(d)); s.on('error', () => {}); })
  .listen(port, '${B}', () => { if (++n === 3) console.log('ready'); });
const u = require('dgram').createSocket('udp4');
u.on('message', (m, r) => u.send(m, r.port, r.address));
u.bind(5353, '${B}', () => { if (++n === 3) console.log('ready'); });`;

// A UDP flood: one datagram per millisecond until SIGTERM; then waits for late replies and prints the counts.
const FLOOD = `const u = require('dgram').createSocket('udp4');
let sent = 0; const seen = new Set();
u.on('message', (m) => seen.add(m.readUInt32BE(0)));
u.bind(0, '${A}', () => { console.log('started'); });
const t = setInterval(() => { const b = Buffer.alloc(4); b.writeUInt32BE(sent++); u.send(b, 5353, '${B}'); }, 1);
process.on('SIGTERM', () => { clearInterval(t); setTimeout(() => { console.log(JSON.stringify({ sent, got: seen.size })); process.exit(0); }, 300); });`;

// One TCP connect + exchange from pod A; exit 0 when the echo came back within the timeout.
const PROBE = `const s = require('net').connect({ host: '${B}', port: Number(process.argv[1]) });
const t = setTimeout(() => process.exit(1), 600);
s.on('connect', () => s.write('x'));
s.on('data', () => { clearTimeout(t); process.exit(0); });
s.on('error', () => process.exit(1));`;

// A long-lived stream: one message every 10 ms, each echoed; on SIGTERM prints what happened.
const STREAM = `const s = require('net').connect({ host: '${B}', port: 8080 });
let sent = 0, got = 0, last = Date.now(), lastAt = 0, maxGap = 0, err = null, ended = false, timer;
s.setNoDelay(true);
s.on('connect', () => { console.log('connected'); timer = setInterval(() => { s.write('m'); sent++; }, 10); });
s.on('data', (d) => { const now = Date.now(); maxGap = Math.max(maxGap, now - last); last = now; lastAt = now; got += d.length; });
s.on('error', (e) => { err = e.code || e.message; });
s.on('close', () => { ended = true; });
process.on('SIGTERM', () => { clearInterval(timer); setTimeout(() => { console.log(JSON.stringify({ sent, got, maxGap, lastAt, err, ended })); process.exit(0); }, 300); });`;

function probe(port: number): boolean {
  return spawnSync('ip', ['netns', 'exec', NS_A, process.execPath, '-e', PROBE, String(port)], { stdio: 'ignore' }).status === 0;
}

function startIn(ns: string, script: string, ready: string): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`no '${ready}' from a process in ${ns}: ${out}`)), 5000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(ready)) {
        clearTimeout(t);
        resolve(child);
      }
    });
    child.on('exit', (c) => reject(new Error(`process in ${ns} exited with ${c}: ${out}`)));
  });
}

async function stopStream(child: ChildProcess): Promise<{ sent: number; got: number; maxGap: number; lastAt: number; err: string | null; ended: boolean }> {
  let out = '';
  child.stdout!.removeAllListeners('data');
  child.removeAllListeners('exit');
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<void>((r) => child.on('exit', () => r()));
  child.kill('SIGTERM');
  await done;
  return JSON.parse(out.trim().split('\n').pop()!);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Pod B's ingress: the given rules, then Deny. Pod A: no policy (allow). */
function policy(...rules: Rule[]): Program {
  return program(endpoint('ns/a', [A]), endpoint('ns/b', [B], [tier('default', rules, 'Deny', 'default')]));
}
/** The same, and pod B may not open connections (egress: no rule, then Deny); its replies pass by conntrack. */
function policyNoEgressB(...rules: Rule[]): Program {
  const p = policy(...rules);
  p.endpoints[1].egress.tiers.push(tier('default', [], 'Deny', 'default'));
  return p;
}
const udp = (id: string, port: number): Rule => rule(id, 'Allow', { proto: 17, dports: [{ from: port, to: port }], peer: [`${A}/32`] });
const tcp = (id: string, port: number, action: 'Allow' | 'Deny' = 'Allow'): Rule => rule(id, action, { proto: 6, dports: [{ from: port, to: port }], peer: [`${A}/32`] });

function pinsOf(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const f of fs.readdirSync(dir)) {
    const p = path.join(dir, f);
    if (fs.statSync(p).isDirectory()) out.push(...pinsOf(p).map((x) => `${f}/${x}`));
    else out.push(f);
  }
  return out.sort();
}

/** Every program on the interface's hooks: cls_bpf filters of clsact ('tc') and tcx programs. */
async function tollgateFilters(ifname: string): Promise<{ hook: string; mode: 'tc' | 'tcx'; progId: number; name: string }[]> {
  const out: { hook: string; mode: 'tc' | 'tcx'; progId: number; name: string }[] = [];
  for (const hook of ['ingress', 'egress'] as const) {
    for (const f of await listTc({ ifname, netns: NODE, direction: hook })) out.push({ hook, mode: 'tc', progId: f.progId, name: f.name });
    if (!tcxSupported()) continue;
    for (const p of (await tcxList({ ifname, netns: NODE, direction: hook })).programs) out.push({ hook, mode: 'tcx', progId: p.progId, name: p.name });
  }
  return out;
}
/** The mode a load uses when none is asked for. */
const DEFAULT_MODE = (): 'tc' | 'tcx' => (tcxSupported() ? 'tcx' : 'tc');

describe('tollgate load (transactional loader, real kernel and traffic)', function () {
  this.timeout(120000);
  let server: ChildProcess | undefined;
  let stream: ChildProcess | undefined;

  before(async function () {
    removeTopology();
    buildTopology();
    server = await startIn(NS_B, SERVER, 'ready');
  });

  after(async function () {
    stream?.kill('SIGKILL');
    server?.kill('SIGKILL');
    try {
      await unload(SCOPE);
    } finally {
      removeTopology();
      fs.rmSync(PIN_ROOT, { recursive: true, force: true });
      fs.rmSync(STATE_DIR, { recursive: true, force: true });
    }
  });

  it('without policy both ports answer (the topology routes)', function () {
    assert.equal(probe(8080), true);
    assert.equal(probe(9090), true);
  });

  it('refuses endpoints whose interface is missing, with exit code 2, and applies nothing', async function () {
    let err: unknown;
    try {
      await load(policy(tcp('allow-8080', 8080)), { ...SCOPE, ifaceMap: { 'ns/a': IF_A, 'ns/b': 'tgdnothere0' } });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof LoadError, String(err));
    assert.equal((err as LoadError).exitCode, 2);
    assert.match((err as Error).message, /ns\/b: interface 'tgdnothere0' \(from --iface-map\) does not exist in netns tgd-n-/);
    assert.deepEqual(pinsOf(PIN_ROOT), []);
    assert.equal(readLoadState(scopePaths(SCOPE).statePath), undefined);
    assert.deepEqual(await tollgateFilters(IF_B), []);
    assert.equal(probe(9090), true);
  });

  it('load attaches to the host-side veths and real traffic is allowed/denied as the IR says', async function () {
    const r = await load(policy(tcp('allow-8080', 8080)), OPTS);
    assert.equal(r.mode, 'new-object');
    assert.equal(r.generation, 1);
    console.log(`      first load: clang ${r.clang}, timings ${JSON.stringify(r.timings)}`);
    for (const ifname of [IF_A, IF_B]) {
      const f = await tollgateFilters(ifname);
      assert.equal(f.length, 2, `two programs on ${ifname}: ${JSON.stringify(f)}`);
      assert.ok(f.every((x) => x.mode === DEFAULT_MODE()), `attached through ${DEFAULT_MODE()}: ${JSON.stringify(f)}`);
    }
    assert.ok(r.attachments.every((a) => a.mode === DEFAULT_MODE()));
    assert.equal(probe(8080), true, 'allowed by allow-8080');
    assert.equal(probe(9090), false, 'denied by the tier end');
    assert.deepEqual(pinsOf(scopePaths(SCOPE).pinDir).filter((p) => !p.startsWith('g1/')).sort(), Object.values(SHARED_PINS).sort());
  });

  it('status shows the attachments, fill levels, conntrack and counters that moved with the traffic', async function () {
    const before = await status(SCOPE);
    const row = (s: typeof before, id: string) => s.counters.find((c) => c.ruleId === id);
    const endRow = (s: typeof before) => s.counters.find((c) => c.endpoint === 'ns/b' && c.direction === 'ingress' && c.kind === 'tier-end');
    assert.ok(probe(8080));
    assert.ok(!probe(9090));
    const after = await status(SCOPE);
    assert.equal(after.loaded, true);
    assert.equal(after.attachments.length, 4);
    assert.ok(after.attachments.every((a) => a.present), JSON.stringify(after.attachments));
    assert.deepEqual(after.problems, []);
    assert.ok(row(after, 'allow-8080')!.packets > row(before, 'allow-8080')!.packets, 'the allow rule counted the new flow');
    assert.ok(endRow(after)!.packets > endRow(before)!.packets, 'the tier end counted the denied SYNs');
    assert.ok(after.conntrackEntries > 0);
    const eps = after.maps.find((m) => m.map === 'tg_endpoints')!;
    assert.equal(eps.entries, 4, 'a and b, ingress and egress');
    assert.ok(eps.maxEntries >= 4);
  });

  it('a rules-only update changes maps only (no clang, same programs) and keeps an established TCP stream', async function () {
    const st1 = readLoadState(scopePaths(SCOPE).statePath)!;
    const objMtime = fs.statSync(st1.objectPath).mtimeMs;
    const progs = [...(await tollgateFilters(IF_A)), ...(await tollgateFilters(IF_B))].map((f) => f.progId).sort();
    stream = await startIn(NS_A, STREAM, 'connected');
    await sleep(300);
    const r = await load(policy(tcp('allow-8080', 8080), tcp('allow-9090', 9090)), OPTS);
    assert.equal(r.mode, 'maps-only');
    assert.equal(r.clang, 'not-needed');
    assert.equal(r.verified, false, 'no program went through the verifier');
    assert.equal(fs.statSync(st1.objectPath).mtimeMs, objMtime, 'the object file was not rewritten');
    const progsAfter = [...(await tollgateFilters(IF_A)), ...(await tollgateFilters(IF_B))].map((f) => f.progId).sort();
    assert.deepEqual(progsAfter, progs, 'the same programs stay attached');
    console.log(`      maps-only update: enforcing after ${r.timings.enforcingMs.toFixed(2)} ms (switch ${r.timings.switchMs.toFixed(3)} ms), all done ${r.timings.totalMs.toFixed(2)} ms`);
    assert.equal(probe(9090), true, 'the new rule allows 9090');
    await sleep(300);
    const s = await stopStream(stream);
    stream = undefined;
    assert.equal(s.err, null, `the stream broke: ${JSON.stringify(s)}`);
    assert.equal(s.ended, false);
    assert.ok(s.sent > 40 && s.got === s.sent, `every message came back: ${JSON.stringify(s)}`);
    // the old generation's classes are gone: only this generation's ep ids remain in the decision map
    const st2 = readLoadState(scopePaths(SCOPE).statePath)!;
    assert.equal(st2.generation, 2);
    assert.notDeepEqual(st2.endpoints.map((e) => e.epId), st1.endpoints.map((e) => e.epId), 'fresh ep ids');
    const dec = (await status(SCOPE)).maps.find((m) => m.map === 'tg_decisions')!;
    assert.equal(dec.entries, r.entries.tg_decisions);
  });

  it('single-rule maps-only update latency (10 updates); counters carry over the updates', async function () {
    const count = async (): Promise<number> => (await status(SCOPE)).counters.find((c) => c.ruleId === 'allow-8080')!.packets;
    const before = await count();
    assert.ok(before > 0);
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const rules = [tcp('allow-8080', 8080), tcp('allow-9090', 9090)];
      if (i % 2 === 0) rules.push(tcp(`extra-${i}`, 7000 + i));
      const r = await load(policy(...rules), OPTS);
      assert.equal(r.mode, 'maps-only');
      times.push(r.timings.enforcingMs);
    }
    times.sort((a, b) => a - b);
    console.log(`      maps-only update, enforcing: median ${times[5].toFixed(2)} ms, max ${times[9].toFixed(2)} ms (target < 10 ms)`);
    // The target is 10 ms; most of it is the per-interface ifindex lookup inside the netns, which a busy machine
    // slows down. 25 ms still catches what must never happen here: clang (>500 ms) or a program load (>30 ms).
    assert.ok(times[5] < 25, `median ${times[5]} ms`);
    assert.equal(await count(), before, 'the counts of earlier generations are carried, exactly');
    assert.equal(probe(8080), true);
    assert.equal(probe(9090), true);
  });

  it('a new object (forced reload, tc replace) keeps the established stream', async function () {
    const count = async (): Promise<number> => (await status(SCOPE)).counters.find((c) => c.ruleId === 'allow-8080')!.packets;
    const before = await count();
    stream = await startIn(NS_A, STREAM, 'connected');
    await sleep(200);
    const r = await load(policy(tcp('allow-8080', 8080), tcp('allow-9090', 9090)), { ...OPTS, forceReload: true });
    assert.equal(r.mode, 'new-object');
    assert.equal(r.clang, 'cached');
    console.log(`      new object (no clang): enforcing after ${r.timings.enforcingMs.toFixed(1)} ms (verifier ${r.timings.verifierMs?.toFixed(1)} ms, switch ${r.timings.switchMs.toFixed(2)} ms)`);
    await sleep(300);
    const s = await stopStream(stream);
    stream = undefined;
    assert.equal(s.err, null, JSON.stringify(s));
    assert.ok(s.sent > 20 && s.got === s.sent, JSON.stringify(s));
    const st = readLoadState(scopePaths(SCOPE).statePath)!;
    // only the live generation's maps stay pinned
    assert.deepEqual([...new Set(pinsOf(scopePaths(SCOPE).pinDir).map((p) => p.split('/')[0]))].sort(), [path.basename(st.mapsDir), ...Object.values(SHARED_PINS)].sort());
    assert.equal(probe(9090), true);
    assert.ok((await count()) >= before + s.sent, 'counters carried into the new object, plus the stream');
  });

  it('a conntrack pinned by a load before tg_gen (24-byte values, no tg_gen pin) goes to a new object beside it, removed after the switch', async function () {
    const paths = scopePaths(SCOPE);
    const st = readLoadState(paths.statePath)!;
    // what such a load left: conntrack pinned as tg_conntrack with the old value size, no tg_gen
    const oldPin = path.join(paths.pinDir, 'tg_conntrack');
    execFileSync('bpftool', ['map', 'create', oldPin, 'type', 'lru_hash', 'key', '40', 'value', '24', 'entries', '1024', 'name', 'tg_conntrack']);
    for (const f of Object.values(SHARED_PINS)) fs.rmSync(path.join(paths.pinDir, f));
    writeLoadState(paths.statePath, { ...st, conntrackPin: oldPin });
    const r = await load(policy(tcp('allow-8080', 8080), tcp('allow-9090', 9090)), OPTS);
    assert.equal(r.mode, 'new-object', 'the pins of the live object are not all there: a new object');
    const now = readLoadState(paths.statePath)!;
    assert.equal(now.conntrackPin, path.join(paths.pinDir, SHARED_PINS.tg_conntrack));
    assert.deepEqual([...new Set(pinsOf(paths.pinDir).map((p) => p.split('/')[0]))].sort(), [path.basename(now.mapsDir), ...Object.values(SHARED_PINS)].sort(), 'the old pin is gone');
    const ct = BpfMap.openPinned(now.conntrackPin);
    try {
      assert.equal(ct.valueSize, LAYOUT.tg_ct_value.size);
    } finally {
      ct.close();
    }
    assert.equal(probe(8080), true);
    assert.equal(probe(9090), true);
  });

  it('an allowed UDP flood loses nothing across maps-only updates and a program replacement', async function () {
    await load(policy(tcp('allow-8080', 8080), udp('allow-dns', 5353)), OPTS);
    const flood = await startIn(NS_A, FLOOD, 'started');
    try {
      await sleep(200);
      for (let i = 0; i < 5; i++) {
        const r = await load(policy(tcp('allow-8080', 8080), udp('allow-dns', 5353), ...(i % 2 ? [tcp('allow-9090', 9090)] : [])), OPTS);
        assert.equal(r.mode, 'maps-only');
        await sleep(50);
      }
      // ends as the tests after this one expect: 8080 and 9090 allowed
      const r = await load(policy(tcp('allow-8080', 8080), udp('allow-dns', 5353), tcp('allow-9090', 9090)), { ...OPTS, forceReload: true });
      assert.equal(r.mode, 'new-object');
      await sleep(200);
    } finally {
      const s = (await stopStream(flood)) as unknown as { sent: number; got: number };
      console.log(`      UDP flood across 5 maps-only updates and 1 replacement: ${s.got}/${s.sent} datagrams answered`);
      assert.ok(s.sent > 200, JSON.stringify(s));
      assert.equal(s.got, s.sent, 'every datagram was answered');
    }
  });

  it('a failed load (a map too small for its entries) leaves the previous policy enforcing and no new pins', async function () {
    const paths = scopePaths(SCOPE);
    const before = readLoadState(paths.statePath)!;
    const pinsBefore = pinsOf(paths.pinDir);
    const filtersBefore = await tollgateFilters(IF_B);
    let err: unknown;
    try {
      // would deny 9090 again, but tg_port_exact cannot take its 3 entries
      await load(policy(tcp('allow-8080', 8080), tcp('deny-9090', 9090, 'Deny'), tcp('allow-7070', 7070)), { ...OPTS, forceReload: true, mapMaxEntries: { tg_port_exact: 1 } });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof LoadError, String(err));
    assert.match((err as Error).message, /nothing was changed|cannot take/);
    assert.deepEqual(pinsOf(paths.pinDir), pinsBefore, 'no new pins');
    assert.deepEqual(await tollgateFilters(IF_B), filtersBefore, 'the same filters');
    assert.equal(readLoadState(paths.statePath)!.generation, before.generation);
    assert.equal(probe(9090), true, 'the previous policy (allow 9090) still enforces');
    assert.equal(probe(8080), true);
    // and the next load works from there
    const r = await load(policy(tcp('allow-8080', 8080)), OPTS);
    assert.equal(r.mode, 'maps-only');
    assert.equal(probe(9090), false, 'now denied');
    assert.equal(probe(8080), true);
  });

  it('a program the verifier rejects leaves the previous policy enforcing and no new pins', async function () {
    const paths = scopePaths(SCOPE);
    const before = readLoadState(paths.statePath)!;
    const pinsBefore = pinsOf(paths.pinDir);
    const filtersBefore = [...(await tollgateFilters(IF_A)), ...(await tollgateFilters(IF_B))];
    // the real datapath with this shape, plus one program that reads the packet without a bounds check
    const tmp = fs.mkdtempSync('/tmp/tgd-verifier-');
    try {
      const src = path.join(tmp, 'bad.bpf.c');
      fs.writeFileSync(src, shapeC(before.shape) + `
SEC("tc")
int tgd_unchecked(struct __sk_buff *skb)
{
	unsigned char *data = (unsigned char *)(long)skb->data;
	return data[20] == 1 ? TC_ACT_SHOT : TC_ACT_OK;
}
`);
      const obj = path.join(tmp, 'bad.o');
      execFileSync('clang', clangArgs(src, obj), { stdio: 'pipe' });
      let err: unknown;
      try {
        await load(policy(tcp('allow-8080', 8080), tcp('allow-9090', 9090)), { ...OPTS, objectOverride: obj });
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof LoadError, String(err));
      assert.match((err as Error).message, /nothing was changed: the kernel refused to load the program/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    assert.deepEqual(pinsOf(paths.pinDir), pinsBefore, 'no new pins');
    assert.deepEqual([...(await tollgateFilters(IF_A)), ...(await tollgateFilters(IF_B))], filtersBefore, 'the same programs attached');
    assert.equal(readLoadState(paths.statePath)!.generation, before.generation);
    assert.equal(probe(9090), false, 'the previous policy (9090 denied) still enforces');
    assert.equal(probe(8080), true);
  });

  async function denyUnderTraffic(mk: (...r: Rule[]) => Program): Promise<{ after: number; dropped: number; enforcingMs: number }> {
    await load(mk(tcp('allow-8080', 8080)), OPTS);
    stream = await startIn(NS_A, STREAM, 'connected');
    await sleep(300);
    const r = await load(mk(tcp('allow-9090', 9090)), OPTS);
    const enforcingAt = Date.now();
    assert.equal(r.mode, 'maps-only');
    assert.equal(probe(8080), false, 'a new connection is denied right after the switch');
    await sleep(400);
    const s = await stopStream(stream);
    stream = undefined;
    assert.ok(s.got > 10, `the stream ran before the update: ${JSON.stringify(s)}`);
    return { after: s.lastAt - enforcingAt, dropped: s.sent - s.got, enforcingMs: r.timings.enforcingMs };
  }

  it('an update that denies a running stream cuts it at once (conntrack re-checks the flow)', async function () {
    const d = await denyUnderTraffic(policyNoEgressB);
    console.log(`      deny took effect: last echo ${d.after} ms after load() returned (enforcing ${d.enforcingMs.toFixed(2)} ms into the call); ${d.dropped} messages dropped`);
    assert.ok(d.dropped > 0, 'messages after the deny were dropped');
    assert.ok(d.after <= 20, `no echo more than 20 ms after the switch (${d.after} ms)`);
    assert.equal(probe(9090), true);
  });

  // B may open connections of its own: B's packets after the update must not re-open the denied flow as a new
  // egress flow (the datapath drops a packet whose origin re-check denied, and only a SYN starts a TCP flow).
  it('an update that denies a running stream cuts it also when the server may open connections', async function () {
    const d = await denyUnderTraffic(policy);
    assert.ok(d.dropped > 0, 'messages after the deny were dropped');
    assert.ok(d.after <= 20, `no echo more than 20 ms after the switch (${d.after} ms)`);
  });

  it('maps-only updates also drop and add interfaces (a new interface gets a program instance over the same maps)', async function () {
    const only = await load(policy(tcp('allow-8080', 8080)), { ...SCOPE, ifaceMap: { 'ns/a': IF_A } });
    assert.equal(only.mode, 'maps-only');
    assert.deepEqual(only.skipped, ['ns/b']);
    assert.deepEqual(await tollgateFilters(IF_B), [], "b's filters are gone");
    assert.equal((await tollgateFilters(IF_A)).length, 2);
    assert.equal(probe(9090), true, 'nothing enforces for b');
    // adding b fails at its attach: the endpoint flips are undone, b's entries deleted
    let err: unknown;
    try {
      await load(policy(tcp('allow-8080', 8080)), { ...OPTS, failSwitchAt: IF_B });
    } catch (e) {
      err = e;
    }
    assert.match(String(err), /the switch failed and was rolled back/);
    const mid = await status(SCOPE);
    assert.equal(mid.maps.find((m) => m.map === 'tg_endpoints')!.entries, 2, "only a's entries");
    assert.equal(mid.maps.find((m) => m.map === 'tg_ifaces')!.entries, 1);
    assert.deepEqual(await tollgateFilters(IF_B), []);
    assert.equal(probe(9090), true);
    const both = await load(policy(tcp('allow-8080', 8080)), OPTS);
    assert.equal(both.mode, 'maps-only');
    assert.equal(both.clang, 'not-needed');
    assert.equal(both.verified, true, 'the new interface needed a program instance (verifier, no clang)');
    assert.equal((await tollgateFilters(IF_B)).length, 2);
    assert.equal(probe(9090), false, "b's policy enforces again");
    assert.equal(probe(8080), true);
    const st = await status(SCOPE);
    assert.ok(st.attachments.every((a) => a.present), JSON.stringify(st.attachments));
    assert.equal(st.attachments.length, 4);
  });

  it('a switch that fails half way puts the previous program back where the new one was attached', async function () {
    const paths = scopePaths(SCOPE);
    const before = readLoadState(paths.statePath)!;
    const pinsBefore = pinsOf(paths.pinDir);
    assert.equal(probe(8080), true);
    // the new policy would also stop a's egress to 8080; a is switched first, then the switch fails at b
    const next = policy(tcp('allow-8080', 8080), tcp('allow-9090', 9090));
    next.endpoints[0].egress.tiers.push(tier('default', [], 'Deny', 'default'));
    let err: unknown;
    try {
      await load(next, { ...OPTS, forceReload: true, failSwitchAt: IF_B });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof LoadError, String(err));
    assert.match((err as Error).message, /the switch failed and was rolled back \(the previous policy is enforcing\): injected failure at tgdb/);
    assert.deepEqual(pinsOf(paths.pinDir), pinsBefore, 'no new pins');
    assert.equal(readLoadState(paths.statePath)!.generation, before.generation);
    assert.equal((await tollgateFilters(IF_A)).length, 2);
    assert.equal(probe(8080), true, "a runs the previous program again (the new one denied a's egress)");
    assert.equal(probe(9090), false, 'b was never switched');
    const st = await status(SCOPE);
    // a runs a new instance of the previous object: the state records its program ids
    assert.ok(st.attachments.every((a) => a.present), JSON.stringify(st.attachments));
    assert.deepEqual(st.problems, []);
    // the next load works and records what is attached
    const r = await load(policy(tcp('allow-8080', 8080)), OPTS);
    assert.equal(r.mode, 'maps-only');
    assert.equal(probe(8080), true);
  });

  it('one load at a time per scope: a live lock holder refuses, a dead one is taken over', async function () {
    const lock = `${scopePaths(SCOPE).statePath}.lock`;
    const holder = spawn('sleep', ['10'], { stdio: 'ignore' });
    try {
      fs.writeFileSync(lock, String(holder.pid));
      let err: unknown;
      try {
        await load(policy(tcp('allow-9090', 9090)), OPTS);
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof LoadError, String(err));
      assert.match((err as Error).message, new RegExp(`another tollgate load or unload \\(pid ${holder.pid}\\)`));
      assert.equal(probe(9090), false, 'nothing changed');
    } finally {
      holder.kill('SIGKILL');
    }
    const dead = spawnSync('true').pid;
    fs.writeFileSync(lock, String(dead));
    const r = await load(policy(tcp('allow-8080', 8080)), OPTS);
    assert.equal(r.mode, 'new-object', 'after a crashed load every interface gets a fresh program');
    assert.equal(r.clang, 'cached');
    assert.equal(fs.existsSync(lock), false, 'released');
    assert.equal(probe(8080), true);
    assert.equal(probe(9090), false);
  });

  it('attachMode tc (clsact) replaces tcx, enforces, and tc -> tcx upgrades under a stream: no cls_bpf filter, no qdisc left', async function () {
    if (!tcxSupported()) this.skip();
    const pol = policy(tcp('allow-8080', 8080));
    const down = await load(pol, { ...OPTS, attachMode: 'tc' });
    assert.equal(down.mode, 'new-object', 'another attach mode needs the switch of a new object');
    assert.ok(down.attachments.every((a) => a.mode === 'tc' && a.handle === 0x7467 && a.priority === 1 && a.qdiscCreated), JSON.stringify(down.attachments));
    for (const ifname of [IF_A, IF_B]) {
      assert.deepEqual((await tollgateFilters(ifname)).map((f) => [f.hook, f.mode]), [['ingress', 'tc'], ['egress', 'tc']], 'the tcx programs went after the switch');
      assert.match(sh('tc', '-n', NODE, 'qdisc', 'show', 'dev', ifname), /clsact/);
    }
    assert.equal(probe(8080), true, 'the clsact path enforces');
    assert.equal(probe(9090), false);
    const stc = await status(SCOPE);
    assert.ok(stc.attachments.every((a) => a.present && a.mode === 'tc'), JSON.stringify(stc.attachments));
    assert.equal((await load(pol, { ...OPTS, attachMode: 'tc' })).mode, 'maps-only', 'same mode, same shape: maps only');
    // an upgrade that fails half way (a got its tcx programs, b fails): a's tcx programs go, the filters stayed
    let err: unknown;
    try {
      await load(policy(tcp('allow-8080', 8080), tcp('allow-9090', 9090)), { ...OPTS, failSwitchAt: IF_B });
    } catch (e) {
      err = e;
    }
    assert.match(String(err), /the switch failed and was rolled back \(the previous policy is enforcing\)/);
    for (const ifname of [IF_A, IF_B]) assert.deepEqual((await tollgateFilters(ifname)).map((f) => f.mode), ['tc', 'tc']);
    assert.equal(probe(9090), false, 'the clsact filters enforce the previous policy');
    assert.ok((await status(SCOPE)).attachments.every((a) => a.present && a.mode === 'tc'));
    // a state written before tcx: no mode at all (read as tc)
    const statePath = scopePaths(SCOPE).statePath;
    const raw = JSON.parse(fs.readFileSync(statePath, 'utf8')) as { attachments: Record<string, unknown>[] };
    for (const a of raw.attachments) delete a.mode;
    fs.writeFileSync(statePath, JSON.stringify(raw));
    stream = await startIn(NS_A, STREAM, 'connected');
    await sleep(200);
    const up = await load(policy(tcp('allow-8080', 8080), tcp('allow-9090', 9090)), OPTS);
    await sleep(300);
    const s = await stopStream(stream);
    stream = undefined;
    assert.equal(up.mode, 'new-object');
    assert.ok(up.attachments.every((a) => a.mode === 'tcx' && !a.qdiscCreated), JSON.stringify(up.attachments));
    assert.equal(s.err, null, JSON.stringify(s));
    assert.ok(s.sent > 20 && s.got === s.sent, `the established stream went on across tc -> tcx: ${JSON.stringify(s)}`);
    for (const ifname of [IF_A, IF_B]) {
      const f = await tollgateFilters(ifname);
      assert.deepEqual(f.map((x) => [x.hook, x.mode]), [['ingress', 'tcx'], ['egress', 'tcx']], JSON.stringify(f));
      assert.deepEqual(f.map((x) => x.progId).sort(), up.attachments.filter((a) => a.ifname === ifname).map((a) => a.progId).sort());
      assert.doesNotMatch(sh('tc', '-n', NODE, 'qdisc', 'show', 'dev', ifname), /clsact/, 'the clsact qdisc we made went too');
    }
    assert.equal(probe(9090), true, 'the new policy enforces');
    const deny = await load(pol, OPTS);
    assert.equal(deny.mode, 'maps-only', 'tcx to tcx: maps only again');
    assert.equal(probe(9090), false);
    assert.ok((await status(SCOPE)).attachments.every((a) => a.present && a.mode === 'tcx'));
  });

  it('a foreign tcx program on the hook is kept, reported by status, and left by unload', async function () {
    if (!tcxSupported()) this.skip();
    const dir = fs.mkdtempSync('/tmp/tgd-foreign-');
    const obj = path.join(dir, 'tcx_next.o');
    execFileSync('clang', clangArgs(path.join(__dirname, 'fixtures', 'bpf', 'tcx_next.bpf.c'), obj), { stdio: 'pipe' });
    const o = BpfObject.open(obj);
    try {
      await o.load();
      const foreign = o.program('tgt_next');
      const seen = o.map('seen');
      const seenCount = (): bigint => (seen.lookupPerCpu(Buffer.alloc(4)) ?? []).reduce((n, v) => n + v.readBigUInt64LE(0), 0n);
      // attached in front of ours: its NEXT lets Tollgate decide
      await tcxAttach({ ifname: IF_B, netns: NODE, direction: 'egress', prog: foreign });
      assert.equal(probe(9090), false, 'Tollgate still enforces behind it');
      assert.ok(seenCount() > 0n, 'the foreign program saw the packets');
      const r = await load(policy(tcp('allow-8080', 8080)), { ...OPTS, forceReload: true });
      assert.equal(r.mode, 'new-object');
      const progs = (await tcxList({ ifname: IF_B, netns: NODE, direction: 'egress' })).programs.map((p) => p.progId);
      const ours = r.attachments.find((a) => a.ifname === IF_B && a.hook === 'egress')!.progId;
      assert.deepEqual(progs, [foreign.id, ours], 'ours replaced in place (behind the one attached in front of it), the foreign one kept');
      assert.equal(probe(9090), false);
      assert.equal(probe(8080), true);
      const st = await status(SCOPE);
      assert.deepEqual(st.others, [{ ifname: IF_B, hook: 'egress', mode: 'tcx', handle: 0, priority: 0, name: 'tgt_next', progId: foreign.id }]);
      assert.ok(st.attachments.every((a) => a.present), JSON.stringify(st.attachments));
      const u = await unload(SCOPE);
      assert.deepEqual(u.notes, []);
      assert.deepEqual((await tcxList({ ifname: IF_B, netns: NODE, direction: 'egress' })).programs.map((p) => p.progId), [foreign.id], 'only the foreign program is left');
      assert.equal(probe(9090), true, 'no policy any more');
      await load(policy(tcp('allow-8080', 8080)), OPTS); // for the unload test after this one
    } finally {
      const left = (await tcxList({ ifname: IF_B, netns: NODE, direction: 'egress' })).programs;
      for (const p of left) if (p.name === 'tgt_next') await tcxDetach({ ifname: IF_B, netns: NODE, direction: 'egress', progId: p.progId });
      o.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('unload leaves nothing: no filters, no qdisc, no pins, no state; and repeats', async function () {
    const r = await unload(SCOPE);
    assert.equal(r.hadState, true);
    assert.deepEqual(r.notes, []);
    for (const ifname of [IF_A, IF_B]) {
      assert.deepEqual(await tollgateFilters(ifname), []);
      assert.doesNotMatch(sh('tc', '-n', NODE, 'qdisc', 'show', 'dev', ifname), /clsact/);
    }
    assert.equal(fs.existsSync(PIN_ROOT), false);
    assert.equal(readLoadState(scopePaths(SCOPE).statePath), undefined);
    assert.equal(probe(9090), true, 'no policy any more');
    const again = await unload(SCOPE);
    assert.equal(again.hadState, false);
    assert.equal((await status(SCOPE)).loaded, false);
  });
});
