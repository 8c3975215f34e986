// Structure of the netfilter backends' output (compiler/emit/iptables): what chains and sets exist, in what
// order rules appear, how Pass / tier ends / negations / families are written. The kernel accepts the output
// (test/iptables.kernel.test.ts) and it decides real connections as the IR says (same file).
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compile } from '../compiler/pipeline';
import { emitIp6tables, emitIptables, emitNftables } from '../compiler/emit/iptables';
import { minimalCidrs, planRule } from '../compiler/emit/iptables/plan';
import type { Endpoint, Program, Rule, TierChain } from '../compiler/ir/types';

const src = (name: string, index: number): Rule['source'] => ({ kind: 'CalicoNetworkPolicy', namespace: 'ns', name, direction: 'ingress', index });
const rule = (id: string, action: Rule['action'], match: Rule['match'], policy = 'p'): Rule => ({ id, action, match, source: src(policy, 0) });
const tier = (name: string, rules: Rule[], end: TierChain['end']['action']): TierChain => ({ name, kind: 'calico', rules, end: { action: end, reason: '', policies: [] } });
const ep = (name: string, iface: string | undefined, ingress: TierChain[], egress: TierChain[] = []): Endpoint => ({
  id: `ns/${name}`,
  namespace: 'ns',
  name,
  ips: ['10.0.0.1'],
  labels: {},
  iface,
  ports: [],
  ingress: { tiers: ingress },
  egress: { tiers: egress },
});
const prog = (...endpoints: Endpoint[]): Program => ({ version: 1, endpoints });
const aLines = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('-A '));
const chainLines = (text: string, chain: string): string[] => aLines(text).filter((l) => l.startsWith(`-A ${chain} `));

