// The whole chain on real traffic: examples/multi-tenant compiled, the lab built from it, Tollgate's programs
// loaded onto the lab's host-side veths (compiler/load), and real probes. Then policy updates while a TCP stream
// and a UDP flood run. Kernel objects: the lab under this process's test prefix, pins and load state in dirs
// named after it; all removed in after().
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compile, type Compiled } from '../compiler/pipeline';
import { createNetnsEngine } from '../compiler/engines/netns';
import type { Probe, ProbeResult } from '../compiler/engines/types';
import { labDown, labInterfaces, labOptions, labUp, runProbes, startFlood, startStream, type LabState } from '../compiler/lab';
import { load, unload } from '../compiler/load/loader';
import { PROTO } from '../compiler/model/types';
import { evaluateConnection } from '../compiler/ir/evaluate';
import { TEST_PREFIX } from './lab-support';

const EXAMPLE = path.join(__dirname, '..', 'examples', 'multi-tenant');
const BIN = path.join(__dirname, '..', 'bin', 'tollgate');
const OPTS = labOptions(TEST_PREFIX);
const SCOPE = { pinRoot: `/sys/fs/bpf/${TEST_PREFIX}`, stateDir: `/run/tollgate/${TEST_PREFIX}-load`, netns: `${TEST_PREFIX}-node` };

function yamlMap(m: Readonly<Record<string, string>>): string {
  return `{${Object.entries(m).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ')}}`;
}

function everyProbe(c: Compiled): Probe[] {
  const out: Probe[] = [];
  const pods = c.model.pods.filter((p) => !p.hostNetwork);
  for (const a of pods)
    for (const b of pods)
      if (a !== b)
        for (const x of b.ports)
          for (const family of [4, 6] as const) out.push({ from: `${a.namespace}/${a.name}`, to: `${b.namespace}/${b.name}`, port: x.port, protocol: x.protocol, family });
  return out;
}

async function loadInto(c: Compiled): Promise<Awaited<ReturnType<typeof load>>> {
  const ifaceMap = Object.fromEntries(labInterfaces(OPTS).map((i) => [i.pod, i.ifname]));
  return load(c.program, { ...SCOPE, ifaceMap });
}

