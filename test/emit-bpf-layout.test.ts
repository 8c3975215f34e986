// The binary layouts are defined once (bpf/include/tollgate_maps.h): a tiny C program compiled from the same
// header prints sizeof/offsetof, and the TypeScript LAYOUT and serializers must agree. The verdict/reason table
// of bpf/include/verdicts.h must agree with compiler/emit/bpf/codes.ts.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { strict as assert } from 'assert';
import { LAYOUT, epKey, epValue, peerKey, portKey, decisionKey, decisionValue, ctKey, ctValue, classValue } from '../compiler/emit/bpf/layout';
import { BPF_DIR, CODE_GROUPS, VERDICTS_H, parseVerdictsHeader } from '../compiler/emit/bpf/codes';

describe('emit-bpf: struct layouts and code table', () => {
  let printed: Record<string, Record<string, number>> = {};
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tgp-layout-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  before(() => {
    const lines = ['#include <stdio.h>', '#include <stddef.h>', '#include "tollgate_maps.h"', 'int main(void) {'];
    for (const [s, fields] of Object.entries(LAYOUT)) {
      lines.push(`printf("${s} size %zu\\n", sizeof(struct ${s}));`);
      for (const f of Object.keys(fields)) if (f !== 'size') lines.push(`printf("${s} ${f} %zu\\n", offsetof(struct ${s}, ${f}));`);
    }
    lines.push('return 0; }');
    fs.writeFileSync(path.join(dir, 'layout.c'), lines.join('\n'));
    execFileSync('cc', ['-I', path.join(BPF_DIR, 'include'), '-o', path.join(dir, 'layout'), path.join(dir, 'layout.c')]);
    printed = {};
    for (const l of execFileSync(path.join(dir, 'layout'), { encoding: 'utf8' }).trim().split('\n')) {
      const [s, f, v] = l.split(' ');
      (printed[s] ??= {})[f] = Number(v);
    }
  });

  it('every struct and field offset in LAYOUT is what the C compiler lays out', () => {
    for (const [s, fields] of Object.entries(LAYOUT)) assert.deepEqual(printed[s], { ...fields }, s);
  });

  it('serializers write buffers of the C sizes with fields at the C offsets', () => {
    const k = epKey({ ifindex: 0x01020304, direction: 1, family: 6, addr: 'fd00::1' });
    assert.equal(k.length, LAYOUT.tg_ep_key.size);
    assert.equal(k.readUInt32LE(LAYOUT.tg_ep_key.ifindex), 0x01020304);
    assert.equal(k[LAYOUT.tg_ep_key.direction], 1);
    assert.equal(k[LAYOUT.tg_ep_key.family], 6);
    assert.equal(k[LAYOUT.tg_ep_key.addr], 0xfd);
    assert.equal(k[LAYOUT.tg_ep_key.addr + 15], 1);
    const ev = epValue({ epId: 1, missRule: 2, tableId: 5, ruleBase: 6, missVerdict: 1, flags: 3 });
    assert.equal(ev.length, LAYOUT.tg_ep_value.size);
    assert.deepEqual([ev.readUInt32LE(LAYOUT.tg_ep_value.ep_id), ev.readUInt32LE(LAYOUT.tg_ep_value.miss_rule), ev.readUInt32LE(LAYOUT.tg_ep_value.table_id),
      ev.readUInt32LE(LAYOUT.tg_ep_value.rule_base), ev[LAYOUT.tg_ep_value.miss_verdict], ev[LAYOUT.tg_ep_value.flags]], [1, 2, 5, 6, 1, 3]);
    const pk = peerKey(4, 7, Buffer.from([10, 1, 0, 0]), 16);
    assert.equal(pk.length, LAYOUT.tg_peer4_key.size);
    assert.equal(pk.readUInt32LE(0), 48);
    assert.equal(pk[LAYOUT.tg_peer4_key.addr], 10);
    assert.equal(peerKey(6, 7, Buffer.alloc(16), 64).length, LAYOUT.tg_peer6_key.size);
    const port = portKey(7, 6, 0x1f90, 24);
    assert.equal(port.length, LAYOUT.tg_port_key.size);
    assert.equal(port[LAYOUT.tg_port_key.proto], 6);
    assert.equal(port.readUInt16BE(LAYOUT.tg_port_key.port), 0x1f90);
    assert.equal(decisionKey(1, 2, 3, 4).readUInt32LE(LAYOUT.tg_decision_key.sport_class), 4);
    assert.equal(decisionValue(9, 2)[LAYOUT.tg_decision_value.verdict], 2);
    const ck = ctKey({ local: '10.0.0.1', peer: '10.0.0.2', localPort: 80, peerPort: 40000, proto: 6, origin: 0 });
    assert.equal(ck.length, LAYOUT.tg_ct_key.size);
    assert.equal(ck.readUInt16LE(LAYOUT.tg_ct_key.peer_port), 40000);
    assert.equal(ck[LAYOUT.tg_ct_key.family], 4);
    assert.equal(ctValue({ lastSeenNs: 5n, epId: 1, rule: 2, flags: 0 }).length, LAYOUT.tg_ct_value.size);
    assert.equal(classValue(3).length, LAYOUT.tg_class_value.size);
  });

  it('verdicts.h and codes.ts hold the same table, both ways', () => {
    const defs = parseVerdictsHeader(fs.readFileSync(VERDICTS_H, 'utf8'));
    assert.ok(defs.length > 15, `expected the header's defines, found ${defs.length}`);
    const fromHeader = new Map(defs.map((d) => [d.name, d.value]));
    const fromTs = new Map<string, number>();
    for (const [g, codes] of Object.entries(CODE_GROUPS)) for (const [n, v] of Object.entries(codes)) fromTs.set(`TG_${g}_${n}`, v);
    assert.deepEqual([...fromTs.entries()].sort(), [...fromHeader.entries()].sort());
  });
});
