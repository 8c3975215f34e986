// The bpf engine: probes between pods through the real programs (source egress, then destination ingress,
// fresh conntrack each), IPv4 and IPv6, checked against the rule-by-rule reading of the IR.
import { strict as assert } from 'assert';
import { PROBE_SPORT, runProbes } from '../compiler/engines/bpf';
import type { Probe } from '../compiler/engines/types';
import type { Packet } from '../compiler/ir/types';
import { endpoint, program, rule, tier } from './bpf-fixtures';
import { evaluateConnection } from '../compiler/ir/evaluate';

describe('bpf engine (kernel)', function () {
  this.timeout(120000);
  const p = program(
    endpoint('a/web', ['10.0.0.1', 'fd00::1'], [tier('default', [rule('web-in', 'Allow', { peer: ['10.0.0.2/32', 'fd00::2/128'], proto: 6, dports: [{ from: 80, to: 80 }] })], 'Deny', 'default')]),
    endpoint('a/cli', ['10.0.0.2', 'fd00::2'], [], [tier('default', [rule('cli-out', 'Allow', { proto: 6 }), rule('cli-udp', 'Deny', { proto: 17 })], 'Deny', 'default')]),
    endpoint('b/other', ['10.0.1.9', 'fd00::9']),
  );

  it('gives the same verdicts and decidedBy lines as evaluateConnection, both families, both directions', async () => {
    const probes: Probe[] = [];
    for (const family of [4, 6] as const) for (const [from, to] of [['a/cli', 'a/web'], ['b/other', 'a/web'], ['a/web', 'a/cli'], ['a/cli', 'b/other']]) {
      for (const [port, protocol] of [[80, 6], [81, 6], [53, 17]]) probes.push({ from, to, port, protocol, family });
    }
    const results = await runProbes(p, probes);
    assert.equal(results.length, probes.length);
    probes.forEach((pr, i) => {
      const r = results[i];
      const src = p.endpoints.find((e) => e.id === pr.from)!.ips.find((ip) => ip.includes(':') === (pr.family === 6))!;
      const dst = p.endpoints.find((e) => e.id === pr.to)!.ips.find((ip) => ip.includes(':') === (pr.family === 6))!;
      const pkt: Packet = { src, dst, proto: pr.protocol, sport: PROBE_SPORT, dport: pr.port };
      const ir = evaluateConnection(p, pkt);
      const where = `${pr.from} -> ${pr.to} ${pr.protocol}/${pr.port} v${pr.family}`;
      assert.deepEqual(r.egress, { allowed: ir.egress!.allowed, decidedBy: ir.egress!.decidedBy }, where);
      assert.deepEqual(r.ingress, { allowed: ir.ingress!.allowed, decidedBy: ir.ingress!.decidedBy }, where);
      assert.equal(r.allowed, ir.allowed, where);
      assert.equal(r.protocol, pr.protocol === 6 ? 'TCP' : 'UDP');
    });
    assert.ok(results.some((r) => r.allowed) && results.some((r) => !r.allowed));
  });
});
