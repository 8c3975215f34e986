// `tollgate matrix` and `tollgate trace` end to end: YAML in, the real CLI process, output contracts.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compile } from '../compiler/pipeline';
import { probeResult } from '../compiler/engines/ir';
import { getEngine } from '../compiler/engines';
import { CliError } from '../compiler/cli/common';
import { parseProbe, planProbes } from '../compiler/cli/matrix';
import { renderProgram } from '../compiler/ir/print';

const BIN = path.join(__dirname, '..', 'bin', 'tollgate');

function run(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const NAMESPACES = ['x', 'y']
  .map((n) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${n}\n  labels: { ns: ${n} }\n`)
  .join('---\n');

function podYaml(ns: string, name: string, ips: string[], ports: string): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${ns}
  labels: { pod: ${name} }
spec:
  containers:
    - name: c
      image: i
      ports: ${ports}
status:
  podIPs: [${ips.map((ip) => `{ ip: "${ip}" }`).join(', ')}]
`;
}

const PODS = [
  podYaml('x', 'a', ['10.0.1.1', 'fd00::1:1'], '[{ name: http, containerPort: 80 }, { name: dns, containerPort: 53, protocol: UDP }]'),
  podYaml('x', 'b', ['10.0.1.2', 'fd00::1:2'], '[{ name: http, containerPort: 8080 }]'),
  podYaml('y', 'a', ['10.0.2.1'], '[{ name: http, containerPort: 80 }]'),
].join('---\n');

// x/a admits only pods of namespace y, on its named port http; x/b denies all ingress
const POLICY = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: allow-y, namespace: x }
spec:
  podSelector: { matchLabels: { pod: a } }
  ingress:
    - from: [{ namespaceSelector: { matchLabels: { ns: y } } }]
      ports: [{ port: http }]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: deny-b, namespace: x }
spec:
  podSelector: { matchLabels: { pod: b } }
  policyTypes: [Ingress]
