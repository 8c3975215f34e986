// The loader's fast paths for large inputs (JSON.parse + scanner, block-YAML reader) must read exactly what the
// full YAML library reads, and locate every field at the same line:col; anything they do not know they leave to
// the library (which then reports errors such as duplicate keys).
import { strict as assert } from 'assert';
import * as fc from 'fast-check';
import { Document, isCollection, parseAllDocuments, stringify, visit } from 'yaml';
import { Diagnostics, formatDiagnostic } from '../compiler/model/diagnostics';
import { parseText } from '../compiler/manifests/load';
import { fastJson, fastYaml, resolvePlain } from '../compiler/manifests/fast';

const key = fc.oneof(fc.constantFrom('apiVersion', 'kind', 'metadata', 'name', 'app.kubernetes.io/name', 'spec', 'a b', 'x:y', 'ports', 'items', '#k', 'key with "quotes"', "it's"), fc.string({ maxLength: 8 }));
const scalar = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('true', 'null', '~', '0x1F', '0o17', '1e3', '.inf', '-.5', '12', '007', 'a: b', 'a #b', '- x', '[x]', '{}', "'q'", '"d"', 'app in {"a", "b"}', 'has(x) && !has(y)', '10.0.0.0/8', 'fd00::/64', '8000:8080', '', ' lead', 'trail ', 'tab\there', 'line\nbreak', 'é ü 🎉', '\\', '#', 'x #y', 'ends:'),
  fc.integer({ min: -100000, max: 100000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(key, tie('v'), { maxKeys: 4 })),
})).v;
const object = fc.dictionary(key, value, { minKeys: 1, maxKeys: 6 });

/** Every path to every node of v. */
function paths(v: unknown, p: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(p);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...p, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...p, k], out);
  return out;
}

function sameAsLibrary(text: string, file: string): boolean {
  const dFast = new Diagnostics();
  const dFull = new Diagnostics();
  const fast = parseText(text, file, dFast, { fast: true });
  const full = parseText(text, file, dFull, { fast: false });
  assert.deepEqual(dFast.items.map(formatDiagnostic), dFull.items.map(formatDiagnostic));
  assert.equal(fast.length, full.length);
  fast.forEach((s, i) => {
    assert.deepEqual(s.value, full[i].value);
    assert.deepEqual([s.docPath, s.docIndex], [full[i].docPath, full[i].docIndex]);
    for (const p of paths(s.value)) {
      assert.deepEqual(s.locate(p), full[i].locate(p), `locate ${JSON.stringify(p)} in\n${text}`);
      assert.deepEqual(s.locateInString(p, 2), full[i].locateInString(p, 2), `locateInString ${JSON.stringify(p)}`);
    }
    assert.deepEqual(s.locate(['no', 'such', 'field']), full[i].locate(['no', 'such', 'field']));
  });
  return true;
}

