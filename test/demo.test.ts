// `tollgate demo` as a user runs it (the real binary, examples/multi-tenant, the real kernel), under this test's
// own lab prefix ('tgl3' + two characters from the pid), pin root and state directory:
//   - the printed grid is the IR's verdict on every probe, and every denied probe is listed under the rule the
//     IR says denied it, confirmed by the kernel's counter;
//   - nothing of it is left afterwards: not on success, not after a forced failure mid-run, not after Ctrl-C;
//   - --keep leaves it up (a second run refuses to start), --down removes it.
import { strict as assert } from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { compile } from '../compiler/pipeline';
import { planProbes } from '../compiler/cli/matrix';
import { probeResult, protocolName } from '../compiler/engines/ir';
import { listNetns } from '../compiler/lab/run';
import { runProbes } from '../compiler/lab';
import { PROTO } from '../compiler/model/types';

const PREFIX = `tgl3${(process.pid % 1296).toString(36).padStart(2, '0')}`;
const PIN_ROOT = `/sys/fs/bpf/${PREFIX}-demo-${process.pid}`;
const STATE_DIR = `/run/tollgate/${PREFIX}-demo-${process.pid}`;
const LAB_STATE = `/run/tollgate/lab-${PREFIX}.json`;
const LOAD_STATE = path.join(STATE_DIR, `state-${PREFIX}-node.json`);
const BIN = path.join(__dirname, '..', 'bin', 'tollgate');
const EXAMPLE = path.join(__dirname, '..', 'examples', 'multi-tenant');
const SCOPE = ['--prefix', PREFIX, '--pin-root', PIN_ROOT, '--state-dir', STATE_DIR];

