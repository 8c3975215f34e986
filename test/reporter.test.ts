// CI reads only the last line the suite prints: it must be "N passed, N failed", with real counts,
// even though mocha exits the process as soon as the run ends (exit: true in .mocharc.js).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..');

describe('test reporter', () => {
  it('ends the output with "N passed, N failed" counting failures, under the project config', () => {
    const r = spawnSync(
      process.execPath,
      [require.resolve('mocha/bin/mocha.js'), 'test/fixtures/reporter/one-fails.fixture.js'],
      { cwd: root, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } },
    );
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[lines.length - 1], '2 passed, 1 failed', r.stdout + r.stderr);
    assert.notEqual(r.status, 0);
  });
});
