// The benchmark measures what it says, in the kernel (namespaces prefixed tgb, removed afterwards):
//   - the flood's packets really go through the loaded policy: traffic matching an Allow rule is delivered,
//     the same flood to a port no rule allows is dropped, in every netfilter dataplane;
//   - TCP runs through the ruleset; the rule-count driver loads what it counts; the test-run floor is real.
import { strict as assert } from 'assert';
import { loadDataplane, unavailable, type Dataplane } from '../bench/dataplanes';
import { addClientAddresses, createTopology, destroyTopology, sweepOrphans, type Topology } from '../bench/netlab';
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

  it('with no policy, even the flood that rules would deny is delivered', () => {
    const topo = t as Topology;
    const r = udpFlood(topo, peerOf(0), portOf(3), 0.5);
    assert.ok(r.sentPps > 10000, `sent ${r.sentPps} pps`);
    assert.ok(r.wallPps > 0.9 * r.sentPps, `delivered ${r.wallPps} of ${r.sentPps} pps`);
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
      assert.equal(tg?.update?.mode, 'maps-only');
      assert.equal(tg?.update?.clang, 'not-needed');
    }
  });

  it('test-run floor: an empty tc program costs a measurable, small number of ns', async function () {
    const f = await measureFloor(10000);
    if (f.emptyNs === null && /not built|cannot be loaded/.test(f.reason ?? '')) this.skip();
    assert.ok(f.emptyNs !== null && f.emptyNs >= 0 && f.emptyNs < 10000, `${f.emptyNs} ns (${f.reason})`);
  });
});
