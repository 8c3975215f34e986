// `tollgate load --lab` on the lab built from examples/multi-tenant: real traffic through the loaded programs
// (matrix --engine netns) agrees with the IR on every probe, IPv4 and IPv6. The lab prefix is tgd + the last
// three digits of the pid; pins under /sys/fs/bpf/tollgate-tgd-lab-PID, state under /run/tollgate/tgd-lab-PID.
// Everything is removed in after(), also when a test fails.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const PREFIX = `tgd${process.pid % 1000}`;
const PIN_ROOT = `/sys/fs/bpf/tollgate-tgd-lab-${process.pid}`;
const STATE_DIR = `/run/tollgate/tgd-lab-${process.pid}`;
const BIN = path.join(__dirname, '..', 'bin', 'tollgate');
const EXAMPLE = path.join(__dirname, '..', 'examples', 'multi-tenant');
const SCOPE = ['--netns', `${PREFIX}-node`, '--pin-root', PIN_ROOT, '--state-dir', STATE_DIR];

function tollgate(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 90000, env: { ...process.env, TOLLGATE_LAB_PREFIX: PREFIX } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

interface MatrixRow { from: string; to: string; port: number; protocol: string; allowed: boolean }
function matrix(engine: string, family: number): MatrixRow[] {
  const r = tollgate('matrix', EXAMPLE, '--engine', engine, '--family', String(family), '--output', 'json');
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { results: MatrixRow[] }).results;
}

describe('tollgate load --lab (examples/multi-tenant, real traffic)', function () {
  this.timeout(180000);

  before(function () {
    tollgate('lab', 'down', '--prefix', PREFIX);
    const r = tollgate('lab', 'up', EXAMPLE, '--prefix', PREFIX);
    assert.equal(r.code, 0, r.stderr);
  });

  after(function () {
    try {
      tollgate('unload', ...SCOPE);
    } finally {
      tollgate('lab', 'down', '--prefix', PREFIX);
      fs.rmSync(PIN_ROOT, { recursive: true, force: true });
      fs.rmSync(STATE_DIR, { recursive: true, force: true });
    }
  });

  it('attaches to every pod of the lab', function () {
    const r = tollgate('load', EXAMPLE, '--lab', '--lab-prefix', PREFIX, '--pin-root', PIN_ROOT, '--state-dir', STATE_DIR, '--output', 'json');
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as { endpoints: unknown[]; attachments: unknown[]; mode: string };
    assert.equal(rep.mode, 'new-object');
    assert.equal(rep.endpoints.length, 7);
    assert.equal(rep.attachments.length, 14);
  });

  for (const family of [4, 6]) {
    it(`real traffic agrees with the IR on every probe (IPv${family})`, function () {
      const ir = matrix('ir', family);
      const real = matrix('netns', family);
      const key = (x: MatrixRow): string => `${x.from} -> ${x.to} ${x.port}/${x.protocol}`;
      const want = new Map(ir.map((x) => [key(x), x.allowed]));
      assert.equal(real.length, ir.length);
      const wrong = real.filter((x) => want.get(key(x)) !== x.allowed).map((x) => `${key(x)}: traffic ${x.allowed}, IR ${want.get(key(x))}`);
      assert.deepEqual(wrong, []);
      assert.ok(real.some((x) => !x.allowed) && real.some((x) => x.allowed), 'the example both allows and denies');
    });
  }

  it('status: the probes moved the counters; a second load is maps-only', function () {
    const s = JSON.parse(tollgate('status', ...SCOPE, '--output', 'json').stdout) as { counters: { packets: number; kind: string }[]; problems: string[] };
    assert.deepEqual(s.problems, []);
    assert.ok(s.counters.filter((c) => c.kind === 'rule' && c.packets > 0).length > 3, 'several rules counted packets');
    const r = tollgate('load', EXAMPLE, '--lab', '--lab-prefix', PREFIX, '--pin-root', PIN_ROOT, '--state-dir', STATE_DIR, '--output', 'json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { mode: string }).mode, 'maps-only');
  });
});
