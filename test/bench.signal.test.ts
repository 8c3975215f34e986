// `tollgate bench` stopped by SIGTERM in its traffic phase (synchronous flood samples one after another) exits
// promptly with 130 and leaves no namespace, pin or state of its run behind.
import { strict as assert } from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const listed = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.includes('tgb')) : []);
/** the run's leftovers would be: namespaces, Tollgate's pin directories and state files (all named after tgb...) */
const leftovers = (): string[] => [...netns(), ...listed('/sys/fs/bpf/tollgate'), ...listed('/run/tollgate')];
const netns = (): string[] => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith('tgb'));

describe('bench: SIGTERM during the traffic samples', function () {
  this.timeout(240_000);

  it('exits with 130 within a few seconds and leaves none of its namespaces', async () => {
    const before = new Set(leftovers());
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tgb-signal-'));
    const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(__dirname, '..', 'bench', 'cli.ts'), '--quick', '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      let err = '';
      const code = await new Promise<{ code: number | null; afterMs: number }>((resolve, reject) => {
        let sentAt = 0;
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
          // the second traffic sample: the run is inside the synchronous sample loop
          if (!sentAt && /round 0 rule .*\n[^]*round 0 rule /.test(err)) {
            sentAt = Date.now();
            child.kill('SIGTERM');
          }
        });
        child.on('error', reject);
        child.on('exit', (c) => (sentAt ? resolve({ code: c, afterMs: Date.now() - sentAt }) : reject(new Error(`exited (${c}) before its traffic phase: ${err.slice(-500)}`))));
      });
      assert.equal(code.code, 130, err.slice(-500));
      // one flood sample is 0.3 s in the quick trials; loading the next N would take far longer
      assert.ok(code.afterMs < 5000, `exited ${code.afterMs} ms after the signal`);
      assert.deepEqual(leftovers().filter((n) => !before.has(n)), []);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
