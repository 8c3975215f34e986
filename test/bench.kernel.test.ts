// The benchmark measures what it says, in the kernel (namespaces prefixed tgb, removed afterwards):
//   - the raw flood's frames (below the socket layer) really go through the node: with no policy every frame
//     sent is delivered, with the node's forwarding dropping everything none is, and the server's receiver lets
//     TCP through; the old socket flood still works;
//   - the flood's packets really go through the loaded policy: traffic matching an Allow rule is delivered,
//     the same flood to a port no rule allows is dropped, in every netfilter dataplane;
//   - TCP runs through the ruleset; the rule-count driver loads what it counts; the test-run floor is real.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import { loadDataplane, unavailable, type Dataplane } from '../bench/dataplanes';
import { addClientAddresses, createTopology, destroyTopology, inNs, rxPackets, sweepOrphans, type Topology } from '../bench/netlab';
import { peerOf, portOf, syntheticProgram } from '../bench/generate';
import { TrafficServers, tcpThroughput, udpFlood } from '../bench/drivers/traffic';
import { measureCounts } from '../bench/drivers/rulecount';
import { measureFloor } from '../bench/drivers/testrun';

const tag = `tgb${process.pid.toString(36)}x`;
const N = 10;

describe('bench drivers in the kernel', function () {
  this.timeout(120000);
  let t: Topology | undefined;
  let servers: TrafficServers | undefined;

  before(async () => {
    sweepOrphans('tgb');
    t = createTopology(tag);
    addClientAddresses(t, [peerOf(0), peerOf(N - 1)]);
    servers = await TrafficServers.start(t, [portOf(0), portOf(N - 1), portOf(3)]);
  });

  after(() => {
    servers?.stop();
    if (t) destroyTopology(t);
  });

  it('raw flood, no policy: every frame sent is forwarded by the node and delivered (even one rules would deny)', () => {
    const topo = t as Topology;
    const nodeIn = rxPackets(topo.node, topo.ifA);
    const r = udpFlood(topo, peerOf(0), portOf(3), 0.5);
    const through = rxPackets(topo.node, topo.ifA) - nodeIn;
    assert.ok(r.sent > 5000, `sent ${r.sent}`);
    // a few stray packets (IPv6 neighbour discovery) may be counted besides the flood's
    assert.ok(Math.abs(r.delivered - r.sent) <= 16, `delivered ${r.delivered} of ${r.sent}`);
    assert.ok(Math.abs(through - r.sent) <= 16, `the node received ${through} of ${r.sent}`);
    assert.ok(r.pps > 0 && r.cpuShare > 0, JSON.stringify(r));
  });

  it('raw flood: nothing is delivered when the node\'s forwarding drops everything', () => {
    const topo = t as Topology;
    const ipt = (args: string[]): string => inNs(topo.node, 'iptables-legacy', ['-w', ...args]);
    ipt(['-N', 'TGB-DROPALL']);
    try {
      ipt(['-A', 'TGB-DROPALL', '-j', 'DROP']);
      ipt(['-I', 'FORWARD', '-j', 'TGB-DROPALL']);
      const r = udpFlood(topo, peerOf(N - 1), portOf(N - 1), 0.3);
      assert.ok(r.sent > 3000, `sent ${r.sent}`);
      assert.ok(r.delivered <= 16, `delivered ${r.delivered} of ${r.sent}`);
      // and the same frames go through again once the node forwards
      ipt(['-D', 'FORWARD', '-j', 'TGB-DROPALL']);
      const again = udpFlood(topo, peerOf(N - 1), portOf(N - 1), 0.3);
      assert.ok(again.sent > 3000 && Math.abs(again.delivered - again.sent) <= 16, `delivered ${again.delivered} of ${again.sent}`);
    } finally {
      spawnSync('ip', ['netns', 'exec', topo.node, 'iptables-legacy', '-w', '-D', 'FORWARD', '-j', 'TGB-DROPALL'], { stdio: 'ignore' });
      ipt(['-F', 'TGB-DROPALL']);
      ipt(['-X', 'TGB-DROPALL']);
    }
  });

  it('raw flood: the server\'s receiver drops the UDP flood but lets TCP through', () => {
    const r = tcpThroughput(t as Topology, 1);
    assert.ok(r.bps > 1e6, `TCP ${r.bps} bit/s`);
  });

  it('socket flood (the earlier generator): delivered to a UDP sink through the node', async () => {
    const topo = t as Topology;
    servers?.stop();
    servers = undefined;
    const sink = await TrafficServers.start(topo, [portOf(3)], 'socket');
    try {
      const r = udpFlood(topo, peerOf(0), portOf(3), 0.3, 'socket');
      assert.ok(r.sent > 3000, `sent ${r.sent}`);
      assert.ok(r.delivered > 0.9 * r.sent, `delivered ${r.delivered} of ${r.sent}`);
    } finally {
      sink.stop();
      servers = await TrafficServers.start(topo, [portOf(0), portOf(N - 1), portOf(3)]);
    }
  });

  for (const dp of ['iptables-legacy', 'iptables-nft', 'ipset', 'nftables', 'tollgate'] as Dataplane[]) {
    it(`${dp}: allowed flood delivered, denied flood dropped, TCP through the last rule`, async function () {
      if (unavailable(dp)) this.skip(); // tollgate, before the BPF engine or the loader hook exists
      const topo = t as Topology;
      const loaded = await loadDataplane(dp, syntheticProgram({ rules: N, iface: topo.ifB, serverIp: topo.addrB }), topo.node);
      try {
        assert.ok(loaded.ruleCount >= N, `${loaded.ruleCount} rules loaded`);
        const allowed = udpFlood(topo, peerOf(N - 1), portOf(N - 1), 0.5);
        assert.ok(allowed.wallPps > 0.9 * allowed.sentPps && allowed.wallPps > 1000, `allowed: delivered ${allowed.wallPps} of ${allowed.sentPps} pps`);
        // rule 3 allows peerOf(3) only: from peerOf(0) the packet matches no rule and the tier ends in Deny
        const denied = udpFlood(topo, peerOf(0), portOf(3), 0.5);
        assert.ok(denied.sentPps > 1000 && denied.wallPps < 0.01 * denied.sentPps, `denied: delivered ${denied.wallPps} of ${denied.sentPps} pps`);
        const tcp = tcpThroughput(topo, 1);
        assert.ok(tcp.bps > 1e6, `TCP ${tcp.bps} bit/s`);
      } finally {
        await loaded.unload();
      }
    });
  }

  it('rule-count driver: loads what it counts (a 100-entry CIDR set: one ipset, one rule per member when flat)', async () => {
    const rows = await measureCounts(`${tag}c`, N, 100);
    const by = (d: string) => rows.find((r) => r.dataplane === d);
    assert.equal(by('ipset')?.setEntries, 101);
    assert.equal(by('nftables')?.setEntries, 101);
    assert.equal(by('iptables-flat')?.ruleCount, (by('nftables')?.ruleCount ?? 0) + 100);
    for (const r of rows) assert.ok(typeof r.loadMs === 'number' && r.loadMs > 0, `${r.dataplane} loaded`);
    const flat = by('iptables-flat');
    assert.equal(flat?.update?.samples.length, 3);
    const tg = by('tollgate');
    if (!tg?.reason) {
      // the 101 CIDRs of rule 0 are map entries; a one-rule change is applied without clang
      assert.ok((tg?.mapEntries ?? 0) > 101, `${tg?.mapEntries} map entries`);
      assert.ok((tg?.memoryBytes ?? 0) > 0 && tg?.maps?.some((m) => m.name === 'tg_conntrack'));
      assert.equal(tg?.update?.mode, 'incremental', tg?.update?.fallback);
      assert.equal(tg?.update?.clang, 'not-needed');
    }
  });

  it('test-run floor: an empty tc program costs a measurable, small number of ns', async function () {
    const f = await measureFloor(10000);
    if (f.emptyNs === null && /not built|cannot be loaded/.test(f.reason ?? '')) this.skip();
    assert.ok(f.emptyNs !== null && f.emptyNs >= 0 && f.emptyNs < 10000, `${f.emptyNs} ns (${f.reason})`);
  });
});
