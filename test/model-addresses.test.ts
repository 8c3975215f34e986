// model/addresses: a dotted quad as ipaddr.js prints it is read without ipaddr.js's parser (plainIpv4); every
// address must come out as ipaddr.js alone reads it (valid or not, canonical text, octets).
import { strict as assert } from 'assert';
import * as fc from 'fast-check';
import * as ipaddr from 'ipaddr.js';
import { parseCidr, parseIp } from '../compiler/model/addresses';

/** IPv4 as parseIp read it before plainIpv4: ipaddr.js alone. */
function reference(s: string): { addr: string; octets: number[] } | undefined {
  if (s.trim() !== s || s === '' || s.includes(':') || !ipaddr.IPv4.isValidFourPartDecimal(s)) return undefined;
  const ip = ipaddr.IPv4.parse(s);
  return { addr: ip.toString(), octets: ip.octets };
}
function got(s: string): { addr: string; octets: number[] } | undefined {
  const p = parseIp(s);
  if (!p || p.family !== 4) return undefined;
  return { addr: p.addr, octets: (p.ip as ipaddr.IPv4).octets };
}

describe('model: IPv4 addresses', () => {
  it('edge texts read as ipaddr.js reads them', () => {
    const texts = [
      '0.0.0.0', '255.255.255.255', '256.0.0.1', '1.2.3.4', '01.2.3.4', '1.2.3.04', '1.2.3.0', '00.0.0.0', '1.2.3', '1.2.3.4.5',
      '1..3.4', '.1.2.3', '1.2.3.', '1.2.3.999', '1.2.3.1000', '1.2.3.0255', '0x1.2.3.4', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.4/8',
      '10.0.0.300', '172.16.0.0', '4294967295', '1.2.3.-4', '+1.2.3.4', '١.2.3.4',
    ];
    for (const t of texts) assert.deepEqual(got(t), reference(t), t);
  });
  it('random texts of digits and dots read as ipaddr.js reads them', () => {
    const text = fc.array(fc.constantFrom('0', '1', '2', '5', '9', '.', '.', '25', '255', '256', '00'), { maxLength: 12 }).map((a) => a.join(''));
    fc.assert(fc.property(text, (t) => assert.deepEqual(got(t), reference(t), t)), { numRuns: 20000 });
  });
  it('CIDRs (IPv4 and IPv6, random prefixes) read as with ipaddr.js masking and printing alone', () => {
    const reference = (text: string): string => {
      const [a, plen] = text.split('/');
      const ip = ipaddr.parse(a);
      const prefix = Number(plen);
      const bytes = ip.toByteArray();
      const masked = bytes.map((b, i) => b & ((0xff << (8 - Math.max(0, Math.min(8, prefix - i * 8)))) & 0xff));
      const network = ipaddr.fromByteArray(masked);
      const addr = network.kind() === 'ipv6' ? (network as ipaddr.IPv6).toRFC5952String() : network.toString();
      return JSON.stringify({ cidr: `${addr}/${prefix}`, prefix, hostBits: masked.some((b, i) => b !== bytes[i]), bytes: network.toByteArray() });
    };
    const v4 = fc.tuple(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 })).map(([o, p]) => `${o.join('.')}/${p}`);
    const v6 = fc.tuple(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 128 })).map(([h, p]) => `${h.map((x) => x.toString(16)).join(':')}/${p}`);
    fc.assert(fc.property(fc.oneof(v4, v6), (text) => {
      const p = parseCidr(text);
      assert.ok(!('error' in p), text);
      assert.equal(JSON.stringify({ cidr: p.cidr, prefix: p.prefix, hostBits: p.hostBits, bytes: p.network.toByteArray() }), reference(text), text);
    }), { numRuns: 5000 });
  });
  it('CIDRs built on them keep their canonical text and host bits', () => {
    assert.deepEqual(parseCidr('172.16.5.7/24'), { cidr: '172.16.5.0/24', family: 4, prefix: 24, network: ipaddr.IPv4.parse('172.16.5.0'), hostBits: true });
    assert.ok('error' in parseCidr('010.0.0.1/8'));
  });
});
