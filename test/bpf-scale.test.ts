// Scale: CIDR sets of 1M entries in the IPv4 and IPv6 tries load and decide (kernel).
import { strict as assert } from 'assert';
import { BpfHarness } from '../compiler/engines/bpf';
import { craft } from '../compiler/emit/bpf/packet';
import { endpoint, program, rule, tier } from './bpf-fixtures';

describe('bpf scale (kernel)', function () {
  this.timeout(600000);
  it('a 1,048,576-CIDR IPv4 set and a 1,048,576-CIDR IPv6 set: tries filled, lookups exact', async () => {
    const v4: string[] = [];
    const v6: string[] = [];
    for (let i = 0; i < 1 << 20; i++) {
      v4.push(`${10 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}.0/24`);
      v6.push(`fd00:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::/48`);
    }
    const p = program(endpoint('a/b', ['192.168.0.1', 'fc00::1'], [tier('t', [rule('set', 'Allow', { peer: [...v4, ...v6] })], 'Deny')]));
    const h = await BpfHarness.open(p);
    try {
      assert.equal(h.tables.peer4.length, 1 << 20);
      assert.equal(h.tables.peer6.length, 1 << 20);
      const cases: [string, string, number][] = [
        ['10.0.0.5', '192.168.0.1', 0], ['25.255.255.1', '192.168.0.1', 0], ['26.0.0.1', '192.168.0.1', 2], ['9.255.255.255', '192.168.0.1', 2],
        ['fd00:0:0:1::1', 'fc00::1', 0], ['fd00:f:ffff:ffff::1', 'fc00::1', 0], ['fd00:10::1', 'fc00::1', 2], ['fd01::1', 'fc00::1', 2],
      ];
      for (const [src, dst, want] of cases) {
        h.clearConntrack();
        const r = await h.run('ingress', craft({ src, dst, proto: 6, sport: 1, dport: 2 }));
        assert.equal(r.retval, want, src);
      }
    } finally {
      h.close();
    }
  });
});