function tollgate(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Everything the demo can make, listed; [] when nothing is left. */
async function leftovers(): Promise<string[]> {
  const out = (await listNetns()).filter((n) => n.startsWith(`${PREFIX}-`)).map((n) => `netns ${n}`);
  for (const f of [LAB_STATE, LOAD_STATE]) if (fs.existsSync(f)) out.push(`file ${f}`);
  if (fs.existsSync(PIN_ROOT) && fs.readdirSync(PIN_ROOT).length > 0) out.push(`pins ${PIN_ROOT}/${fs.readdirSync(PIN_ROOT).join(',')}`);
  if (fs.existsSync(`/run/tollgate/${PREFIX}-logs`)) out.push('responder logs');
  return out;
}

const compiled = compile([EXAMPLE]);
const { probes } = planProbes(compiled.program, 4, []);
const ir = probes.map((p) => probeResult(compiled.program, p));

/** The grid as printed: mark per (from, to, port/proto), read by column position under the port labels. */
function readGrid(stdout: string): Map<string, string> {
  const lines = stdout.split('\n');
  const head = lines.findIndex((l) => l.startsWith('from \\ to'));
  assert.ok(head > 0, `no grid in:\n${stdout}`);
  const portLine = lines[head + 1];
  // expected columns: destinations sorted by id, each with its declared ports by protocol then port
  const pods = [...compiled.program.endpoints].sort((a, b) => (a.id < b.id ? -1 : 1));
  const cols: { to: string; port: number; protocol: number; label: string }[] = [];
  for (const p of pods) {
    const seen = new Map<string, { port: number; protocol: number }>();
    for (const x of p.ports) seen.set(`${x.protocol}/${x.port}`, x);
    for (const x of [...seen.values()].sort((a, b) => a.protocol - b.protocol || a.port - b.port)) {
      cols.push({ to: p.id, port: x.port, protocol: x.protocol, label: x.protocol === PROTO.UDP ? `${x.port}u` : String(x.port) });
    }
  }
  const starts: number[] = [];
  const labels: string[] = [];
  for (const m of portLine.matchAll(/[0-9]+u?/g)) {
    starts.push(m.index!);
    labels.push(m[0]);
  }
  assert.deepEqual(labels, cols.map((c) => c.label), `port header: ${portLine}`);
  const cells = new Map<string, string>();
  let ns = '';
  for (const l of lines.slice(head + 3)) {
    if (l.trim() === '') break;
    const label = l.split('|')[0];
    if (!label.startsWith('  ')) {
      ns = label.trim();
      continue;
    }
    const from = `${ns}/${label.trim()}`;
    cols.forEach((c, i) => cells.set(`${from} -> ${c.to} ${c.port}/${protocolName(c.protocol)}`, l[starts[i]] ?? ' '));
  }
  return cells;
}

describe('tollgate demo (examples/multi-tenant, real lab, real traffic)', function () {
  this.timeout(240000);

  before(async function () {
    tollgate('demo', '--down', ...SCOPE);
    assert.deepEqual(await leftovers(), []);
  });

  after(function () {
    try {
      tollgate('demo', '--down', ...SCOPE);
    } finally {
      fs.rmSync(PIN_ROOT, { recursive: true, force: true });
      fs.rmSync(STATE_DIR, { recursive: true, force: true });
    }
  });

  it('prints the IR\'s grid from real traffic, every denial under the rule the IR and the kernel name, and leaves nothing', async function () {
    const t0 = Date.now();
    const r = tollgate('demo', ...SCOPE);
    // eslint-disable-next-line no-console
    console.log(`      [timing] demo ${Date.now() - t0} ms`);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const cells = readGrid(r.stdout);
    const wrong: string[] = [];
    probes.forEach((p, i) => {
      const key = `${p.from} -> ${p.to} ${p.port}/${protocolName(p.protocol)}`;
      const want = ir[i].allowed ? '.' : 'X';
      if (cells.get(key) !== want) wrong.push(`${key}: printed '${cells.get(key)}', IR ${want}`);
    });
    assert.deepEqual(wrong, []);
    assert.equal(cells.size, probes.length + compiled.program.endpoints.reduce((n, e) => n + new Set(e.ports.map((x) => `${x.protocol}/${x.port}`)).size, 0), 'a cell per probe and one per pod to itself');
    assert.equal([...cells.values()].filter((c) => c === '-').length, cells.size - probes.length);

    // every denied probe, under the heading of the rule the IR says decided it, marked K (the kernel agreed)
    const denied = probes.map((p, i) => ({ p, r: ir[i] })).filter((x) => !x.r.allowed);
    assert.ok(denied.length > 10 && denied.length < probes.length, `${denied.length} of ${probes.length} denied`);
    assert.match(r.stdout, new RegExp(`IPv4 denial: ${denied.length} of ${denied.length} are the rule the IR names`));
    const why = r.stdout.slice(r.stdout.indexOf('Why each denied connection'));
    const unexplained: string[] = [];
    for (const { p, r: res } of denied) {
      const decided = res.egress.allowed ? res.ingress.decidedBy : res.egress.decidedBy;
      const section = why.slice(why.indexOf(`  ${decided}\n`));
      const end = section.slice(1).search(/\n {2}\S|\n\n/);
      const block = end < 0 ? section : section.slice(0, end + 1);
      const line = block.split('\n').find((l) => l.trim().startsWith(`K ${p.from} -> ${p.to} `));
      const label = p.protocol === PROTO.UDP ? `${p.port}u` : String(p.port);
      if (why.indexOf(`  ${decided}\n`) < 0 || !line || !line.split(/\s+/).includes(label)) unexplained.push(`${p.from} -> ${p.to} ${label}: ${decided}`);
    }
    assert.deepEqual(unexplained, []);
    // the story: each layer decides something
    for (const layer of ['Calico tiers (platform):', 'tier default (the tenants\' own NetworkPolicies):', 'BaselineAdminNetworkPolicy (the default, evaluated last):']) {
      assert.ok(why.includes(layer), layer);
    }
    // ... and the platform's guarantees, allowed whatever the tenants write (tenant-b/db denies all its own egress)
    assert.match(r.stdout, /"always-dns" Allow\n {4}tenant-a\/api, tenant-a\/web, tenant-b\/batch, tenant-b\/db, tenant-b\/web -> shared-services\/dns 53 53u\n/);
    assert.match(r.stdout, /"always-scraped" Allow\n( {4}shared-services\/monitoring -> tenant-.\/\w+ 9100\n){5}/);
    assert.match(r.stdout, /IPv6 \(\d+ probes\): every verdict as the IR says/);
    assert.match(r.stdout, /nothing of the demo is left/);
    assert.deepEqual(await leftovers(), []);
  });

  it('an exception nobody catches (a bug) after the load stops the run and removes everything (exit 1)', async function () {
    const r = tollgate('demo', ...SCOPE, '--crash-after', 'load');
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /unexpected error: forced crash after step 'load'/);
    assert.match(r.stdout, /nothing of the demo is left/);
    assert.deepEqual(await leftovers(), []);
  });

  for (const step of ['load', 'traffic']) {
    it(`a failure after step '${step}' removes everything (exit 1, the reason said)`, async function () {
      const r = tollgate('demo', ...SCOPE, '--fail-after', step, '--timeout-ms', '500');
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`forced failure after step '${step}'.*everything the demo made was removed`));
      assert.deepEqual(await leftovers(), []);
    });
  }

  it('fails loudly (exit 1, ! in the grid) when the loaded dataplane disagrees with the IR, and removes everything', async function () {
    // The kernel gets a program where (a) the baseline's closed-by-default rule allows, so real traffic gets
    // through where the IR denies, and (b) tenant-a's platform isolation on egress allows, so tenant-b's ingress
    // isolation drops those packets instead: same verdict, another rule (only the counters can tell).
    const tampered = JSON.parse(JSON.stringify(compiled.program)) as typeof compiled.program;
    let changed = 0;
    for (const ep of tampered.endpoints)
      for (const ch of [ep.ingress, ep.egress])
        for (const t of ch.tiers)
          for (const rule of t.rules)
            if (rule.id === 'banp/default/ingress/0' || rule.id === 'gnp/platform.isolate-tenant-a/egress/1') {
              rule.action = 'Allow';
              changed++;
            }
    assert.ok(changed >= 3, `${changed} rules changed`);
    fs.mkdirSync(STATE_DIR, { recursive: true });
    const file = path.join(STATE_DIR, 'tampered.json');
    fs.writeFileSync(file, JSON.stringify(tampered));
    const r = tollgate('demo', ...SCOPE, '--load-ir', file);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /disagreement\(s\) between the dataplane and the IR/);
    // (a): real traffic reached tenant-b/batch on 8080 from shared-services/dns
    assert.match(r.stderr, /IPv4 shared-services\/dns -> tenant-b\/batch 8080\/TCP: real traffic got through, the IR says denied/);
    // (b): the kernel counted tenant-a -> tenant-b/web against tenant-b/web's ingress, not tenant-a/web's egress
    assert.match(r.stderr, /tenant-a\/web -> tenant-b\/web 8080\/TCP: the kernel counted it against tenant-b\/web ingress gnp\/platform\.isolate-tenant-b\/ingress\/1 \(Deny\), the IR says tenant-a\/web egress/);
    const cells = readGrid(r.stdout);
    assert.equal(cells.get('shared-services/dns -> tenant-b/batch 8080/TCP'), '!');
    assert.equal(cells.get('tenant-a/web -> tenant-b/web 8080/TCP'), '!');
    assert.equal(cells.get('shared-services/dns -> tenant-a/web 8080/TCP'), '.', 'cells where both agree are as usual');
    assert.deepEqual(await leftovers(), []);
  });

  it('a prober that dies before reading its batch (Ctrl-C reaches the probers too) rejects the probe run, it does not crash the demo', async function () {
    // `ip netns exec` of a netns that does not exist exits at once, leaving most of a 1.5 MB batch unwritten: EPIPE
    const state = {
      version: 1 as const, prefix: PREFIX, nodeNetns: `${PREFIX}-node`, createdAt: '', ownerPid: process.pid, sources: [], skipped: [],
      pods: [{ id: 'x/a', netns: `${PREFIX}-0000000000`, hostIf: `${PREFIX}a`, ipv4: ['10.99.0.1'], ipv6: [], ports: [], hostIfindex: 0, responderPid: 0 }],
    };
    const reqs = Array.from({ length: 20000 }, (_, i) => ({ from: 'x/a', to: `x/b${i}`, addr: '10.99.0.2', port: 1 + (i % 60000), protocol: 'tcp' as const }));
    await assert.rejects(runProbes(state, reqs, { retryTimeouts: false }), /prober in .* exited/);
  });

  it('Ctrl-C during the traffic step removes everything and exits 130', async function () {
    const child = spawn(process.execPath, [BIN, 'demo', ...SCOPE], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('[2/5]') && !child.killed) child.kill('SIGINT');
      });
      child.on('close', (c) => resolve(c));
    });
    assert.equal(code, 130, `${stdout}\n${stderr}`);
    assert.ok(!stdout.includes('[3/5]'), stdout);
    assert.match(stderr, /SIGINT: stopping/);
    assert.deepEqual(await leftovers(), []);
  });

  it('--keep leaves the lab and the programs up; a second demo refuses to start; --down removes it all', async function () {
    const r = tollgate('demo', ...SCOPE, '--keep', '--timeout-ms', '500');
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /kept \(--keep\)/);
    assert.match(r.stdout, /lab exec/);
    const lab = JSON.parse(fs.readFileSync(LAB_STATE, 'utf8')) as { pods: { responderPid: number }[] };
    const pids = lab.pods.map((p) => p.responderPid).filter((p) => p > 0);
    assert.equal(pids.length, compiled.program.endpoints.length);
    const st = tollgate('status', '--netns', `${PREFIX}-node`, '--pin-root', PIN_ROOT, '--state-dir', STATE_DIR, '--output', 'json');
    assert.equal(st.code, 0, st.stderr);
    const s = JSON.parse(st.stdout) as { attachments: { present: boolean }[] };
    assert.equal(s.attachments.length, 2 * compiled.program.endpoints.length);
    assert.ok(s.attachments.every((a) => a.present));

    const again = tollgate('demo', ...SCOPE);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /demo --down/);
    assert.ok(fs.existsSync(LAB_STATE) && fs.existsSync(LOAD_STATE), 'the refused run touched nothing');

    const down = tollgate('demo', '--down', ...SCOPE);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await leftovers(), []);
    assert.deepEqual(pids.filter((p) => fs.existsSync(`/proc/${p}`)), [], 'responders stopped');
  });
});
