// The lab against the real kernel: network namespaces, veths, routes, responders and probes.
// Every kernel object here has this process's 'tgl..' prefix (lab-support TEST_PREFIX) and is removed in after/finally hooks, also when a test fails.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import { spawnSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { Command } from 'commander';
import { InputError } from '../compiler/model/diagnostics';
import { PROTO } from '../compiler/model/types';
import { labDown, labExec, labInterfaces, labOptions, labStatus, labUp, planLab, runProbes, startFlood, startStream, type LabState, type ProbeRequest } from '../compiler/lab';
import { run, listNetns } from '../compiler/lab/run';
import { register } from '../compiler/cli/lab';
import { model, pod, sweepStaleTestLabs, TEST_PREFIX } from './lab-support';

const PREFIX = TEST_PREFIX;
const OPTS = labOptions(PREFIX);
const NODE = `${PREFIX}-node`;
const DB_IF = `${PREFIX}calidb`;
const TCP = PROTO.TCP;
const UDP = PROTO.UDP;

async function leftovers(): Promise<string[]> {
  const ns = (await listNetns()).filter((n) => n.startsWith(PREFIX));
  const links = (JSON.parse(await run('ip', ['-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname).filter((n) => n.startsWith(PREFIX));
  return [...ns, ...links];
}

function responderPids(s: LabState): number[] {
  return s.pods.map((p) => p.responderPid).filter((p) => p > 0);
}

/** Every pod to every other pod, on every port the destination declares, in both families. */
function fullMesh(s: LabState): ProbeRequest[] {
  const out: ProbeRequest[] = [];
  for (const a of s.pods)
    for (const b of s.pods) {
      if (a === b) continue;
      for (const x of b.ports)
        for (const addr of [...b.ipv4, ...b.ipv6]) out.push({ from: a.id, to: b.id, addr, port: x.port, protocol: x.protocol === TCP ? 'tcp' : 'udp' });
    }
  return out;
}

// A tc program that drops UDP (to port DPORT, or any port when DPORT is 0), IPv4 and IPv6 without options.
const DROP_UDP_C = `// SPDX-License-Identifier: GPL-2.0
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#define SEC(n) __attribute__((section(n), used))
SEC("tc") int drop_udp(struct __sk_buff *skb)
{
	unsigned char *p = (unsigned char *)(long)skb->data;
	unsigned char *end = (unsigned char *)(long)skb->data_end;
	unsigned int l3, dport;
	if (p + 14 + 40 + 4 > end)
		return TC_ACT_OK;
	l3 = (p[12] << 8) | p[13];
	if (l3 == 0x0800 && p[14 + 9] == 17)
		dport = (p[14 + 20 + 2] << 8) | p[14 + 20 + 3];
	else if (l3 == 0x86DD && p[14 + 6] == 17)
		dport = (p[14 + 40 + 2] << 8) | p[14 + 40 + 3];
	else
		return TC_ACT_OK;
	return (DPORT == 0 || dport == DPORT) ? TC_ACT_SHOT : TC_ACT_OK;
}
char _license[] SEC("license") = "GPL";
`;

const THREE = model([
  pod('alpha', 'web', ['10.71.0.1', 'fd71::1'], [[80, TCP], [53, UDP]]),
  pod('alpha', 'db', ['10.71.0.2', 'fd71::2'], [[5432, TCP], [5432, UDP]], { 'tollgate.dev/interface': DB_IF }),
  pod('beta', 'api', ['10.71.1.1', 'fd71:1::1'], [[8080, TCP], [8125, UDP], [9000, PROTO.SCTP]]),
]);

describe('lab: plan (no kernel)', () => {
  it('names netns and veths from the pod, within 15 characters, and honours the interface annotation', () => {
    const p = planLab(THREE, PREFIX);
    assert.equal(p.nodeNetns, NODE);
    for (const x of p.pods) {
      assert.ok(x.hostIf.length <= 15 && x.hostIf.startsWith(PREFIX), x.hostIf);
      assert.match(x.netns, new RegExp(`^${PREFIX}-[0-9a-f]{10}$`));
    }
    assert.equal(p.pods.find((x) => x.id === 'alpha/db')!.hostIf, DB_IF);
    assert.equal(new Set(p.pods.map((x) => x.netns)).size, 3);
    // the user's lab and a test lab never share a name
    assert.notEqual(planLab(THREE, 'tg').pods[0].hostIf, p.pods[0].hostIf);
    assert.ok(!planLab(THREE, 'tg').pods[0].hostIf.startsWith('tgl'));
  });

  it('rejects a bad interface annotation naming the pod, its file and the field', () => {
    const m = model([pod('a', 'x', ['10.0.0.1'], [], { 'tollgate.dev/interface': 'much-too-long-name0' }), pod('a', 'y', ['10.0.0.2'], [], { 'tollgate.dev/interface': 'a b' })]);
    assert.throws(
      () => planLab(m, PREFIX),
      (e: unknown) => {
        assert.ok(e instanceof InputError);
        assert.match(e.message, /test\/lab-model\.yaml:1:1: error: Pod a\/x: metadata\.annotations\.tollgate\.dev\/interface: expected at most 15 characters, found 19/);
        assert.match(e.message, /Pod a\/y: .*expected letters, digits/);
        return true;
      },
    );
  });

  it('skips host-network pods and pods without an address, saying why', () => {
    const h = pod('a', 'h', ['10.0.0.9'], []);
    h.hostNetwork = true;
    const p = planLab(model([h, pod('a', 'n', [], [])]), PREFIX);
    assert.deepEqual(p.pods, []);
    assert.deepEqual(p.skipped.map((s) => s.pod), ['a/h', 'a/n']);
  });
});

describe('lab: three pods in two namespaces (real kernel)', function () {
  this.timeout(60000);
  let state: LabState;

  before(async () => {
    await sweepStaleTestLabs(); // labs of crashed earlier runs (other pids)
    await labDown(OPTS); // a previous crashed run with our pid
    assert.deepEqual(await leftovers(), []);
    state = await labUp(THREE, { ...OPTS, sources: ['test'] });
  });
  after(async () => {
    await labDown(OPTS);
  });

  it('builds a netns per pod, a veth per pod in the node netns, and a responder per pod', async () => {
    const ns = await listNetns();
    for (const p of state.pods) assert.ok(ns.includes(p.netns), p.netns);
    assert.ok(ns.includes(NODE));
    const st = await labStatus(OPTS);
    assert.deepEqual(st.problems, []);
    assert.equal(responderPids(state).length, 3);
    const ifs = labInterfaces(OPTS);
    const links = JSON.parse(await run('ip', ['-n', NODE, '-j', 'link', 'show', 'type', 'veth'])) as { ifname: string; ifindex: number }[];
    assert.equal(ifs.length, 3);
    for (const i of ifs) {
      assert.equal(i.netns, NODE);
      assert.equal(links.find((l) => l.ifname === i.ifname)?.ifindex, i.ifindex, i.ifname);
    }
  });

  it('every pod reaches every other pod on every declared TCP and UDP port, IPv4 and IPv6', async () => {
    const reqs = fullMesh(state).filter((r) => r.port !== 9000); // SCTP is not served (no SCTP in this kernel)
    assert.equal(reqs.length, 2 * (2 * 2 + 2 * 2 + 2 * 2)); // 2 sources x 2 ports x 2 families per destination
    const out = await runProbes(state, reqs);
    const bad = out.map((o, i) => ({ ...reqs[i], ...o })).filter((o) => o.status !== 'ok');
    assert.deepEqual(bad, []);
    assert.ok(reqs.some((r) => r.addr.includes(':') && r.protocol === 'udp'));
  });

  it('a port nobody declared is refused, TCP and UDP, both families', async () => {
    const reqs: ProbeRequest[] = [
      { from: 'alpha/web', to: 'beta/api', addr: '10.71.1.1', port: 8081, protocol: 'tcp' },
      { from: 'alpha/web', to: 'beta/api', addr: 'fd71:1::1', port: 8081, protocol: 'tcp' },
      { from: 'alpha/web', to: 'beta/api', addr: '10.71.1.1', port: 8126, protocol: 'udp' },
      { from: 'alpha/web', to: 'beta/api', addr: 'fd71:1::1', port: 8126, protocol: 'udp' },
    ];
    const out = await runProbes(state, reqs);
    assert.deepEqual(out.map((o) => o.status), ['refused', 'refused', 'refused', 'refused']);
  });

  it('a reply must come from the pod that was asked: a probe aimed at the wrong pod is a bad reply', async () => {
    const out = await runProbes(state, [{ from: 'beta/api', to: 'alpha/db', addr: '10.71.0.1', port: 80, protocol: 'tcp' }]);
    assert.equal(out[0].status, 'bad-reply');
    assert.match(out[0].detail ?? '', /found 'tg-ok alpha\/web tcp\/80 /);
  });

  it('an iptables DROP in the node netns makes the probe time out (probes can fail), and only that one', async () => {
    const rule = ['FORWARD', '-d', '10.71.0.2', '-p', 'tcp', '--dport', '5432', '-m', 'comment', '--comment', 'tgl-drop', '-j', 'DROP'];
    const rule6 = ['FORWARD', '-d', 'fd71::2', '-p', 'udp', '--dport', '5432', '-m', 'comment', '--comment', 'tgl-drop', '-j', 'DROP'];
    await run('ip', ['netns', 'exec', NODE, 'iptables', '-I', ...rule]);
    try {
      await run('ip', ['netns', 'exec', NODE, 'ip6tables', '-I', ...rule6]);
      try {
        const reqs: ProbeRequest[] = [
          { from: 'alpha/web', to: 'alpha/db', addr: '10.71.0.2', port: 5432, protocol: 'tcp' },
          { from: 'alpha/web', to: 'alpha/db', addr: 'fd71::2', port: 5432, protocol: 'udp' },
          { from: 'alpha/web', to: 'alpha/db', addr: '10.71.0.2', port: 5432, protocol: 'udp' },
          { from: 'alpha/web', to: 'alpha/db', addr: 'fd71::2', port: 5432, protocol: 'tcp' },
        ];
        const t0 = Date.now();
        const out = await runProbes(state, reqs, { timeoutMs: 500 });
        const took = Date.now() - t0;
        assert.deepEqual(out.map((o) => o.status), ['timeout', 'timeout', 'ok', 'ok']);
        assert.ok(out[0].ms >= 490 && out[0].ms < 1000, `timeout after ${out[0].ms} ms`);
        assert.ok(took < 6000, `the batch took ${took} ms`); // two rounds (a timeout is retried once), process start-up included
      } finally {
        await run('ip', ['netns', 'exec', NODE, 'ip6tables', '-D', ...rule6]);
      }
    } finally {
      await run('ip', ['netns', 'exec', NODE, 'iptables', '-D', ...rule]);
    }
    const after = await runProbes(state, [{ from: 'alpha/web', to: 'alpha/db', addr: '10.71.0.2', port: 5432, protocol: 'tcp' }]);
    assert.equal(after[0].status, 'ok');
  });

  it('tc BPF on the host-side veth sees the pod: ingress is the pod\'s egress, egress its ingress (where load attaches)', async () => {
    const web = state.pods.find((p) => p.id === 'alpha/web')!;
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tgl-bpf-'));
    const tc = (...a: string[]): Promise<string> => run('ip', ['netns', 'exec', NODE, 'tc', ...a]);
    const toDb: ProbeRequest = { from: 'alpha/web', to: 'alpha/db', addr: '10.71.0.2', port: 5432, protocol: 'udp' };
    const toApi: ProbeRequest = { from: 'alpha/web', to: 'beta/api', addr: 'fd71:1::1', port: 8125, protocol: 'udp' };
    const fromApi: ProbeRequest = { from: 'beta/api', to: 'alpha/web', addr: '10.71.0.1', port: 53, protocol: 'udp' };
    const tcpIn: ProbeRequest = { from: 'beta/api', to: 'alpha/web', addr: 'fd71::1', port: 80, protocol: 'tcp' };
    try {
      fs.writeFileSync(path.join(tmp, 'drop.c'), DROP_UDP_C);
      const obj = (dport: number): string => {
        const o = path.join(tmp, `drop${dport}.o`);
        const r = spawnSync('clang', ['-O2', '-target', 'bpf', `-DDPORT=${dport}`, `-I/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`, '-c', path.join(tmp, 'drop.c'), '-o', o], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        return o;
      };
      await tc('qdisc', 'add', 'dev', web.hostIf, 'clsact');
      // every UDP packet the pod sends (the pod's egress enters the node at the host side's tc ingress)
      await tc('filter', 'add', 'dev', web.hostIf, 'ingress', 'bpf', 'da', 'obj', obj(0), 'sec', 'tc');
      const a = await runProbes(state, [toDb, toApi, fromApi, tcpIn], { timeoutMs: 400 });
      // web's own UDP out is lost; api -> web reaches web, but web's reply is its egress: lost too; TCP passes
      assert.deepEqual(a.map((o) => o.status), ['timeout', 'timeout', 'timeout', 'ok']);
      await tc('filter', 'del', 'dev', web.hostIf, 'ingress');
      // UDP to port 53 towards the pod (the pod's ingress leaves the node at the host side's tc egress)
      await tc('filter', 'add', 'dev', web.hostIf, 'egress', 'bpf', 'da', 'obj', obj(53), 'sec', 'tc');
      const b = await runProbes(state, [toDb, toApi, fromApi, tcpIn], { timeoutMs: 400 });
      assert.deepEqual(b.map((o) => o.status), ['ok', 'ok', 'timeout', 'ok']);
    } finally {
      await tc('qdisc', 'del', 'dev', web.hostIf, 'clsact').catch(() => undefined);
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    const c = await runProbes(state, [toDb, toApi, fromApi]);
    assert.deepEqual(c.map((o) => o.status), ['ok', 'ok', 'ok']);
  });

  it('a long-lived TCP stream and a UDP flood report every message back, and see a cut while it lasts', async () => {
    // undisturbed: everything sent comes back
    const s1 = await startStream(state, 'alpha/web', 'fd71:1::1', 8080, 5);
    const p1 = await startFlood(state, 'alpha/web', '10.71.1.1', 8125, 5);
    await new Promise((r) => setTimeout(r, 600));
    const [st1, pg1] = await Promise.all([s1.stop(), p1.stop()]);
    assert.equal(st1.error, undefined);
    assert.ok(st1.sent > 50 && st1.acked === st1.sent, JSON.stringify(st1));
    assert.ok(st1.maxGapMs < 250, JSON.stringify(st1));
    assert.ok(pg1.sent > 50 && pg1.received === pg1.sent, JSON.stringify(pg1));
    // a 500 ms cut in the node: the stream stalls for at least that long, TCP then delivers everything; datagrams are lost
    const s2 = await startStream(state, 'alpha/web', 'fd71:1::1', 8080, 5);
    const p2 = await startFlood(state, 'alpha/web', '10.71.1.1', 8125, 5);
    await new Promise((r) => setTimeout(r, 200));
    const cut6 = ['FORWARD', '-d', 'fd71:1::1', '-m', 'comment', '--comment', 'tgl-cut', '-j', 'DROP'];
    const cut4 = ['FORWARD', '-d', '10.71.1.1', '-m', 'comment', '--comment', 'tgl-cut', '-j', 'DROP'];
    await run('ip', ['netns', 'exec', NODE, 'ip6tables', '-I', ...cut6]);
    await run('ip', ['netns', 'exec', NODE, 'iptables', '-I', ...cut4]);
    try {
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      await run('ip', ['netns', 'exec', NODE, 'ip6tables', '-D', ...cut6]);
      await run('ip', ['netns', 'exec', NODE, 'iptables', '-D', ...cut4]);
    }
    await new Promise((r) => setTimeout(r, 1500)); // TCP retransmits (RTO 200 ms, doubling) and catches up
    const [st2, pg2] = await Promise.all([s2.stop(), p2.stop()]);
    // eslint-disable-next-line no-console
    console.log(`      [traffic] undisturbed: stream ${JSON.stringify(st1)}, flood ${JSON.stringify(pg1)}; 500 ms cut: stream ${JSON.stringify(st2)}, flood ${JSON.stringify(pg2)}`);
    assert.equal(st2.error, undefined);
    assert.equal(st2.acked, st2.sent, JSON.stringify(st2));
    assert.ok(st2.maxGapMs >= 450, JSON.stringify(st2));
    assert.ok(pg2.sent - pg2.received >= 40, JSON.stringify(pg2));
  });

  it('lab exec runs a command inside the pod', async () => {
    const r = await labExec(OPTS, 'beta/api', ['ip', '-j', 'addr', 'show', 'dev', 'eth0'], 'pipe');
    assert.equal(r.code, 0, r.stderr);
    const addrs = (JSON.parse(r.stdout) as { addr_info: { local: string; prefixlen: number; scope: string }[] }[])[0].addr_info
      .filter((a) => a.scope === 'global')
      .map((a) => `${a.local}/${a.prefixlen}`);
    assert.deepEqual(addrs.sort(), ['10.71.1.1/32', 'fd71:1::1/128']);
    const routes = await labExec(OPTS, 'beta/api', ['ip', 'route', 'show', 'default'], 'pipe');
    assert.match(routes.stdout, /default via 169\.254\.1\.1 dev eth0/);
    await assert.rejects(labExec(OPTS, 'beta/nope', ['true'], 'pipe'), /expected a pod of the lab|has no netns for beta\/nope/);
  });

  it('`tollgate lab exec NS/POD -- CMD` passes the exit code through, `lab status` reports the lab', async () => {
    const cli = (): Command => {
      const p = new Command('tollgate').exitOverride();
      register(p);
      return p;
    };
    const saved = process.exitCode;
    try {
      await cli().parseAsync(['lab', 'exec', '--prefix', PREFIX, 'alpha/web', '--', 'sh', '-c', 'exit 7'], { from: 'user' });
      assert.equal(process.exitCode, 7);
      await cli().parseAsync(['lab', 'exec', '--prefix', PREFIX, 'alpha/web', '--', 'true'], { from: 'user' });
      assert.equal(process.exitCode, 0);
      const write = process.stdout.write.bind(process.stdout);
      let printed = '';
      process.stdout.write = ((chunk: string | Uint8Array): boolean => ((printed += String(chunk)), true)) as typeof process.stdout.write;
      try {
        await cli().parseAsync(['lab', 'status', '--prefix', PREFIX, '--output', 'json'], { from: 'user' });
      } finally {
        process.stdout.write = write;
      }
      const st = JSON.parse(printed) as { up: boolean; problems: string[]; state: LabState };
      assert.equal(st.up, true);
      assert.deepEqual(st.problems, []);
      assert.deepEqual(st.state.pods.map((p) => p.id).sort(), ['alpha/db', 'alpha/web', 'beta/api']);
    } finally {
      process.exitCode = saved;
    }
  });
});

describe('lab: teardown (real kernel)', function () {
  this.timeout(60000);
  afterEach(async () => {
    await labDown(OPTS);
  });

  it('lab down leaves no tgl netns, link, responder or state file, and is idempotent', async () => {
    const s = await labUp(THREE, OPTS);
    const pids = responderPids(s);
    assert.ok(fs.existsSync(OPTS.statePath));
    await labDown(OPTS);
    assert.deepEqual(await leftovers(), []);
    assert.ok(!fs.existsSync(OPTS.statePath));
    for (const pid of pids) assert.ok(!fs.existsSync(`/proc/${pid}`), `responder ${pid} still runs`);
    const again = await labDown(OPTS);
    assert.deepEqual(again.netns, []);
  });

  it('lab down after a crash (state file lost) still sweeps everything by prefix', async () => {
    const s = await labUp(THREE, OPTS);
    fs.rmSync(OPTS.statePath);
    await labDown(OPTS);
    assert.deepEqual(await leftovers(), []);
    for (const pid of responderPids(s)) assert.ok(!fs.existsSync(`/proc/${pid}`), `responder ${pid} still runs`);
  });

  it('a failed lab up (an address clash at the third pod) removes what it built', async () => {
    const m = model([
      pod('a', 'one', ['10.72.0.1', 'fd72::1'], [[80, TCP]]),
      pod('a', 'two', ['10.72.0.2'], [[80, TCP]]),
      pod('b', 'three', ['10.72.0.3', 'fd72::1'], [[80, TCP]]),
    ]);
    await assert.rejects(labUp(m, OPTS), /lab up failed, removed what was built: pod b\/three: address fd72::1 is already the address of pod a\/one/);
    assert.deepEqual(await leftovers(), []);
    assert.ok(!fs.existsSync(OPTS.statePath));
    assert.ok(!(await labStatus(OPTS)).up);
  });

  it('a failed lab up in the kernel (interface name the node already has) removes what it built', async () => {
    const m = model([pod('a', 'one', ['10.72.0.1'], [[80, TCP]]), pod('a', 'two', ['10.72.0.2'], [[80, TCP]], { 'tollgate.dev/interface': 'lo' })]);
    await assert.rejects(labUp(m, OPTS), new RegExp(`lab up failed, removed what was built: 'ip -n ${NODE} link add lo type veth .*exists`, 'i'));
    assert.deepEqual(await leftovers(), []);
  });

  it('a responder that fails to start fails lab up and leaves nothing', async () => {
    // A port above 65535 cannot be bound: the responder exits with the error, and lab up reports it.
    const m = model([pod('a', 'one', ['10.72.0.1'], [[70000, TCP]])]);
    await assert.rejects(labUp(m, OPTS), /pod a\/one: responder exited/);
    assert.deepEqual(await leftovers(), []);
  });

  it('the test sweep removes a lab whose owner process is gone, and not one whose owner runs', async () => {
    // Another prefix of the test shape, unused right now (no netns, no state file).
    let other = '';
    for (let i = 0; i < 1296 && !other; i++) {
      const p = `tgl${i.toString(36).padStart(2, '0')}`;
      if (p !== PREFIX && !fs.existsSync(labOptions(p).statePath) && !(await listNetns()).some((n) => n.startsWith(`${p}-`))) other = p;
    }
    const o2 = labOptions(other);
    try {
      await labUp(model([pod('a', 'one', ['10.72.0.1'], [[80, TCP]])]), o2);
      assert.deepEqual(await sweepStaleTestLabs(), []); // its owner (this process) runs
      const dead = spawnSync('true').pid!; // a pid that has exited
      const s = JSON.parse(fs.readFileSync(o2.statePath, 'utf8')) as LabState;
      fs.writeFileSync(o2.statePath, JSON.stringify({ ...s, ownerPid: dead }));
      assert.ok((await sweepStaleTestLabs()).includes(other));
      assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`${other}-`)), []);
      assert.ok(!fs.existsSync(o2.statePath));
    } finally {
      await labDown(o2);
    }
  });

  it('an aborted lab up (Ctrl-C) stops at the next step and removes what was built', async () => {
    const abort = new AbortController();
    const m = model(Array.from({ length: 8 }, (_, i) => pod('a', `p${i}`, [`10.72.1.${i + 1}`], [[80, TCP]])));
    const up = labUp(m, { ...OPTS, signal: abort.signal });
    setTimeout(() => abort.abort(), 50);
    await assert.rejects(up, /lab up failed, removed what was built: interrupted/);
    assert.deepEqual(await leftovers(), []);
    assert.ok(!fs.existsSync(OPTS.statePath));
  });

  it('refuses to build over a lab that is up', async () => {
    await labUp(model([pod('a', 'one', ['10.72.0.1'], [])]), OPTS);
    await assert.rejects(labUp(THREE, OPTS), /already up/);
    assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`${PREFIX}-`)).length, 2);
  });
});
