// Kernel tests of the native addon (objects, const globals, maps, pins, test runs, errors). Real kernel, no
// mocks: a machine without BPF fails these tests. Kernel objects carry the `tgn` prefix and are removed in
// after hooks.
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as v8 from 'v8';
import * as vm from 'vm';
import { Worker } from 'worker_threads';

import {
  BpfMap, BpfObject, BpfProgram, InvalidArgumentError, NativeError, TestRunOptions, attachTc, ensureBpffs, ifindex, listTc,
  numPossibleCpus, unpin,
} from '../compiler/load/native';

const FIXTURES = path.join(__dirname, 'fixtures', 'bpf');
const PIN_DIR = `/sys/fs/bpf/tollgate-test-tgn-${process.pid}`;

/** Compiles a fixture the way the compiler does (clang -O2 -g -target bpf) into a temp dir. */
function compileFixture(name: string, outDir: string): string {
  const out = path.join(outDir, `${name}.o`);
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${os.arch() === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
    '-c', path.join(FIXTURES, `${name}.bpf.c`), '-o', out]);
  return out;
}

/** An Ethernet + IPv4 packet (ICMP echo unless proto says otherwise) from src to dst. */
function ipv4Packet(src: number[], dst: number[], proto = 1): Buffer {
  const p = Buffer.alloc(64);
  p.writeUInt16BE(0x0800, 12);
  p[14] = 0x45;
  p.writeUInt16BE(50, 16);
  p[22] = 64;
  p[23] = proto;
  p.set(src, 26);
  p.set(dst, 30);
  return p;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
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
function throws(f: () => unknown, check: (e: NativeError) => void): void {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof Error, 'expected an exception');
  check(caught as NativeError);
}

