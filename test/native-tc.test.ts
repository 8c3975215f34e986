// Kernel tests of tc attach/replace/detach/list through the native addon, with real UDP traffic between two
// network namespaces the test creates (tgn-a-PID, tgn-b-PID joined by the veth pair tgnva/tgnvb) and always
// removes. The traffic is a UDP echo (node's dgram in each namespace): ping is not installed everywhere.
import { strict as assert } from 'assert';
import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import {
  BpfMap, BpfObject, NativeError, attachTc, detachTc, ensureBpffs, ifindex, listTc, removeClsact,
  tcxAttach, tcxDetach, tcxList, tcxSupported,
} from '../compiler/load/native';

const FIXTURES = path.join(__dirname, 'fixtures', 'bpf');
const NS_A = `tgn-a-${process.pid}`;
const NS_B = `tgn-b-${process.pid}`;
const IF_A = 'tgnva';
const IF_B = 'tgnvb';
const ADDR_A = [10, 77, 0, 1];
const ADDR_B = [10, 77, 0, 2];

function compileFixture(name: string, outDir: string): string {
  const out = path.join(outDir, `${name}.o`);
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${os.arch() === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
    '-c', path.join(FIXTURES, `${name}.bpf.c`), '-o', out]);
  return out;
}

function sh(...args: string[]): void {
  execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
}

const ECHO_PORT = 7777;
const ECHO_SERVER = `const s = require('dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(${ECHO_PORT}, '${ADDR_B.join('.')}', () => console.log('ready'));`;
const ECHO_CLIENT = `const s = require('dgram').createSocket('udp4');
setTimeout(() => process.exit(1), 800);
s.on('message', () => process.exit(0));
s.send('tgn', ${ECHO_PORT}, '${ADDR_B.join('.')}');`;

/** One UDP datagram from namespace A to B's echo server; true when the echo came back. */
function udpEcho(): boolean {
  const r = spawnSync('ip', ['netns', 'exec', NS_A, process.execPath, '-e', ECHO_CLIENT], { stdio: 'ignore' });
  return r.status === 0;
}

const STREAM_TOTAL = 300;
/**
 * Sends STREAM_TOTAL datagrams from A to B's echo (one per 3 ms) while `swap(n)` runs again and again (n = 1, 2,
 * ...); resolves with the number of echoes received (as printed) and of swaps.
 */
async function streamWhile(swap: (n: number) => Promise<unknown>): Promise<{ echoes: string; swaps: number }> {
  const stream = `const s = require('dgram').createSocket('udp4'); const got = new Set(); let i = 0;
    s.on('message', (m) => got.add(m.toString()));
    const t = setInterval(() => { s.send(String(i++), ${ECHO_PORT}, '${ADDR_B.join('.')}');
      if (i === ${STREAM_TOTAL}) { clearInterval(t); setTimeout(() => { console.log(got.size); process.exit(0); }, 500); } }, 3);`;
  const client = spawn('ip', ['netns', 'exec', NS_A, process.execPath, '-e', stream], { stdio: ['ignore', 'pipe', 'inherit'] });
  const output = new Promise<string>((resolve) => {
    let out = '';
    client.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    client.on('exit', () => resolve(out.trim()));
  });
  let swaps = 0;
  let clientDone = false;
  void output.then(() => { clientDone = true; });
  while (!clientDone && swaps < 5000) await swap(++swaps);
  return { echoes: await output, swaps };
}

function netnsList(): string[] {
  return execFileSync('ip', ['netns', 'list']).toString().split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
function lpmKey(prefixlen: number, addr: number[]): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(prefixlen);
  b.set(addr, 4);
  return b;
}
function sumPerCpu(map: BpfMap, key: Buffer): bigint {
  return (map.lookupPerCpu(key) ?? []).reduce((s, v) => s + v.readBigUInt64LE(0), 0n);
}

async function rejects(p: Promise<unknown>, check: (e: NativeError) => void): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof Error, 'expected a rejection');
  check(caught as NativeError);
}

