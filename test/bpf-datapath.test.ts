// Kernel tests of the datapath: real programs loaded through the native addon, maps filled by the emitter,
// crafted packets through BPF_PROG_TEST_RUN. A machine without BPF fails these; they are not skipped.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { strict as assert } from 'assert';
import * as fc from 'fast-check';
import type { Action, Match, Packet, Program, Rule, TierChain } from '../compiler/ir/types';
import { BpfHarness, TEST_RUN_IFINDEX } from '../compiler/engines/bpf';
import { craft, TCP } from '../compiler/emit/bpf/packet';
import { REASON, VERDICT } from '../compiler/emit/bpf/codes';
import { buildTables, DecisionCeilingError, type BpfTables } from '../compiler/emit/bpf/tables';
import { endpointContents, policyContents } from '../compiler/emit/bpf/serialize';
import { arbitraries, chainOf, endpoint, packetOf, program, rule, tier } from './bpf-fixtures';
import { evaluate } from '../compiler/ir/evaluate';
import { describeRow, type RunResult } from '../compiler/engines/bpf';

/** The kernel's answer in the evaluator's terms: verdict, decidedBy line, deciding rule id. */
function kernelDecision(h: BpfHarness, p: Program, r: RunResult): { allowed: boolean; decidedBy: string; ruleId?: string } {
  const row = h.row(r.last.rule);
  return { allowed: r.retval === 0, decidedBy: describeRow(p, row, r.last), ...(row?.kind === 'rule' ? { ruleId: row.ruleId } : {}) };
}
function irDecision(p: Program, epIndex: number, dir: 'ingress' | 'egress', pkt: Packet): { allowed: boolean; decidedBy: string; ruleId?: string } {
  const d = evaluate(p.endpoints[epIndex], dir, pkt);
  return { allowed: d.allowed, decidedBy: d.decidedBy, ...(d.ruleId !== undefined ? { ruleId: d.ruleId } : {}) };
}

const u64 = (n: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
};

function byOf(h: BpfHarness, ruleIndex: number): string {
  const row = h.row(ruleIndex);
  if (!row) return `?${ruleIndex}`;
  if (row.kind === 'rule') return `rule:${row.ruleId}`;
  if (row.kind === 'tier-end') return `end:${row.tierIndex}`;
  return 'default';
}

/** A policy update as the loader makes it: the new generation's tables under fresh ids, then the endpoints flip. */
async function update(h: BpfHarness, p: Program, epIdBase: number): Promise<ReturnType<typeof buildTables>> {
  const t2 = buildTables(p, { epIdBase });
  for (const m of policyContents(t2)) if (m.count) await h.obj.map(m.map).updateBatch(m.keys, m.values, m.count);
  const eps = endpointContents(t2.endpoints, () => TEST_RUN_IFINDEX);
  await h.obj.map('tg_endpoints').updateBatch(eps.keys, eps.values, eps.count);
  h.bumpGeneration(); // as the loader does after its switch
  // the rule table of the new generation, so rule indexes resolve
  (h.tables as { rules: typeof t2.rules }).rules = t2.rules;
  return t2;
}

