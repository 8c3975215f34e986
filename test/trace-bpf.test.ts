// `tollgate trace --engine bpf`: the packet goes through the real programs (BPF_PROG_TEST_RUN: the source's
// egress, then the destination's ingress, conntrack emptied first) and the trace JSON equals `--engine ir`'s,
// field for field, on every conformance case, IPv4 and IPv6, pod to pod and to/from an address outside the
// cluster. What decided comes from the kernel's rule index: tampered map entries change the trace, not the IR.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { compile } from '../compiler/pipeline';
import { BpfHarness, traceWith } from '../compiler/engines/bpf';
import { addressOf, packetFor } from '../compiler/engines/ir';
import { evaluateConnection } from '../compiler/ir/evaluate';
import type { Endpoint, Packet, Program } from '../compiler/ir/types';
import { traceJson, type Side } from '../compiler/cli/trace';
import { DIR, VERDICT } from '../compiler/emit/bpf/codes';
import { decisionKey, decisionValue, epKey, epValue, readEpValue } from '../compiler/emit/bpf/layout';
import { discoverCases, loadCase, probeText, protocolNumber, type Family } from './conformance/cases';
import { endpoint, program, rule, tier } from './bpf-fixtures';

const BIN = path.join(__dirname, '..', 'bin', 'tollgate');
const OUTSIDE: Record<Family, string> = { 4: '192.0.2.9', 6: '2001:db8::9' };