function removeNetns(): void {
  for (const ns of [NS_A, NS_B]) if (netnsList().includes(ns)) sh('ip', 'netns', 'del', ns);
}

function loadedProgIds(): number[] {
  return (JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show']).toString()) as { id: number }[]).map((p) => p.id);
}

describe('native addon: tc hooks in a network namespace, real traffic', function () {
  this.timeout(60000);
  let tmp: string;
  let objPath: string;
  const objects: BpfObject[] = [];
  const progIds: number[] = [];
  let server: ChildProcess | undefined;

  async function loadVerdict(verdict: number): Promise<BpfObject> {
    const o = BpfObject.open(objPath);
    objects.push(o);
    o.setConst('verdict', u32(verdict));
    await o.load();
    progIds.push(o.program('tgn_verdict').id);
    return o;
  }

  function cleanup(): void {
    if (server && server.exitCode === null && server.pid) process.kill(server.pid);
    server = undefined;
    removeNetns();
    for (const o of objects) if (!o.closed) o.close();
  }

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tgn-fixtures-'));
    objPath = compileFixture('tc_verdict', tmp);
    ensureBpffs();
    removeNetns();
    sh('ip', 'netns', 'add', NS_A);
    sh('ip', 'netns', 'add', NS_B);
    sh('ip', 'link', 'add', IF_A, 'netns', NS_A, 'type', 'veth', 'peer', 'name', IF_B, 'netns', NS_B);
    sh('ip', '-n', NS_A, 'addr', 'add', `${ADDR_A.join('.')}/30`, 'dev', IF_A);
    sh('ip', '-n', NS_B, 'addr', 'add', `${ADDR_B.join('.')}/30`, 'dev', IF_B);
    for (const [ns, dev] of [[NS_A, IF_A], [NS_B, IF_B]]) {
      sh('ip', '-n', ns, 'link', 'set', dev, 'up');
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    }
    const srv = spawn('ip', ['netns', 'exec', NS_B, process.execPath, '-e', ECHO_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    server = srv;
    await new Promise<void>((resolve, reject) => {
      srv.stdout?.once('data', () => resolve());
      srv.once('exit', (code) => reject(new Error(`UDP echo server in ${NS_B} exited with ${code}`)));
    });
  });

  after(function () {
    cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('sees the interface only inside its namespace; no filters before attach; traffic flows', async function () {
    assert.ok(ifindex(IF_B, NS_B) > 1);
    assert.equal(ifindex(IF_B, `/var/run/netns/${NS_B}`), ifindex(IF_B, NS_B));
    assert.throws(() => ifindex(IF_B), (e: NativeError) => e.code === 'ENODEV' && e.syscall === 'if_nametoindex');
    assert.deepEqual(await listTc({ ifname: IF_B, netns: NS_B, direction: 'ingress' }), []);
    assert.equal(udpEcho(), true, 'baseline UDP echo');
  });

  it('attaches to ingress, lists it, counts the datagrams it passes, and obeys the deny trie', async function () {
    const o = await loadVerdict(0 /* TC_ACT_OK */);
    const prog = o.program('tgn_verdict');
    const r = await attachTc({ ifname: IF_B, netns: NS_B, direction: 'ingress', prog });
    assert.equal(r.handle, 1);
    assert.equal(r.priority, 1);
    assert.equal(r.progId, prog.id);
    assert.equal(r.qdiscCreated, true);
    const list = await listTc({ ifname: IF_B, netns: NS_B, direction: 'ingress' });
    assert.equal(list.length, 1);
    assert.deepEqual({ ...list[0], name: '' }, {
      handle: 1, priority: 1, progId: prog.id, name: '', kind: 'bpf', protocol: 0x0003 /* ETH_P_ALL */, chain: 0,
      directAction: true,
    });
    assert.match(list[0].name, /tgn_verdict/);
    assert.deepEqual(await listTc({ ifname: IF_B, netns: NS_B, direction: 'egress' }), []);

    const counts = o.map('counts');
    assert.equal(udpEcho(), true, 'verdict TC_ACT_OK passes');
    assert.ok(sumPerCpu(counts, u32(0)) >= 1n, 'the echo request went through the program');

    const deny = o.map('deny_v4');
    deny.update(lpmKey(32, ADDR_A), u32(1));
    assert.equal(udpEcho(), false, 'source denied by map contents');
    assert.ok(sumPerCpu(counts, u32(1)) >= 1n);
    deny.delete(lpmKey(32, ADDR_A));
    assert.equal(udpEcho(), true, 'allowed again after the delete');
  });

  it('replaces the program atomically at the same handle/priority', async function () {
    const drop = await loadVerdict(2 /* TC_ACT_SHOT */);
    const prog = drop.program('tgn_verdict');
    const r = await attachTc({ ifname: IF_B, netns: NS_B, direction: 'ingress', prog, handle: 1, priority: 1 });
    assert.equal(r.qdiscCreated, false, 'the clsact qdisc was already there');
    const list = await listTc({ ifname: IF_B, netns: NS_B, direction: 'ingress' });
    assert.deepEqual(list.map((f) => [f.handle, f.priority, f.progId]), [[1, 1, prog.id]]);
    assert.equal(udpEcho(), false, 'the replacement drops UDP');
    assert.ok(sumPerCpu(drop.map('counts'), u32(0)) >= 1n);
  });

  it('lists every filter on the hook, and detaches one at a time', async function () {
    const pass = await loadVerdict(0);
    const prog = pass.program('tgn_verdict');
    await attachTc({ ifname: IF_B, netns: NS_B, direction: 'ingress', prog, handle: 7, priority: 2 });
    const list = await listTc({ ifname: IF_B, netns: NS_B, direction: 'ingress' });
    assert.deepEqual(list.map((f) => [f.handle, f.priority]).sort(), [[1, 1], [7, 2]]);
    assert.equal(udpEcho(), false, 'priority 1 (drop) runs first and decides');

    await detachTc({ ifname: IF_B, netns: NS_B, direction: 'ingress', handle: 1, priority: 1 });
    assert.deepEqual((await listTc({ ifname: IF_B, netns: NS_B, direction: 'ingress' })).map((f) => f.progId), [prog.id]);
    assert.equal(udpEcho(), true, 'only the passing program is left');
    await detachTc({ ifname: IF_B, netns: NS_B, direction: 'ingress', handle: 7, priority: 2 });
    assert.deepEqual(await listTc({ ifname: IF_B, netns: NS_B, direction: 'ingress' }), []);

    await rejects(detachTc({ ifname: IF_B, netns: NS_B, direction: 'ingress', handle: 7, priority: 2 }), (e) => {
      assert.equal(e.code, 'ENOENT');
      assert.equal(e.errno, 2);
      assert.equal(e.syscall, 'bpf_tc_detach');
    });
  });

  it('replacing a passing program under traffic never opens a gap (a drop-all filter waits behind it)', async function () {
    // Priority 2 drops everything; priority 1 passes (TC_ACT_OK ends classification). If a replacement ever left
    // priority 1 empty, even for a moment, datagrams would reach priority 2 and be lost.
    const dropAll = await loadVerdict(2);
    await attachTc({ ifname: IF_B, netns: NS_B, direction: 'ingress', prog: dropAll.program('tgn_verdict'), handle: 9, priority: 2 });
    assert.equal(udpEcho(), false, 'the fallback filter drops');
    const a = await loadVerdict(0);
    const b = await loadVerdict(0);
    const progs = [a.program('tgn_verdict'), b.program('tgn_verdict')];
    await attachTc({ ifname: IF_B, netns: NS_B, direction: 'ingress', prog: progs[0] });
    assert.equal(udpEcho(), true, 'priority 1 passes before priority 2 is consulted');
    const { echoes, swaps } = await streamWhile((n) => attachTc({ ifname: IF_B, netns: NS_B, direction: 'ingress', prog: progs[n % 2] }));
    assert.equal(echoes, String(STREAM_TOTAL), `echoes received while priority 1 was replaced ${swaps} times`);
    assert.ok(swaps >= 10, `only ${swaps} replacements happened during the stream`);
    const list = await listTc({ ifname: IF_B, netns: NS_B, direction: 'ingress' });
    assert.deepEqual(list.map((f) => [f.priority, f.progId]).sort(),
      [[1, progs[swaps % 2].id], [2, dropAll.program('tgn_verdict').id]], 'still exactly two filters');
    await detachTc({ ifname: IF_B, netns: NS_B, direction: 'ingress', handle: 1, priority: 1 });
    await detachTc({ ifname: IF_B, netns: NS_B, direction: 'ingress', handle: 9, priority: 2 });
    if (process.env.TGN_VERBOSE) console.log(`      ${swaps} replacements during ${STREAM_TOTAL} datagrams`);
  });

  it('attaches to egress in the other namespace', async function () {
    const drop = await loadVerdict(2);
    await attachTc({ ifname: IF_A, netns: NS_A, direction: 'egress', prog: drop.program('tgn_verdict') });
    assert.equal((await listTc({ ifname: IF_A, netns: NS_A, direction: 'egress' })).length, 1);
    assert.deepEqual(await listTc({ ifname: IF_A, netns: NS_A, direction: 'ingress' }), []);
    assert.equal(udpEcho(), false, 'dropped on A egress');
    await detachTc({ ifname: IF_A, netns: NS_A, direction: 'egress', handle: 1, priority: 1 });
    assert.equal(udpEcho(), true);
  });

  it('concurrent work in different namespaces stays in its own namespace', async function () {
    const o = await loadVerdict(0);
    const prog = o.program('tgn_verdict');
    await attachTc({ ifname: IF_A, netns: NS_A, direction: 'egress', prog, handle: 3, priority: 3 });
    await attachTc({ ifname: IF_B, netns: NS_B, direction: 'ingress', prog, handle: 5, priority: 5 });
    // Many workers at once on the libuv pool, alternating namespaces (and the host): a pool thread left in the
    // wrong namespace would make one of these fail with ENODEV or list the other side's filter.
    const jobs = Array.from({ length: 48 }, (_, i) => i % 3 === 0
      ? listTc({ ifname: IF_A, netns: NS_A, direction: 'egress' }).then((l) => ['A', l.map((f) => f.handle)])
      : i % 3 === 1
        ? listTc({ ifname: IF_B, netns: NS_B, direction: 'ingress' }).then((l) => ['B', l.map((f) => f.handle)])
        : listTc({ ifname: 'lo', direction: 'ingress' }).then((l) => ['host', l.length]));
    for (const [where, got] of await Promise.all(jobs)) {
      assert.deepEqual(got, where === 'A' ? [3] : where === 'B' ? [5] : 0, `listing in ${where}`);
    }
    await detachTc({ ifname: IF_A, netns: NS_A, direction: 'egress', handle: 3, priority: 3 });
    await detachTc({ ifname: IF_B, netns: NS_B, direction: 'ingress', handle: 5, priority: 5 });
  });

  it('removeClsact refuses while filters remain, then removes the qdisc', async function () {
    const o = await loadVerdict(0);
    await attachTc({ ifname: IF_B, netns: NS_B, direction: 'egress', prog: o.program('tgn_verdict') });
    await rejects(removeClsact({ ifname: IF_B, netns: NS_B }), (e) => {
      assert.equal(e.code, 'ENOTEMPTY');
      assert.match(e.message, /^removeClsact: 'tgnvb' still has filters: egress handle 1 priority 1 \(bpf tgn_verdict/);
    });
    const qdiscs = (): string => execFileSync('tc', ['-n', NS_B, 'qdisc', 'show', 'dev', IF_B]).toString();
    assert.match(qdiscs(), /clsact/);
    assert.equal(await removeClsact({ ifname: IF_B, netns: NS_B, force: true }), true);
    assert.doesNotMatch(qdiscs(), /clsact/);
    assert.deepEqual(await listTc({ ifname: IF_B, netns: NS_B, direction: 'egress' }), []);
    assert.equal(await removeClsact({ ifname: IF_B, netns: NS_B }), false, 'nothing left to remove');
    assert.equal(udpEcho(), true);
  });

  it('errors name what is missing: a namespace, an interface', async function () {
    const o = await loadVerdict(0);
    const prog = o.program('tgn_verdict');
    await rejects(attachTc({ ifname: IF_B, netns: 'tgn-no-such-ns', direction: 'ingress', prog }), (e) => {
      assert.equal(e.code, 'ENOENT');
      assert.equal(e.syscall, 'open');
      assert.match(e.message, /network namespace '\/var\/run\/netns\/tgn-no-such-ns'/);
    });
    await rejects(attachTc({ ifname: 'tgnnope', netns: NS_B, direction: 'ingress', prog }), (e) => {
      assert.equal(e.code, 'ENODEV');
      assert.equal(e.syscall, 'if_nametoindex');
      assert.match(e.message, new RegExp(`no interface named 'tgnnope' in netns /var/run/netns/${NS_B}`));
    });
    // The JS thread never changed namespace: the host still has no such interface.
    assert.throws(() => ifindex(IF_B), (e: NativeError) => e.code === 'ENODEV');
  });

  it('tcx: attach first in the hook, list in order, replace in place, detach; no clsact qdisc involved', async function () {
    if (!tcxSupported()) this.skip();
    const hook = { ifname: IF_B, netns: NS_B, direction: 'ingress' } as const;
    assert.deepEqual((await tcxList(hook)).programs, []);
    const drop = (await loadVerdict(2)).program('tgn_verdict');
    const pass = (await loadVerdict(0)).program('tgn_verdict');
    const drop2 = (await loadVerdict(2)).program('tgn_verdict');
    assert.deepEqual(await tcxAttach({ ...hook, prog: drop }), { progId: drop.id });
    assert.equal(udpEcho(), false, 'the tcx program drops');
    assert.deepEqual(await listTc(hook), [], 'no cls_bpf filter: tcx is its own hook');
    const r0 = (await tcxList(hook)).revision;
    await tcxAttach({ ...hook, prog: pass });
    assert.equal(udpEcho(), true, 'the new program runs first and its PASS ends the hook');
    const l1 = await tcxList(hook);
    assert.deepEqual(l1.programs, [{ progId: pass.id, name: 'tgn_verdict' }, { progId: drop.id, name: 'tgn_verdict' }]);
    assert.ok(l1.revision > r0, `revision ${l1.revision} after ${r0}`);
    await tcxAttach({ ...hook, prog: drop2, replaceProgId: pass.id });
    assert.deepEqual((await tcxList(hook)).programs.map((p) => p.progId), [drop2.id, drop.id], 'replaced in place');
    assert.equal(udpEcho(), false);
    await tcxDetach({ ...hook, progId: drop2.id });
    await tcxDetach({ ...hook, progId: drop.id });
    assert.deepEqual((await tcxList(hook)).programs, []);
    assert.equal(udpEcho(), true);
  });

  it('tcx runs before clsact: PASS/DROP end the hook, TCX_NEXT hands the packet on', async function () {
    if (!tcxSupported()) this.skip();
    const hook = { ifname: IF_B, netns: NS_B, direction: 'ingress' } as const;
    await attachTc({ ...hook, prog: (await loadVerdict(2)).program('tgn_verdict'), handle: 4, priority: 4 });
    assert.equal(udpEcho(), false, 'the cls_bpf filter drops');
    const pass = (await loadVerdict(0)).program('tgn_verdict');
    const next = (await loadVerdict(0xffffffff)).program('tgn_verdict'); // -1: TCX_NEXT
    await tcxAttach({ ...hook, prog: pass });
    assert.equal(udpEcho(), true, 'tcx PASS: clsact never sees the packet');
    await tcxAttach({ ...hook, prog: next, replaceProgId: pass.id });
    assert.equal(udpEcho(), false, 'TCX_NEXT: clsact decides');
    await tcxDetach({ ...hook, progId: next.id });
    await detachTc({ ...hook, handle: 4, priority: 4 });
    assert.equal(udpEcho(), true);
  });

  it('tcx: replacing a passing program under traffic never opens a gap (a drop-all program waits behind it)', async function () {
    if (!tcxSupported()) this.skip();
    const hook = { ifname: IF_B, netns: NS_B, direction: 'ingress' } as const;
    const dropAll = (await loadVerdict(2)).program('tgn_verdict');
    await tcxAttach({ ...hook, prog: dropAll });
    const progs = [(await loadVerdict(0)).program('tgn_verdict'), (await loadVerdict(0)).program('tgn_verdict')];
    await tcxAttach({ ...hook, prog: progs[0] });
    assert.equal(udpEcho(), true);
    const { echoes, swaps } = await streamWhile((n) => tcxAttach({ ...hook, prog: progs[n % 2], replaceProgId: progs[(n + 1) % 2].id }));
    assert.equal(echoes, String(STREAM_TOTAL), `echoes received while the first tcx program was replaced ${swaps} times`);
    assert.ok(swaps >= 10, `only ${swaps} replacements happened during the stream`);
    assert.deepEqual((await tcxList(hook)).programs.map((p) => p.progId), [progs[swaps % 2].id, dropAll.id]);
    await tcxDetach({ ...hook, progId: progs[swaps % 2].id });
    await tcxDetach({ ...hook, progId: dropAll.id });
  });

  it('tcx errors name the hook, the netns and the errno; arguments are checked first', async function () {
    if (!tcxSupported()) this.skip();
    const hook = { ifname: IF_B, netns: NS_B, direction: 'egress' } as const;
    const prog = (await loadVerdict(0)).program('tgn_verdict');
    await rejects(tcxDetach({ ...hook, progId: prog.id }), (e) => {
      assert.equal(e.code, 'ENOENT');
      assert.equal(e.syscall, 'bpf(BPF_PROG_DETACH)');
      assert.match(e.message, new RegExp(`^detaching program ${prog.id} from tcx 'tgnvb' egress in netns /var/run/netns/${NS_B} failed: .*\\(ENOENT\\)`));
    });
    await rejects(tcxAttach({ ...hook, prog, replaceProgId: prog.id }), (e) => {
      assert.equal(e.code, 'ENOENT');
      assert.match(e.message, /attaching to tcx 'tgnvb' egress in netns .* is not on that hook/s);
    });
    await tcxAttach({ ...hook, prog });
    await rejects(tcxAttach({ ...hook, prog }), (e) => assert.equal(e.code, 'EEXIST'));
    await tcxDetach({ ...hook, progId: prog.id });
    await rejects(tcxList({ ifname: 'tgnnope', netns: NS_B, direction: 'ingress' }), (e) => assert.equal(e.code, 'ENODEV'));
    assert.throws(() => tcxAttach({ ...hook, prog, replaceProgId: 0 }),
      (e: NativeError) => e.code === 'ERR_INVALID_ARG' && e.message === 'tcxAttach: replaceProgId must be an integer from 1 to 4294967295, got 0');
    assert.throws(() => tcxDetach({ ...hook, progId: -1 }),
      (e: NativeError) => e.code === 'ERR_INVALID_ARG' && e.message === 'tcxDetach: progId must be an integer from 1 to 4294967295, got -1');
    assert.deepEqual((await tcxList(hook)).programs, []);
  });

  it('cleanup leaves no namespace and no program behind', async function () {
    cleanup();
    const left = netnsList().filter((n) => n === NS_A || n === NS_B);
    assert.deepEqual(left, []);
    // Filters die with the veth when the namespace goes (asynchronously in the kernel): wait for it.
    let still: number[] = [];
    for (let i = 0; i < 50; i++) {
      const ids = new Set(loadedProgIds());
      still = progIds.filter((id) => ids.has(id));
      if (still.length === 0) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.deepEqual(still, [], 'programs still loaded after cleanup');
  });
});
