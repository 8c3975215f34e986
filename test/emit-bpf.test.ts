// The BPF emitter: artifacts on disk, the object cache, the C builder's escaping, golden files for the
// generated C and map contents (test/golden/bpf/; regenerate with TOLLGATE_UPDATE_GOLDEN=1 and review the diff).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { strict as assert } from 'assert';
import { emitBpf, generateC, buildTables } from '../compiler/emit/bpf';
import { CBuilder, commentText, ident } from '../compiler/emit/bpf/cgen';
import { fromFile } from '../compiler/emit/bpf/serialize';
import { rangePrefixes } from '../compiler/emit/bpf/prefix';
import { endpoint, program, rule, tier } from './bpf-fixtures';

const GOLDEN = path.join(__dirname, 'golden', 'bpf');

function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN, name);
  if (process.env.TOLLGATE_UPDATE_GOLDEN === '1' || !fs.existsSync(file)) {
    fs.mkdirSync(GOLDEN, { recursive: true });
    fs.writeFileSync(file, actual);
    if (process.env.TOLLGATE_UPDATE_GOLDEN !== '1') throw new Error(`golden file ${file} did not exist: written, review it and run again`);
  }
  assert.equal(actual, fs.readFileSync(file, 'utf8'), `${name} differs from the golden file (TOLLGATE_UPDATE_GOLDEN=1 to accept)`);
}

const sample = program(
  endpoint('tenant-a/web', ['10.0.0.1', 'fd00::1'], [
    tier('adminnetworkpolicy', [rule('anp/deny-evil/ingress/0', 'Deny', { peer: ['10.66.0.0/16'] }, 'deny-evil')], 'Pass', 'admin'),
    tier('default', [
      rule('knp/tenant-a/web/ingress/0', 'Allow', { peer: ['10.0.0.0/8', 'fd00::/64'], notPeer: ['10.0.9.0/24'], proto: 6, dports: [{ from: 80, to: 80 }, { from: 8080, to: 8090 }] }, 'web'),
      rule('knp/tenant-a/web/ingress/1', 'Allow', { peer: ['10.1.2.3/32'], proto: 17, dports: [{ from: 53, to: 53 }], sports: [{ from: 1024, to: 65535 }] }, 'dns */ evil'),
    ], 'Deny', 'default'),
  ], [tier('default', [rule('knp/tenant-a/web/egress/0', 'Allow', { proto: 1, icmp: { type: 8 } }, 'web')], 'Deny', 'default')]),
);

describe('emit-bpf: artifacts', function () {
  this.timeout(120000);
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const tmp = (): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tgp-emit-'));
    dirs.push(d);
    return d;
  };

  it('golden: generated C and map contents of a sample program', () => {
    const t = buildTables(sample);
    golden('sample.c', generateC(sample, t));
    const json = JSON.stringify({ endpoints: t.endpoints, rules: t.rules, decisions: t.decisions,
      peer4: t.peer4.map((e) => `${e.tableId} ${e.p.v.toString(16)}/${e.p.len} -> ${e.cls}`),
      peer6: t.peer6.map((e) => `${e.tableId} ${e.p.v.toString(16)}/${e.p.len} -> ${e.cls}`),
      ports: t.ports.map((e) => `${e.tableId} ${e.p.v.toString(16)}/${e.p.len} -> ${e.cls}`),
      sports: t.sports.map((e) => `${e.tableId} ${e.p.v.toString(16)}/${e.p.len} -> ${e.cls}`) }, null, 1) + '\n';
    golden('sample.maps.json', json);
  });

  it('emitBpf writes C, object, binary and JSON maps and a manifest; the object is an eBPF ELF', async () => {
    const out = tmp();
    const r = await emitBpf(sample, out);
    for (const f of r.files) assert.ok(fs.existsSync(path.join(out, f)), f);
    const elf = fs.readFileSync(path.join(out, 'tollgate.o'));
    assert.equal(elf.toString('latin1', 1, 4), 'ELF');
    assert.equal(elf.readUInt16LE(18), 247, 'e_machine EM_BPF');
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    assert.deepEqual(manifest.attach.find((a: { podDirection: string }) => a.podDirection === 'ingress'),
      { endpoint: 'tenant-a/web', podDirection: 'ingress', hook: 'egress', program: 'tollgate_ingress' });
    for (const m of manifest.maps.filter((x: { file?: string }) => x.file)) {
      const c = fromFile(m.map, fs.readFileSync(path.join(out, m.file)));
      assert.equal(c.count, m.count, m.map);
      assert.equal(c.keySize, m.keySize, m.map);
    }
    assert.ok(r.tables.haveSports);
    assert.match(fs.readFileSync(path.join(out, 'tollgate.c'), 'utf8'), /#define TG_HAVE_SPORTS 1/);
  });

  it('policy is data: a change of rules with the same shape reuses the cached object (clang does not run)', async () => {
    const a = program(endpoint('ns/a', ['10.0.0.1'], [tier('t', [rule('r', 'Allow', { peer: ['10.1.0.0/16'], proto: 6 })], 'Deny')]));
    const b = program(endpoint('ns/a', ['10.0.0.1'], [tier('t', [rule('r', 'Deny', { peer: ['10.2.0.0/16'], proto: 17 })], 'Deny')]));
    await emitBpf(a, tmp());
    const second = await emitBpf(b, tmp());
    assert.equal(second.cached, true, 'same shape: object from the cache');
    assert.equal(generateC(a, buildTables(a)).replace(/\/\*[\s\S]*?\*\//, ''), generateC(b, buildTables(b)).replace(/\/\*[\s\S]*?\*\//, ''), 'only the header comment differs');
  });

  it('the C builder escapes comment text and refuses bad identifiers and paths', () => {
    assert.equal(commentText('a */ int x; /* b'), 'a * / int x; / * b');
    assert.equal(commentText('line\nbreak\\'), 'line?break?');
    assert.throws(() => ident('1bad'), /expected \[A-Za-z_\]/);
    assert.throws(() => new CBuilder().include('../../etc/passwd'), /plain relative path/);
    assert.throws(() => new CBuilder().define(ident('X'), -1), /non-negative integer/);
    const c = generateC(sample, buildTables(sample));
    assert.ok(c.includes('CalicoNetworkPolicy ns/dns * / evil'), 'a policy name cannot close the comment');
    assert.equal(c.split('*/').length, 2, 'exactly one comment terminator: the header comment');
  });

  it('port ranges become the minimal covering prefixes', () => {
    assert.deepEqual(rangePrefixes(80, 80, 16), [{ value: 80, len: 16 }]);
    assert.deepEqual(rangePrefixes(0, 65535, 16), [{ value: 0, len: 0 }]);
    assert.deepEqual(rangePrefixes(8080, 8090, 16), [{ value: 8080, len: 13 }, { value: 8088, len: 15 }, { value: 8090, len: 16 }]);
    assert.equal(rangePrefixes(1, 65534, 16).length, 30);
  });
});
