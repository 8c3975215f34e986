// Kernel tests of the dataplane handle (compiler/load/dataplane.ts): incremental updates of rules modified in
// place, with real traffic. Topology (test/pod-topology.ts), all made here and always removed: a node netns
// tgi-n-PID routing between pod netns tgi-a-PID (10.89.0.1) and tgi-b-PID (10.89.0.2) over veths whose host-side
// ends tgiaPID / tgibPID live in the node netns. Pins under /sys/fs/bpf/tollgate-tgi-PID, state under
// /run/tollgate/tgi-PID.
import { strict as assert } from 'assert';
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Action, Program, Rule } from '../compiler/ir/types';
import { load, LoadError, status, unload } from '../compiler/load/loader';
import { openDataplane, type Dataplane, type DataplaneOptions } from '../compiler/load/dataplane';
import { BpfMap } from '../compiler/load/native';
import { readLoadState, scopePaths } from '../compiler/load/state';
import { endpoint, program, rule, tier } from './bpf-fixtures';
import { podTopology } from './pod-topology';

const PID = process.pid;
const topo = podTopology('tgi', '10.89.0');
const A = topo.a;
const PIN_ROOT = `/sys/fs/bpf/tollgate-tgi-${PID}`;
const STATE_DIR = `/run/tollgate/tgi-${PID}`;
const SCOPE = { pinRoot: PIN_ROOT, stateDir: STATE_DIR, netns: topo.node };

// A stream from pod A to B:8080: one message every 10 ms; each echo prints the time it came back.
const STREAM = `const s = require('net').connect({ host: '${topo.b}', port: 8080 });
s.on('connect', () => { console.log(0); setInterval(() => s.write('m'), 10); });
s.on('data', () => console.log(Date.now()));
s.on('error', () => {});`;

