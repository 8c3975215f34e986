// `matrix --engine netns` through the engine object: real traffic decides `allowed`, the IR's evaluator names the
// rule, and a disagreement between the two is reported, never hidden. Real kernel; every object is 'tgl'-prefixed.
import { strict as assert } from 'assert';
import { Diagnostics } from '../compiler/model/diagnostics';
import { PROTO } from '../compiler/model/types';
import type { Chain, Endpoint, Program } from '../compiler/ir/types';
import type { Compiled } from '../compiler/pipeline';
import type { Probe } from '../compiler/engines/types';
import { createNetnsEngine } from '../compiler/engines/netns';
import { probeResult } from '../compiler/engines/ir';
import { labDown, labOptions, labStatus, labUp, runProbes } from '../compiler/lab';
import { run } from '../compiler/lab/run';
import { model, pod, TEST_PREFIX } from './lab-support';

const OPTS = labOptions(TEST_PREFIX);
const NODE = `${TEST_PREFIX}-node`;
const TCP = PROTO.TCP;
const UDP = PROTO.UDP;

const PODS = [
  pod('alpha', 'web', ['10.73.0.1', 'fd73::1'], [[80, TCP], [53, UDP]]),
  pod('alpha', 'client', ['10.73.0.2', 'fd73::2'], [[80, TCP], [53, UDP]]),
  pod('alpha', 'other', ['10.73.0.3', 'fd73::3'], [[80, TCP], [53, UDP]]),
  pod('beta', 'api', ['10.73.1.1', 'fd73:1::1'], [[8080, TCP], [8125, UDP], [9000, PROTO.SCTP]]),
  pod('beta', 'worker', ['10.73.1.2', 'fd73:1::2'], [[8080, TCP], [8125, UDP]]),
  pod('gamma', 'v4only', ['10.73.2.1'], [[443, TCP], [514, UDP]]),
];

const HOST_POD = { ...pod('kube-system', 'node-agent', ['10.73.9.9'], [[9100, TCP]]), hostNetwork: true };

const OPEN: Chain = { tiers: [] };

/** alpha/web admits only alpha/client on TCP 80 (both families); every other pod is open. */
function program(): Program {
  const endpoints: Endpoint[] = PODS.map((p) => ({
    id: `${p.namespace}/${p.name}`,
    namespace: p.namespace,
    name: p.name,
    ips: p.ips,
    labels: { ...p.labels },
    ports: p.ports,
    ingress: OPEN,
    egress: OPEN,
  }));
  endpoints[0].ingress = {
    tiers: [
      {
        name: 'default',
        kind: 'default',
        rules: [
          {
            id: 'knp/alpha/web-policy/ingress/0',
            action: 'Allow',
            match: { proto: TCP, peer: ['10.73.0.2/32', 'fd73::2/128'], dports: [{ from: 80, to: 80 }] },
            source: { kind: 'NetworkPolicy', namespace: 'alpha', name: 'web-policy', direction: 'ingress', index: 0 },
          },
        ],
        end: { action: 'Deny', reason: 'NetworkPolicy alpha/web-policy selects the pod and no rule allowed', policies: ['NetworkPolicy alpha/web-policy'] },
      },
    ],
  };
  return { version: 1, endpoints };
}

function compiled(): Compiled {
  return { model: model([...PODS, HOST_POD]), program: program(), diagnostics: new Diagnostics() };
}

/** Every pod to every other pod, on every port the destination declares, in both families. */
function matrix(): Probe[] {
  const out: Probe[] = [];
  for (const a of PODS)
    for (const b of PODS) {
      if (a === b) continue;
      for (const x of b.ports) for (const family of [4, 6] as const) out.push({ from: `${a.namespace}/${a.name}`, to: `${b.namespace}/${b.name}`, port: x.port, protocol: x.protocol, family });
    }
  return out;
}

