// `tollgate load / status / unload` as a user runs them (bin/tollgate, real processes and exit codes), from
// manifests, on a topology made here: node netns tgd-cn-PID, pods tgd-ca-PID (10.89.0.1) and tgd-cb-PID
// (10.89.0.2) behind host-side veths tgdcaPID / tgdcbPID named by the pods' tollgate.dev/interface annotation.
// Pins under /sys/fs/bpf/tollgate-tgd-c-PID, state under /run/tollgate/tgd-c-PID; all removed in after().
import { strict as assert } from 'assert';
import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { listTc, tcxList, tcxSupported } from '../compiler/load/native';

const PID = process.pid;
const NODE = `tgd-cn-${PID}`;
const NS_A = `tgd-ca-${PID}`;
const NS_B = `tgd-cb-${PID}`;
const IF_A = `tgdca${PID}`.slice(0, 15);
const IF_B = `tgdcb${PID}`.slice(0, 15);
const A = '10.89.0.1';
const B = '10.89.0.2';
const PIN_ROOT = `/sys/fs/bpf/tollgate-tgd-c-${PID}`;
const STATE_DIR = `/run/tollgate/tgd-c-${PID}`;
const BIN = path.join(__dirname, '..', 'bin', 'tollgate');
const HIDDEN = ['--netns', NODE, '--pin-root', PIN_ROOT, '--state-dir', STATE_DIR];

function sh(...args: string[]): string {
  return execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}
