// The netfilter backends against the real kernel, inside network namespaces this file creates (prefix tgb):
//   1. iptables-legacy-restore / iptables-nft-restore / ip6tables-restore --test, ipset restore and nft -c
//      accept what the emitters write for a program that uses every IR feature;
//   2. behaviour: client netns -> node netns (rules loaded) -> server netns; real TCP connections and UDP
//      exchanges are allowed or dropped exactly as the IR's evaluation order says, in every dataplane.
import { strict as assert } from 'assert';
import { spawn, type ChildProcess } from 'child_process';
import { emitIp6tables, emitIptables, emitNftables } from '../compiler/emit/iptables';
import type { Endpoint, Program, Rule, TierChain } from '../compiler/ir/types';
import { loadDataplane, type Dataplane } from '../bench/dataplanes';
import { addClientAddresses, createTopology, destroyTopology, inNs, run, sweepOrphans, type Topology } from '../bench/netlab';

const src = (name: string, index: number, direction: 'ingress' | 'egress' = 'ingress'): Rule['source'] => ({ kind: 'CalicoNetworkPolicy', namespace: 'ns', name, direction, index });
const rule = (id: string, action: Rule['action'], match: Rule['match'], policy = 'p', direction: 'ingress' | 'egress' = 'ingress'): Rule => ({ id, action, match, source: src(policy, 0, direction) });
const tier = (name: string, rules: Rule[], end: TierChain['end']['action']): TierChain => ({ name, kind: 'calico', rules, end: { action: end, reason: '', policies: [] } });
const ep = (name: string, iface: string, ip: string, ingress: TierChain[], egress: TierChain[]): Endpoint => ({
  id: `ns/${name}`,
  namespace: 'ns',
  name,
  ips: [ip],
  labels: {},
  iface,
  ports: [],
  ingress: { tiers: ingress },
  egress: { tiers: egress },
});

// tgb + this process's pid (base 36) + x: sweepOrphans() can tell a killed run's leftovers from a live run's.
const tag = `tgb${process.pid.toString(36)}x`;

/** Every IR feature the emitters handle, both families. */
function everything(): Program {
  const T = 6;
  const U = 17;
  return {
    version: 1,
    endpoints: [
      ep(
        'b',
        `${tag}b`,
        '10.77.2.2',
        [
          tier(
            'security',
            [
              rule('log', 'Log', { proto: T }),
              rule('d', 'Deny', { peer: ['10.1.0.0/16', '10.2.0.0/16', 'fd00:1::/64', 'fd00:2::/64'], proto: T, dports: [{ from: 81, to: 81 }] }),
              rule('p', 'Pass', { notPeer: ['10.5.0.0/16', '10.6.0.0/16'], notLocal: ['10.77.2.3/32'] }, 'p2'),
              rule('i', 'Allow', { icmp: { type: 8, code: 0 } }, 'p2'),
              rule('i6', 'Allow', { family: 6, icmp: { type: 128 } }, 'p2'),
              rule('ic', 'Allow', { icmp: { type: 3 }, notIcmp: { type: 3, code: 1 } }, 'p2'),
            ],
            'Pass',
          ),
          tier(
            'default',
            [
              rule('a', 'Allow', { peer: ['10.1.0.0/16'], dports: [{ from: 80, to: 80 }, { from: 8000, to: 8100 }], sports: [{ from: 1024, to: 65535 }] }),
              rule('n', 'Allow', { notIcmp: { type: 8 }, notDports: [{ from: 1, to: 10 }], notProto: 132 }),
              rule('m', 'Deny', { proto: U, notDports: Array.from({ length: 20 }, (_, k) => ({ from: 100 + 2 * k, to: 100 + 2 * k })) }),
              rule('s', 'Deny', { proto: 47 }),
            ],
            'Deny',
          ),
        ],
        [tier('t', [rule('e', 'Deny', { proto: T, dports: [{ from: 83, to: 83 }] }, 'pe', 'egress')], 'Pass')],
      ),
    ],
  };
}