describe('emit/iptables: flat', () => {
  const p = prog(
    ep('web', 'cali1', [
      tier('sec', [rule('r0', 'Deny', { peer: ['10.1.0.0/16', '10.2.0.0/16'], proto: 6, dports: [{ from: 81, to: 81 }] }), rule('r1', 'Pass', { peer: ['10.3.0.0/16'] }), rule('r2', 'Allow', { proto: 6 })], 'Pass'),
      tier('default', [rule('r3', 'Allow', { peer: ['10.4.0.0/16'], proto: 17, dports: [{ from: 53, to: 53 }, { from: 1000, to: 2000 }] })], 'Deny'),
    ]),
    ep('nowhere', undefined, [tier('default', [rule('z', 'Allow', {})], 'Deny')]),
  );
  const out = emitIptables(p, { style: 'flat', prefix: 'TGB', comments: false });

  it('hooks FORWARD, accepts replies first, then dispatches egress before ingress by interface', () => {
    assert.ok(out.rules.includes('\n-A FORWARD -j TGB-FORWARD\n'));
    assert.deepEqual(chainLines(out.rules, 'TGB-FORWARD'), [
      '-A TGB-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A TGB-FORWARD -i cali1 -j TGB-fw-cali1',
      '-A TGB-FORWARD -o cali1 -j TGB-tw-cali1',
      '-A TGB-FORWARD -i cali1 -j ACCEPT',
      '-A TGB-FORWARD -o cali1 -j ACCEPT',
    ]);
  });

  it('writes every rule inline, in order, CIDRs and port ranges expanded one line each, Pass by mark', () => {
    assert.deepEqual(chainLines(out.rules, 'TGB-tw-cali1'), [
      '-A TGB-tw-cali1 -s 10.1.0.0/16 -p tcp -m tcp --dport 81 -j DROP',
      '-A TGB-tw-cali1 -s 10.2.0.0/16 -p tcp -m tcp --dport 81 -j DROP',
      '-A TGB-tw-cali1 -s 10.3.0.0/16 -j MARK --set-xmark 0x20000/0x20000',
      '-A TGB-tw-cali1 -p tcp -m mark --mark 0x0/0x20000 -j RETURN',
      '-A TGB-tw-cali1 -j MARK --set-xmark 0x0/0x20000',
      '-A TGB-tw-cali1 -s 10.4.0.0/16 -p udp -m udp --dport 53 -j RETURN',
      '-A TGB-tw-cali1 -s 10.4.0.0/16 -p udp -m udp --dport 1000:2000 -j RETURN',
      '-A TGB-tw-cali1 -j DROP',
    ]);
    assert.deepEqual(chainLines(out.rules, 'TGB-fw-cali1'), [], 'no egress tiers: default allow, nothing to write');
  });

  it('says which endpoints it cannot enforce and counts the rules it wrote', () => {
    assert.match(out.rules, /# endpoint ns\/nowhere has no host-side interface/);
    assert.equal(out.ruleCount, aLines(out.rules).length);
    assert.equal(out.ipsets, '');
    assert.deepEqual(out.chains, ['TGB-FORWARD', 'TGB-fw-cali1', 'TGB-tw-cali1']);
  });

  it('negated lists that one match cannot express use the EXCLUDE bit and clear it', () => {
    const o = emitIptables(prog(ep('x', 'v1', [tier('t', [rule('n', 'Allow', { notPeer: ['10.1.0.0/16', '10.2.0.0/16'], proto: 6 })], 'Deny')])), { style: 'flat', prefix: 'TGB', comments: false });
    assert.deepEqual(chainLines(o.rules, 'TGB-tw-v1'), [
      '-A TGB-tw-v1 -s 10.1.0.0/16 -j MARK --set-xmark 0x40000/0x40000',
      '-A TGB-tw-v1 -s 10.2.0.0/16 -j MARK --set-xmark 0x40000/0x40000',
      '-A TGB-tw-v1 -p tcp -m mark --mark 0x0/0x40000 -j RETURN',
      '-A TGB-tw-v1 -j MARK --set-xmark 0x0/0x40000',
      '-A TGB-tw-v1 -j DROP',
    ]);
  });

  it('egress rules match the peer as destination and the local address as source', () => {
    const o = emitIptables(prog(ep('x', 'v1', [], [tier('t', [rule('e', 'Deny', { peer: ['10.9.0.0/16'], local: ['10.0.0.1/32'] })], 'Pass')])), { style: 'flat', prefix: 'TGB', comments: false });
    assert.deepEqual(chainLines(o.rules, 'TGB-fw-v1'), ['-A TGB-fw-v1 -d 10.9.0.0/16 -s 10.0.0.1/32 -j DROP']);
  });

  it('keeps each family in its own table: IPv6 CIDRs only in ip6tables output, empty sets match nothing', () => {
    const p2 = prog(ep('x', 'v1', [tier('t', [rule('a', 'Allow', { peer: ['10.1.0.0/16', 'fd00::/64'] }), rule('b', 'Allow', { peer: [] }), rule('c', 'Allow', { family: 6, proto: 58, icmp: { type: 128 } })], 'Deny')]));
    const v4 = chainLines(emitIptables(p2, { style: 'flat', prefix: 'TGB', comments: false }).rules, 'TGB-tw-v1');
    const v6 = chainLines(emitIp6tables(p2, { style: 'flat', prefix: 'TGB', comments: false }).rules, 'TGB-tw-v1');
    assert.deepEqual(v4, ['-A TGB-tw-v1 -s 10.1.0.0/16 -j RETURN', '-A TGB-tw-v1 -j DROP']);
    assert.deepEqual(v6, ['-A TGB-tw-v1 -s fd00::/64 -j RETURN', '-A TGB-tw-v1 -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j RETURN', '-A TGB-tw-v1 -j DROP']);
  });

  it('names rules in comments when asked (the default)', () => {
    const o = emitIptables(p, { style: 'flat', prefix: 'TGB' });
    assert.ok(chainLines(o.rules, 'TGB-tw-cali1')[0].includes('-m comment --comment "r0"'));
  });
});

describe('emit/iptables: calico style', () => {
  const p = prog(
    ep('web', 'cali1', [
      tier('sec', [rule('r0', 'Deny', { peer: ['10.1.0.0/16', '10.2.0.0/16'], proto: 6 }, 'p1'), rule('r1', 'Pass', { peer: ['10.3.0.0/16'] }, 'p2'), rule('r2', 'Allow', { peer: ['10.2.0.0/16', '10.1.0.0/16'] }, 'p2')], 'Deny'),
      tier('default', [rule('r3', 'Allow', { proto: 17, dports: [{ from: 53, to: 53 }, { from: 1000, to: 2000 }] }, 'p3')], 'Deny'),
    ]),
  );
  const out = emitIptables(p, { style: 'calico', prefix: 'TGB', comments: false });

  it('puts CIDR lists in one hash:net ipset per distinct list', () => {
    assert.equal(out.ipsets, 'create tgb-s0 hash:net family inet maxelem 65536\nadd tgb-s0 10.1.0.0/16\nadd tgb-s0 10.2.0.0/16\n');
    assert.equal(out.rules.split('--match-set tgb-s0 src').length - 1, 2, 'both rules with that list use the one set');
  });

  it('has endpoint -> tier -> policy chains with the ACCEPT and PASS marks, as Calico does', () => {
    const tw = chainLines(out.rules, 'TGB-tw-cali1');
    assert.deepEqual(tw, [
      '-A TGB-tw-cali1 -j MARK --set-xmark 0x0/0x30000',
      '-A TGB-tw-cali1 -j TGB-T0',
      '-A TGB-tw-cali1 -m mark --mark 0x10000/0x10000 -j RETURN',
      '-A TGB-tw-cali1 -j MARK --set-xmark 0x0/0x20000',
      '-A TGB-tw-cali1 -j TGB-T3',
      '-A TGB-tw-cali1 -m mark --mark 0x10000/0x10000 -j RETURN',
    ]);
    assert.deepEqual(chainLines(out.rules, 'TGB-T0'), [
      '-A TGB-T0 -m mark --mark 0x0/0x20000 -j TGB-P1',
      '-A TGB-T0 -m mark --mark 0x10000/0x10000 -j RETURN',
      '-A TGB-T0 -m mark --mark 0x0/0x20000 -j TGB-P2',
      '-A TGB-T0 -m mark --mark 0x10000/0x10000 -j RETURN',
      '-A TGB-T0 -m mark --mark 0x0/0x20000 -j DROP',
    ]);
    assert.deepEqual(chainLines(out.rules, 'TGB-P2'), [
      '-A TGB-P2 -s 10.3.0.0/16 -j MARK --set-xmark 0x20000/0x20000',
      '-A TGB-P2 -m mark --mark 0x20000/0x20000 -j RETURN',
      '-A TGB-P2 -m set --match-set tgb-s0 src -j MARK --set-xmark 0x10000/0x10000',
      '-A TGB-P2 -m mark --mark 0x10000/0x10000 -j RETURN',
    ]);
    assert.deepEqual(chainLines(out.rules, 'TGB-P4'), [
      '-A TGB-P4 -p udp -m multiport --dports 53,1000:2000 -j MARK --set-xmark 0x10000/0x10000',
      '-A TGB-P4 -m mark --mark 0x10000/0x10000 -j RETURN',
    ]);
  });

  it('keeps chain names within iptables limits and counts its rules', () => {
    for (const c of out.chains) assert.ok(c.length <= 28, c);
    assert.equal(out.ruleCount, aLines(out.rules).length);
    assert.deepEqual(out.sets, ['tgb-s0']);
  });
});

describe('emit/iptables: nftables', () => {
  const p = prog(
    ep('web', 'cali1', [
      tier('sec', [rule('r0', 'Deny', { peer: ['10.1.0.0/16', '10.1.2.0/24', '10.2.0.0/16'], proto: 6 }), rule('r1', 'Pass', { peer: ['10.3.0.0/16'] })], 'Pass'),
      tier('default', [rule('r3', 'Allow', { proto: 17, dports: [{ from: 53, to: 53 }, { from: 1000, to: 2000 }] })], 'Deny'),
    ]),
  );
  const out = emitNftables(p, { table: 'tgb_t', comments: false });
  const body = out.ruleset;

  it('replaces its table atomically and dispatches by interface through vmaps', () => {
    assert.ok(body.includes('table inet tgb_t\ndelete table inet tgb_t\ntable inet tgb_t {\n'));
    assert.match(body, /ct state established,related accept\n\t\tiifname vmap \{ "cali1" : jump ep0_e_t0 \}\n\t\toifname vmap \{ "cali1" : jump ep0_i_t0 \}/);
    assert.ok(body.indexOf('chain forward') > body.indexOf('chain ep0_i_t1'), 'the base chain comes after the chains it jumps to');
  });

  it('uses named interval sets (contained CIDRs dropped), one chain per tier, goto for Pass', () => {
    assert.match(body, /set s0 \{\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\}/);
    assert.ok(body.includes('add element inet tgb_t s0 { 10.1.0.0/16, 10.2.0.0/16 }'));
    assert.ok(body.includes('meta nfproto ipv4 ip saddr @s0 meta l4proto tcp drop'));
    assert.ok(body.includes('meta nfproto ipv4 ip saddr 10.3.0.0/16 goto ep0_i_t1'));
    assert.ok(body.includes('meta nfproto ipv4 meta l4proto udp th dport { 53, 1000-2000 } return'));
    const t0 = body.slice(body.indexOf('chain ep0_i_t0'), body.indexOf('chain ep0_i_t1'));
    assert.ok(t0.trimEnd().endsWith('goto ep0_i_t1\n\t}'), 'tier end Pass goes on to the next tier');
    const t1 = body.slice(body.indexOf('chain ep0_i_t1'), body.indexOf('chain forward'));
    assert.ok(t1.trimEnd().endsWith('drop\n\t}'), 'tier end Deny');
  });

  it('counts rules, not set elements', () => {
    const ruleLines = body.split('\n').filter((l) => l.startsWith('\t\t') && !/^\t\t(type|flags)\b/.test(l));
    assert.equal(out.ruleCount, ruleLines.length);
  });
});

describe('emit/iptables: planning a rule per family', () => {
  it('drops contained and duplicate CIDRs', () => {
    assert.deepEqual(minimalCidrs(['10.1.2.0/24', '10.0.0.0/8', '11.0.0.0/8', '10.0.0.0/8', '11.0.0.1/32']), ['10.0.0.0/8', '11.0.0.0/8']);
    assert.deepEqual(minimalCidrs(['fd00::/64', 'fd00::1/128', 'fd01::/64']), ['fd00::/64', 'fd01::/64']);
  });
  it('restricts ports to port protocols and ICMP to its family', () => {
    const r = (m: Rule['match']): Rule => rule('x', 'Allow', m);
    assert.deepEqual(planRule(r({ dports: [{ from: 80, to: 80 }] }), 4)?.protos, [6, 17, 132, 136]);
    assert.equal(planRule(r({ proto: 1, dports: [{ from: 80, to: 80 }] }), 4), null);
    assert.equal(planRule(r({ proto: 1, icmp: { type: 8 } }), 6), null);
    assert.deepEqual(planRule(r({ icmp: { type: 128 } }), 6)?.protos, [58]);
    assert.equal(planRule(r({ peer: ['fd00::/8'] }), 4), null);
    assert.equal(planRule(r({ peer: ['0.0.0.0/0'] }), 4)?.peer, undefined, 'the whole space is no constraint');
    assert.equal(planRule(r({ notPeer: ['0.0.0.0/0'] }), 4), null, 'excluding everything matches nothing');
  });
  it('reads negated port and ICMP fields as the reference evaluator does: they too need a port / ICMP packet', () => {
    const r = (m: Rule['match']): Rule => rule('x', 'Allow', m);
    assert.deepEqual(planRule(r({ notDports: [{ from: 1, to: 10 }] }), 4)?.protos, [6, 17, 132, 136]);
    assert.deepEqual(planRule(r({ notDports: [] }), 4)?.protos, [6, 17, 132, 136], 'even an empty list');
    assert.deepEqual(planRule(r({ notIcmp: { type: 8 } }), 4)?.protos, [1]);
    assert.deepEqual(planRule(r({ notIcmp: { type: 128 } }), 6)?.protos, [58]);
    assert.equal(planRule(r({ proto: 6, notIcmp: { type: 8 } }), 4), null);
    assert.equal(planRule(r({ notDports: [{ from: 1, to: 10 }], icmp: { type: 8 } }), 4), null);
    const o = emitIptables(prog(ep('x', 'v1', [tier('t', [r({ notDports: [{ from: 1, to: 10 }], notProto: 17 })], 'Deny')])), { style: 'flat', prefix: 'TGB', comments: false });
    assert.deepEqual(chainLines(o.rules, 'TGB-tw-v1').slice(0, 3), [
      '-A TGB-tw-v1 -p tcp -m multiport ! --dports 1:10 -j RETURN',
      '-A TGB-tw-v1 -p sctp -m multiport ! --dports 1:10 -j RETURN',
      '-A TGB-tw-v1 -p udplite -m multiport ! --dports 1:10 -j RETURN',
    ]);
  });
});

describe('tollgate compile --emit iptables: both families', () => {
  const BIN = path.join(__dirname, '..', 'bin', 'tollgate');
  // x/a (dual-stack) admits TCP 80 from 10.9.0.0/16, 10.20.0.0/16, fd00:9::/32 and fd00:20::/32; x/b (IPv4 only) has no policy
  const MANIFESTS = `apiVersion: v1
kind: Namespace
metadata: { name: x }
---
apiVersion: v1
kind: Pod
metadata: { name: a, namespace: x, labels: { app: a }, annotations: { tollgate.dev/interface: tgv-a } }
spec: { containers: [{ name: c, image: i }] }
status: { podIPs: [{ ip: 10.0.1.1 }, { ip: "fd00::1:1" }] }
---
apiVersion: v1
kind: Pod
metadata: { name: b, namespace: x, labels: { app: b }, annotations: { tollgate.dev/interface: tgv-b } }
spec: { containers: [{ name: c, image: i }] }
status: { podIPs: [{ ip: 10.0.1.2 }] }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: web, namespace: x }
spec:
  podSelector: { matchLabels: { app: a } }
  ingress:
    - from: [{ ipBlock: { cidr: 10.9.0.0/16 } }, { ipBlock: { cidr: 10.20.0.0/16 } }, { ipBlock: { cidr: "fd00:9::/32" } }, { ipBlock: { cidr: "fd00:20::/32" } }]
      ports: [{ port: 80, protocol: TCP }]
`;
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tgb6-emit-'));
    fs.writeFileSync(path.join(dir, 'cluster.yaml'), MANIFESTS);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cli = (args: string[]): { code: number; out: string; err: string } => {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60000 });
    return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
  };
  /** The sections of the output by their '# ===== title =====' line. */
  const sections = (text: string): Map<string, string> => {
    const out = new Map<string, string>();
    const parts = text.split(/^# ===== (.+) =====$/m);
    assert.equal(parts[0], '', 'nothing before the first section header');
    for (let i = 1; i < parts.length; i += 2) out.set(parts[i], parts[i + 1]);
    return out;
  };

  it('prints IPv4 iptables-restore input, then IPv6 ip6tables-restore input, each family only its own addresses', () => {
    const r = cli(['compile', path.join(dir, 'cluster.yaml'), '--emit', 'iptables']);
    assert.equal(r.code, 0, r.err);
    const s = sections(r.out);
    assert.deepEqual([...s.keys()], ['IPv4: iptables-restore input', 'IPv6: ip6tables-restore input']);
    const v4 = s.get('IPv4: iptables-restore input')!;
    const v6 = s.get('IPv6: ip6tables-restore input')!;
    for (const t of [v4, v6]) assert.equal(t.match(/^COMMIT$/gm)?.length, 1);
    assert.ok(aLines(v4).some((l) => l.includes('-s 10.9.0.0/16') && l.includes('--dport 80')), v4);
    assert.ok(aLines(v6).some((l) => l.includes('-s fd00:9::/32') && l.includes('--dport 80')), v6);
    assert.ok(!v4.includes('fd00'), 'no IPv6 address in the IPv4 rules');
    assert.ok(!/10\.\d+\.\d+\.\d+/.test(aLines(v6).join('\n')), 'no IPv4 address in the IPv6 rules');
    // the sections are exactly what the emitters give (so each is valid restore input on its own)
    const compiled = compile([path.join(dir, 'cluster.yaml')]);
    assert.equal(v4.trimStart(), emitIptables(compiled.program, { style: 'flat' }).rules);
    assert.equal(v6.trimStart(), emitIp6tables(compiled.program, { style: 'flat' }).rules);
  });

  it('calico style: the ipset input first (both families), and -o DIR writes iptables.rules, ip6tables.rules, ipset.restore', () => {
    const out = path.join(dir, 'out');
    const r = cli(['compile', path.join(dir, 'cluster.yaml'), '--emit', 'iptables-calico', '-o', out]);
    assert.equal(r.code, 0, r.err);
    const s = sections(r.out);
    assert.deepEqual([...s.keys()], ['ipset restore input (IPv4 and IPv6 sets)', 'IPv4: iptables-restore input', 'IPv6: ip6tables-restore input']);
    assert.match(s.get('ipset restore input (IPv4 and IPv6 sets)')!, /family inet6/);
    assert.equal(fs.readFileSync(path.join(out, 'iptables.rules'), 'utf8'), s.get('IPv4: iptables-restore input')!.trimStart());
    assert.equal(fs.readFileSync(path.join(out, 'ip6tables.rules'), 'utf8'), s.get('IPv6: ip6tables-restore input')!.trimStart());
    assert.equal(fs.readFileSync(path.join(out, 'ipset.restore'), 'utf8'), s.get('ipset restore input (IPv4 and IPv6 sets)')!.trimStart());
  });
});
