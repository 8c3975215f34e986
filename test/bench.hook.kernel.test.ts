// The Tollgate bench hook (compiler/load/bench-hook.ts) on the real loader, in the kernel: test-run verdicts
// agree with the policy (allowed rule, a port no rule allows), a new flow costs more than an established one,
// a one-rule change is an incremental update without clang (the hook loads through a dataplane handle), map memory is the kernel's own memlock figure, and
// nothing is left behind (netns, pins, state).
import { strict as assert } from 'assert';
import * as fs from 'fs';
import { tollgateHook } from '../bench/hook';
import { peerOf, portOf, syntheticProgram } from '../bench/generate';
import { run, sweepOrphans } from '../bench/netlab';
import { PIN_ROOT } from '../compiler/load/native';

const tag = `tgb6${process.pid.toString(36)}x`;
const N = 50;

describe('bench hook on the real loader', function () {
  this.timeout(120000);
  const hook = tollgateHook();
  before(function () {
    if (!hook.impl) this.skip();
    sweepOrphans('tgb');
  });
  after(async () => {
    await hook.impl?.close();
  });

  it('test-run: the allowed rule passes, a port no rule allows is dropped; new flow costs more than established', async () => {
    const h = hook.impl!;
    const p = syntheticProgram({ rules: N, iface: 'tgbtr', serverIp: '10.77.2.2' });
    const pkt = { src: peerOf(N - 1), dst: '10.77.2.2', proto: 17, sport: 40000, dport: portOf(N - 1) };
    const fresh = await h.testRun(p, pkt, { repeat: 5000, established: false, direction: 'ingress' });
    const est = await h.testRun(p, pkt, { repeat: 5000, established: true, direction: 'ingress' });
    assert.ok(fresh.allowed && est.allowed, 'the last rule allows its peer and port');
    assert.ok(fresh.ns > est.ns && est.ns > 0, `new flow ${fresh.ns} ns, established ${est.ns} ns`);
    const denied = await h.testRun(p, { ...pkt, dport: portOf(0) }, { repeat: 5000, established: false, direction: 'ingress' });
    assert.equal(denied.allowed, false, 'rule 0 port from rule N-1 peer: no rule allows it, the tier ends in Deny');
    await h.close();
    assert.ok(!run('ip', ['netns', 'list']).includes(`tgbh${process.pid.toString(36)}`), 'the test-run netns is gone');
  });

  it('load into a netns, a one-rule incremental update without clang, map memory, unload leaves nothing', async () => {
    const h = hook.impl!;
    const ns = `${tag}-count`;
    run('ip', ['netns', 'add', ns]);
    try {
      run('ip', ['-n', ns, 'link', 'add', `${tag}b`, 'type', 'veth', 'peer', 'name', `${tag}p`]);
      const p = syntheticProgram({ rules: N, iface: `${tag}b`, serverIp: '10.77.2.2' });
      const l = await h.loadIntoNetns(p, ns);
      try {
        assert.equal(l.load.mode, 'new-object');
        assert.ok(l.mapEntries > N, `${l.mapEntries} entries`);
        const peer4 = l.maps.find((m) => m.name === 'tg_peer4_exact' || m.name === 'tg_peer4');
        assert.ok(peer4 && peer4.memlockBytes > 0 && peer4.maxEntries > 0, JSON.stringify(peer4));
        assert.ok(l.maps.some((m) => m.name === 'tg_conntrack'));
        const changed = syntheticProgram({ rules: N, iface: `${tag}b`, serverIp: '10.77.2.2' });
        changed.endpoints[0].ingress.tiers[0].rules[0].match.dports = [{ from: 60999, to: 60999 }];
        const u = await l.update(changed);
        assert.equal(u.mode, 'incremental', u.fallback);
        assert.equal(u.clang, 'not-needed');
        assert.ok(u.enforcingMs > 0 && u.enforcingMs <= u.totalMs);
      } finally {
        await l.unload();
      }
      assert.ok(!fs.existsSync(`${PIN_ROOT}/netns-${ns}`), 'pins removed');
      assert.ok(!fs.existsSync(`/run/tollgate/state-${ns}.json`), 'state removed');
    } finally {
      run('ip', ['netns', 'del', ns]);
    }
  });
});
