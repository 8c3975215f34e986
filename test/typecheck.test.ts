// The type gate: the whole project (compiler, bench, tests) compiles under strict TypeScript.
import { execFileSync } from 'child_process';
import * as path from 'path';
import { strict as assert } from 'assert';

describe('typecheck', function () {
  this.timeout(180000);
  it('tsc --noEmit reports no error', () => {
    const root = path.join(__dirname, '..');
    let out = '';
    let status = 0;
    try {
      execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit'], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      const err = e as { status: number; stdout: string };
      status = err.status;
      out = err.stdout;
    }
    assert.equal(status, 0, out);
  });
});
