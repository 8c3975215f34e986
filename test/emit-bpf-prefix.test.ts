// emit/bpf/prefix.ts reads printed IPv4 CIDRs itself: the same prefixes ipaddr.js reads, and the same errors
// (octal and hex octets, lengths past 32, octets past 255 go to ipaddr).
import { strict as assert } from 'assert';
import fc from 'fast-check';
import * as ipaddr from 'ipaddr.js';
import { cidrToPrefix } from '../compiler/emit/bpf/prefix';

function byIpaddr(c: string): string {
  try {
    const [addr, len] = ipaddr.IPv4.parseCIDR(c);
    const v = addr.toByteArray().reduce((n, x) => (n << 8n) | BigInt(x), 0n);
    const host = BigInt(32 - len);
    return `${(v >> host) << host}/${len}`;
  } catch {
    return 'error';
  }
}

function byPrefix(c: string): string {
  try {
    const p = cidrToPrefix(c);
    return `${p.v}/${p.len}`;
  } catch {
    return 'error';
  }
}

describe('bpf prefixes: IPv4 CIDR texts', () => {
  it('read as ipaddr.js reads them (fast-check)', () => {
    const octet = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('00', '01', '010', '08', '0x1f', '255', '256'));
    const len = fc.oneof(fc.integer({ min: 0, max: 40 }).map(String), fc.constantFrom('08', '032', ''));
    fc.assert(fc.property(octet, octet, octet, octet, len, (a, b, c, d, l) => {
      const t = `${a}.${b}.${c}.${d}/${l}`;
      assert.equal(byPrefix(t), byIpaddr(t), t);
    }), { numRuns: 5000 });
    assert.equal(byPrefix('10.1.2.3/8'), `${10n << 24n}/8`);
    assert.equal(byPrefix('010.0.0.1/32'), byIpaddr('010.0.0.1/32'));
  });

  it('edge texts: the whole space, lengths past 32, white space, other digits: as ipaddr.js reads them', () => {
    const texts = ['0.0.0.0/0', '0.0.0.0/00', '255.255.255.255/32', '1.2.3.4/33', '1.2.3.4/99', ' 1.2.3.4/8', '1.2.3.4/8 ', '1.2.3.4/8\n', '\n1.2.3.4/8', '1.2.3.4 /8', '1.2.3.4/ 8', '1.2.3.4/+8', '1.2.3.4/\u0663', '1.2.3.4/', '1.2.3/8', '1.2.3.4.5/8'];
    for (const t of texts) assert.equal(byPrefix(t), byIpaddr(t), JSON.stringify(t));
    assert.equal(byPrefix('0.0.0.0/0'), '0/0');
    // a text with white space is no CIDR here (a reader trimming it would take it)
    for (const t of [' 1.2.3.4/8', '1.2.3.4/8\n', '1.2.3.4/33']) assert.equal(byPrefix(t), 'error', JSON.stringify(t));
  });
});