`;

describe('tollgate matrix / trace (CLI, YAML in)', function () {
  this.timeout(120000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-ir-matrix-'));
    fs.writeFileSync(path.join(dir, '00-ns.yaml'), NAMESPACES);
    fs.writeFileSync(path.join(dir, '10-pods.yaml'), PODS);
    fs.writeFileSync(path.join(dir, '20-policy.yaml'), POLICY);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('--output json: exactly the contract shape, every ordered pair but a pod to itself', () => {
    const r = run(['matrix', dir, '--probe', '80/TCP', '--output', 'json']);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { engine: string; results: Record<string, unknown>[] };
    assert.deepEqual(Object.keys(j), ['engine', 'results']);
    assert.equal(j.engine, 'ir');
    assert.equal(j.results.length, 6);
    for (const x of j.results) {
      assert.deepEqual(Object.keys(x), ['from', 'to', 'port', 'protocol', 'allowed', 'egress', 'ingress']);
      assert.deepEqual(Object.keys(x.egress as object), ['allowed', 'decidedBy']);
      assert.notEqual(x.from, x.to);
    }
    const get = (f: string, t: string) => j.results.find((x) => x.from === f && x.to === t)!;
    assert.deepEqual(get('y/a', 'x/a'), {
      from: 'y/a', to: 'x/a', port: 80, protocol: 'TCP', allowed: true,
      egress: { allowed: true, decidedBy: 'no policy selects the pod: allow' },
      ingress: { allowed: true, decidedBy: 'tier default: NetworkPolicy x/allow-y ingress[0] Allow' },
    });
    assert.equal(get('x/b', 'x/a').allowed, false);
    assert.equal((get('x/b', 'x/a').ingress as { decidedBy: string }).decidedBy, 'tier default: NetworkPolicy x/allow-y selects the pod and no rule allows (default deny)');
    assert.equal(get('x/a', 'x/b').allowed, false);
    assert.equal(get('x/a', 'y/a').allowed, true);
  });

  it('without --probe: every port/protocol the destination declares, probed only towards pods declaring it', () => {
    const r = run(['matrix', dir, '--output', 'json']);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { results: { from: string; to: string; port: number; protocol: string; allowed: boolean }[] };
    const keys = j.results.map((x) => `${x.from}>${x.to}:${x.port}/${x.protocol}=${x.allowed ? 'ok' : 'no'}`).sort();
    assert.deepEqual(keys, [
      'x/a>x/b:8080/TCP=no',
      'x/a>y/a:80/TCP=ok',
      'x/b>x/a:53/UDP=no',
      'x/b>x/a:80/TCP=no',
      'x/b>y/a:80/TCP=ok',
      'y/a>x/a:53/UDP=no', // the rule names port http (TCP 80): UDP 53 is not allowed
      'y/a>x/a:80/TCP=ok',
      'y/a>x/b:8080/TCP=no',
    ]);
  });

  it('table: one grid per probe, "." allowed, "X" denied; --family 6 skips pods without IPv6 (said on stderr)', () => {
    const r = run(['matrix', dir, '--probe', '80/TCP', '--probe', '8080/tcp']);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n');
    const grid = (probe: string): string[] => {
      const i = lines.findIndex((l) => l.startsWith(`probe ${probe} `));
      assert.ok(i >= 0, r.out);
      return lines.slice(i + 2, i + 5).map((l) => l.replace(/\s+/g, ' ').trim());
    };
    assert.deepEqual(grid('80/TCP'), ['x/a - X .', 'x/b X - .', 'y/a . X -']);
    assert.deepEqual(grid('8080/TCP'), ['x/a - X .', 'x/b X - .', 'y/a X X -']);
    const r6 = run(['matrix', dir, '--probe', '80/TCP', '--family', '6']);
    assert.equal(r6.code, 0, r6.err);
    assert.match(r6.err, /skipped 1 pod without an IPv6 address: y\/a/);
    assert.ok(!r6.out.includes('y/a'));
  });

  it('usage errors exit 2 with a message', () => {
    const bad = run(['matrix', dir, '--probe', '80/XYZ']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /expected PORT\/PROTO/);
    const fam = run(['matrix', dir, '--family', '5']);
    assert.equal(fam.code, 2);
    assert.match(fam.err, /expected 4 or 6/);
    assert.throws(() => getEngine('quantum'), (e: unknown) => e instanceof CliError && e.exitCode === 2);
    assert.equal(getEngine('ir').name, 'ir');
  });

  it('trace: names the chain tier by tier; an IP of a pod is that pod; an external address only has the local side', () => {
    const t = run(['trace', dir, '--from', '10.0.1.2', '--to', 'x/a', '--probe', '80/TCP']);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /^x\/b \(10\.0\.1\.2\) -> x\/a \(10\.0\.1\.1\) 80\/TCP: DENIED/);
    assert.match(t.out, /ingress of x\/a: denied\n {2}1\. tier default: NetworkPolicy x\/allow-y selects the pod and no rule allows \(default deny\): denied/);
    const j = run(['trace', dir, '--from', '192.0.2.9', '--to', 'x/b', '--probe', '8080/TCP', '--output', 'json']);
    assert.equal(j.code, 0, j.err);
    const v = JSON.parse(j.out);
    assert.equal(v.allowed, false);
    assert.equal(v.egress, undefined);
    assert.equal(v.to, 'x/b');
    assert.equal(v.ingress.decidedBy, 'tier default: NetworkPolicy x/deny-b selects the pod and no rule allows (default deny)');
    const ok = run(['trace', dir, '--from', 'y/a', '--to', 'x/a', '--probe', '80', '--output', 'json']);
    assert.equal(JSON.parse(ok.out).ingress.ruleId, 'knp/x/allow-y/ingress/0');
    const missing = run(['trace', dir, '--from', 'x/zz', '--to', 'x/a', '--probe', '80/TCP']);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /--from x\/zz: no such pod/);
  });

  it('compile --emit ir prints the chains with rule ids; the ir engine reuses probeResult', () => {
    const c = compile([dir]);
    const text = renderProgram(c.program);
    assert.match(text, /endpoint x\/a {2}ips 10\.0\.1\.1,fd00::1:1/);
    assert.match(text, /Allow proto TCP {2}peer 10\.0\.2\.1\/32 {2}dport 80 {3}\[knp\/x\/allow-y\/ingress\/0\]/);
    const { probes } = planProbes(c.program, 4, [parseProbe('80/TCP')]);
    assert.equal(probes.length, 6);
    assert.equal(probeResult(c.program, probes.find((p) => p.from === 'y/a' && p.to === 'x/a')!).allowed, true);
  });
});