// The policy of program(), written as iptables rules in the node netns: a stand-in dataplane that really drops.
// Stateful, as policy is: replies of an allowed connection pass (without the first rule, alpha/web's own
// connections out would lose their replies, and the engine reports those as mismatches).
const ESTABLISHED = ['FORWARD', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-m', 'comment', '--comment', 'tgl-web', '-j', 'ACCEPT'];
const V4_RULES = [
  ESTABLISHED,
  ['FORWARD', '-d', '10.73.0.1', '-s', '10.73.0.2', '-p', 'tcp', '--dport', '80', '-m', 'comment', '--comment', 'tgl-web', '-j', 'ACCEPT'],
  ['FORWARD', '-d', '10.73.0.1', '-m', 'comment', '--comment', 'tgl-web', '-j', 'DROP'],
];
const V6_RULES = [
  ESTABLISHED,
  ['FORWARD', '-d', 'fd73::1', '-s', 'fd73::2', '-p', 'tcp', '--dport', '80', '-m', 'comment', '--comment', 'tgl-web', '-j', 'ACCEPT'],
  ['FORWARD', '-d', 'fd73::1', '-m', 'comment', '--comment', 'tgl-web', '-j', 'DROP'],
];

describe('netns engine (real kernel, 6 pods)', function () {
  this.timeout(120000);
  before(async () => {
    await labDown(OPTS);
  });
  after(async () => {
    await labDown(OPTS);
  });

  it('refuses to run without a lab, saying what to run', async () => {
    const e = createNetnsEngine({ lab: OPTS });
    await assert.rejects(e.run(compiled(), matrix().slice(0, 1)), /no lab is up .*run 'tollgate lab up PATHS\.\.\.' first/);
  });

  it('refuses a lab that lacks the probed pods', async () => {
    await labUp(model(PODS.slice(0, 2)), OPTS);
    try {
      const e = createNetnsEngine({ lab: OPTS });
      await assert.rejects(e.run(compiled(), matrix()), /the lab that is up has no netns for .*beta\/api/);
    } finally {
      await labDown(OPTS);
    }
  });

  it('refuses a lab built with other addresses than the manifests', async () => {
    const moved = [...PODS];
    moved[1] = { ...moved[1], ips: ['10.73.0.99', 'fd73::99'] };
    await labUp(model(moved), OPTS);
    try {
      await assert.rejects(createNetnsEngine({ lab: OPTS }).run(compiled(), matrix()), /the lab is not built from these manifests: pod alpha\/client has 10\.73\.0\.2 in the manifests but 10\.73\.0\.99, fd73::99 in the lab/);
    } finally {
      await labDown(OPTS);
    }
  });

  describe('with the lab up', () => {
    before(async () => {
      await labUp(model([...PODS, HOST_POD]), OPTS);
    });

    it('a host-network pod has no netns: its probes say so and carry the IR\'s answer', async () => {
      const probes: Probe[] = [
        { from: 'kube-system/node-agent', to: 'alpha/web', port: 80, protocol: TCP, family: 4 },
        { from: 'alpha/client', to: 'kube-system/node-agent', port: 9100, protocol: TCP, family: 4 },
      ];
      const out = await createNetnsEngine({ lab: OPTS }).run(compiled(), probes);
      assert.match(out[0].note ?? '', /not probed: kube-system\/node-agent has no netns in the lab \(hostNetwork/);
      assert.match(out[1].note ?? '', /not probed/);
      // the answer is the ir engine's, verdicts and texts alike
      out.forEach((r, i) => {
        const ir = probeResult(compiled().program, probes[i]);
        assert.deepEqual([r.allowed, r.egress, r.ingress], [ir.allowed, ir.egress, ir.ingress]);
      });
    });

    it('probes leave from source port 40000, as the other engines\' packets do (Calico source.ports rules see it)', async () => {
      const rule = ['FORWARD', '-p', 'tcp', '--sport', '40000', '-d', '10.73.1.2', '-m', 'comment', '--comment', 'tgl-sport', '-j', 'DROP'];
      await run('ip', ['netns', 'exec', NODE, 'iptables', '-I', ...rule]);
      try {
        const probe: Probe = { from: 'alpha/client', to: 'beta/worker', port: 8080, protocol: TCP, family: 4 };
        const [r] = await createNetnsEngine({ lab: OPTS, timeoutMs: 300 }).run(compiled(), [probe]);
        assert.equal(r.allowed, false);
        assert.match(r.note ?? '', /no reply within the timeout/);
        // the same flow from an ephemeral port passes: it was the source port that matched
        const state = (await labStatus(OPTS)).state!;
        const [o] = await runProbes(state, [{ from: 'alpha/client', to: 'beta/worker', addr: '10.73.1.2', port: 8080, protocol: 'tcp' }]);
        assert.equal(o.status, 'ok');
      } finally {
        await run('ip', ['netns', 'exec', NODE, 'iptables', '-D', ...rule]);
      }
    });

    it('with no dataplane enforcing, reports every flow the IR denies as a MISMATCH (allowed by real traffic)', async () => {
      const probes = matrix();
      const t0 = Date.now();
      const out = await createNetnsEngine({ lab: OPTS }).run(compiled(), probes);
      const ms = Date.now() - t0;
      // eslint-disable-next-line no-console
      console.log(`      [timing] ${probes.length} probes, 6 pods, all reachable: ${ms} ms`);
      assert.equal(out.length, probes.length);
      for (const r of out) {
        if (r.protocol === 'SCTP') {
          assert.match(r.note ?? '', /not probed/);
          continue;
        }
        if (r.to === 'gamma/v4only' || (r.from === 'gamma/v4only' && r.note?.includes('IPv6'))) continue;
        assert.equal(r.allowed, true, JSON.stringify(r));
        const irDenies = r.to === 'alpha/web' && !(r.from === 'alpha/client' && r.port === 80 && r.protocol === 'TCP');
        if (irDenies) {
          assert.equal(r.ingress.allowed, false);
          assert.match(r.ingress.decidedBy, /web-policy/);
          assert.match(r.note ?? '', /MISMATCH: real traffic was allowed but the IR says denied/);
        } else {
          assert.equal(r.note, undefined, JSON.stringify(r));
        }
      }
      const v6only = out.filter((r) => r.to === 'gamma/v4only' && r.note?.includes('IPv6'));
      assert.equal(v6only.length, 2 * 5); // 2 ports x 5 sources have no IPv6 destination
    });

    it('with the policy enforced (iptables in the node netns), real traffic and the IR agree, and decidedBy names the rule', async () => {
      for (const r of V4_RULES) await run('ip', ['netns', 'exec', NODE, 'iptables', '-A', ...r]);
      for (const r of V6_RULES) await run('ip', ['netns', 'exec', NODE, 'ip6tables', '-A', ...r]);
      try {
        const probes = matrix();
        const t0 = Date.now();
        const out = await createNetnsEngine({ lab: OPTS }).run(compiled(), probes);
        const ms = Date.now() - t0;
        // eslint-disable-next-line no-console
        console.log(`      [timing] ${probes.length} probes, 6 pods, ${out.filter((r) => !r.allowed).length} denied (a denied probe waits the 1 s timeout twice): ${ms} ms`);
        const mismatches = out.filter((r) => r.note?.includes('MISMATCH'));
        assert.deepEqual(mismatches, []);
        const ok = out.find((r) => r.from === 'alpha/client' && r.to === 'alpha/web' && r.port === 80)!;
        assert.equal(ok.allowed, true);
        assert.match(ok.ingress.decidedBy, /web-policy/);
        const denied = out.filter((r) => r.to === 'alpha/web' && r.from === 'beta/api');
        assert.equal(denied.length, 4);
        for (const d of denied) {
          assert.equal(d.allowed, false);
          assert.equal(d.egress.allowed, true);
          assert.equal(d.ingress.allowed, false);
          assert.match(d.note ?? '', /no reply within the timeout/);
        }
        assert.ok(ms < 10000, `matrix took ${ms} ms`);
      } finally {
        await run('ip', ['netns', 'exec', NODE, 'iptables', '-F', 'FORWARD']);
        await run('ip', ['netns', 'exec', NODE, 'ip6tables', '-F', 'FORWARD']);
      }
    });
  });
});
