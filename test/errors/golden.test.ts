// Golden tests of error messages: each test/errors/<case>.yaml is loaded and validated, and every diagnostic
// (errors and warnings, formatted as the CLI prints them) must equal test/errors/<case>.expected line for line.
// A first-line comment `# tenants: a,b` runs the case with --tenant a,b.
// Regenerate after an intended change: UPDATE_GOLDEN=1 npx mocha test/errors/golden.test.ts (then review the diff).
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { Diagnostics, formatDiagnostic } from '../../compiler/model/diagnostics';
import { loadSources } from '../../compiler/manifests/load';
import { buildModel } from '../../compiler/model/build';

const ROOT = path.resolve(__dirname, '..', '..');
const DIR = __dirname;
const CASES = fs.readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();

function run(file: string): { lines: string[]; diags: Diagnostics } {
  const rel = path.relative(ROOT, path.join(DIR, file));
  const first = fs.readFileSync(path.join(DIR, file), 'utf8').split('\n')[0];
  const m = /^# tenants: (.+)$/.exec(first);
  const tenants = m ? m[1].split(',').map((s) => s.trim()) : undefined;
  const diags = new Diagnostics();
  // Paths are given relative to the repository root, so messages read "test/errors/x.yaml:3:5: ...".
  const cwd = process.cwd();
  process.chdir(ROOT);
  try {
    buildModel(loadSources([rel], diags), diags, { tenants });
  } finally {
    process.chdir(cwd);
  }
  return { lines: diags.items.map(formatDiagnostic), diags };
}

describe('golden error messages (test/errors)', () => {
  it('has a fixture for each bad-input class of the issue', () => {
    for (const c of ['bad-cidr', 'port-range', 'end-port-below-port', 'end-port-named', 'unknown-protocol', 'bad-selector', 'anp-priority', 'banp-name', 'duplicate', 'except-outside', 'mixed-family', 'several-errors']) {
      assert.ok(CASES.includes(`${c}.yaml`), `missing fixture ${c}.yaml`);
    }
  });

  for (const file of CASES) {
    const name = file.replace(/\.yaml$/, '');
    it(name, () => {
      const { lines, diags } = run(file);
      const expectedFile = path.join(DIR, `${name}.expected`);
      const actual = lines.join('\n') + '\n';
      if (process.env.UPDATE_GOLDEN) fs.writeFileSync(expectedFile, actual);
      assert.ok(fs.existsSync(expectedFile), `no ${name}.expected (run with UPDATE_GOLDEN=1 and review it)`);
      assert.equal(actual, fs.readFileSync(expectedFile, 'utf8'));
      // Every line names the file and a line:col inside it, and every case but the warnings-only one fails the run.
      for (const l of lines) assert.match(l, new RegExp(`^test/errors/${name}\\.yaml:\\d+:\\d+: (error|warning): `), l);
      if (name !== 'cidr-host-bits') assert.ok(diags.hasErrors(), `${name}: expected errors`);
    });
  }

  it('several-errors reports every error of the run together', () => {
    const { diags } = run('several-errors.yaml');
    const codes = diags.errors.map((d) => d.code);
    for (const c of ['bad-value', 'bad-cidr', 'bad-protocol', 'port-range', 'bad-end-port', 'priority-range', 'bad-selector']) {
      assert.ok(codes.includes(c), `several-errors: no ${c} among ${codes.join(', ')}`);
    }
    assert.ok(diags.errors.length >= 10, `expected at least 10 errors, found ${diags.errors.length}`);
  });
});