describe('bpf datapath (kernel, BPF_PROG_TEST_RUN)', function () {
  this.timeout(600000);
  const open: BpfHarness[] = [];
  afterEach(() => {
    while (open.length) open.pop()?.close();
  });
  const harness = async (p: Program, o: Parameters<typeof BpfHarness.open>[1] = {}): Promise<BpfHarness> => {
    const h = await BpfHarness.open(p, o);
    open.push(h);
    return h;
  };

  const web = program(
    endpoint('ns/web', ['10.0.0.1', 'fd00::1'], [
      tier('sec', [
        rule('deny-bad', 'Deny', { peer: ['10.9.0.0/16'] }),
        rule('pass-mon', 'Pass', { peer: ['10.8.0.0/16'] }),
        rule('allow-80', 'Allow', { peer: ['10.0.0.0/8', 'fd00::/16'], notPeer: ['10.7.0.0/16'], proto: 6, dports: [{ from: 80, to: 80 }, { from: 8000, to: 8080 }] }),
      ], 'Pass'),
      tier('app', [rule('allow-dns', 'Allow', { proto: 17, dports: [{ from: 53, to: 53 }] }), rule('allow-ping', 'Allow', { proto: 1, icmp: { type: 8 } })], 'Deny'),
    ], [tier('out', [rule('deny-out', 'Deny', { peer: ['192.168.0.0/16'] })], 'Pass')]),
    endpoint('ns/cli', ['10.1.0.5', 'fd00::5']),
  );

  it('decides as the reference evaluator on hand-picked packets, IPv4 and IPv6', async () => {
    const h = await harness(web);
    const cases: Packet[] = [
      { src: '10.1.0.5', dst: '10.0.0.1', proto: 6, sport: 40000, dport: 80 },
      { src: '10.1.0.5', dst: '10.0.0.1', proto: 6, sport: 40000, dport: 8080 },
      { src: '10.1.0.5', dst: '10.0.0.1', proto: 6, sport: 40000, dport: 8081 },
      { src: '10.7.0.5', dst: '10.0.0.1', proto: 6, sport: 40000, dport: 80 },
      { src: '10.9.0.5', dst: '10.0.0.1', proto: 17, sport: 40000, dport: 53 },
      { src: '10.8.0.5', dst: '10.0.0.1', proto: 6, sport: 40000, dport: 80 },
      { src: '10.8.0.5', dst: '10.0.0.1', proto: 17, sport: 40000, dport: 53 },
      { src: '11.0.0.1', dst: '10.0.0.1', proto: 1, icmpType: 8, icmpCode: 0 },
      { src: '11.0.0.1', dst: '10.0.0.1', proto: 1, icmpType: 13, icmpCode: 0 },
      { src: 'fd00::5', dst: 'fd00::1', proto: 6, sport: 40000, dport: 80 },
      { src: 'fd01::5', dst: 'fd00::1', proto: 6, sport: 40000, dport: 80 },
      { src: 'fd01::5', dst: 'fd00::1', proto: 17, sport: 40000, dport: 53 },
    ];
    for (const pkt of cases) {
      h.clearConntrack();
      const r = await h.run('ingress', craft(pkt));
      assert.deepEqual(kernelDecision(h, web, r), irDecision(web, 0, 'ingress', pkt), JSON.stringify(pkt));
      assert.equal(r.last.reason, REASON.POLICY);
    }
    // egress of the same endpoint, and an endpoint with no policy (default allow)
    const out = await h.run('egress', craft({ src: '10.0.0.1', dst: '192.168.1.1', proto: 6, sport: 1, dport: 2 }));
    assert.equal(out.retval, 2);
    assert.equal(byOf(h, out.last.rule), 'rule:deny-out');
    const free = await h.run('ingress', craft({ src: '10.0.0.1', dst: '10.1.0.5', proto: 6, sport: 1, dport: 2 }));
    assert.equal(free.retval, 0);
    assert.equal(byOf(h, free.last.rule), 'default');
  });

  it('differential: random policies and packets, the kernel equals evaluate() (fast-check)', async () => {
    const { tiers, pkt } = arbitraries();
    await fc.assert(fc.asyncProperty(tiers, fc.array(pkt, { minLength: 10, maxLength: 25 }), async (ts, pkts) => {
      const chain = chainOf(ts);
      const p = program(endpoint('ns/x', ['10.1.2.3', 'fd00:1::3'], chain, chain));
      const h = await BpfHarness.open(p);
      try {
        for (const k of pkts) {
          for (const dir of ['ingress', 'egress'] as const) {
            const packet = packetOf(k, dir);
            h.clearConntrack();
            const r = await h.run(dir, craft(packet));
            assert.deepEqual(kernelDecision(h, p, r), irDecision(p, 0, dir, packet), `${dir} ${JSON.stringify(packet)}\nchain ${JSON.stringify(chain)}`);
          }
        }
      } finally {
        h.close();
      }
    }), { numRuns: 60 });
  });

  it('conntrack: established and reply packets pass without policy, SYN re-evaluates, RST ends the flow', async () => {
    const p = program(
      endpoint('ns/a', ['10.0.0.1'], [tier('t', [], 'Deny')], [tier('t', [rule('out', 'Allow', { proto: 6, dports: [{ from: 80, to: 80 }] })], 'Deny')]),
    );
    const h = await harness(p);
    const syn = craft({ src: '10.0.0.1', dst: '10.5.0.1', proto: 6, sport: 40000, dport: 80 }, { tcpFlags: TCP.SYN });
    const ack = craft({ src: '10.0.0.1', dst: '10.5.0.1', proto: 6, sport: 40000, dport: 80 }, { tcpFlags: TCP.ACK });
    const replyAck = craft({ src: '10.5.0.1', dst: '10.0.0.1', proto: 6, sport: 80, dport: 40000 }, { tcpFlags: TCP.ACK });
    const replyRst = craft({ src: '10.5.0.1', dst: '10.0.0.1', proto: 6, sport: 80, dport: 40000 }, { tcpFlags: TCP.RST | TCP.ACK });
    // the reply without a flow is decided by ingress policy: denied
    let r = await h.run('ingress', replyAck);
    assert.equal(r.retval, 2);
    r = await h.run('egress', syn);
    assert.deepEqual([r.retval, r.last.reason], [0, REASON.POLICY]);
    r = await h.run('egress', ack);
    assert.deepEqual([r.retval, r.last.reason], [0, REASON.CT_ESTABLISHED]);
    r = await h.run('ingress', replyAck);
    assert.deepEqual([r.retval, r.last.reason], [0, REASON.CT_REPLY]);
    r = await h.run('egress', syn);
    assert.deepEqual([r.retval, r.last.reason], [0, REASON.POLICY], 'a SYN on an existing entry is decided again');
    r = await h.run('ingress', replyRst);
    assert.deepEqual([r.retval, r.last.reason], [0, REASON.CT_REPLY]);
    assert.equal(h.conntrack.keys().length, 0, 'RST removed the entry');
    r = await h.run('ingress', replyAck);
    assert.equal(r.retval, 2, 'after RST the reply is policy again');
    // an allowed flow to a denied port never gets an entry
    r = await h.run('egress', craft({ src: '10.0.0.1', dst: '10.5.0.1', proto: 6, sport: 40001, dport: 81 }, { tcpFlags: TCP.ACK }));
    assert.equal(r.retval, 2);
    assert.equal(h.conntrack.keys().length, 0);
  });

  it('conntrack: an entry another CPU refreshed after this packet read the clock is live, not expired (TCP stalls)', async () => {
    // Two CPUs carry one flow (data one way, ACKs the other). A packet reads the clock (tg_now), then the other
    // CPU writes a later last_seen_ns into the shared entry: now - last_seen_ns wraps. Read as "idle too long",
    // the live entry was deleted and the flow's next mid-stream packet dropped (TCP_NO_FLOW). Here the other
    // CPU's write is made from user space: last_seen_ns one minute ahead of the clock.
    const p = program(endpoint('ns/a', ['10.0.0.1'], [tier('t', [], 'Deny')], [tier('t', [rule('out', 'Allow', { proto: 6 }), rule('udp', 'Allow', { proto: 17 })], 'Deny')]));
    const h = await harness(p);
    const ahead = (): void => {
      for (const k of h.conntrack.keys()) {
        const v = h.conntrack.lookup(k);
        assert.ok(v);
        // process.hrtime is CLOCK_MONOTONIC on Linux; tg_now is that clock at tick resolution (jiffies since boot:
        // within a second of it) or the coarse monotonic clock, so a minute ahead is ahead of either
        v.writeBigUInt64LE(process.hrtime.bigint() + 60_000_000_000n, 0);
        h.conntrack.update(k, v);
      }
    };
    const out = (flags: number): Buffer => craft({ src: '10.0.0.1', dst: '10.5.0.1', proto: 6, sport: 40000, dport: 80 }, { tcpFlags: flags });
    const back = craft({ src: '10.5.0.1', dst: '10.0.0.1', proto: 6, sport: 80, dport: 40000 }, { tcpFlags: TCP.ACK });
    assert.equal((await h.run('egress', out(TCP.SYN))).retval, 0);
    ahead();
    let r = await h.run('ingress', back);
    assert.deepEqual([r.retval, r.last.reason], [0, REASON.CT_REPLY], 'the reply rides the entry refreshed "later"');
    ahead();
    r = await h.run('egress', out(TCP.ACK));
    assert.deepEqual([r.retval, r.last.reason], [0, REASON.CT_ESTABLISHED], 'so does the next packet of the origin');
    assert.equal(h.conntrack.keys().length, 1);
    // UDP: same rule (an expired-looking entry would be decided again and counted as POLICY)
    const udp = craft({ src: '10.0.0.1', dst: '10.5.0.1', proto: 17, sport: 5000, dport: 53 });
    await h.run('egress', udp);
    ahead();
    r = await h.run('egress', udp);
    assert.deepEqual([r.retval, r.last.reason], [0, REASON.CT_ESTABLISHED]);
  });

  it('conntrack: packets of a flow within one clock tick leave last_seen_ns alone (a write per tick, not per packet)', async () => {
    // The entry is shared by the CPUs of a flow; refreshed on every packet, its cache line bounced between them on
    // every packet. The datapath's clock is coarse (tg_now: jiffies, one tick = 1/CONFIG_HZ s): packets in
    // one tick read the same time and the refresh, forward only, writes nothing. With the precise clock every
    // packet (each test run takes microseconds) moved last_seen_ns.
    const p = program(endpoint('ns/a', ['10.0.0.1'], [tier('t', [], 'Deny')], [tier('t', [rule('udp', 'Allow', { proto: 17 })], 'Deny')]));
    const h = await harness(p);
    const udp = craft({ src: '10.0.0.1', dst: '10.5.0.1', proto: 17, sport: 5000, dport: 53 });
    assert.equal((await h.run('egress', udp)).last.reason, REASON.POLICY);
    const seen = (): bigint => {
      const [k] = h.conntrack.keys();
      const v = h.conntrack.lookup(k);
      assert.ok(v);
      return v.readBigUInt64LE(0);
    };
    const times: bigint[] = [seen()];
    for (let i = 0; i < 40; i++) {
      assert.equal((await h.run('egress', udp)).last.reason, REASON.CT_ESTABLISHED);
      times.push(seen());
    }
    const unchanged = times.slice(1).filter((t, i) => t === times[i]).length;
    const moves = times.length - 1 - unchanged;
    assert.ok(unchanged > 0, `last_seen_ns moved on every one of ${times.length - 1} packets`);
    assert.ok(times.every((t, i) => i === 0 || t >= times[i - 1]), 'last_seen_ns never goes back');
    // it does move with the clock: a packet after more than one tick (at most 10 ms at CONFIG_HZ >= 100) refreshes
    await new Promise((r) => setTimeout(r, 25));
    await h.run('egress', udp);
    assert.ok(seen() > times[times.length - 1], `no refresh after 25 ms (${moves} moves before)`);
  });

  it('the program loads and tracks flows where no kernel config can be read (the coarse clock then)', function () {
    // Containers without /boot and kernels without /proc/config.gz: a private mount namespace hides both (a unix
    // socket bound over them: open() fails with ENXIO) and a child process opens, loads and runs the program there.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tgrv1-hz-'));
    try {
      const child = path.join(dir, 'child.ts');
      const repo = path.resolve(__dirname, '..');
      fs.writeFileSync(child, `
        import { kernelHz } from ${JSON.stringify(path.join(repo, 'compiler/load/hz'))};
        import { BpfHarness } from ${JSON.stringify(path.join(repo, 'compiler/engines/bpf'))};
        import { craft } from ${JSON.stringify(path.join(repo, 'compiler/emit/bpf/packet'))};
        import { endpoint, program, rule, tier } from ${JSON.stringify(path.join(repo, 'test/bpf-fixtures'))};
        (async () => {
          const h = await BpfHarness.open(program(endpoint('ns/a', ['10.0.0.1'], [tier('t', [], 'Deny')], [tier('t', [rule('udp', 'Allow', { proto: 17 })], 'Deny')])));
          const udp = craft({ src: '10.0.0.1', dst: '10.5.0.1', proto: 17, sport: 5000, dport: 53 });
          const reasons = [(await h.run('egress', udp)).last.reason, (await h.run('egress', udp)).last.reason];
          h.close();
          console.log(JSON.stringify({ hz: kernelHz(), reasons }));
        })().catch((e) => { console.log(JSON.stringify({ error: String(e.message) })); });
      `);
      const sock = path.join(dir, 'sock');
      const script = [
        'set -e',
        `python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' ${sock}`,
        `for f in /proc/config.gz /boot/config-$(uname -r); do if [ -e "$f" ]; then mount --bind ${sock} "$f"; fi; done`,
        `exec ${process.execPath} --require tsx/cjs ${child}`,
      ].join('\n');
      const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'bash', '-c', script], { cwd: repo, encoding: 'utf8', timeout: 60000 });
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      assert.deepEqual(out, { hz: 0, reasons: [REASON.POLICY, REASON.CT_ESTABLISHED] });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('conntrack: FIN moves the flow to the closing timeout, idle timeouts end entries (const volatile)', async () => {
    const p = program(endpoint('ns/a', ['10.0.0.1'], [tier('t', [], 'Deny')], [tier('t', [rule('out', 'Allow', { proto: 6 }), rule('udp', 'Allow', { proto: 17 })], 'Deny')]));
    // closing timeout 0: after a FIN the next packet finds the entry expired; UDP idle timeout 0 likewise
    const h = await harness(p, { consts: { tg_ct_timeout_tcp_closing_ns: u64(0n), tg_ct_timeout_udp_ns: u64(0n) } });
    const pk = (flags: number): Buffer => craft({ src: '10.0.0.1', dst: '10.5.0.1', proto: 6, sport: 40000, dport: 80 }, { tcpFlags: flags });
    const reply = craft({ src: '10.5.0.1', dst: '10.0.0.1', proto: 6, sport: 80, dport: 40000 }, { tcpFlags: TCP.ACK });
    await h.run('egress', pk(TCP.SYN));
    let r = await h.run('ingress', reply);
    assert.equal(r.last.reason, REASON.CT_REPLY);
    r = await h.run('egress', pk(TCP.FIN | TCP.ACK));
    assert.equal(r.last.reason, REASON.CT_ESTABLISHED);
    r = await h.run('ingress', reply);
    assert.equal(r.retval, 2, 'after FIN and the closing timeout the entry is gone: ingress policy denies');
    const udp = craft({ src: '10.0.0.1', dst: '10.5.0.1', proto: 17, sport: 5000, dport: 53 });
    await h.run('egress', udp);
    r = await h.run('egress', udp);
    assert.equal(r.last.reason, REASON.POLICY, 'idle UDP entry (timeout 0) is not used');
  });

  it('policy generation: an update that denies an established flow takes effect on its next packet', async () => {
    const allow = program(endpoint('ns/a', ['10.0.0.1'], [tier('t', [rule('in', 'Allow', { proto: 6 })], 'Deny')], [tier('t', [rule('out', 'Allow', { proto: 6 })], 'Deny')]));
    const h = await harness(allow);
    const fwd = craft({ src: '10.5.0.1', dst: '10.0.0.1', proto: 6, sport: 40000, dport: 80 }, { tcpFlags: TCP.SYN });
    const fwdAck = craft({ src: '10.5.0.1', dst: '10.0.0.1', proto: 6, sport: 40000, dport: 80 }, { tcpFlags: TCP.ACK });
    const back = craft({ src: '10.0.0.1', dst: '10.5.0.1', proto: 6, sport: 80, dport: 40000 }, { tcpFlags: TCP.ACK });
    assert.equal((await h.run('ingress', fwd)).retval, 0);
    assert.equal((await h.run('egress', back)).last.reason, REASON.CT_REPLY);
    // The update: new classes under fresh ep_ids (ingress now denies TCP), then the endpoint entries flip.
    const deny = program(endpoint('ns/a', ['10.0.0.1'], [tier('t', [rule('in-deny', 'Deny', { proto: 6 })], 'Deny')], [tier('t', [], 'Deny')]));
    await update(h, deny, 100);
    let r = await h.run('egress', back);
    assert.equal(r.retval, 2, 'the reply of a flow the new ingress policy denies is dropped');
    assert.deepEqual([byOf(h, r.last.rule), r.last.reason], ['rule:in-deny', REASON.POLICY_RECHECK], "the flow's origin (ingress) re-checked");
    assert.equal(h.conntrack.keys().length, 0, 'the denied flow left conntrack');
    r = await h.run('ingress', fwdAck);
    assert.deepEqual([r.retval, r.last.reason], [2, REASON.TCP_NO_FLOW], 'no flow any more, and an ACK starts none');
    r = await h.run('ingress', fwd);
    assert.deepEqual([r.retval, byOf(h, r.last.rule), r.last.reason], [2, 'rule:in-deny', REASON.POLICY], 'a new SYN meets the new policy');
  });

  it('policy generation: an unchanged verdict after an update re-checks once, then rides conntrack again', async () => {
    const mk = (id: string): Program => program(endpoint('ns/a', ['10.0.0.1'], [tier('t', [rule(id, 'Allow', { proto: 6 })], 'Deny')]));
    const h = await harness(mk('in'));
    const syn = craft({ src: '10.5.0.1', dst: '10.0.0.1', proto: 6, sport: 40000, dport: 80 }, { tcpFlags: TCP.SYN });
    const ack = craft({ src: '10.5.0.1', dst: '10.0.0.1', proto: 6, sport: 40000, dport: 80 }, { tcpFlags: TCP.ACK });
    await h.run('ingress', syn);
    assert.equal((await h.run('ingress', ack)).last.reason, REASON.CT_ESTABLISHED);
    const t2 = await update(h, mk('in2'), 50);
    const epId = t2.endpoints.find((e) => e.direction === 'ingress')!.epId;
    assert.ok(epId >= 50);
    let r = await h.run('ingress', ack);
    assert.deepEqual([r.retval, r.last.reason, r.last.epId], [0, REASON.POLICY_RECHECK, epId]);
    r = await h.run('ingress', ack);
    assert.deepEqual([r.retval, r.last.reason], [0, REASON.CT_ESTABLISHED]);
  });

  it('policy generation: a flow the update denies stays denied when the server may open connections', async () => {
    // B (10.0.0.1) serves 8080 to A (10.5.0.1) and may open any TCP connection itself (egress allows TCP).
    const mk = (port: number): Program => program(endpoint('ns/b', ['10.0.0.1'],
      [tier('t', [rule(`in-${port}`, 'Allow', { proto: 6, dports: [{ from: port, to: port }] })], 'Deny')],
      [tier('t', [rule('out', 'Allow', { proto: 6 })], 'Deny')]));
    const fromA = craft({ src: '10.5.0.1', dst: '10.0.0.1', proto: 6, sport: 40000, dport: 8080 }, { tcpFlags: TCP.ACK });
    const fromB = craft({ src: '10.0.0.1', dst: '10.5.0.1', proto: 6, sport: 8080, dport: 40000 }, { tcpFlags: TCP.ACK });
    const established = async (): Promise<BpfHarness> => {
      const h = await harness(mk(8080));
      const syn = craft({ src: '10.5.0.1', dst: '10.0.0.1', proto: 6, sport: 40000, dport: 8080 }, { tcpFlags: TCP.SYN });
      assert.equal((await h.run('ingress', syn)).retval, 0);
      assert.equal((await h.run('egress', fromB)).last.reason, REASON.CT_REPLY);
      assert.equal((await h.run('ingress', fromA)).last.reason, REASON.CT_ESTABLISHED);
      await update(h, mk(9090), 100);
      return h;
    };
    // B's packet first: the re-check of the flow's origin (B's ingress) denies it: dropped, not a new egress flow
    let h = await established();
    let r = await h.run('egress', fromB);
    assert.deepEqual([r.retval, r.last.reason, byOf(h, r.last.rule)], [2, REASON.POLICY_RECHECK, 'end:0']);
    r = await h.run('ingress', fromA);
    assert.equal(r.retval, 2, "A's next packet is not a reply of a flow B's packet opened");
    r = await h.run('egress', fromB);
    assert.equal(r.retval, 2);
    assert.equal(h.conntrack.keys().length, 0, 'no entry is left or made');
    // A's packet first: the re-check denies and removes the entry; B's next packet (no SYN) opens nothing
    h = await established();
    r = await h.run('ingress', fromA);
    assert.deepEqual([r.retval, r.last.reason, byOf(h, r.last.rule)], [2, REASON.POLICY_RECHECK, 'end:0']);
    r = await h.run('egress', fromB);
    assert.deepEqual([r.retval, r.last.reason], [2, REASON.TCP_NO_FLOW]);
    r = await h.run('ingress', fromA);
    assert.deepEqual([r.retval, r.last.reason], [2, REASON.TCP_NO_FLOW]);
    assert.equal(h.conntrack.keys().length, 0);
    // B may still open a connection of its own (with a SYN), and its replies pass
    const synB = craft({ src: '10.0.0.1', dst: '10.5.0.1', proto: 6, sport: 41000, dport: 22 }, { tcpFlags: TCP.SYN });
    assert.deepEqual([(r = await h.run('egress', synB)).retval, r.last.reason], [0, REASON.POLICY]);
    r = await h.run('ingress', craft({ src: '10.5.0.1', dst: '10.0.0.1', proto: 6, sport: 22, dport: 41000 }, { tcpFlags: TCP.SYN | TCP.ACK }));
    assert.deepEqual([r.retval, r.last.reason], [0, REASON.CT_REPLY]);
  });

  it('TCP: only a SYN starts a flow; a mid-stream packet without an entry is dropped before policy', async () => {
    const p = program(endpoint('ns/a', ['10.0.0.1', 'fd00::1'], [tier('t', [rule('in', 'Allow', { proto: 6 })], 'Deny')], [tier('t', [rule('out', 'Allow', { proto: 6 })], 'Deny')]));
    const h = await harness(p);
    for (const [src, dst] of [['10.5.0.1', '10.0.0.1'], ['fd05::1', 'fd00::1']]) {
      h.clearConntrack();
      for (const flags of [TCP.ACK, TCP.FIN | TCP.ACK, TCP.RST, TCP.SYN | TCP.ACK, 0]) {
        const r = await h.run('ingress', craft({ src, dst, proto: 6, sport: 40000, dport: 80 }, { tcpFlags: flags }));
        assert.deepEqual([r.retval, r.last.reason, r.last.rule], [2, REASON.TCP_NO_FLOW, 0], `${src} flags ${flags}`);
      }
      assert.equal(h.conntrack.keys().length, 0, 'no entry from a mid-stream packet');
      const syn = await h.run('ingress', craft({ src, dst, proto: 6, sport: 40000, dport: 80 }, { tcpFlags: TCP.SYN }));
      assert.deepEqual([syn.retval, syn.last.reason, byOf(h, syn.last.rule)], [0, REASON.POLICY, 'rule:in']);
      const ack = await h.run('ingress', craft({ src, dst, proto: 6, sport: 40000, dport: 80 }, { tcpFlags: TCP.ACK }));
      assert.deepEqual([ack.retval, ack.last.reason], [0, REASON.CT_ESTABLISHED]);
    }
    // UDP has no SYN: any allowed packet starts a flow
    const udp = await h.run('ingress', craft({ src: '10.5.0.1', dst: '10.0.0.1', proto: 17, sport: 5000, dport: 53 }));
    assert.equal(udp.retval, 2, 'ingress allows TCP only');
    const out = await h.run('egress', craft({ src: '10.0.0.1', dst: '10.5.0.1', proto: 6, sport: 80, dport: 40000 }, { tcpFlags: TCP.ACK }));
    assert.deepEqual([out.retval, out.last.reason], [2, REASON.TCP_NO_FLOW], 'an egress ACK without a flow either');
  });

  it('tg_record_last = 0 (production) and = 1 (test runs): both verify, load and decide alike, with and without the source-port trie', async () => {
    const sports = program(endpoint('ns/web', ['10.0.0.1', 'fd00::1'], [tier('t', [
      rule('allow-80', 'Allow', { peer: ['10.0.0.0/8', 'fd00::/16'], proto: 6, dports: [{ from: 80, to: 80 }] }),
      rule('dns-high', 'Allow', { proto: 17, dports: [{ from: 53, to: 53 }], sports: [{ from: 1024, to: 65535 }] }),
    ], 'Deny')]));
    const v4 = { src: '10.1.0.5', dst: '10.0.0.1', proto: 6, sport: 40000, dport: 80 };
    const pkts = [
      craft(v4),
      craft({ ...v4, dport: 81 }),
      craft({ src: 'fd00::5', dst: 'fd00::1', proto: 6, sport: 40000, dport: 80 }),
      craft({ src: '11.0.0.1', dst: '10.0.0.1', proto: 1, icmpType: 8, icmpCode: 0 }),
      craft({ src: '11.0.0.1', dst: '10.0.0.1', proto: 17, sport: 5353, dport: 53 }),
      craft({ src: '11.0.0.1', dst: '10.0.0.1', proto: 17, sport: 53, dport: 53 }),
    ];
    const shapes: [string, Program, number[]][] = [['no source ports', web, [0, 2, 0, 0, 0, 0, 0]], ['source ports', sports, [0, 2, 0, 2, 0, 2, 0]]];
    for (const [shape, p, expected] of shapes) {
      for (const record of [false, true]) {
        const h = await harness(p, { record });
        assert.equal(h.tables.haveSports, shape === 'source ports');
        const got: number[] = [];
        for (const pkt of pkts) {
          h.clearConntrack();
          got.push((await h.run('ingress', pkt)).retval);
        }
        await h.run('ingress', pkts[0]);
        got.push((await h.run('ingress', craft(v4, { tcpFlags: TCP.ACK }))).retval);
        assert.deepEqual(got, expected, `${shape}, record=${record}`);
        const k = Buffer.alloc(4);
        k.writeUInt32LE(h.tables.rules.find((r) => r.ruleId === 'allow-80')?.index ?? -1);
        const counted = (h.obj.map('tg_counters').lookupPerCpu(k) ?? []).reduce((s, b) => s + b.readBigUInt64LE(0), 0n);
        assert.equal(counted, 4n, `${shape}, record=${record}: the rule counted three new flows (v4, v6, v4) and the established ACK`);
        const last = h.obj.map('tg_last').lookup(Buffer.alloc(4));
        assert.equal(last?.some((b) => b !== 0), record, `${shape}, record=${record}: tg_last written only when asked`);
      }
    }
  });

  it('interfaces: unmanaged ifindex passes; managed with an unknown local address drops; ctx ifindex is honoured', async () => {
    const link = 'tgptest0';
    execFileSync('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', 'tgptest1']);
    try {
      const ifindex = Number(execFileSync('cat', [`/sys/class/net/${link}/ifindex`], { encoding: 'utf8' }).trim());
      const p = program(endpoint('ns/a', ['10.0.0.1'], [tier('t', [], 'Deny')]));
      const h = await harness(p, { ifindexOf: () => ifindex });
      const pkt = craft({ src: '10.5.0.1', dst: '10.0.0.1', proto: 6, sport: 1, dport: 80 });
      let r = await h.run('ingress', pkt);
      assert.deepEqual([r.retval, r.last.reason], [0, REASON.UNMANAGED], 'ifindex 1 (loopback) has no endpoint');
      r = await h.run('ingress', pkt, { ifindex });
      assert.deepEqual([r.retval, r.last.reason], [2, REASON.POLICY], 'the endpoint on the dummy interface decides');
      r = await h.run('ingress', craft({ src: '10.5.0.1', dst: '10.0.0.2', proto: 6, sport: 1, dport: 80 }), { ifindex });
      assert.deepEqual([r.retval, r.last.reason], [2, REASON.UNKNOWN_LOCAL]);
      r = await h.run('ingress', Buffer.from('020000000002020000000001080600010800060400010200000000010a000001000000000000000a000002', 'hex'), { ifindex });
      assert.deepEqual([r.retval, r.last.reason], [0, REASON.NOT_IP], 'ARP passes');
    } finally {
      execFileSync('ip', ['link', 'del', link]);
    }
  });

  it('fragments and unparsed IPv6 extension headers drop only when the endpoint has L4 rules; hop-by-hop is skipped', async () => {
    const p = program(
      endpoint('ns/l4', ['10.0.0.1', 'fd00::1'], [tier('t', [rule('web', 'Allow', { proto: 6, dports: [{ from: 80, to: 80 }] })], 'Deny')]),
      endpoint('ns/any', ['10.0.0.2'], [tier('t', [rule('all', 'Allow', { peer: ['10.5.0.0/16'] })], 'Deny')]),
    );
    const h = await harness(p);
    const frag = (dst: string): Buffer => {
      const b = craft({ src: '10.5.0.1', dst, proto: 6, sport: 1, dport: 80 });
      b.writeUInt16BE(0x2000, 14 + 6); // more fragments
      return b;
    };
    let r = await h.run('ingress', frag('10.0.0.1'));
    assert.deepEqual([r.retval, r.last.reason], [2, REASON.FRAGMENT]);
    r = await h.run('ingress', frag('10.0.0.2'));
    assert.deepEqual([r.retval, r.last.reason], [0, REASON.POLICY]);
    // IPv4 with 4 bytes of options (IHL 6): the ports are found after them
    const plain4 = craft({ src: '10.5.0.1', dst: '10.0.0.1', proto: 6, sport: 1, dport: 80 });
    const opts4 = Buffer.concat([plain4.subarray(0, 34), Buffer.from([1, 1, 1, 0]), plain4.subarray(34)]);
    opts4.writeUInt8(0x46, 14);
    opts4.writeUInt16BE(opts4.length - 14, 16);
    h.clearConntrack();
    r = await h.run('ingress', opts4);
    assert.deepEqual([r.retval, r.last.reason], [0, REASON.POLICY], 'port 80 read past the options');
    opts4.writeUInt16BE(81, 14 + 24 + 2);
    r = await h.run('ingress', opts4);
    assert.deepEqual([r.retval, r.last.reason], [2, REASON.POLICY], 'port 81 read past the options: tier end denies');
    // IPv6 with a hop-by-hop header (8 bytes) before TCP: parsed through
    const plain = craft({ src: 'fd05::1', dst: 'fd00::1', proto: 6, sport: 1, dport: 80 });
    const hbh = Buffer.concat([plain.subarray(0, 54), Buffer.from([6, 0, 1, 4, 0, 0, 0, 0]), plain.subarray(54)]);
    hbh.writeUInt8(0, 14 + 6);
    hbh.writeUInt16BE(plain.length - 54 + 8, 14 + 4);
    h.clearConntrack();
    r = await h.run('ingress', hbh);
    assert.deepEqual([r.retval, r.last.reason], [0, REASON.POLICY]);
    // the same with an AH header (51) first: not parsed, dropped
    const ah = Buffer.from(hbh);
    ah.writeUInt8(51, 14 + 6);
    r = await h.run('ingress', ah);
    assert.deepEqual([r.retval, r.last.reason], [2, REASON.EXTHDR]);
    // truncated TCP header on a managed interface: malformed, dropped
    // truncated TCP header on a managed interface (the test-run ifindex 1 carries endpoints here): dropped
    r = await h.run('ingress', plain.subarray(0, 14 + 40 + 2));
    assert.deepEqual([r.retval, r.last.reason], [2, REASON.MALFORMED]);
  });

  it('IPv6 neighbour discovery and MLD from link-local addresses pass; other ICMPv6 from them is spoofing', async () => {
    const p = program(endpoint('ns/a', ['fd00::1'], [tier('t', [], 'Deny')], [tier('t', [], 'Deny')]));
    const h = await harness(p);
    for (const type of [133, 135, 136, 143]) {
      const r = await h.run('egress', craft({ src: 'fe80::1', dst: 'ff02::1:ff00:1', proto: 58, icmpType: type, icmpCode: 0 }));
      assert.deepEqual([r.retval, r.last.reason], [0, REASON.ND], `type ${type}`);
    }
    const echo = await h.run('egress', craft({ src: 'fe80::1', dst: 'fd00::2', proto: 58, icmpType: 128, icmpCode: 0 }));
    assert.deepEqual([echo.retval, echo.last.reason], [2, REASON.UNKNOWN_LOCAL]);
  });

  it('per-rule counters count packets and bytes of the deciding rule', async () => {
    const h = await harness(web);
    const pkt = craft({ src: '10.1.0.5', dst: '10.0.0.1', proto: 6, sport: 40000, dport: 80 });
    await h.run('ingress', pkt, { repeat: 5 });
    const idx = h.tables.rules.find((r) => r.ruleId === 'allow-80')?.index ?? -1;
    const k = Buffer.alloc(4);
    k.writeUInt32LE(idx);
    const per = h.obj.map('tg_counters').lookupPerCpu(k) ?? [];
    const packets = per.reduce((s, b) => s + b.readBigUInt64LE(0), 0n);
    const bytes = per.reduce((s, b) => s + b.readBigUInt64LE(8), 0n);
    assert.equal(packets, 5n);
    assert.equal(bytes, BigInt(5 * pkt.length));
  });

  it('endpoints with equal policy share one table; the rule reported and counted is each endpoint\'s own row', async () => {
    const ing = (): TierChain[] => [tier('t', [rule('deny-22', 'Deny', { proto: 6, dports: [{ from: 22, to: 22 }] }), rule('allow-tcp', 'Allow', { proto: 6 })], 'Deny')];
    const p = program(endpoint('ns/a', ['10.0.0.1'], ing()), endpoint('ns/b', ['10.0.0.2'], ing()), endpoint('ns/c', ['10.0.0.3'], [tier('t', [rule('allow-udp', 'Allow', { proto: 17 })], 'Deny')]));
    const h = await harness(p);
    const entry = (id: string): BpfTables['endpoints'][number] => h.tables.endpoints.find((e) => e.endpoint === id && e.direction === 'ingress')!;
    assert.equal(entry('ns/a').tableId, entry('ns/b').tableId, 'a and b share a table');
    assert.notEqual(entry('ns/a').tableId, entry('ns/c').tableId);
    assert.notEqual(entry('ns/a').ruleBase, entry('ns/b').ruleBase);
    const count = (idx: number): bigint => {
      const k = Buffer.alloc(4);
      k.writeUInt32LE(idx);
      return (h.obj.map('tg_counters').lookupPerCpu(k) ?? []).reduce((n, b) => n + b.readBigUInt64LE(0), 0n);
    };
    const rowOf = (ep: string, ruleId: string): number => h.tables.rules.find((r) => r.endpoint === ep && r.ruleId === ruleId)!.index;
    for (const [dst, ep, n] of [['10.0.0.1', 'ns/a', 2], ['10.0.0.2', 'ns/b', 3]] as const) {
      const r = await h.run('ingress', craft({ src: '10.5.0.1', dst, proto: 6, sport: 40000, dport: 22 }, { tcpFlags: TCP.SYN }), { repeat: n });
      assert.deepEqual([r.retval, r.last.rule, h.row(r.last.rule)?.endpoint], [2, rowOf(ep, 'deny-22'), ep]);
      const a = await h.run('ingress', craft({ src: '10.5.0.1', dst, proto: 6, sport: 40000, dport: 80 }, { tcpFlags: TCP.SYN }));
      assert.deepEqual([a.retval, a.last.rule, h.row(a.last.rule)?.endpoint], [0, rowOf(ep, 'allow-tcp'), ep]);
      const miss = await h.run('ingress', craft({ src: '10.5.0.1', dst, proto: 17, sport: 40000, dport: 53 }));
      assert.deepEqual([miss.retval, h.row(miss.last.rule)?.endpoint, h.row(miss.last.rule)?.kind], [2, ep, 'tier-end']);
    }
    assert.deepEqual([count(rowOf('ns/a', 'deny-22')), count(rowOf('ns/b', 'deny-22'))], [2n, 3n]);
  });

  it('65,536 rules on one endpoint and direction: tables build, the program verifies, loads and decides', async () => {
    const rules: Rule[] = [];
    for (let i = 0; i < 65536; i++) {
      const a = `10.${(i >> 8) & 0xff}.${i & 0xff}.0/24`;
      rules.push(rule(`r${i}`, i % 2 ? 'Deny' : 'Allow', { peer: [a], proto: 6, dports: [{ from: 1000 + (i % 5000), to: 1000 + (i % 5000) }] }));
    }
    const p = program(endpoint('ns/big', ['192.168.0.1'], [tier('t', rules, 'Deny')]));
    const h = await harness(p);
    const st = h.tables.endpoints[0].stats;
    assert.equal(st.rules, 65536);
    const pkt = (i: number): Buffer => craft({ src: `10.${(i >> 8) & 0xff}.${i & 0xff}.7`, dst: '192.168.0.1', proto: 6, sport: 1, dport: 1000 + (i % 5000) });
    for (const i of [0, 1, 4999, 65534, 65535]) {
      h.clearConntrack();
      const r = await h.run('ingress', pkt(i));
      assert.deepEqual([r.retval, byOf(h, r.last.rule)], [i % 2 ? 2 : 0, `rule:r${i}`]);
    }
  });

  it('the decision ceiling refuses a ports-by-CIDRs explosion and names the policies', () => {
    const rules: Rule[] = [];
    for (let i = 0; i < 300; i++) rules.push(rule(`c${i}`, 'Allow', { peer: [`10.${i >> 8}.${i & 0xff}.0/24`] }, 'cidrs'));
    for (let i = 0; i < 300; i++) rules.push(rule(`p${i}`, 'Deny', { proto: 6, dports: [{ from: i + 1, to: i + 1 }] }, 'ports'));
    const p = program(endpoint('ns/x', ['192.168.0.1'], [tier('t', rules, 'Deny')]));
    assert.throws(() => buildTables(p, { maxDecisionsPerEndpoint: 50000 }), (e: unknown) => {
      assert.ok(e instanceof DecisionCeilingError);
      assert.match(e.message, /endpoint ns\/x ingress: expected at most 50000 decision entries, found \d+/);
      assert.match(e.message, /CalicoNetworkPolicy ns\/cidrs/);
      assert.match(e.message, /CalicoNetworkPolicy ns\/ports/);
      return true;
    });
    // a rule that constrains nothing (k8s `ingress: [{}]`, a Calico catch-all) costs no entry: it is the miss verdict
    const withCatchAll = program(endpoint('ns/z', ['192.168.0.1'], [tier('t', [...rules.slice(0, 300), rules[300], rule('all', 'Allow', {}, 'catch-all')], 'Deny')]));
    const without = program(endpoint('ns/z', ['192.168.0.1'], [tier('t', [...rules.slice(0, 300), rules[300]], 'Deny')]));
    const tc = buildTables(withCatchAll, { maxDecisionsPerEndpoint: 50000 });
    assert.ok(tc.decisions.length <= buildTables(without).decisions.length, `${tc.decisions.length} entries`);
    assert.equal(tc.rules.at(tc.endpoints[0].missRule)?.ruleId, 'all');
    // one rule with many CIDRs and many ports is ONE decision entry (no C x P)
    const one = program(endpoint('ns/y', ['192.168.0.1'], [tier('t', [rule('many', 'Allow', { peer: rules.slice(0, 300).map((r) => (r.match.peer as string[])[0]), proto: 6, dports: Array.from({ length: 300 }, (_, i) => ({ from: i * 2, to: i * 2 })) })], 'Deny')]));
    const t = buildTables(one);
    assert.equal(t.endpoints[0].stats.decisions, 1);
    assert.equal(t.decisions[0].verdict, VERDICT.ALLOW);
  });
});
