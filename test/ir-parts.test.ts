// ir/parts.ts: lowering records a rule's peer list as made of its peers' lists only when the list holds exactly
// their prefixes (the BPF emit builds its classes from the parts instead of the list).
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compile } from '../compiler/pipeline';
import { cidrParts } from '../compiler/ir/parts';
import type { Cidr } from '../compiler/model/types';
import type { Program } from '../compiler/ir/types';
import { discoverCases } from './conformance/cases';
import { syntheticManifests } from '../bench/generate';
import { anp, arule, e2eWorld, knp, krule, lower, sel, tcp } from './ir-support';

/** Every distinct peer list of the program, with its recorded parts (undefined: none). */
function peerLists(p: Program): Map<readonly Cidr[], readonly (readonly Cidr[])[] | undefined> {
  const out = new Map<readonly Cidr[], readonly (readonly Cidr[])[] | undefined>();
  for (const e of p.endpoints) for (const c of [e.ingress, e.egress]) for (const t of c.tiers) for (const r of t.rules) {
    const l = r.match.peer;
    if (l && !out.has(l)) out.set(l, cidrParts(l));
  }
  return out;
}

/** Recorded parts hold exactly the list's prefixes: each once, nothing else. Returns how many lists have parts. */
function checkParts(p: Program, name: string): number {
  let n = 0;
  for (const [list, parts] of peerLists(p)) {
    if (!parts) continue;
    n++;
    assert.ok(parts.length > 1, `${name}: a list recorded with ${parts.length} part`);
    assert.deepEqual(parts.flat().sort(), [...list].sort(), `${name}: parts of ${list.slice(0, 4).join(',')}...`);
  }
  return n;
}

describe('IR peer lists made of parts (ir/parts.ts)', () => {
  it('disjoint peers: the rule list is recorded as the peers\' lists; touching or overlapping peers: not recorded', () => {
    const m = e2eWorld();
    // x/a's rule 0: pods of y (10.0.2.1-3) and an ipBlock far away: disjoint; rule 1: pods of y and the address
    // next to them, 10.0.2.0 (together one prefix, 10.0.2.0/30); rule 2: an ipBlock overlapping pods of z
    const y = { kind: 'pods' as const, namespaceSelector: sel({ ns: 'y' }) };
    const z = { kind: 'pods' as const, namespaceSelector: sel({ ns: 'z' }) };
    m.networkPolicies.push(knp('x/np', sel({ pod: 'a' }), { ingress: [
      krule([y, { kind: 'ipBlock', cidr: '192.0.2.0/24', except: [] }], [tcp(80)]),
      krule([y, { kind: 'ipBlock', cidr: '10.0.2.0/32', except: [] }], [tcp(81)]),
      krule([z, { kind: 'ipBlock', cidr: '10.0.3.0/30', except: [] }], [tcp(82)]),
    ] }));
    m.adminPolicies.push(anp('adm', 1, { ns: sel({ ns: 'x' }) }, { ingress: [arule('Allow', [{ kind: 'pods', pods: { namespaceSelector: sel({ ns: 'y' }), podSelector: sel() } }, { kind: 'networks', cidrs: ['198.51.100.0/24'] }])] }));
    const p = lower(m);
    const rules = p.endpoints.find((e) => e.id === 'x/a')!.ingress.tiers.flatMap((t) => t.rules);
    const byId = (id: string): readonly Cidr[] => rules.find((r) => r.id === id)!.match.peer!;
    const disjoint = byId('knp/x/np/ingress/0');
    assert.deepEqual(cidrParts(disjoint)?.map((l) => [...l]), [
      ['10.0.2.1/32', '10.0.2.2/31', 'fd00::2:1/128', 'fd00::2:2/127'],
      ['192.0.2.0/24'],
    ]);
    assert.deepEqual(byId('knp/x/np/ingress/1').slice(0, 1), ['10.0.2.0/30']);
    assert.equal(cidrParts(byId('knp/x/np/ingress/1')), undefined, 'touching');
    assert.equal(cidrParts(byId('knp/x/np/ingress/2')), undefined, 'overlapping');
    assert.equal(cidrParts(byId('anp/adm/ingress/0'))?.length, 2);
    assert.equal(checkParts(p, 'e2e'), 2);
  });

  it('conformance cases and synthetic clusters: every recorded list is exactly its parts', () => {
    let lists = 0;
    for (const f of discoverCases(path.join(__dirname, 'conformance'))) for (const noOptimize of [false, true]) lists += checkParts(compile([f], { noOptimize }).program, f);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-parts-'));
    try {
      const file = path.join(dir, 'c.yaml');
      fs.writeFileSync(file, syntheticManifests({ policies: 200, pods: 300 }));
      const n = checkParts(compile([file]).program, 'synthetic');
      assert.ok(n > 0, 'the synthetic cluster unions namespace pods and an ipBlock per rule');
      lists += n;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.ok(lists > 0);
  });
});
