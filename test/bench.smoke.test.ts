// CI's smoke run of the benchmark: `tollgate bench --quick --json` (bench/cli.ts) on this machine, end to end:
// it finishes within 3 minutes, prints the four ratios as numbers (every dataplane measured, Tollgate through
// the real loader), writes the JSON, the Markdown and the charts it links, and leaves no namespace, pin or state.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const LIMIT_S = 180;

describe('bench --quick (CI smoke run)', function () {
  this.timeout((LIMIT_S + 60) * 1000);

  it(`finishes within ${LIMIT_S} s with the four ratios measured and a complete report`, () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tgb-smoke-'));
    try {
      const t0 = Date.now();
      const r = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(__dirname, '..', 'bench', 'cli.ts'), '--quick', '--json', '--out', out], {
        encoding: 'utf8',
        timeout: (LIMIT_S + 50) * 1000,
        maxBuffer: 64 * 1024 * 1024,
      });
      const seconds = (Date.now() - t0) / 1000;
      assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr.split('\n').filter((l) => /ERROR|Error/.test(l)).join('\n')}`);
      assert.ok(seconds < LIMIT_S, `took ${seconds.toFixed(0)} s`);
      const j = JSON.parse(r.stdout);
      for (const k of ['newflow_10k_over_10', 'traffic_10k_over_baseline', 'traffic_10k_over_iptables_legacy', 'traffic_over_ipset_min']) {
        assert.equal(typeof j.ratios[k], 'number', `${k}: ${j.reasons[k]}`);
        assert.ok(j.ratios[k] > 0 && Number.isFinite(j.ratios[k]), `${k} = ${j.ratios[k]}`);
      }
      assert.deepEqual(j.errors, []);
      assert.deepEqual(j.skipped, {});
      const tg = j.counts.filter((c: { dataplane: string }) => c.dataplane === 'tollgate');
      assert.ok(tg.length > 0 && tg.every((c: { updateMode: string; memoryBytes: number }) => c.updateMode === 'incremental' && c.memoryBytes > 0), JSON.stringify(tg));
      const md = fs.readFileSync(j.report.md, 'utf8');
      for (const svg of j.report.svgs ?? []) assert.ok(md.includes(`](${path.basename(svg)})`) && fs.existsSync(svg));
      assert.equal(JSON.parse(fs.readFileSync(j.report.json, 'utf8')).ratios.traffic_10k_over_baseline, j.ratios.traffic_10k_over_baseline);
      // nothing left behind
      const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
      const pid = r.pid?.toString(36) ?? '?';
      assert.ok(!ns.split('\n').some((l) => l.startsWith(`tgbh${pid}`)), ns);
      const pins = fs.existsSync('/sys/fs/bpf/tollgate') ? fs.readdirSync('/sys/fs/bpf/tollgate').filter((d) => d.startsWith(`netns-tgbh${pid}`)) : [];
      assert.deepEqual(pins, []);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