function netnsList(): string[] {
  return sh('ip', 'netns', 'list').split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
}
function removeTopology(): void {
  const have = netnsList();
  for (const ns of [NS_A, NS_B, NODE]) if (have.includes(ns)) spawnSync('ip', ['netns', 'del', ns]);
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

const SERVER = `const net = require('net');
let n = 0;
for (const port of [8080, 9090]) net.createServer((s) => { s.on('data', (d) => s.write(d)); s.on('error', () => {}); })
  .listen(port, '${B}', () => { if (++n === 2) console.log('ready'); });`;
const PROBE = `const s = require('net').connect({ host: '${B}', port: Number(process.argv[1]) });
const t = setTimeout(() => process.exit(1), 600);
s.on('connect', () => s.write('x'));
s.on('data', () => { clearTimeout(t); process.exit(0); });
s.on('error', () => process.exit(1));`;
function probe(port: number): boolean {
  return spawnSync('ip', ['netns', 'exec', NS_A, process.execPath, '-e', PROBE, String(port)], { stdio: 'ignore' }).status === 0;
}

function manifests(dir: string, ifB = IF_B): void {
  fs.writeFileSync(path.join(dir, 'pods.yaml'), `apiVersion: v1
kind: Namespace
metadata: { name: ns }
---
apiVersion: v1
kind: Pod
metadata: { name: a, namespace: ns, labels: { app: a }, annotations: { tollgate.dev/interface: ${IF_A} } }
spec: { containers: [ { name: c, image: x } ] }
status: { podIPs: [ { ip: ${A} } ] }
---
apiVersion: v1
kind: Pod
metadata: { name: b, namespace: ns, labels: { app: b }, annotations: { tollgate.dev/interface: ${ifB} } }
spec: { containers: [ { name: c, image: x, ports: [ { containerPort: 8080 }, { containerPort: 9090 } ] } ] }
status: { podIPs: [ { ip: ${B} } ] }
`);
  fs.writeFileSync(path.join(dir, 'policy.yaml'), `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: b-from-a, namespace: ns }
spec:
  podSelector: { matchLabels: { app: b } }
  policyTypes: [Ingress]
  ingress:
    - from: [ { podSelector: { matchLabels: { app: a } } } ]
      ports: [ { port: 8080, protocol: TCP } ]
`);
}

function tollgate(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('tollgate load/status/unload (CLI, real kernel)', function () {
  this.timeout(120000);
  let server: ChildProcess | undefined;
  let dir = '';

  before(async function () {
    removeTopology();
    buildTopology();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tgd-cli-'));
    manifests(dir);
    server = spawn('ip', ['netns', 'exec', NS_B, process.execPath, '-e', SERVER], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('server did not start')), 5000);
      server!.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
  });

  after(function () {
    server?.kill('SIGKILL');
    try {
      tollgate('unload', ...HIDDEN);
    } finally {
      removeTopology();
      fs.rmSync(PIN_ROOT, { recursive: true, force: true });
      fs.rmSync(STATE_DIR, { recursive: true, force: true });
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('load with an interface that does not exist exits 2, names the pod, and attaches nothing', async function () {
    const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'tgd-cli-bad-'));
    try {
      manifests(bad, 'tgdnosuchif');
      const r = tollgate('load', bad, ...HIDDEN);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /ns\/b: interface 'tgdnosuchif' \(from annotation tollgate\.dev\/interface\) does not exist in netns tgd-cn-/);
      assert.deepEqual(await listTc({ ifname: IF_A, netns: NODE, direction: 'ingress' }), []);
      assert.equal(fs.existsSync(PIN_ROOT), false);
    } finally {
      fs.rmSync(bad, { recursive: true, force: true });
    }
  });

  it('a bad --iface-map names file:line:col and exits 2', function () {
    const f = path.join(`${dir}-ifaces.yaml`);
    fs.writeFileSync(f, `ns/a: ${IF_A}\nns/b: [oops]\n`);
    const r = tollgate('load', dir, '--iface-map', f, ...HIDDEN);
    try {
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes(`${f}:2:7: error: --iface-map ns/b: expected an interface name`), r.stderr);
    } finally {
      fs.rmSync(f, { force: true });
    }
  });

  it('load from manifests enforces the NetworkPolicy on real traffic', function () {
    const r = tollgate('load', dir, ...HIDDEN);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /loaded generation 1 \(new program/);
    assert.ok(r.stdout.includes(IF_B), r.stdout);
    assert.match(r.stdout, tcxSupported() ? /verified and attached \(tcx\)/ : /verified and attached \(tc clsact replace\)/);
    assert.equal(probe(8080), true);
    assert.equal(probe(9090), false);
  });

  it('loading the same manifests again changes maps only', function () {
    const r = tollgate('load', dir, ...HIDDEN, '--output', 'json');
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as { mode: string; clang: string; generation: number };
    assert.equal(rep.mode, 'maps-only');
    assert.equal(rep.clang, 'not-needed');
    assert.equal(rep.generation, 2);
    assert.equal(probe(8080), true);
    assert.equal(probe(9090), false);
  });

  it('status shows the attachments and counters that moved (text and json)', function () {
    const before = JSON.parse(tollgate('status', ...HIDDEN, '--output', 'json').stdout) as { counters: { ruleId?: string; endpoint: string; packets: number }[] };
    assert.ok(probe(8080));
    const r = tollgate('status', ...HIDDEN, '--output', 'json');
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { loaded: boolean; attachments: { present: boolean }[]; counters: { ruleId?: string; endpoint: string; direction: string; packets: number }[]; conntrackEntries: number };
    assert.equal(s.loaded, true);
    assert.equal(s.attachments.length, 4);
    assert.ok(s.attachments.every((a) => a.present));
    const rule = (c: { ruleId?: string; endpoint: string; packets: number }[]) => c.find((x) => x.endpoint === 'ns/b' && x.ruleId !== undefined)!;
    assert.ok(rule(s.counters).packets > rule(before.counters).packets, 'the allowing rule counted');
    assert.ok(s.conntrackEntries > 0);
    const text = tollgate('status', ...HIDDEN);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /attached:/);
    assert.match(text.stdout, /tg_decisions\s+hash\s+\d+\s+\d+/);
    assert.match(text.stdout, /conntrack: \d+ entries/);
  });

  it('--attach tc puts clsact filters in place of the tcx programs; the next load without it goes back to tcx', async function () {
    if (!tcxSupported()) this.skip();
    const tc = tollgate('load', dir, ...HIDDEN, '--attach', 'tc');
    assert.equal(tc.code, 0, tc.stderr);
    assert.match(tc.stdout, /verified and attached \(tc clsact replace\)/);
    assert.match(tc.stdout, /ingress: tollgate_egress \(prog \d+, tc\)/);
    const st = tollgate('status', ...HIDDEN);
    assert.match(st.stdout, /tollgate_ingress\s+\d+\s+tc 0x7467\/1\s+attached/);
    assert.equal((await listTc({ ifname: IF_B, netns: NODE, direction: 'egress' })).length, 1);
    assert.deepEqual((await tcxList({ ifname: IF_B, netns: NODE, direction: 'egress' })).programs, []);
    assert.equal(probe(8080), true);
    assert.equal(probe(9090), false);
    const back = tollgate('load', dir, ...HIDDEN);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /verified and attached \(tcx\)/);
    assert.match(tollgate('status', ...HIDDEN).stdout, /tollgate_ingress\s+\d+\s+tcx\s+attached/);
    assert.deepEqual(await listTc({ ifname: IF_B, netns: NODE, direction: 'egress' }), []);
    assert.equal(probe(9090), false);
    const bad = tollgate('load', dir, ...HIDDEN, '--attach', 'xdp');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--attach <mode>' argument 'xdp' is invalid\. Allowed choices are tcx, tc/);
  });

  it('unload removes everything and repeats; status then says nothing is loaded', async function () {
    const r = tollgate('unload', ...HIDDEN);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /detached 4 programs from 2 interfaces/);
    for (const ifname of [IF_A, IF_B]) for (const direction of ['ingress', 'egress'] as const) {
      assert.deepEqual(await listTc({ ifname, netns: NODE, direction }), []);
      if (tcxSupported()) assert.deepEqual((await tcxList({ ifname, netns: NODE, direction })).programs, []);
    }
    assert.equal(fs.existsSync(PIN_ROOT), false);
    assert.equal(probe(9090), true);
    const again = tollgate('unload', ...HIDDEN);
    assert.equal(again.code, 0);
    assert.equal(again.stdout, 'nothing loaded\n');
    assert.equal(tollgate('status', ...HIDDEN).stdout, 'nothing loaded\n');
  });
});