/** The stream's echo times so far (read while it runs); kill() ends it. */
function startStream(): Promise<{ echoes: number[]; kill(): void }> {
  const child = spawn('ip', ['netns', 'exec', topo.nsA, process.execPath, '-e', STREAM], { stdio: ['ignore', 'pipe', 'ignore'] });
  const echoes: number[] = [];
  let rest = '';
  child.stdout!.on('data', (d: Buffer) => {
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop()!;
    for (const l of lines) if (Number(l) > 0) echoes.push(Number(l));
  });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the stream did not connect')), 3000);
    child.stdout!.once('data', () => {
      clearTimeout(t);
      resolve({ echoes, kill: () => child.kill('SIGKILL') });
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function reach(): string {
  return `8080:${topo.probe(8080) ? 'open' : 'closed'} 9090:${topo.probe(9090) ? 'open' : 'closed'}`;
}

/** Pod B's ingress: rule r0 (action, peer, TCP port), then a rule that never matches here, then Deny. */
function policy(action: Action, peer: string[], port: number, r1: Rule = RULE1): Program {
  const r0: Rule = rule('r0', action, { proto: 6, dports: [{ from: port, to: port }], peer });
  return program(endpoint('ns/a', [A]), endpoint('ns/b', [topo.b], [tier('default', [r0, r1], 'Deny', 'default')]));
}
const RULE1 = rule('r1', 'Allow', { proto: 17, dports: [{ from: 7, to: 7 }], peer: ['10.89.9.0/24'] });
const FROM_A = [`${A}/32`];

/** Every entry of the policy maps of the live generation, as text (to see that nothing changed). */
function dumpMaps(): string {
  const s = readLoadState(scopePaths(SCOPE).statePath)!;
  const out: string[] = [];
  for (const f of fs.readdirSync(s.mapsDir).sort()) {
    if (!/^tg_(peer|port|sport|decisions|endpoints)/.test(f)) continue;
    const m = BpfMap.openPinned(path.join(s.mapsDir, f));
    try {
      for (const k of m.keys()) out.push(`${f} ${k.toString('hex')} ${m.lookup(k)?.toString('hex')}`);
    } finally {
      m.close();
    }
  }
  return out.sort().join('\n');
}

describe('dataplane handle: incremental single-rule updates (real kernel and traffic)', function () {
  this.timeout(120000);
  let server: ChildProcess | undefined;
  let dp: Dataplane | undefined;
  const opts: DataplaneOptions = { ...SCOPE, ifaceMap: { 'ns/a': topo.ifA, 'ns/b': topo.ifB } };

  before(async function () {
    topo.remove();
    topo.build();
    server = await topo.tcpServer([8080, 9090]);
  });

  after(async function () {
    server?.kill('SIGKILL');
    dp?.close();
    try {
      await unload(SCOPE);
    } finally {
      topo.remove();
      fs.rmSync(PIN_ROOT, { recursive: true, force: true });
      fs.rmSync(STATE_DIR, { recursive: true, force: true });
    }
  });

  it('the first load is an ordinary one; port, peer and action changes apply incrementally and enforce', async function () {
    dp = openDataplane(opts);
    const first = await dp.load(policy('Allow', FROM_A, 8080));
    assert.notEqual(first.mode, 'incremental');
    assert.equal(reach(), '8080:open 9090:closed');

    const port = await dp.load(policy('Allow', FROM_A, 9090));
    assert.equal(port.mode, 'incremental', port.fallback);
    assert.equal(port.clang, 'not-needed');
    assert.ok(port.incremental!.switched >= 1 && port.incremental!.written >= 1, JSON.stringify(port.incremental));
    assert.equal(reach(), '8080:closed 9090:open');

    const peer = await dp.load(policy('Allow', ['10.89.0.9/32'], 9090));
    assert.equal(peer.mode, 'incremental', peer.fallback);
    assert.equal(reach(), '8080:closed 9090:closed');

    const back = await dp.load(policy('Allow', FROM_A, 9090));
    assert.equal(back.mode, 'incremental', back.fallback);
    assert.equal(reach(), '8080:closed 9090:open');

    const deny = await dp.load(policy('Deny', FROM_A, 9090));
    assert.equal(deny.mode, 'incremental', deny.fallback);
    assert.equal(reach(), '8080:closed 9090:closed');
    const st = readLoadState(scopePaths(SCOPE).statePath)!;
    assert.equal(st.rules.find((r) => r.ruleId === 'r0' && r.endpoint === 'ns/b')?.action, 'Deny', 'the state has the rule record');
    // ep ids stay fresh: the next full load starts above every id the updates used
    assert.ok(st.nextEpId > Math.max(...st.endpoints.map((e) => e.epId)));
    console.log(`      enforcingMs: port ${port.timings.enforcingMs.toFixed(2)}, peer ${peer.timings.enforcingMs.toFixed(2)}, action ${deny.timings.enforcingMs.toFixed(2)}`);
  });

  it('a rule changed in two dimensions falls back to the ordinary load and says why', async function () {
    const r = await dp!.load(policy('Allow', [`${A}/32`, '10.89.0.9/32'], 8080));
    assert.equal(r.mode, 'maps-only');
    assert.match(r.fallback ?? '', /2 dimensions \(peer, port\)/);
    assert.equal(reach(), '8080:open 9090:closed');
    // and the next single-dimension change is incremental again (the handle indexed what the fallback wrote)
    const next = await dp!.load(policy('Allow', [`${A}/32`, '10.89.0.9/32'], 9090));
    assert.equal(next.mode, 'incremental', next.fallback);
    assert.equal(reach(), '8080:closed 9090:open');
  });

  it('an injected write failure, at every write in turn, leaves the old policy enforcing and every entry as it was', async function () {
    const was = policy('Allow', [`${A}/32`, '10.89.0.9/32'], 9090);
    const next = policy('Allow', [`${A}/32`, '10.89.0.9/32'], 8080);
    let at = 0;
    for (;; at++) {
      const before = dumpMaps();
      const nextBefore = readLoadState(scopePaths(SCOPE).statePath)!.nextEpId;
      opts.failIncrementalAt = at;
      let err: unknown;
      const r = await dp!.load(next).catch((e: unknown) => void (err = e));
      opts.failIncrementalAt = undefined;
      if (r) {
        // past the last write: the update went through
        assert.equal(r.mode, 'incremental', r.fallback);
        assert.equal(at, r.incremental!.written + r.incremental!.switched);
        break;
      }
      assert.ok(err instanceof LoadError && /nothing was changed.*injected failure at write/.test(err.message), String(err));
      assert.equal(dumpMaps(), before, `after a failure at write ${at}`);
      // flips before the failing one were live (conntrack may hold their ids): the state's next id is past them
      assert.ok(readLoadState(scopePaths(SCOPE).statePath)!.nextEpId > nextBefore, `nextEpId after a failure at write ${at}`);
      assert.equal(reach(), '8080:closed 9090:open');
      // the handle no longer trusts its index: the next load is an ordinary one (here: the same policy again)
      const again = await dp!.load(was);
      assert.equal(again.mode, 'maps-only');
      assert.match(again.fallback ?? '', /rolled back/);
    }
    assert.ok(at >= 3, `${at} writes`);
    assert.equal(reach(), '8080:open 9090:closed');
  });

  it('fresh ep ids: a running stream the update no longer allows is cut at once, one it still allows goes on', async function () {
    const allow8080 = policy('Allow', FROM_A, 8080);
    assert.notEqual((await dp!.load(allow8080)).mode, undefined);
    const stream = await startStream();
    try {
      await sleep(300);
      // another rule changes (its port): the stream's flow is re-checked under the new ep id and still allowed
      const other = await dp!.load(policy('Allow', FROM_A, 8080, { ...RULE1, match: { ...RULE1.match, dports: [{ from: 8, to: 8 }] } }));
      assert.equal(other.mode, 'incremental', other.fallback);
      await sleep(300);
      const mid = Date.now();
      await sleep(200);
      // the stream's rule moves to 9090: its established flow is denied from the switch on
      const cut = await dp!.load(policy('Allow', FROM_A, 9090, { ...RULE1, match: { ...RULE1.match, dports: [{ from: 8, to: 8 }] } }));
      assert.equal(cut.mode, 'incremental', cut.fallback);
      const switchedAt = Date.now();
      await sleep(400);
      const e = stream.echoes;
      const last = e[e.length - 1] ?? 0;
      assert.ok(e.length > 40, `echoes: ${e.length}`);
      assert.ok(e.some((x) => x > mid), `the stream went on after the other rule's update (last echo ${mid - last} ms before)`);
      assert.ok(last <= switchedAt + 50, `an echo ${last - switchedAt} ms after the switch`);
    } finally {
      stream.kill();
    }
  });

  it('a rule whose id changes keeps its row: what the row counted stays with the old id, the new id starts at 0', async function () {
    const r1 = { ...RULE1, match: { ...RULE1.match, dports: [{ from: 8, to: 8 }] } };
    const before = policy('Allow', FROM_A, 8080, r1);
    await dp!.load(before);
    for (let i = 0; i < 3; i++) assert.equal(topo.probe(8080), true);
    const row = async (id: string) => (await status(SCOPE)).counters.find((c) => c.ruleId === id && c.endpoint === 'ns/b');
    const counted = (await row('r0'))!.packets;
    assert.ok(counted > 0, `r0 counted ${counted}`);
    const renamed = policy('Allow', FROM_A, 8080, r1);
    renamed.endpoints[1].ingress.tiers[0].rules[0] = { ...renamed.endpoints[1].ingress.tiers[0].rules[0], id: 'r0-renamed' };
    const r = await dp!.load(renamed);
    assert.equal(r.mode, 'incremental', r.fallback);
    assert.equal(r.incremental!.switched, 0, 'no table changed');
    assert.equal((await row('r0-renamed'))!.packets, 0);
    assert.equal(await row('r0'), undefined);
    const st = readLoadState(scopePaths(SCOPE).statePath)!;
    assert.ok((st.carried?.['ns/b|ingress|r0']?.packets ?? 0) >= counted, JSON.stringify(st.carried));
    assert.equal(topo.probe(8080), true);
    assert.ok((await row('r0-renamed'))!.packets > 0, 'the row counts for the new id');
  });

  it('a load by someone else in between (the CLI, another process) sends the handle down the ordinary path', async function () {
    const r1 = { ...RULE1, match: { ...RULE1.match, dports: [{ from: 8, to: 8 }] } };
    await load(policy('Allow', FROM_A, 9090, r1), opts);
    assert.equal(reach(), '8080:closed 9090:open');
    const r = await dp!.load(policy('Allow', FROM_A, 8080, r1));
    assert.equal(r.mode, 'maps-only');
    assert.match(r.fallback ?? '', /state changed since this handle wrote it/);
    assert.equal(reach(), '8080:open 9090:closed');
    const next = await dp!.load(policy('Allow', FROM_A, 9090, r1));
    assert.equal(next.mode, 'incremental', next.fallback);
    assert.equal(reach(), '8080:closed 9090:open');
  });

  it('a Program mutated in place (or the same object again) is loaded in full, never reported as an update without changes', async function () {
    const p = policy('Allow', FROM_A, 8080);
    await dp!.load(p);
    assert.equal(reach(), '8080:open 9090:closed');
    const t = p.endpoints[1].ingress.tiers[0];
    t.rules[0] = { ...t.rules[0], match: { ...t.rules[0].match, dports: [{ from: 9090, to: 9090 }] } };
    const r = await dp!.load(p);
    assert.notEqual(r.mode, 'incremental');
    assert.match(r.fallback ?? '', /same Program object/);
    assert.equal(reach(), '8080:closed 9090:open');
  });

  it('a failure after the switch says the new policy is enforcing, and the next load is a full one', async function () {
    const old = policy('Allow', FROM_A, 8080);
    await dp!.load(old);
    assert.equal(reach(), '8080:open 9090:closed');
    opts.failAfterSwitch = true;
    const err = await dp!.load(policy('Allow', FROM_A, 9090)).then(() => undefined, (e: unknown) => e);
    opts.failAfterSwitch = undefined;
    assert.ok(err instanceof LoadError && /new policy IS enforcing.*injected failure after the switch/.test(err.message), String(err));
    assert.equal(reach(), '8080:closed 9090:open');
    const back = await dp!.load(old);
    assert.notEqual(back.mode, 'incremental');
    assert.match(back.fallback ?? '', /after the switch/);
    assert.equal(reach(), '8080:open 9090:closed');
  });

  it('a load by someone else right after the handle\'s full load is noticed (the handle keeps the state it wrote, not one read later)', async function () {
    const r1 = { ...RULE1, match: { ...RULE1.match, dports: [{ from: 8, to: 8 }] } };
    const other = { ...RULE1, match: { ...RULE1.match, dports: [{ from: 9, to: 9 }] } };
    const dp2 = openDataplane({ ...opts, afterFullLoad: async () => void (await load(policy('Allow', FROM_A, 9090, other), opts)) });
    try {
      const first = await dp2.load(policy('Allow', FROM_A, 8080, r1));
      assert.notEqual(first.mode, 'incremental');
      assert.equal(reach(), '8080:closed 9090:open', 'the other load came last');
      const r = await dp2.load(policy('Allow', FROM_A, 9090, r1));
      assert.notEqual(r.mode, 'incremental');
      assert.match(r.fallback ?? '', /state changed since this handle wrote it/);
      assert.equal(reach(), '8080:closed 9090:open');
    } finally {
      dp2.close();
    }
  });
});