function nsAdd(name: string): void {
  run('ip', ['netns', 'add', name]);
}
function nsDel(name: string): void {
  try {
    run('ip', ['netns', 'del', name]);
  } catch {
    /* already gone */
  }
}

describe('emit/iptables: the kernel accepts the output (netns)', function () {
  this.timeout(60000);
  const ns = `${tag}-syntax`;
  before(() => {
    sweepOrphans('tgb');
    nsAdd(ns);
  });
  after(() => nsDel(ns));

  for (const style of ['flat', 'calico'] as const) {
    for (const tool of ['iptables-legacy', 'iptables-nft'] as const) {
      it(`${style}: ${tool}-restore --test, and ip6tables`, () => {
        const v4 = emitIptables(everything(), { style, prefix: 'TGB' });
        const v6 = emitIp6tables(everything(), { style, prefix: 'TGB' });
        if (v4.ipsets) inNs(ns, 'ipset', ['restore', '-exist'], v4.ipsets);
        if (v6.ipsets) inNs(ns, 'ipset', ['restore', '-exist'], v6.ipsets);
        inNs(ns, `${tool}-restore`, ['--test'], v4.rules);
        inNs(ns, tool.replace('iptables', 'ip6tables') + '-restore', ['--test'], v6.rules);
        // and really loads (not only parses): the chains are there afterwards
        inNs(ns, `${tool}-restore`, [], v4.rules);
        const listed = inNs(ns, tool, ['-S']);
        for (const c of v4.chains) assert.ok(listed.includes(`-N ${c}`), `${c} was created`);
        assert.equal(listed.split('\n').filter((l) => l.startsWith('-A ')).length, v4.ruleCount);
        inNs(ns, `${tool}-restore`, [], '*filter\nCOMMIT\n');
      });
    }
  }

  it('nftables: nft -c -f accepts it, nft -f loads it with every rule', () => {
    const out = emitNftables(everything(), { table: 'tgb_syntax' });
    inNs(ns, 'nft', ['-c', '-f', '-'], out.ruleset);
    inNs(ns, 'nft', ['-f', '-'], out.ruleset);
    inNs(ns, 'nft', ['-f', '-'], out.ruleset); // loading twice replaces, does not add
    const listed = inNs(ns, 'nft', ['-a', 'list', 'table', 'inet', 'tgb_syntax']);
    const rules = listed.split('\n').filter((l) => /# handle \d+$/.test(l) && !/^\s*(table|chain|set) /.test(l));
    assert.equal(rules.length, out.ruleCount);
    inNs(ns, 'nft', ['delete', 'table', 'inet', 'tgb_syntax']);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Behaviour. The server endpoint's ingress:
//   tier security: d  Deny TCP 81 from {10.200.0.1, 10.200.0.2}        (a CIDR list: ipset / nft set)
//                  p  Pass from 10.200.0.3                              (skips the rest of the tier)
//                  a  Allow TCP 82 from anyone but {10.200.0.1, 10.200.0.4}   (negated list)
//                  end Pass
//   tier default:  b  Allow TCP 80-81 from 10.77.1.0/24 and 10.200.0.0/24
//                  u  Allow UDP 5353
//                  x  Allow any port protocol to ports outside 1-9000, from anyone but {10.200.0.4, 10.200.0.5}
//                  end Deny
// The client endpoint's egress: Deny TCP 83, end Pass (then default allow).

function behaviourProgram(t: Topology): Program {
  const T = 6;
  return {
    version: 1,
    endpoints: [
      ep(
        'server',
        t.ifB,
        t.addrB,
        [
          tier(
            'security',
            [
              rule('d', 'Deny', { peer: ['10.200.0.1/32', '10.200.0.2/32'], proto: T, dports: [{ from: 81, to: 81 }] }, 'p1'),
              rule('p', 'Pass', { peer: ['10.200.0.3/32'] }, 'p2'),
              rule('a', 'Allow', { notPeer: ['10.200.0.1/32', '10.200.0.4/32'], proto: T, dports: [{ from: 82, to: 82 }] }, 'p2'),
            ],
            'Pass',
          ),
          tier(
            'default',
            [
              rule('b', 'Allow', { peer: ['10.77.1.0/24', '10.200.0.0/24'], proto: T, dports: [{ from: 80, to: 81 }] }, 'p3'),
              rule('u', 'Allow', { proto: 17, dports: [{ from: 5353, to: 5353 }] }, 'p3'),
              rule('x', 'Allow', { notDports: [{ from: 1, to: 9000 }], notPeer: ['10.200.0.4/32', '10.200.0.5/32'] }, 'p4'),
            ],
            'Deny',
          ),
        ],
        [],
      ),
      ep('client', t.ifA, t.addrA, [], [tier('t', [rule('e', 'Deny', { proto: T, dports: [{ from: 83, to: 83 }] }, 'pe', 'egress')], 'Pass')]),
    ],
  };
}

interface Case {
  from: string;
  proto: 'tcp' | 'udp';
  port: number;
  allowed: boolean;
  why: string;
}

const CASES: Case[] = [
  { from: '10.77.1.2', proto: 'tcp', port: 80, allowed: true, why: 'default tier rule b' },
  { from: '10.200.0.1', proto: 'tcp', port: 81, allowed: false, why: 'security rule d (set member)' },
  { from: '10.200.0.2', proto: 'tcp', port: 81, allowed: false, why: 'security rule d (other set member)' },
  { from: '10.200.0.1', proto: 'tcp', port: 80, allowed: true, why: 'd is port 81 only; b allows' },
  { from: '10.200.0.3', proto: 'tcp', port: 81, allowed: true, why: 'p passes to the default tier, b allows' },
  { from: '10.200.0.3', proto: 'tcp', port: 82, allowed: false, why: 'p passes (a never seen), default tier ends in Deny' },
  { from: '10.200.0.4', proto: 'tcp', port: 82, allowed: false, why: 'a excludes 10.200.0.4; default tier Deny' },
  { from: '10.200.0.5', proto: 'tcp', port: 82, allowed: true, why: 'a: not in the excluded list' },
  { from: '10.77.1.2', proto: 'udp', port: 5353, allowed: true, why: 'default tier rule u' },
  { from: '10.77.1.2', proto: 'udp', port: 5354, allowed: false, why: 'default tier Deny' },
  { from: '10.77.1.2', proto: 'tcp', port: 83, allowed: false, why: "client's egress denies TCP 83" },
  { from: '10.77.1.2', proto: 'tcp', port: 9100, allowed: true, why: 'x: a port outside 1-9000, peer not excluded' },
  { from: '10.200.0.5', proto: 'udp', port: 9101, allowed: false, why: 'x excludes 10.200.0.5; default tier Deny' },
  { from: '10.200.0.1', proto: 'udp', port: 9101, allowed: true, why: 'x: a port outside 1-9000 (UDP too)' },
];

const RESPONDER = `
const net = require('net'), dgram = require('dgram');
const [tcp, udp] = JSON.parse(process.argv[1]);
let n = 0; const done = () => { if (++n === tcp.length + udp.length) console.log('ready'); };
for (const p of tcp) net.createServer((s) => { s.on('error', () => {}); s.end('ok'); }).listen(p, '0.0.0.0', done);
for (const p of udp) { const s = dgram.createSocket('udp4'); s.on('message', (m, r) => s.send('ok', r.port, r.address)); s.bind(p, '0.0.0.0', done); }
`;

const PROBER = `
const net = require('net'), dgram = require('dgram');
const [dst, cases] = JSON.parse(process.argv[1]);
const one = (c) => new Promise((resolve) => {
  const t = setTimeout(() => { resolve(false); try { s.destroy ? s.destroy() : s.close(); } catch {} }, 1500);
  let s;
  if (c.proto === 'tcp') {
    s = net.connect({ host: dst, port: c.port, localAddress: c.from });
    s.on('connect', () => { clearTimeout(t); s.destroy(); resolve(true); });
    s.on('error', () => { clearTimeout(t); resolve(false); });
  } else {
    s = dgram.createSocket('udp4');
    s.bind(0, c.from, () => s.send('probe', c.port, dst));
    s.on('message', () => { clearTimeout(t); s.close(); resolve(true); });
    s.on('error', () => { clearTimeout(t); resolve(false); });
  }
});
Promise.all(cases.map(one)).then((r) => console.log(JSON.stringify(r)));
`;

describe('emit/iptables: real connections decided as the IR says (client -> node -> server netns)', function () {
  this.timeout(120000);
  let t: Topology | undefined;
  let responder: ChildProcess | undefined;

  before(async () => {
    t = createTopology(tag);
    addClientAddresses(t, ['10.200.0.1', '10.200.0.2', '10.200.0.3', '10.200.0.4', '10.200.0.5']);
    const tcpPorts = [...new Set(CASES.filter((c) => c.proto === 'tcp').map((c) => c.port))];
    const udpPorts = [...new Set(CASES.filter((c) => c.proto === 'udp').map((c) => c.port))];
    responder = spawn('ip', ['netns', 'exec', t.b, process.execPath, '-e', RESPONDER, JSON.stringify([tcpPorts, udpPorts])], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('responder not ready after 10 s')), 10000);
      responder?.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      responder?.once('exit', (code) => reject(new Error(`responder exited (${code})`)));
    });
  });

  after(() => {
    if (responder?.pid !== undefined && responder.exitCode === null) responder.kill('SIGKILL');
    if (t) destroyTopology(t);
  });

  function probe(): boolean[] {
    const topo = t as Topology;
    const out = inNs(topo.a, process.execPath, ['-e', PROBER, JSON.stringify([topo.addrB, CASES])], undefined, 30000);
    return JSON.parse(out) as boolean[];
  }

  it('with no rules every probe gets through (the probes themselves work)', () => {
    assert.deepEqual(probe(), CASES.map(() => true));
  });

  for (const dp of ['iptables-legacy', 'iptables-nft', 'ipset', 'nftables'] as Dataplane[]) {
    it(`${dp}: every case as the IR's tier walk decides it`, async () => {
      const topo = t as Topology;
      const loaded = await loadDataplane(dp, behaviourProgram(topo), topo.node);
      try {
        const got = probe();
        const wrong = CASES.filter((c, i) => got[i] !== c.allowed).map((c) => `${c.from} ${c.proto}/${c.port}: expected ${c.allowed ? 'allowed' : 'denied'} (${c.why})`);
        assert.deepEqual(wrong, []);
      } finally {
        await loaded.unload();
      }
    });
  }

  it('the truth table agrees with the reference evaluator, when it has landed', function () {
    let evaluate: ((p: Program, packet: { src: string; dst: string; proto: number; sport?: number; dport?: number }) => { allowed: boolean }) | undefined;
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      evaluate = require('../compiler/ir/evaluate').evaluateConnection;
    } catch {
      evaluate = undefined;
    }
    if (!evaluate) this.skip();
    const topo = t as Topology;
    const p = behaviourProgram(topo);
    for (const c of CASES) {
      const d = (evaluate as NonNullable<typeof evaluate>)(p, { src: c.from, dst: topo.addrB, proto: c.proto === 'tcp' ? 6 : 17, sport: 40000, dport: c.port });
      assert.equal(d.allowed, c.allowed, `${c.from} ${c.proto}/${c.port} (${c.why})`);
    }
  });
});