describe('lab + load: Tollgate on the host-side veths, real traffic (examples/multi-tenant)', function () {
  this.timeout(180000);
  let base: Compiled;
  let state: LabState;
  let results: ProbeResult[];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tgl-load-'));

  before(async () => {
    await labDown(OPTS);
    base = compile([EXAMPLE]);
    state = await labUp(base.model, OPTS);
    await loadInto(base);
  });
  after(async () => {
    try {
      await unload(SCOPE);
    } finally {
      await labDown(OPTS);
      fs.rmSync(SCOPE.pinRoot, { recursive: true, force: true });
      fs.rmSync(SCOPE.stateDir, { recursive: true, force: true });
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('real traffic agrees with the IR on every probe, and some are denied', async () => {
    const probes = everyProbe(base);
    const t0 = Date.now();
    results = await createNetnsEngine({ lab: OPTS }).run(base, probes);
    // eslint-disable-next-line no-console
    console.log(`      [timing] ${probes.length} probes with Tollgate loaded: ${Date.now() - t0} ms, ${results.filter((r) => !r.allowed).length} denied`);
    assert.deepEqual(results.filter((r) => r.note?.includes('MISMATCH')), []);
    assert.ok(results.some((r) => !r.allowed) && results.some((r) => r.allowed));
  });

  it('`tollgate matrix --engine netns` prints the same verdicts as `--engine ir`, IPv4 and IPv6', () => {
    type Out = { engine: string; results: ProbeResult[] };
    const matrix = (engine: string, family: string): Out => {
      const r = spawnSync(process.execPath, [BIN, 'matrix', EXAMPLE, '--engine', engine, '--family', family, '--output', 'json'], {
        encoding: 'utf8',
        timeout: 60000,
        env: { ...process.env, TOLLGATE_LAB_PREFIX: TEST_PREFIX },
      });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as Out;
    };
    for (const family of ['4', '6']) {
      const ir = matrix('ir', family);
      const netns = matrix('netns', family);
      assert.equal(netns.engine, 'netns');
      const key = (r: ProbeResult): string => `${r.from} ${r.to} ${r.port}/${r.protocol}`;
      assert.deepEqual(netns.results.map(key), ir.results.map(key));
      const differ = netns.results.filter((r, i) => r.allowed !== ir.results[i].allowed);
      assert.deepEqual(differ, [], `IPv${family}`);
      assert.ok(netns.results.some((r) => !r.allowed), `IPv${family}: some denied`);
    }
  });

  it('stateful: a pod whose ingress is denied still connects out and gets its replies', () => {
    const deniedIn = new Set(results.filter((r) => !r.ingress.allowed).map((r) => r.to));
    const outOk = results.filter((r) => deniedIn.has(r.from) && r.allowed && r.note === undefined);
    assert.ok(outOk.length > 0, 'no pod with denied ingress made a connection out');
    // a TCP exchange and a UDP reply came back to a pod whose ingress policy denies new inbound flows
    assert.ok(outOk.some((r) => r.protocol === 'TCP'));
  });

  it('updates under traffic: allowed flows lose nothing, a new deny takes effect at once', async () => {
    const ok = (r: ProbeResult): boolean => r.allowed && r.note === undefined;
    const tcp = results.find((r) => ok(r) && r.protocol === 'TCP')!;
    const udp = results.find((r) => ok(r) && r.protocol === 'UDP')!;
    assert.ok(tcp && udp, 'the example has an allowed TCP and an allowed UDP flow');
    const addr = (id: string, v6: boolean): string => {
      const p = state.pods.find((x) => x.id === id)!;
      return v6 ? p.ipv6[0] : p.ipv4[0];
    };
    // step files: add rules (an allow from a documentation range and from every pod), add a pod to the sets the
    // selectors build (a twin of the stream's source, not in the lab)
    const addRules = path.join(dir, 'add-rules.yaml');
    fs.writeFileSync(addRules, `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: tgl-extra, namespace: ${tcp.to.split('/')[0]}}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n  - from: [{ipBlock: {cidr: 192.0.2.0/24}}]\n  - from: [{podSelector: {}, namespaceSelector: {}}]\n`);
    const addPod = path.join(dir, 'add-pod.yaml');
    const twin = base.model.pods.find((p) => `${p.namespace}/${p.name}` === tcp.from)!;
    fs.writeFileSync(addPod, `apiVersion: v1\nkind: Pod\nmetadata:\n  name: tgl-twin\n  namespace: ${twin.namespace}\n  labels: ${yamlMap(twin.labels)}\nspec:\n  containers: [{name: c, image: x}]\nstatus:\n  podIPs: [{ip: 10.244.99.9}]\n`);
    // A flow to deny: another allowed TCP flow, closed by an AdminNetworkPolicy Deny (a NetworkPolicy only adds
    // allows); the IR confirms it denies that flow and leaves the stream's and the flood's alone.
    let deny: { c: Compiled; r: ProbeResult } | undefined;
    for (const r of results.filter((x) => ok(x) && x.protocol === 'TCP' && !(x.from === tcp.from && x.to === tcp.to))) {
      const [dns, dname] = r.to.split('/');
      const [sns, sname] = r.from.split('/');
      const dpod = base.model.pods.find((p) => p.namespace === dns && p.name === dname)!;
      const spod = base.model.pods.find((p) => p.namespace === sns && p.name === sname)!;
      const file = path.join(dir, 'deny.yaml');
      fs.writeFileSync(
        file,
        `apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: tgl-deny}\nspec:\n  priority: 0\n` +
          `  subject:\n    pods:\n      namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ${dns}}}\n      podSelector: {matchLabels: ${yamlMap(dpod.labels)}}\n` +
          `  ingress:\n  - name: tgl-deny\n    action: Deny\n    from:\n    - pods:\n        namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ${sns}}}\n        podSelector: {matchLabels: ${yamlMap(spod.labels)}}\n` +
          `    ports: [{portNumber: {protocol: TCP, port: ${r.port}}}]\n`,
      );
      const c = compile([EXAMPLE, addRules, addPod, file]);
      const allowed = (x: ProbeResult, proto: number): boolean =>
        evaluateConnection(c.program, { src: addr(x.from, false), dst: addr(x.to, false), proto, dport: x.port }).allowed;
      if (!allowed(r, PROTO.TCP) && allowed(tcp, PROTO.TCP) && allowed(udp, PROTO.UDP)) {
        deny = { c, r };
        break;
      }
    }
    assert.ok(deny, 'found a flow that an AdminNetworkPolicy can deny without touching the stream and the flood');

    const stream = await startStream(state, tcp.from, addr(tcp.to, true), tcp.port, 5);
    const flood = await startFlood(state, udp.from, addr(udp.to, false), udp.port, 5);
    const timings: string[] = [];
    let denyMs = 0;
    try {
      await new Promise((r) => setTimeout(r, 200));
      for (const [what, inputs] of [['add rules', [EXAMPLE, addRules]], ['add a pod to the sets', [EXAMPLE, addRules, addPod]]] as const) {
        const rep = await loadInto(compile([...inputs]));
        timings.push(`${what}: ${rep.mode}, enforcing after ${rep.timings.enforcingMs.toFixed(1)} ms`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const t0 = process.hrtime.bigint();
      const rep = await loadInto(deny!.c);
      const [probe] = await runProbes(state, [{ from: deny!.r.from, to: deny!.r.to, addr: addr(deny!.r.to, false), port: deny!.r.port, protocol: 'tcp' }], { timeoutMs: 300, retryTimeouts: false });
      denyMs = Number(process.hrtime.bigint() - t0) / 1e6;
      timings.push(`deny ${deny!.r.from} -> ${deny!.r.to}:${deny!.r.port}: ${rep.mode}, enforcing after ${rep.timings.enforcingMs.toFixed(1)} ms`);
      assert.equal(probe.status, 'timeout', `the first probe after the load: ${JSON.stringify(probe)}`);
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      const [s, f] = await Promise.all([stream.stop(), flood.stop()]);
      // eslint-disable-next-line no-console
      console.log(`      [update] ${timings.join('; ')}; stream ${JSON.stringify(s)}; flood ${JSON.stringify(f)}; deny load+first probe ${denyMs.toFixed(0)} ms`);
      assert.equal(s.error, undefined);
      assert.equal(s.acked, s.sent, 'the stream lost messages');
      assert.ok(s.maxGapMs < 250, `the stream stalled ${s.maxGapMs} ms`);
      assert.equal(f.received, f.sent, 'the flood lost datagrams');
    }
  });
});
