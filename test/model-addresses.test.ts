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
  it('CIDRs built on them keep their canonical text and host bits', () => {
    assert.deepEqual(parseCidr('172.16.5.7/24'), { cidr: '172.16.5.0/24', family: 4, prefix: 24, network: ipaddr.IPv4.parse('172.16.5.0'), hostBits: true });
    assert.ok('error' in parseCidr('010.0.0.1/8'));
  });
});