describe('native addon: objects, maps, programs', function () {
  this.timeout(60000);
  let tmp: string;
  let verdictObj: string;
  let badObj: string;
  const opened: BpfObject[] = [];
  const open = (p: string): BpfObject => {
    const o = BpfObject.open(p);
    opened.push(o);
    return o;
  };

  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tgn-fixtures-'));
    verdictObj = compileFixture('tc_verdict', tmp);
    badObj = compileFixture('bad_verifier', tmp);
    ensureBpffs();
  });

  after(function () {
    for (const o of opened) if (!o.closed) o.close();
    fs.rmSync(PIN_DIR, { recursive: true, force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('ensureBpffs leaves a BPF filesystem at /sys/fs/bpf', function () {
    assert.equal(ensureBpffs(), false, 'second call must find it mounted');
    const type = execFileSync('stat', ['-f', '-c', '%T', '/sys/fs/bpf']).toString().trim();
    assert.equal(type, 'bpf_fs');
  });

  it('ensureBpffs mounts bpffs when /sys/fs/bpf is not one (in a private mount namespace)', function () {
    // The child hides the host's bpffs under a tmpfs in its own mount namespace; the host is not touched.
    const addonPath = path.join(__dirname, '..', 'build', 'Release', 'tollgate_native.node');
    const script = `const fs = require('fs'); const cp = require('child_process');
      cp.execFileSync('mount', ['-t', 'tmpfs', 'tgn-hide', '/sys/fs/bpf']);
      const before = cp.execFileSync('stat', ['-f', '-c', '%T', '/sys/fs/bpf']).toString().trim();
      const a = require(${JSON.stringify(addonPath)});
      const first = a.ensureBpffs(); const second = a.ensureBpffs();
      const after = cp.execFileSync('stat', ['-f', '-c', '%T', '/sys/fs/bpf']).toString().trim();
      console.log(JSON.stringify({ before, first, second, after }));`;
    const out = execFileSync('unshare', ['--mount', '--propagation', 'private', process.execPath, '-e', script]).toString();
    assert.deepEqual(JSON.parse(out), { before: 'tmpfs', first: true, second: false, after: 'bpf_fs' });
    assert.equal(execFileSync('stat', ['-f', '-c', '%T', '/sys/fs/bpf']).toString().trim(), 'bpf_fs', 'host untouched');
  });

  it('a missing addon gives an error that says how to build it', function () {
    const script = `try { require(${JSON.stringify(path.join(__dirname, '..', 'compiler', 'load', 'native'))}).numPossibleCpus(); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const out = execFileSync(process.execPath, ['-r', 'tsx/cjs', '-e', script],
      { env: { ...process.env, TOLLGATE_NATIVE: path.join(tmp, 'missing.node') } }).toString();
    const e = JSON.parse(out) as { code: string; message: string };
    assert.equal(e.code, 'ERR_NATIVE_MISSING');
    assert.match(e.message, /tollgate_native.node is not built \(looked in .*missing\.node\)/);
    assert.match(e.message, /`npm run build:native` \(or `bash scripts\/setup.sh`/);
  });

  it('numPossibleCpus matches /sys/devices/system/cpu/possible', function () {
    const spec = fs.readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    const n = spec.split(',').reduce((s, r) => {
      const [a, b] = r.split('-').map(Number);
      return s + (b === undefined ? 1 : b - a + 1);
    }, 0);
    assert.equal(numPossibleCpus(), n);
  });

  it('opens, lists consts/maps/programs, loads, and runs the program (default verdict TC_ACT_OK)', async function () {
    const o = open(verdictObj);
    assert.equal(o.loaded, false);
    assert.deepEqual(o.consts(), [{ name: 'verdict', offset: 0, size: 4 }, { name: 'marker', offset: 8, size: 8 }]);
    assert.deepEqual(o.programNames(), ['tgn_verdict']);
    for (const m of ['counts', 'deny_v4', 'scratch']) assert.ok(o.mapNames().includes(m));
    await o.load();
    assert.equal(o.loaded, true);
    const p = o.program('tgn_verdict');
    assert.equal(p.type, 'sched_cls');
    assert.ok(p.id > 0 && p.fd > 0);
    const r = await p.testRun({ data: ipv4Packet([10, 0, 0, 1], [10, 0, 0, 2]), repeat: 100 });
    assert.equal(r.retval, 0);
    assert.equal(r.dataOut.length, 64);
    assert.ok(r.duration >= 0);
    const counts = o.map('counts');
    assert.equal(sumPerCpu(counts, u32(0)), 100n, 'counter of verdict packets');
    assert.equal(sumPerCpu(counts, u32(2)), 0n);
    // A TCP packet is not the program's business: it passes and is counted in slot 2.
    const tcp = await p.testRun({ data: ipv4Packet([10, 0, 0, 1], [10, 0, 0, 2], 6) });
    assert.equal(tcp.retval, 0);
    assert.equal(sumPerCpu(counts, u32(2)), 1n);
  });

  it('setConst changes the verdict the kernel returns', async function () {
    for (const v of [2 /* TC_ACT_SHOT */, 0 /* TC_ACT_OK */, 7 /* TC_ACT_REDIRECT as a plain number */]) {
      const o = open(verdictObj);
      o.setConst('verdict', u32(v));
      await o.load();
      const r = await o.program('tgn_verdict').testRun({ data: ipv4Packet([10, 0, 0, 1], [10, 0, 0, 2]) });
      assert.equal(r.retval, v);
      o.close();
    }
  });

  it('setConst refuses unknown names, wrong sizes and calls after load', async function () {
    const o = open(verdictObj);
    throws(() => o.setConst('nope', u32(1)), (e) => {
      assert.equal(e.code, 'ENOENT');
      assert.equal(e.errno, 2);
      assert.match(e.message, /no `const volatile` variable named 'nope'.*found: verdict, marker/);
    });
    throws(() => o.setConst('marker', u32(1)), (e) => {
      assert.equal(e.code, 'EINVAL');
      assert.match(e.message, /'marker' is 8 bytes, the value is 4 bytes/);
    });
    throws(() => o.setConst('verdict', 'x' as unknown as Buffer), (e) => {
      assert.ok(e instanceof InvalidArgumentError);
      assert.equal(e.message, "BpfObject.setConst: value must be a Buffer, got 'x'");
    });
    await o.load();
    throws(() => o.setConst('verdict', u32(1)), (e) => assert.equal(e.code, 'ERR_BPF_LOADED'));
    throws(() => o.setMapMaxEntries('scratch', 8), (e) => assert.equal(e.code, 'ERR_BPF_LOADED'));
  });

  it('setMapMaxEntries sizes a map before load', async function () {
    const o = open(verdictObj);
    o.setMapMaxEntries('scratch', 77);
    await o.load();
    assert.equal(o.map('scratch').maxEntries, 77);
    throws(() => o.map('missing'), (e) => {
      assert.equal(e.code, 'ENOENT');
      assert.equal(e.message.split('\n')[1], `no map named 'missing' in '${verdictObj}' (maps: ${o.mapNames().join(', ')})`);
    });
    throws(() => o.program('missing'), (e) => {
      assert.equal(e.code, 'ENOENT');
      assert.equal(e.message.split('\n')[1], `no program named 'missing' in '${verdictObj}' (programs: tgn_verdict)`);
    });
  });

  it('hash map: update/lookup/delete/keys, flags, and batch updates', async function () {
    const o = open(verdictObj);
    await o.load();
    const m = o.map('scratch');
    assert.equal(m.type, 'hash');
    assert.equal(m.keySize, 4);
    assert.equal(m.valueSize, 8);
    assert.equal(m.lookup(u32(5)), null);
    m.update(u32(5), u64(500));
    assert.deepEqual(m.lookup(u32(5)), u64(500));
    throws(() => m.update(u32(5), u64(1), 'noexist'), (e) => {
      assert.equal(e.code, 'EEXIST');
      assert.equal(e.errno, 17);
      assert.equal(e.syscall, 'bpf_map_update_elem');
    });
    throws(() => m.update(u32(6), u64(1), 'exist'), (e) => assert.equal(e.code, 'ENOENT'));
    m.update(u32(5), u64(501), 'exist');
    assert.deepEqual(m.lookup(u32(5)), u64(501));
    assert.equal(m.delete(u32(5)), true);
    assert.equal(m.delete(u32(5)), false);

    const n = 1000;
    const keys = Buffer.alloc(n * 4);
    const values = Buffer.alloc(n * 8);
    for (let i = 0; i < n; i++) {
      keys.writeUInt32LE(i + 100, i * 4);
      values.writeBigUInt64LE(BigInt(i * 3), i * 8);
    }
    await m.updateBatch(keys, values, n);
    const got = m.keys().map((k) => k.readUInt32LE(0)).sort((a, b) => a - b);
    assert.equal(got.length, n);
    assert.equal(got[0], 100);
    assert.equal(got[n - 1], 100 + n - 1);
    assert.deepEqual(m.lookup(u32(100 + 777)), u64(777 * 3));

    throws(() => m.lookup(Buffer.alloc(3)), (e) => assert.equal(e.message,
      "BpfMap.lookup (map 'scratch'): key must be a Buffer of 4 bytes (the key size), got a Buffer of 3 bytes"));
    throws(() => m.update(u32(1), u64(1), 'maybe' as 'any'), (e) => assert.equal(e.message,
      "BpfMap.update (map 'scratch'): flags must be 'any', 'noexist' or 'exist', got 'maybe'"));
    await rejects(Promise.resolve().then(() => m.updateBatch(keys, values, n + 1)), (e) =>
      assert.equal(e.message, "BpfMap.updateBatch (map 'scratch'): keys must be a Buffer of 4004 bytes " +
        '(1001 keys of 4 bytes), got a Buffer of 4000 bytes'));
  });

  it('updateBatch reads the caller\'s Buffers while its worker runs: collected garbage and reused memory around it change nothing', async function () {
    // The addon holds the Buffers (no copy) until the worker is done. Here nothing else references them once the
    // call returns; the loop below collects garbage and allocates same-sized junk while the batch is written, so
    // a worker reading Buffers nobody holds would write junk (or fail with EFAULT).
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const n = 1 << 17;
    const o = open(verdictObj);
    o.setMapMaxEntries('scratch', n);
    await o.load();
    const m = o.map('scratch');
    const start = (): Promise<void> => {
      const keys = Buffer.alloc(n * 4);
      const values = Buffer.alloc(n * 8);
      for (let i = 0; i < n; i++) {
        keys.writeUInt32LE(i, i * 4);
        values.writeBigUInt64LE(BigInt(i) * 7n + 1n, i * 8);
      }
      return m.updateBatch(keys, values, n);
    };
    let settled = false;
    const done = start().finally(() => (settled = true));
    let rounds = 0;
    const junk: Buffer[] = [];
    while (!settled) {
      gc();
      junk.splice(0, junk.length, Buffer.alloc(n * 4, 0xa5), Buffer.alloc(n * 8, 0xa5));
      rounds++;
      await new Promise((r) => setImmediate(r));
    }
    await done;
    // every key holds its value; the map has room for n entries, so there is no junk key beside them
    let wrong = 0;
    for (let i = 0; i < n; i++) if (m.lookup(u32(i))?.readBigUInt64LE(0) !== BigInt(i) * 7n + 1n) wrong++;
    assert.equal(wrong, 0, `${wrong} of ${n} entries are not what was written (${rounds} collections while the batch ran)`);
  });

  it('LPM trie (IPv4 key): longest-prefix lookups, batch update falls back to a loop, and the program obeys it', async function () {
    const o = open(verdictObj);
    await o.load();
    const m = o.map('deny_v4');
    assert.equal(m.type, 'lpm_trie');
    assert.equal(m.keySize, 8);
    m.update(lpmKey(8, [10, 0, 0, 0]), u32(8));
    m.update(lpmKey(24, [10, 1, 2, 0]), u32(24));
    assert.deepEqual(m.lookup(lpmKey(32, [10, 1, 2, 3])), u32(24), 'the /24 is the longest match');
    assert.deepEqual(m.lookup(lpmKey(32, [10, 9, 9, 9])), u32(8));
    assert.equal(m.lookup(lpmKey(32, [11, 0, 0, 1])), null);

    // LPM tries have no BPF_MAP_UPDATE_BATCH; the addon must fall back to element updates.
    const n = 300;
    const keys = Buffer.alloc(n * 8);
    const values = Buffer.alloc(n * 4);
    for (let i = 0; i < n; i++) {
      lpmKey(32, [192, 168, i >> 8, i & 0xff]).copy(keys, i * 8);
      values.writeUInt32LE(1000 + i, i * 4);
    }
    await m.updateBatch(keys, values, n);
    assert.equal(m.keys().length, n + 2);
    assert.deepEqual(m.lookup(lpmKey(32, [192, 168, 1, 3])), u32(1000 + 259));

    const p = o.program('tgn_verdict');
    const counts = o.map('counts');
    assert.equal((await p.testRun({ data: ipv4Packet([192, 168, 0, 7], [10, 0, 0, 2]) })).retval, 2, 'denied source');
    assert.equal((await p.testRun({ data: ipv4Packet([172, 16, 0, 1], [10, 0, 0, 2]) })).retval, 0);
    assert.equal(m.delete(lpmKey(32, [192, 168, 0, 7])), true);
    assert.equal((await p.testRun({ data: ipv4Packet([192, 168, 0, 7], [10, 0, 0, 2]) })).retval, 0, 'allowed after delete');
    assert.equal(sumPerCpu(counts, u32(1)), 1n);
    assert.equal(sumPerCpu(counts, u32(0)), 2n);
  });

  it('per-CPU array: values are round_up(valueSize, 8) * nCPU bytes, CPU after CPU', async function () {
    const o = open(verdictObj);
    await o.load();
    const m = o.map('counts');
    const ncpu = numPossibleCpus();
    assert.equal(m.perCpu, true);
    assert.equal(m.valueBytes, 8 * ncpu);
    const v = Buffer.alloc(8 * ncpu);
    for (let c = 0; c < ncpu; c++) v.writeBigUInt64LE(BigInt(c + 11), c * 8);
    m.update(u32(1), v);
    const per = m.lookupPerCpu(u32(1));
    assert.ok(per);
    assert.deepEqual(per.map((b) => b.readBigUInt64LE(0)), Array.from({ length: ncpu }, (_, c) => BigInt(c + 11)));
    assert.equal(m.keys().length, 3);
    throws(() => m.update(u32(1), u64(1)), (e) => assert.match(e.message,
      /^BpfMap.update \(map 'counts'\): value must be a Buffer of \d+ bytes \(round_up\(valueSize 8, 8\) \* \d+ CPUs\), got a Buffer of 8 bytes$/));
    throws(() => m.delete(u32(0)), (e) => {
      assert.equal(e.code, 'EINVAL', 'array elements cannot be deleted');
      assert.equal(e.syscall, 'bpf_map_delete_elem');
    });
    assert.equal(m.lookup(u32(3)), null, 'an index past the end is not found');
  });

  it('pin, openPinned, reuseMap and unpin', async function () {
    const o = open(verdictObj);
    await o.load();
    const m = o.map('deny_v4');
    m.update(lpmKey(32, [10, 200, 0, 1]), u32(1));
    const pin = `${PIN_DIR}/maps/deny_v4`;
    m.pin(pin);
    const p = BpfMap.openPinned(pin);
    assert.equal(p.id, m.id);
    assert.equal(p.type, 'lpm_trie');
    assert.deepEqual(p.lookup(lpmKey(32, [10, 200, 0, 1])), u32(1));

    // A second generation of the object shares the pinned map, so the deny entry applies to it at once.
    const o2 = open(verdictObj);
    o2.reuseMap('deny_v4', pin);
    await o2.load();
    assert.equal(o2.map('deny_v4').id, m.id);
    const r = await o2.program('tgn_verdict').testRun({ data: ipv4Packet([10, 200, 0, 1], [10, 0, 0, 2]) });
    assert.equal(r.retval, 2);

    // reuseMap refuses a pinned map of another shape.
    const o3 = open(verdictObj);
    throws(() => o3.reuseMap('scratch', pin), (e) => {
      assert.equal(e.code, 'EINVAL');
      assert.match(e.message, /pinned map is lpm_trie key 8 value 4, the object's map is hash key 4 value 8/);
    });

    const progPin = `${PIN_DIR}/progs/tgn_verdict`;
    o2.program('tgn_verdict').pin(progPin);
    throws(() => BpfMap.openPinned(progPin), (e) => {
      assert.equal(e.code, 'EINVAL');
      assert.match(e.message, /is not a BPF map \(it is anon_inode:bpf-prog\)/);
    });
    unpin(progPin);

    p.close();
    m.unpin(pin);
    throws(() => BpfMap.openPinned(pin), (e) => {
      assert.equal(e.code, 'ENOENT');
      assert.equal(e.errno, 2);
      assert.equal(e.syscall, 'bpf_obj_get');
    });
    throws(() => unpin(pin), (e) => {
      assert.equal(e.code, 'ENOENT');
      assert.equal(e.syscall, 'unlink');
    });
    throws(() => m.pin('/tmp/x'), (e) => assert.equal(e.message,
      "BpfMap.pin (map 'deny_v4'): path must be an absolute path of a file under /sys/fs/bpf/, got '/tmp/x'"));
  });

  it('a program the verifier rejects fails load() with the verifier log in the message', async function () {
    const o = open(badObj);
    await rejects(o.load(), (e) => {
      assert.equal(e.code, 'EACCES');
      assert.equal(e.errno, 13);
      assert.equal(e.syscall, 'bpf_object__load');
      assert.match(e.message, /verifier log \(tail\):/);
      assert.match(e.message, /invalid access to packet/);
      assert.ok(e.verifierLog && e.verifierLog.includes('R1 offset is outside of the packet'));
    });
    assert.equal(o.loaded, false);
    throws(() => o.program('tgn_unchecked'), (e) => assert.equal(e.code, 'ERR_BPF_NOT_LOADED'));
  });

  it('without privileges, load() fails with EPERM and says which capabilities are needed', function () {
    // A copy of the addon and the object that user nobody can read, then node as nobody with no capabilities.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tgn-unpriv-'));
    try {
      fs.chmodSync(dir, 0o755);
      const addonPath = path.join(dir, 'tollgate_native.node');
      fs.copyFileSync(path.join(__dirname, '..', 'build', 'Release', 'tollgate_native.node'), addonPath);
      fs.copyFileSync(verdictObj, path.join(dir, 'o.o'));
      for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o755);
      const script = `const a = require(${JSON.stringify(addonPath)});
        new a.NativeObject(${JSON.stringify(path.join(dir, 'o.o'))}).load().then(
          () => console.log('{"loaded":true}'),
          (e) => console.log(JSON.stringify({ message: e.message, code: e.code, errno: e.errno, syscall: e.syscall })));`;
      const out = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all',
        '--bounding-set=-all', process.execPath, '-e', script], { cwd: dir }).toString();
      const e = JSON.parse(out) as { message: string; code: string; errno: number; syscall: string };
      assert.equal(e.code, 'EPERM');
      assert.equal(e.errno, 1);
      assert.equal(e.syscall, 'bpf_object__load');
      assert.match(e.message, /needs root or CAP_BPF\+CAP_NET_ADMIN/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('open() of a missing or non-ELF file fails with ENOENT / a libbpf error', function () {
    throws(() => BpfObject.open(path.join(tmp, 'missing.o')), (e) => {
      assert.equal(e.code, 'ENOENT');
      assert.equal(e.syscall, 'bpf_object__open_file');
    });
    const junk = path.join(tmp, 'junk.o');
    fs.writeFileSync(junk, 'not an ELF file');
    throws(() => BpfObject.open(junk), (e) => {
      assert.equal(typeof e.errno, 'number');
      assert.equal(e.syscall, 'bpf_object__open_file');
    });
    throws(() => BpfObject.open(''), (e) => assert.equal(e.message, "BpfObject.open: path must be a non-empty string, got ''"));
  });

  it('closing an object closes the map and program handles taken from it', async function () {
    const o = open(verdictObj);
    await o.load();
    const m = o.map('scratch');
    const p = o.program('tgn_verdict');
    const id = p.id;
    o.close();
    assert.equal(o.closed, true);
    assert.equal(m.fd, -1);
    assert.equal(p.fd, -1);
    throws(() => m.lookup(u32(0)), (e) => {
      assert.equal(e.code, 'ERR_BPF_CLOSED');
      assert.match(e.message, /its object was closed/);
    });
    await rejects(Promise.resolve().then(() => p.testRun({ data: ipv4Packet([1, 1, 1, 1], [2, 2, 2, 2]) })),
      (e) => assert.equal(e.code, 'ERR_BPF_CLOSED'));
    // With every fd closed the kernel frees the program.
    const ids = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show']).toString()) as { id: number }[];
    assert.ok(!ids.some((x) => x.id === id), `program ${id} still loaded after close()`);
  });

  it('a worker thread that uses the addon and exits leaves the handles of this thread open', async function () {
    // The exit-time cleanup closes the handles of the environment that goes away, not those of every thread.
    const o = open(verdictObj);
    await o.load();
    const m = o.map('scratch');
    const p = o.program('tgn_verdict');
    m.update(u32(5), u64(7));
    const addonPath = path.resolve(__dirname, '..', 'build', 'Release', 'tollgate_native.node');
    const code = `const a = require(${JSON.stringify(addonPath)});
      const o = new a.NativeObject(${JSON.stringify(verdictObj)});
      o.load().then(() => { o.map('scratch'); o.program('tgn_verdict'); process.exit(0); });`;
    const exitCode = await new Promise<number>((resolve, reject) => {
      const w = new Worker(code, { eval: true });
      w.once('error', reject);
      w.once('exit', resolve);
    });
    assert.equal(exitCode, 0);
    assert.equal(o.loaded, true);
    assert.ok(m.fd >= 0 && p.fd >= 0, `handles closed by the worker's exit (map fd ${m.fd}, program fd ${p.fd})`);
    assert.deepEqual(m.lookup(u32(5)), u64(7));
    assert.equal((await p.testRun({ data: ipv4Packet([1, 1, 1, 1], [2, 2, 2, 2]) })).retval, 0);
  });

  describe('testRun with an ifindex', function () {
    // A veth pair in the test's own namespace (no dummy driver on every kernel); deleting one end removes both.
    // Named after the pid: the suite may run twice at once on one machine.
    const DEV = `tgnv${process.pid}`;
    before(function () {
      execFileSync('ip', ['link', 'add', DEV, 'type', 'veth', 'peer', 'name', `tgnp${process.pid}`]);
      execFileSync('ip', ['link', 'set', DEV, 'up']);
    });
    after(function () {
      if (fs.existsSync(`/sys/class/net/${DEV}`)) execFileSync('ip', ['link', 'del', DEV]);
    });

    it('the kernel honours ctx ifindex: skb->ifindex reads it', async function () {
      const o = open(verdictObj);
      await o.load();
      const idx = ifindex(DEV);
      assert.ok(idx > 1);
      const p = o.program('tgn_verdict');
      const scratch = o.map('scratch');
      await p.testRun({ data: ipv4Packet([1, 1, 1, 1], [2, 2, 2, 2]) });
      assert.deepEqual(scratch.lookup(u32(0)), u64(1), 'without ifindex the skb is on loopback');
      await p.testRun({ data: ipv4Packet([1, 1, 1, 1], [2, 2, 2, 2]), ifindex: idx });
      assert.deepEqual(scratch.lookup(u32(0)), u64(idx));
      await rejects(p.testRun({ data: ipv4Packet([1, 1, 1, 1], [2, 2, 2, 2]), ifindex: 0x7ffffff0 }), (e) => {
        assert.equal(e.code, 'ENODEV');
        assert.equal(e.syscall, 'bpf_prog_test_run_opts');
      });
    });
  });

  it('testRun validates its options before any native call, with exact messages', async function () {
    const o = open(verdictObj);
    await o.load();
    const p = o.program('tgn_verdict');
    const fn = "BpfProgram.testRun (program 'tgn_verdict')";
    const pkt = ipv4Packet([1, 1, 1, 1], [2, 2, 2, 2]);
    const cases: [unknown, string][] = [
      [null, `${fn}: opts must be an object, got null`],
      [{ data: 'x' }, `${fn}: opts.data must be a Buffer, got 'x'`],
      [{ data: Buffer.alloc(0) }, `${fn}: opts.data must be a non-empty Buffer, got a Buffer of 0 bytes`],
      [{ data: pkt, repeat: 0 }, `${fn}: opts.repeat must be an integer from 1 to 4294967295, got 0`],
      [{ data: pkt, ifindex: 0 }, `${fn}: opts.ifindex must be an integer from 1 to 4294967295, got 0`],
      [{ data: pkt, dataSizeOut: 0 }, `${fn}: opts.dataSizeOut must be an integer from 1 to 65536, got 0`],
      // The output buffer is allocated before the run: no packet is larger than 64 KiB, no buffer either.
      [{ data: pkt, dataSizeOut: 65537 }, `${fn}: opts.dataSizeOut must be an integer from 1 to 65536, got 65537`],
    ];
    for (const [opts, message] of cases) {
      throws(() => p.testRun(opts as TestRunOptions), (e) => {
        assert.ok(e instanceof InvalidArgumentError, message);
        assert.equal(e.message, message);
      });
    }
    assert.equal((await p.testRun({ data: pkt, dataSizeOut: 65536 })).dataOut.length, 64);
    await rejects(p.testRun({ data: pkt, dataSizeOut: 10 }), (e) => {
      assert.equal(e.code, 'ENOSPC');
      assert.equal(e.errno, 28);
      assert.equal(e.syscall, 'bpf_prog_test_run_opts');
      assert.match(e.message, /larger than dataSizeOut \(10\)/);
    });
  });

  it('validates tc arguments before any native call, with exact messages', async function () {
    const p = {} as BpfProgram;
    await rejects(Promise.resolve().then(() => attachTc({ ifname: 'lo', direction: 'in' as 'ingress', prog: p })),
      (e) => assert.equal(e.message, "attachTc: direction must be 'ingress' or 'egress', got 'in'"));
    await rejects(Promise.resolve().then(() => attachTc({ ifname: 'lo', direction: 'ingress', prog: p })),
      (e) => assert.equal(e.message, 'attachTc: prog must be a BpfProgram, got an object (Object)'));
    await rejects(Promise.resolve().then(() => listTc({ ifname: 'a very long interface name', direction: 'egress' })),
      (e) => assert.equal(e.message,
        "listTc: ifname must be an interface name of 1 to 15 characters without spaces, / or :, got 'a very long interface name'"));
    await rejects(Promise.resolve().then(() => listTc({ ifname: 'lo', direction: 'egress', netns: '../etc' })),
      (e) => assert.equal(e.message,
        "listTc: netns must be a network namespace name (as in `ip netns`) or an absolute path, got '../etc'"));
    throws(() => ifindex('tgn-no-such-if'), (e) => {
      assert.equal(e.code, 'ENODEV');
      assert.equal(e.syscall, 'if_nametoindex');
    });
    assert.equal(ifindex('lo'), 1);
  });
});
