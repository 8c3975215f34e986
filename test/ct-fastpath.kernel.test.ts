// The conntrack fast path (bpf/tollgate.bpf.c, tg_handle): an established or reply packet whose entry was checked
// under the node's current policy generation (tg_gen) by the program of the same interface passes without the
// endpoint lookup. Real programs through BPF_PROG_TEST_RUN; a veth pair (tghbfa, tghbfb) give the test runs two
// real ifindexes, removed after the tests even when they fail.
import { execFileSync, spawnSync } from 'child_process';
import { strict as assert } from 'assert';
import * as fs from 'fs';
import type { Program } from '../compiler/ir/types';
import { BpfHarness } from '../compiler/engines/bpf';
import { craft, TCP } from '../compiler/emit/bpf/packet';
import { DIR, REASON, VERDICT } from '../compiler/emit/bpf/codes';
import { epKey, epValue, readCtValue, readEpValue } from '../compiler/emit/bpf/layout';
import { endpoint, program, rule, tier } from './bpf-fixtures';

const IFS = ['tghbfa', 'tghbfb'];

function ifindexOf(name: string): number {
  return Number(fs.readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
}

describe('conntrack fast path (kernel, BPF_PROG_TEST_RUN)', function () {
  this.timeout(120000);
  const open: BpfHarness[] = [];
  let ifa = 0;
  let ifb = 0;
  before(() => {
    for (const i of IFS) spawnSync('ip', ['link', 'del', i], { stdio: 'ignore' });
    execFileSync('ip', ['link', 'add', IFS[0], 'type', 'veth', 'peer', 'name', IFS[1]]);
    [ifa, ifb] = IFS.map(ifindexOf);
  });
  after(() => {
    for (const i of IFS) spawnSync('ip', ['link', 'del', i], { stdio: 'ignore' });
  });
  afterEach(() => {
    while (open.length) open.pop()?.close();
  });

  // a (10.0.0.1) on tghbfa, b (10.0.0.2) on tghbfb; each may talk TCP out and be reached on TCP 80
  const both: Program = program(
    endpoint('ns/a', ['10.0.0.1'], [tier('t', [rule('a-in', 'Allow', { proto: 6, dports: [{ from: 80, to: 80 }] })], 'Deny')], [tier('t', [rule('a-out', 'Allow', { proto: 6 }, 'p', 'egress')], 'Deny')]),
    endpoint('ns/b', ['10.0.0.2'], [tier('t', [rule('b-in', 'Allow', { proto: 6, dports: [{ from: 80, to: 80 }] })], 'Deny')], [tier('t', [rule('b-out', 'Allow', { proto: 6 }, 'p', 'egress')], 'Deny')]),
  );
  const harness = async (p: Program): Promise<BpfHarness> => {
    const h = await BpfHarness.open(p, { ifindexOf: (e) => (e.endpoint === 'ns/a' ? ifa : ifb) });
    open.push(h);
    return h;
  };
  const out = (flags: number) => craft({ src: '10.0.0.1', dst: '10.5.0.1', proto: 6, sport: 40000, dport: 443 }, { tcpFlags: flags });
  const back = (flags: number) => craft({ src: '10.5.0.1', dst: '10.0.0.1', proto: 6, sport: 443, dport: 40000 }, { tcpFlags: flags });

  it('an established packet passes without the endpoint entry until the generation changes', async () => {
    const h = await harness(both);
    assert.equal((await h.run('egress', out(TCP.SYN), { ifindex: ifa })).retval, 0);
    const [entry] = h.conntrack.keys();
    const ct = readCtValue(h.conntrack.lookup(entry)!);
    assert.deepEqual([ct.ifindex, ct.gen], [ifa, 0], 'the entry remembers the interface and the generation');
    // the endpoint entry goes away without a switch: the fast path does not look it up
    h.obj.map('tg_endpoints').delete(epKey({ ifindex: ifa, direction: DIR.EGRESS, family: 4, addr: '10.0.0.1' }));
    let r = await h.run('egress', out(TCP.ACK), { ifindex: ifa });
    assert.deepEqual([r.retval, r.last.reason], [0, REASON.CT_ESTABLISHED]);
    r = await h.run('ingress', back(TCP.ACK), { ifindex: ifa });
    assert.deepEqual([r.retval, r.last.reason], [0, REASON.CT_REPLY], 'the reply rides the same entry');
    // after a switch (the generation bumped) the entry is checked against the endpoint entries again
    h.bumpGeneration();
    r = await h.run('egress', out(TCP.ACK), { ifindex: ifa });
    assert.deepEqual([r.retval, r.last.reason], [2, REASON.UNKNOWN_LOCAL]);
    r = await h.run('ingress', back(TCP.ACK), { ifindex: ifa });
    assert.equal(r.retval, 2, 'the reply is checked too: the origin direction has no endpoint entry now');
  });

  it('a switch that changes nothing for the flow: one packet re-checks (same ep_id), the next rides the fast path again', async () => {
    const h = await harness(both);
    await h.run('egress', out(TCP.SYN), { ifindex: ifa });
    h.bumpGeneration();
    let r = await h.run('egress', out(TCP.ACK), { ifindex: ifa });
    assert.deepEqual([r.retval, r.last.reason], [0, REASON.CT_ESTABLISHED]);
    const ct = readCtValue(h.conntrack.lookup(h.conntrack.keys()[0])!);
    assert.equal(ct.gen, 1, 'the slow path stored the new generation');
    // proof that the next packet takes the fast path: it passes without the endpoint entry
    h.obj.map('tg_endpoints').delete(epKey({ ifindex: ifa, direction: DIR.EGRESS, family: 4, addr: '10.0.0.1' }));
    r = await h.run('egress', out(TCP.ACK), { ifindex: ifa });
    assert.deepEqual([r.retval, r.last.reason], [0, REASON.CT_ESTABLISHED]);
  });

  it("another managed interface sending with a pod's address does not ride that pod's entry (either direction)", async () => {
    const h = await harness(both);
    assert.equal((await h.run('egress', out(TCP.SYN), { ifindex: ifa })).retval, 0);
    assert.equal((await h.run('egress', out(TCP.ACK), { ifindex: ifa })).last.reason, REASON.CT_ESTABLISHED);
    // b's interface sends a's 5-tuple (spoofed source 10.0.0.1)
    let r = await h.run('egress', out(TCP.ACK), { ifindex: ifb });
    assert.deepEqual([r.retval, r.last.reason], [2, REASON.UNKNOWN_LOCAL]);
    // the reply of a's flow delivered on b's interface
    r = await h.run('ingress', back(TCP.ACK), { ifindex: ifb });
    assert.deepEqual([r.retval, r.last.reason], [2, REASON.UNKNOWN_LOCAL]);
    const ct = readCtValue(h.conntrack.lookup(h.conntrack.keys()[0])!);
    assert.equal(ct.ifindex, ifa, "the entry still belongs to a's interface");
    assert.equal((await h.run('egress', out(TCP.ACK), { ifindex: ifa })).last.reason, REASON.CT_ESTABLISHED);
  });

  it("a flow's own entry that a switch made stale is re-checked even when the other direction's entry is fresh", async () => {
    // a:80 <-> 10.5.0.1:443 opened both ways (a's SYN out, then the peer's SYN in to port 80): one entry per origin
    const h = await harness(both);
    const o = (flags: number) => craft({ src: '10.0.0.1', dst: '10.5.0.1', proto: 6, sport: 80, dport: 443 }, { tcpFlags: flags });
    const i = (flags: number) => craft({ src: '10.5.0.1', dst: '10.0.0.1', proto: 6, sport: 443, dport: 80 }, { tcpFlags: flags });
    assert.equal((await h.run('egress', o(TCP.SYN), { ifindex: ifa })).retval, 0);
    assert.equal((await h.run('ingress', i(TCP.SYN), { ifindex: ifa })).retval, 0);
    assert.equal(h.conntrack.keys().length, 2);
    // the switch: a's ingress now denies everything (fresh ep_id, no lookups, miss = deny)
    const key = epKey({ ifindex: ifa, direction: DIR.INGRESS, family: 4, addr: '10.0.0.1' });
    const m = h.obj.map('tg_endpoints');
    const was = readEpValue(m.lookup(key)!);
    m.update(key, epValue({ ...was, epId: was.epId + 1000, flags: 0, missVerdict: VERDICT.DENY }));
    h.bumpGeneration();
    // a's egress is unchanged: its entry is checked under the new generation
    assert.equal((await h.run('egress', o(TCP.ACK), { ifindex: ifa })).last.reason, REASON.CT_ESTABLISHED);
    // the ingress entry is stale: policy decides (not the reply of the fresh egress entry), as without the fast path
    const r = await h.run('ingress', i(TCP.ACK), { ifindex: ifa });
    assert.deepEqual([r.retval, r.last.reason], [2, REASON.POLICY_RECHECK]);
  });

  it('fragments take the endpoint lookup: an endpoint with port rules drops them even with a live entry of their key', async () => {
    // b allows UDP to any port; a UDP packet with ports 0 makes the entry a fragment's key would find (a
    // fragment's ports are not read: 0)
    const p = program(endpoint('ns/b', ['10.0.0.2'], [tier('t', [rule('b-udp', 'Allow', { proto: 17, dports: [{ from: 0, to: 65535 }] })], 'Deny')]));
    const h = await harness(p);
    const pkt = { src: '10.5.0.1', dst: '10.0.0.2', proto: 17, sport: 0, dport: 0 };
    assert.equal((await h.run('ingress', craft(pkt), { ifindex: ifb })).retval, 0);
    assert.equal((await h.run('ingress', craft(pkt), { ifindex: ifb })).last.reason, REASON.CT_ESTABLISHED);
    const frag = craft(pkt);
    frag.writeUInt16BE(0x2000, 14 + 6); // IPv4 more-fragments
    const r = await h.run('ingress', frag, { ifindex: ifb });
    assert.deepEqual([r.retval, r.last.reason], [2, REASON.FRAGMENT]);
  });
});
