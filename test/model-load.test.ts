// loadModel builds each object into the model as soon as it is read (model/build.ts ModelBuilder as the reader's
// sink). It must give what reading every text first and then building gives: the same model, the same diagnostics in
// the same order (loading problems first), also when the fast YAML reader gives up partway through a text (the
// objects it gave are forgotten, and the library reads the text again).
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Diagnostics, InputError, type Diagnostic } from '../compiler/model/diagnostics';
import { loadSources, parseText } from '../compiler/manifests/load';
import { fastYaml } from '../compiler/manifests/fast';
import { buildModel } from '../compiler/model/build';
import { loadModel } from '../compiler/model/load';
import type { Model } from '../compiler/model/types';

/** A NetworkPolicy's head, twice in BODY (a duplicate). */
const NP = 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np\n  namespace: a\nspec:\n  podSelector: {}\n';
/** Objects with errors, a duplicate, an implicit namespace, a BANP and ANPs at one priority; then a padding comment. */
const BODY = `apiVersion: v1
kind: Namespace
metadata:
  name: a
---
apiVersion: v1
kind: Pod
metadata:
  name: p1
  namespace: b
  labels:
    app: web
status:
  podIP: 10.0.0.300
---
${NP}  ingress:
    - from:
        - ipBlock:
            cidr: 10.0.0.1/24
      ports:
        - port: 70000
---
${NP}---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata:
  name: default
spec:
  subject:
    namespaces: {}
  ingress:
    - action: Deny
      from:
        - namespaces: {}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata:
  name: x
spec:
  priority: 5
  subject:
    namespaces: {}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata:
  name: y
spec:
  priority: 5
  subject:
    namespaces: {}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: c
  namespace: a
spec:
  tier: nosuch
# ${'x'.repeat(70 * 1024)}
`;
/** A last document the fast reader gives up on (a block scalar), after it has read every other one. */
const BLOCK_SCALAR = `---
apiVersion: v1
kind: Namespace
metadata:
  name: last
  annotations:
    note: |
      a block scalar
`;

/** The model and diagnostics of every text read first and then built (the library alone with fast: false). */
function reference(files: string[], fast: boolean): { model: Model; items: Diagnostic[] } {
  const d = new Diagnostics();
  const sources = fast ? loadSources(files, d) : files.flatMap((f) => parseText(fs.readFileSync(f, 'utf8'), f, d, { fast: false }));
  const model = buildModel(sources, d, {});
  return { model, items: d.items };
}

function viaLoadModel(files: string[]): { model?: Model; items: Diagnostic[] } {
  try {
    const { model, diagnostics } = loadModel(files);
    return { model, items: diagnostics.items };
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return { items: e.diagnostics };
  }
}

describe('model: loadModel builds objects as they are read', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-hm-load-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('gives the model and diagnostics of reading every text first, also when the fast reader gives up partway', () => {
    assert.ok(fastYaml(BODY), 'the fast reader reads the body');
    assert.equal(fastYaml(BODY + BLOCK_SCALAR), undefined, 'and gives up on the block scalar at its end');
    for (const [name, text] of [['fast.yaml', BODY], ['bails.yaml', BODY + BLOCK_SCALAR]]) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, text);
      const got = viaLoadModel([file]);
      const want = reference([file], false);
      assert.deepEqual(got.items, want.items, name);
      const codes = got.items.map((d) => d.code);
      for (const c of ['bad-ip', 'cidr-host-bits', 'port-range', 'duplicate', 'same-priority', 'unknown-tier']) assert.ok(codes.includes(c), `${name}: ${c} in ${codes}`);
      assert.equal(codes.filter((c) => c === 'duplicate').length, 1, `${name}: one duplicate, not the rolled-back objects again`);
    }
  });

  it('a text without errors read on the fast path (and after giving up) is the same model', () => {
    const clean = BODY.replace('10.0.0.300', '10.0.0.3').replace('port: 70000', 'port: 7000').replace(`---\n${NP}---\n`, '---\n').replace('tier: nosuch', 'tier: default');
    for (const [name, text] of [['clean.yaml', clean], ['clean-bails.yaml', clean + BLOCK_SCALAR]]) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, text);
      const got = viaLoadModel([file]);
      const want = reference([file], false);
      assert.ok(got.model, `${name}: ${got.items.map((d) => d.message)}`);
      assert.deepEqual(got.model, want.model, name);
      assert.deepEqual(got.items, want.items, name);
      assert.ok(got.model.baselinePolicy && got.model.namespaces.some((n) => n.name === 'b' && n.implicit), name);
    }
  });

  it('rolls back only the text the fast reader gave up on: the objects of earlier files stay (duplicates of them are found)', () => {
    // the second file repeats the objects of the first but its Namespace (duplicates of objects read before its
    // mark), and the fast reader gives up at its end; a rollback that forgot what came before the mark loses them
    const a = path.join(dir, 'first.yaml');
    const b = path.join(dir, 'second-bails.yaml');
    fs.writeFileSync(a, BODY);
    fs.writeFileSync(b, BODY.replace('name: a\n---', 'name: a2\n---') + BLOCK_SCALAR);
    assert.equal(fastYaml(fs.readFileSync(b, 'utf8')), undefined, 'the fast reader gives up on the second file');
    const got = viaLoadModel([a, b]);
    const want = reference([a, b], false);
    assert.deepEqual(got.items, want.items);
    const dups = got.items.filter((d) => d.code === 'duplicate');
    assert.equal(dups.length, 8, dups.map((d) => d.message).join('\n'));
    assert.ok(dups.slice(1).every((d) => d.location?.file === b && d.message.includes(`${a}:`)), 'the second file\'s objects are duplicates of the first\'s');
  });

  it('reports loading problems (YAML syntax) of any file before the problems of objects in earlier files', () => {
    const a = path.join(dir, 'a.yaml');
    const b = path.join(dir, 'b.yaml');
    fs.writeFileSync(a, BODY);
    fs.writeFileSync(b, 'kind: Pod\nmetadata:\n  name: [unclosed\n');
    const got = viaLoadModel([a, b]);
    const want = reference([a, b], true);
    assert.deepEqual(got.items, want.items);
    assert.equal(got.items[0].code, 'yaml-syntax');
  });
});