function run(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function side(ep: Endpoint | undefined, addr: string): Side {
  return { given: ep?.id ?? addr, addr, ...(ep ? { endpoint: ep } : {}) };
}

/** Both engines' trace JSON for one packet, through the open harness. */
async function both(h: BpfHarness, p: Program, from: Side, to: Side, pkt: Packet): Promise<{ ir: Record<string, unknown>; bpf: Record<string, unknown> }> {
  const ir = traceJson('ir', from, to, pkt, evaluateConnection(p, pkt));
  const bpf = traceJson('ir', from, to, pkt, await traceWith(h, p, pkt));
  return { ir, bpf };
}

describe('trace --engine bpf equals trace --engine ir on every conformance case (kernel)', function () {
  this.timeout(900000);
  const files = discoverCases();
  let casesRun = 0;
  const seen = { traces: 0, allowed: 0, denied: 0, rule: 0, tierEnd: 0, defaults: 0, passSteps: 0, logSteps: 0, v6: 0, outside: 0 };

  for (const file of files) {
    it(path.relative(path.join(__dirname, 'conformance'), file), async () => {
      const c = loadCase(file);
      const compiled = compile([file]);
      const p = compiled.program;
      const h = await BpfHarness.open(p);
      try {
        const specs = new Map(c.expectations.map((e) => [probeText(e.probe), e.probe]));
        for (const family of [4, 6] as const) {
          const eps = c.pods.map((id) => p.endpoints.find((e) => e.id === id)).filter((e): e is Endpoint => !!e && addressOf(e, family) !== undefined);
          if (eps.length === 0) continue;
          const sides = eps.map((e) => side(e, addressOf(e, family)!));
          const outside = side(undefined, OUTSIDE[family]);
          for (const spec of specs.values()) {
            const proto = protocolNumber(spec, family);
            const pairs: [Side, Side][] = [];
            for (const a of sides) for (const b of sides) if (a !== b) pairs.push([a, b]);
            for (const a of sides) pairs.push([a, outside], [outside, a]);
            for (const [from, to] of pairs) {
              const pkt = packetFor(from.addr, to.addr, proto, spec.port);
              const { ir, bpf } = await both(h, p, from, to, pkt);
              assert.deepEqual(bpf, ir, `${c.name} v${family} ${probeText(spec)} ${from.given} -> ${to.given}`);
              seen.traces++;
              if (family === 6) seen.v6++;
              if (!from.endpoint || !to.endpoint) seen.outside++;
              seen[bpf.allowed ? 'allowed' : 'denied']++;
              for (const d of [bpf.egress, bpf.ingress] as ({ ruleId?: string; tier?: string; steps: string[] } | undefined)[]) {
                if (!d) continue;
                if (d.ruleId) seen.rule++;
                else if (d.tier) seen.tierEnd++;
                else seen.defaults++;
                seen.passSteps += d.steps.filter((s) => s.endsWith(': pass to the next tier') || s.endsWith(': pass')).length;
                seen.logSteps += d.steps.filter((s) => s.endsWith(': logged, continue')).length;
              }
            }
          }
        }
      } finally {
        h.close();
      }
      casesRun++;
    });
  }

  after(() => {
    // not vacuous: every kind of decision and step was compared, in both families, with outside peers
    process.stdout.write(`      trace bpf == ir: ${JSON.stringify(seen)}\n`);
    if (casesRun < files.length) return; // a filtered run (--grep) or a failed case
    for (const k of Object.keys(seen) as (keyof typeof seen)[]) assert.ok(seen[k] > 0, `no trace compared with ${k} > 0: ${JSON.stringify(seen)}`);
  });
});

describe('trace --engine bpf: what decided comes from the kernel (tampered maps)', function () {
  this.timeout(120000);
  // a/web ingress: tier sec denies 10.0.0.3, else passes; tier default allows 10.0.0.2 on TCP 80, else denies
  const p = program(
    endpoint('a/web', ['10.0.0.1'], [
      tier('sec', [rule('sec-deny', 'Deny', { peer: ['10.0.0.3/32'] }, 'sec')], 'Pass'),
      tier('default', [rule('web-in', 'Allow', { peer: ['10.0.0.2/32'], proto: 6, dports: [{ from: 80, to: 80 }] }, 'web')], 'Deny', 'default'),
    ]),
    endpoint('a/cli', ['10.0.0.2']),
    endpoint('a/bad', ['10.0.0.3']),
  );
  const sideOf = (id: string): Side => {
    const e = p.endpoints.find((x) => x.id === id)!;
    return side(e, e.ips[0]);
  };
  let h: BpfHarness;
  beforeEach(async () => {
    h = await BpfHarness.open(p);
  });
  afterEach(() => h.close());

  const rowOf = (pred: (r: { endpoint: string; direction: string; kind: string; ruleId?: string; tier: string }) => boolean): number => {
    const r = h.tables.rules.find((x) => x.endpoint === 'a/web' && x.direction === 'ingress' && pred(x));
    assert.ok(r, 'rule row');
    return r.index;
  };
  const webIngress = () => h.tables.endpoints.find((e) => e.endpoint === 'a/web' && e.direction === 'ingress')!;

  it('untouched, the kernel and the IR agree (the baseline of the tampering below)', async () => {
    for (const [from, port] of [['a/cli', 80], ['a/cli', 81], ['a/bad', 80]] as const) {
      const { ir, bpf } = await both(h, p, sideOf(from), sideOf('a/web'), packetFor(sideOf(from).addr, '10.0.0.1', 6, port));
      assert.deepEqual(bpf, ir);
    }
  });

  it('a rewritten miss entry: the trace names the rule the kernel was told, the IR still says tier end', async () => {
    const ep = webIngress();
    const key = epKey({ ifindex: 1, direction: DIR.INGRESS, family: 4, addr: ep.addr });
    const m = h.obj.map('tg_endpoints');
    const old = readEpValue(m.lookup(key)!);
    assert.equal(old.missRule, rowOf((r) => r.kind === 'tier-end' && r.tier === 'default'));
    m.update(key, epValue({ ...old, missRule: rowOf((r) => r.ruleId === 'web-in'), missVerdict: VERDICT.ALLOW }));
    const pkt = packetFor('10.0.0.2', '10.0.0.1', 6, 81);
    const { ir, bpf } = await both(h, p, sideOf('a/cli'), sideOf('a/web'), pkt);
    assert.deepEqual((ir.ingress as Record<string, unknown>).decidedBy, 'tier default: default end');
    assert.equal(ir.allowed, false);
    assert.equal(bpf.allowed, true);
    assert.deepEqual(bpf.ingress, {
      allowed: true,
      decidedBy: 'tier default: Calico NetworkPolicy ns/web ingress[0] Allow',
      ruleId: 'web-in',
      tier: 'default',
      steps: ['tier sec: sec end: pass', 'tier default: Calico NetworkPolicy ns/web ingress[0] Allow [web-in]: allowed'],
    });
  });

  it('rewritten decision entries: a kernel that walks past a matching Deny is shown as such', async () => {
    const { tableId, ruleBase } = webIngress();
    const m = h.obj.map('tg_decisions');
    const def = rowOf((r) => r.kind === 'default');
    const mine = h.tables.decisions.filter((d) => d.tableId === tableId);
    assert.ok(mine.length > 0);
    // decision rules are relative to the entry's rule_base
    for (const d of mine) m.update(decisionKey(d.tableId, d.peer, d.port, d.sport), decisionValue(def - ruleBase, VERDICT.ALLOW));
    const pkt = packetFor('10.0.0.3', '10.0.0.1', 6, 80);
    const { ir, bpf } = await both(h, p, sideOf('a/bad'), sideOf('a/web'), pkt);
    assert.equal((ir.ingress as Record<string, unknown>).ruleId, 'sec-deny');
    assert.deepEqual(bpf.ingress, {
      allowed: true,
      decidedBy: 'no policy decided: allow',
      steps: [
        "tier sec: Calico NetworkPolicy ns/sec ingress[0] Deny [sec-deny]: matches, yet the kernel went on (the IR's walk would stop here)",
        "tier default: default end: Deny, yet the kernel went on (the IR's walk would stop here)",
        'no policy decided: allow',
      ],
    });
  });

  it('a rule index of another endpoint is an error, not a made-up explanation', async () => {
    const ep = webIngress();
    const key = epKey({ ifindex: 1, direction: DIR.INGRESS, family: 4, addr: ep.addr });
    const m = h.obj.map('tg_endpoints');
    const other = h.tables.rules.find((r) => r.endpoint === 'a/cli' && r.direction === 'egress' && r.kind === 'default')!;
    m.update(key, epValue({ ...readEpValue(m.lookup(key)!), missRule: other.index, missVerdict: VERDICT.ALLOW }));
    await assert.rejects(traceWith(h, p, packetFor('10.0.0.2', '10.0.0.1', 6, 81)), new RegExp(`a/web ingress: the kernel reported rule index ${other.index} .*a row of a/cli egress`));
  });
});

describe('tollgate trace --engine (CLI)', function () {
  this.timeout(120000);
  const file = path.join(__dirname, 'conformance', 'calico', 'tier-order.yaml');

  it('--engine bpf prints the same JSON as --engine ir but the engine name, and the same text', () => {
    for (const [from, to, probe] of [['x/a', 'z/c', '80/TCP'], ['2001:db8::9', 'z/c', '81/UDP'], ['x/b', '192.0.2.9', '80/TCP']]) {
      const args = ['trace', file, '--from', from, '--to', to, '--probe', probe];
      const ir = run([...args, '--output', 'json']);
      const bpf = run([...args, '--output', 'json', '--engine', 'bpf']);
      assert.equal(ir.code, 0, ir.err);
      assert.equal(bpf.code, 0, bpf.err);
      const [i, b] = [JSON.parse(ir.out), JSON.parse(bpf.out)];
      assert.equal(i.engine, 'ir');
      assert.equal(b.engine, 'bpf');
      assert.deepEqual({ ...b, engine: 'ir' }, i);
      const irText = run(args);
      const bpfText = run([...args, '--engine', 'bpf']);
      assert.equal(bpfText.code, 0, bpfText.err);
      assert.equal(bpfText.out, irText.out);
      assert.ok(irText.out.length > 0);
    }
  });

  it('usage errors exit 2 with a message, before any work', () => {
    const netns = run(['trace', file, '--from', 'x/a', '--to', 'x/b', '--probe', '80/TCP', '--engine', 'netns']);
    assert.equal(netns.code, 2);
    assert.match(netns.err, /engine netns is not available for trace .*use --engine ir or bpf/);
    const unknown = run(['trace', file, '--from', 'x/a', '--to', 'x/b', '--probe', '80/TCP', '--engine', 'quantum']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown engine "quantum" for trace: expected one of ir, bpf/);
    const noPod = run(['trace', file, '--from', 'x/zz', '--to', 'x/b', '--probe', '80/TCP', '--engine', 'bpf']);
    assert.equal(noPod.code, 2);
    assert.match(noPod.err, /--from x\/zz: no such pod/);
    const badProbe = run(['trace', file, '--from', 'x/a', '--to', 'x/b', '--probe', '80/XYZ', '--engine', 'bpf']);
    assert.equal(badProbe.code, 2);
    assert.match(badProbe.err, /expected PORT\/PROTO/);
  });
});
