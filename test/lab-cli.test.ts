// `tollgate lab ...` as a user runs it: the real binary, manifests on disk, the real kernel.
// Kernel objects carry this process's test prefix (lab-support TEST_PREFIX, passed with the hidden --prefix).
import { strict as assert } from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { labDown, labOptions, runProbes, type ProbeRequest } from '../compiler/lab';
import { readState } from '../compiler/lab/state';
import { PROTO } from '../compiler/model/types';
import { listNetns } from '../compiler/lab/run';
import { TEST_PREFIX } from './lab-support';

const BIN = path.join(__dirname, '..', 'bin', 'tollgate');
const OPTS = labOptions(TEST_PREFIX);

function tollgate(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const SHOP = `# two namespaces, three pods, dual-stack
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: ops}
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels: {app: web}
  annotations: {tollgate.dev/interface: ${TEST_PREFIX}web}
spec:
  containers:
  - name: web
    image: nginx
    ports: [{containerPort: 80}, {containerPort: 53, protocol: UDP}]
status:
  podIPs: [{ip: 10.75.0.1}, {ip: "fd75::1"}]
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec:
  containers:
  - name: db
    image: postgres
    ports: [{containerPort: 5432}]
status:
  podIPs: [{ip: 10.75.0.2}, {ip: "fd75::2"}]
---
apiVersion: v1
kind: Pod
metadata: {name: probe, namespace: ops}
spec:
  containers: [{name: p, image: busybox}]
status:
  podIP: 10.75.1.1
`;

describe('tollgate lab (the CLI, real kernel)', function () {
  this.timeout(120000);
  let dir: string;
  before(async () => {
    await labDown(OPTS);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tgl-cli-'));
    fs.writeFileSync(path.join(dir, 'shop.yaml'), SHOP);
  });
  after(async () => {
    await labDown(OPTS);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lab up builds the pods of the manifests and prints them', () => {
    const r = tollgate('lab', 'up', '--prefix', TEST_PREFIX, dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`shop/web +${TEST_PREFIX}-[0-9a-f]{10} +${TEST_PREFIX}web@${TEST_PREFIX}-node\\(\\d+\\) +10\\.75\\.0\\.1,fd75::1 +80/TCP,53/UDP`));
    assert.match(r.stdout, /ops\/probe .* 10\.75\.1\.1 +-/);
    assert.match(r.stderr, /lab up: 3 pods in \d+ ms/);
  });

  it('lab status shows it, lab exec runs in the pod and passes the exit code back', () => {
    const st = tollgate('lab', 'status', '--prefix', TEST_PREFIX);
    assert.equal(st.code, 0, st.stdout + st.stderr);
    assert.match(st.stdout, /shop\/db/);
    // the probe pod (IPv4 only) reaches the web pod's responder through the node
    const e = tollgate('lab', 'exec', '--prefix', TEST_PREFIX, 'ops/probe', '--', 'ip', '-4', 'route', 'get', '10.75.0.1');
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, /10\.75\.0\.1 via 169\.254\.1\.1 dev eth0 src 10\.75\.1\.1/);
    assert.equal(tollgate('lab', 'exec', '--prefix', TEST_PREFIX, 'shop/db', '--', 'sh', '-c', 'exit 3').code, 3);
    const bad = tollgate('lab', 'exec', '--prefix', TEST_PREFIX, 'shop/nope', '--', 'true');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /has no netns for shop\/nope/);
  });

  it('lab up over a lab that is up is refused; lab down removes it all, twice without error', async () => {
    const again = tollgate('lab', 'up', '--prefix', TEST_PREFIX, dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already up/);
    const d = tollgate('lab', 'down', '--prefix', TEST_PREFIX);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stderr, /removed 4 network namespaces/);
    assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`${TEST_PREFIX}-`)), []);
    assert.equal(tollgate('lab', 'down', '--prefix', TEST_PREFIX).code, 0);
    const st = tollgate('lab', 'status', '--prefix', TEST_PREFIX);
    assert.match(st.stdout, /no lab is up/);
    const ex = tollgate('lab', 'exec', '--prefix', TEST_PREFIX, 'shop/web', '--', 'true');
    assert.equal(ex.code, 1);
    assert.match(ex.stderr, /no lab is up/);
  });

  it('a bad manifest stops lab up before anything is built, naming the file and line', async () => {
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(bad, SHOP.replace('10.75.0.2', '10.75.0.999'));
    try {
      const r = tollgate('lab', 'up', '--prefix', TEST_PREFIX, bad);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /bad\.yaml:\d+:\d+: error: .*10\.75\.0\.999/);
      assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`${TEST_PREFIX}-`)), []);
    } finally {
      fs.rmSync(bad);
    }
  });

  it('Ctrl-C during lab up removes what was built and exits 130', async () => {
    const child = spawn(process.execPath, [BIN, 'lab', 'up', '--prefix', TEST_PREFIX, path.join(__dirname, '..', 'examples', 'multi-tenant')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // as soon as the build has begun (the state file is written first), interrupt it
    for (let i = 0; i < 300 && !fs.existsSync(OPTS.statePath); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(fs.existsSync(OPTS.statePath), 'lab up never started');
    child.kill('SIGINT');
    const code = await exited;
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted/);
    assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`${TEST_PREFIX}-`)), []);
    assert.ok(!fs.existsSync(OPTS.statePath));
  });

  it('lab up examples/multi-tenant: with no policy loaded, every pod reaches every declared port of every other pod', async () => {
    const example = path.join(__dirname, '..', 'examples', 'multi-tenant');
    const t0 = Date.now();
    const r = tollgate('lab', 'up', '--prefix', TEST_PREFIX, example);
    assert.equal(r.code, 0, r.stderr);
    try {
      const state = readState(OPTS.statePath)!;
      assert.ok(state.pods.length >= 6, `${state.pods.length} pods`);
      const reqs: ProbeRequest[] = [];
      for (const a of state.pods)
        for (const b of state.pods)
          if (a !== b)
            for (const x of b.ports)
              if (x.protocol === PROTO.TCP || x.protocol === PROTO.UDP)
                for (const addr of [...b.ipv4, ...b.ipv6]) reqs.push({ from: a.id, to: b.id, addr, port: x.port, protocol: x.protocol === PROTO.TCP ? 'tcp' : 'udp' });
      const t1 = Date.now();
      const out = await runProbes(state, reqs);
      // eslint-disable-next-line no-console
      console.log(`      [timing] multi-tenant: lab up ${t1 - t0} ms (CLI), ${reqs.length} probes ${Date.now() - t1} ms`);
      assert.deepEqual(out.map((o, i) => ({ ...reqs[i], ...o })).filter((o) => o.status !== 'ok'), []);
    } finally {
      assert.equal(tollgate('lab', 'down', '--prefix', TEST_PREFIX).code, 0);
    }
  });
});