describe('manifests: fast paths', () => {
  it('keys alike in length and end characters stay apart (the reader reuses the text of keys met before)', () => {
    const text = 'a:\n  abc: 1\n  axc: 2\nb:\n  axc: 3\n  abc: 4\n  \u0142x: 5\n  Bx: 6\n  ab: 7\nc: [abc, axc]\n';
    const docs = fastYaml(text);
    assert.ok(docs, 'the fast path reads it');
    assert.deepEqual(docs[0].value, { a: { abc: 1, axc: 2 }, b: { axc: 3, abc: 4, '\u0142x': 5, Bx: 6, ab: 7 }, c: ['abc', 'axc'] });
    assert.ok(sameAsLibrary(text, 'keys.yaml'));
  });

  it('resolves plain scalars as the YAML 1.2 core schema does', () => {
    for (const s of ['true', 'False', 'TRUE', 'null', '~', '', 'Null', '12', '-7', '+3', '007', '0o17', '0x1F', '1.5', '.5', '1.', '1e3', '-1.5E-2', '.inf', '-.Inf', '.nan', 'yes', 'no', 'on', '1_000', '0b1', 'abc', '1.2.3', '0x', 'n', 'nul', 'nulls', 'NuLL', 't', 'tru', 'Truth', 'f', 'falsey', '~x', '10.0.0.1', '10.0.0.0/24', '1..2', '..5', '.1.', '1.5.', '-.inf.', '1.e5', '.5e1.']) {
      const lib = parseAllDocuments(`v: ${s}\n`)[0].toJS() as { v: unknown };
      assert.deepEqual(resolvePlain(s), lib.v, s);
    }
  });

  it('block YAML (as yaml.stringify writes it, several documents): same values and positions as the library', () => {
    let fastCount = 0;
    fc.assert(
      fc.property(fc.array(object, { minLength: 1, maxLength: 3 }), fc.boolean(), (objs, list) => {
        const docs = list ? [{ apiVersion: 'v1', kind: 'List', items: objs }] : objs;
        const text = docs.map((o) => stringify(o)).join('---\n');
        if (fastYaml(text)) fastCount++;
        return sameAsLibrary(text, 'gen.yaml');
      }),
      { numRuns: 300 },
    );
    assert.ok(fastCount > 50, `the fast path read only ${fastCount} of 300 generated texts`);
  });

  it('kubectl-style YAML (sequences at the key\'s column, comments, quoted keys): same values and positions', () => {
    const text = [
      '# a comment before the first document',
      '---',
      'apiVersion: v1   # trailing comment',
      'kind: List',
      'items:',
      '- apiVersion: networking.k8s.io/v1',
      '  kind: NetworkPolicy',
      '  metadata: {name: np, namespace: ns-1}',
      '  spec:',
      '    podSelector: {}',
      '    ingress:',
      '    - from:',
      '      - ipBlock:',
      '          cidr: 10.0.0.0/8',
      '          except: [10.1.0.0/16, 10.2.0.0/16]',
      '      ports:',
      '      -',
      '        port: 80',
      "        protocol: 'TCP'",
      '    egress: []',
      '-   apiVersion: v1',
      '    kind: Pod',
      '    metadata:',
      '      name: p',
      '      labels:',
      '        "app.kubernetes.io/name": web',
      '        tier: "1"',
      '    status: {podIP: 10.0.0.1}',
      '---',
      'kind: Namespace',
      'metadata:',
      '  name: x # c',
      '',
    ].join('\r\n');
    assert.ok(fastYaml(text), 'the fast path reads this text');
    sameAsLibrary(text, 'kubectl.yaml');
  });

  it('JSON (indented or not, List or one object): same values and positions as the library', () => {
    fc.assert(
      fc.property(object, fc.boolean(), fc.constantFrom(0, 1, 2, '\t'), (obj, list, indent) => {
        const v = list ? { apiVersion: 'v1', kind: 'List', items: [obj, obj] } : obj;
        const text = JSON.stringify(v, null, indent);
        assert.ok(fastJson(text));
        return sameAsLibrary(text, 'gen.json');
      }),
      { numRuns: 200 },
    );
  });

  it('gives up on what it does not read exactly (the library then reads it, and reports errors); edge cases it does read agree with the library', () => {
    for (const text of [
      'a: &x 1\nb: *x\n', 'a: !!str 1\n', 'a: |\n  text\n', 'a: >\n  text\n', 'a: b\n  continued\n', 'a: "two\n  lines"\n',
      'a: 1\na: 2\n', '? a\n: 1\n', '%YAML 1.2\n---\na: 1\n', 'a: "\\x41"\n', '- - 1\n', 'a: b: c\n', '1: x\n', 'a: 1\n...\n',
      '\t a: 1\n', 'a:\n\t- x\n',
      'a\t: 1\n', 'a : 1\nb:   \n  - 1\n', 'a: 1 #c\n#d\nb: "x" # e\n', 'k: -\n', 'k: [a, b, ]\n', 'k: {a: 1, b: x y}\n',
    ]) {
      if (!/^(a\t:|a :|a: 1 #|k: \[|k: \{)/.test(text)) assert.equal(fastYaml(text), undefined, text);
      sameAsLibrary(text, 'x.yaml');
    }
    assert.equal(fastJson('{"a": 1, "a": 2}'), undefined);
    const d = new Diagnostics();
    parseText('{"a": 1, "a": 2}', 'dup.json', d, { fast: true });
    assert.match(d.items.map(formatDiagnostic).join('\n'), /^dup\.json:1:10: error: invalid YAML: Map keys must be unique/);
  });
});

describe('manifests: fast path, plain values with a colon', () => {
  it('reads them when no space, tab or end of content follows the colon; else leaves them to the library', () => {
    for (const text of ['a: b:c\n', 'a: b:#c\n', 'a: http://x/y\n', 'a: 10:20 # c\n', '- b:c\n']) {
      assert.ok(fastYaml(text), `the fast path reads ${JSON.stringify(text)}`);
      sameAsLibrary(text, 'x.yaml');
    }
    for (const text of ['a: b:\n', 'a: b: # c\n', 'a: b:\t\n', 'a: x:y:\n', 'a: b:  \n', 'a: b:\r\n', 'a: b: c\n']) {
      assert.equal(fastYaml(text), undefined, text);
      sameAsLibrary(text, 'x.yaml');
    }
  });
});

describe('manifests: fast path, flow collections', () => {
  it('block YAML with nested flow collections at random places (as yaml.stringify writes them): same values and positions as the library', () => {
    let fastCount = 0;
    fc.assert(
      fc.property(fc.array(object, { minLength: 1, maxLength: 3 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }), fc.boolean(), (objs, flows, padding) => {
        const texts = objs.map((o) => {
          const doc = new Document(o);
          let k = 0;
          visit(doc, (_key, node, path) => {
            if (isCollection(node) && path.length > 1) node.flow = node.flow || flows[k++ % flows.length];
          });
          return doc.toString({ lineWidth: 0, flowCollectionPadding: padding });
        });
        const text = texts.join('---\n');
        if (fastYaml(text)) fastCount++;
        return sameAsLibrary(text, 'flow.yaml');
      }),
      { numRuns: 300 },
    );
    assert.ok(fastCount > 50, `the fast path read only ${fastCount} of 300 generated texts`);
  });

  it('reads the flow collections manifests are written with; gives up on the rest; agrees with the library on both', () => {
    const reads = [
      'a: {b: [1]}\n', 'k: [9000:9010, "x", \'y\', a b, fd00::1, -1, -a]\n', 'status:\n  podIPs: [{ ip: 10.0.0.1 }, { ip: "fd00::1" }]\n',
      'k: [a, [b, {c: d}], {}, []] # c\n', "k: ['it''s', \"q\\\"\", '#x', \"a #b\"]\n", 'k: {a:b: 1, "c d": e}\n', 'k: [a, b, ]\n',
      'ports:\n  - { name: http, containerPort: 8080 }\n  - [x, y]\n', 'k:\n  {a: 1}\n', 'k: { a : 1 }\n', 'k: {"1": a, x: ~, y: null, z: 0x1F}\n',
      'selector: app in {\'web\', \'api\'}\n',
    ];
    const bails = [
      'k: [a: b]\n', 'k: ["a": b]\n', 'k: {a}\n', 'k: {a: }\n', 'k: [a #c]\n', 'k: [a]#c\n', 'k: {"a":1}\n', 'k: [- a]\n', 'k: [a,,b]\n',
      'k: {a: 1}: x\n', 'k: [:a]\n', 'k: [? a]\n', 'k: {1: a}\n', 'k: [a:]\n', 'k: [a,\n  b]\n', 'k: [&x a, *x]\n', 'k: [!!str 1]\n',
      'k: {a: 1, a: 2}\n', 'k: {[a]: 1}\n', 'k: [a\tb]\n', 'k: [a] b\n', 'k: {<<: {a: 1}}\n', 'k: ["\\x41"]\n', 'k: [a, b\n',
    ];
    for (const text of reads) {
      assert.ok(fastYaml(text), `the fast path reads ${JSON.stringify(text)}`);
      sameAsLibrary(text, 'x.yaml');
    }
    for (const text of bails) {
      assert.equal(fastYaml(text), undefined, text);
      sameAsLibrary(text, 'x.yaml');
    }
  });
});

describe('manifests: large inputs take the fast path with exact positions', () => {
  const np = (i: number, cidr: string) => ({
    apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: `np${i}`, namespace: 'a' },
    spec: { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr } }], ports: [{ port: 80 }] }] },
  });
  const objs = Array.from({ length: 600 }, (_, i) => np(i, i === 450 ? '10.0.0.0/33' : '10.0.0.0/8'));
  for (const [name, text] of [
    ['big.yaml', objs.map((o) => stringify(o)).join('---\n')],
    ['big.json', JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }, null, 2)],
  ] as const) {
    it(`${name}: the error in object 450 is at the line and column the library gives`, () => {
      assert.ok(text.length >= 64 * 1024);
      assert.ok(name.endsWith('.json') ? fastJson(text) : fastYaml(text), 'the fast path reads this text');
      const d = new Diagnostics();
      const srcs = parseText(text, name, d); // default: the fast path for a text this long
      const full = parseText(text, name, new Diagnostics(), { fast: false });
      const p = ['spec', 'ingress', 0, 'from', 0, 'ipBlock', 'cidr'];
      assert.deepEqual(srcs[450].locate(p), full[450].locate(p));
      assert.deepEqual(srcs[450].locate([]), full[450].locate([]));
      assert.equal(srcs.length, 600);
    });
  }
});
