// Loader: files, directories (recursive, sorted, only manifests), stdin text, multi-document YAML, kind: List,
// JSON, and positions (locate, locateInString, YAML syntax errors).
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Diagnostics, formatDiagnostic } from '../compiler/model/diagnostics';
import { loadSources, parseText } from '../compiler/manifests/load';

const names = (srcs: { value: unknown }[]): string[] => srcs.map((s) => (s.value as { metadata: { name: string } }).metadata.name);

describe('manifests: loadSources', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-manifests-'));
    fs.mkdirSync(path.join(dir, 'sub', 'deeper'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'b.yaml'), 'kind: Namespace\nmetadata: {name: b}\n---\nkind: Namespace\nmetadata: {name: b2}\n---\n');
    fs.writeFileSync(path.join(dir, 'a.yml'), 'kind: Namespace\nmetadata: {name: a}\n');
    fs.writeFileSync(path.join(dir, 'sub', 'c.json'), JSON.stringify({ kind: 'Namespace', metadata: { name: 'c' } }, null, 2));
    fs.writeFileSync(path.join(dir, 'sub', 'deeper', 'd.yaml'), '# only a comment\n');
    fs.writeFileSync(path.join(dir, 'sub', 'deeper', 'e.yaml'), 'kind: Namespace\nmetadata: {name: e}\n');
    fs.writeFileSync(path.join(dir, 'README.md'), 'kind: Namespace\nmetadata: {name: not-a-manifest}\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads files as UTF-8 (ASCII-only files by a shortcut): non-ASCII text, a byte-order mark and bad bytes as the decoder reads them', () => {
    const texts: [string, Buffer][] = [
      ['ascii.yaml', Buffer.from('kind: Namespace\nmetadata: {name: x, labels: {a: "b~"}}\n')],
      ['utf8.yaml', Buffer.from('kind: Namespace\nmetadata:\n  name: x\n  annotations: {note: "caf\u00e9 \u{1F389} \u00ff"}\n')],
      ['bom.yaml', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('kind: Namespace\nmetadata: {name: x}\n')])],
      ['latin1.yaml', Buffer.from('kind: Namespace\nmetadata: {name: x, annotations: {n: "caf\u00e9"}}\n', 'latin1')],
    ];
    for (const [name, bytes] of texts) {
      const f = path.join(dir, 'enc', name);
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, bytes);
      const [d1, d2] = [new Diagnostics(), new Diagnostics()];
      const got = loadSources([f], d1);
      const want = parseText(bytes.toString('utf8'), f, d2);
      assert.deepEqual(got.map((s) => s.value), want.map((s) => s.value), name);
      assert.deepEqual(d1.items, d2.items, name);
    }
    fs.rmSync(path.join(dir, 'enc'), { recursive: true });
  });

  it('walks directories recursively in sorted order, reading only *.yaml, *.yml and *.json', () => {
    const d = new Diagnostics();
    const s = loadSources([dir], d);
    assert.deepEqual(names(s), ['a', 'b', 'b2', 'c', 'e']);
    assert.equal(d.items.length, 0, d.items.map(formatDiagnostic).join('\n'));
    assert.deepEqual(s.map((x) => path.relative(dir, x.file)), ['a.yml', 'b.yaml', 'b.yaml', path.join('sub', 'c.json'), path.join('sub', 'deeper', 'e.yaml')]);
    assert.deepEqual(s.map((x) => x.docIndex), [0, 0, 1, 0, 0]);
  });

  it('reads files and stdin text ("-") in the order given', () => {
    const d = new Diagnostics();
    const s = loadSources([path.join(dir, 'a.yml'), '-', path.join(dir, 'sub', 'c.json')], d, 'kind: Namespace\nmetadata:\n  name: from-stdin\n');
    assert.deepEqual(names(s), ['a', 'from-stdin', 'c']);
    assert.equal(s[1].file, '<stdin>');
    assert.deepEqual(s[1].locate(['metadata', 'name']), { file: '<stdin>', line: 3, col: 9 });
  });

  it('reports a missing path and "-" without stdin as errors, not exceptions', () => {
    const d = new Diagnostics();
    assert.deepEqual(loadSources([path.join(dir, 'nope.yaml'), '-'], d), []);
    assert.equal(d.errors.length, 2);
    assert.match(formatDiagnostic(d.errors[0]), /nope\.yaml: error: expected a manifest file, a directory or "-", found no such path/);
    assert.match(formatDiagnostic(d.errors[1]), /^<stdin>: error: expected text on standard input/);
  });

  it('splits kind: List into its items, located inside the list', () => {
    const text = 'apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  metadata: {name: p0}\n- kind: Pod\n  metadata:\n    name: p1\n';
    const s = parseText(text, 'list.yaml', new Diagnostics());
    assert.deepEqual(names(s), ['p0', 'p1']);
    assert.deepEqual(s[1].docPath, ['items', 1]);
    assert.deepEqual(s[1].locate(['metadata', 'name']), { file: 'list.yaml', line: 8, col: 11 });
    assert.deepEqual(s[0].locate(['metadata', 'name']), { file: 'list.yaml', line: 5, col: 20 });
  });

  it('reads JSON with positions', () => {
    const text = '{\n  "kind": "Pod",\n  "metadata": {\n    "name": "j"\n  },\n  "spec": {"hostNetwork": true}\n}\n';
    const s = parseText(text, 'x.json', new Diagnostics());
    assert.deepEqual(s[0].value, { kind: 'Pod', metadata: { name: 'j' }, spec: { hostNetwork: true } });
    assert.deepEqual(s[0].locate(['metadata', 'name']), { file: 'x.json', line: 4, col: 13 });
    assert.deepEqual(s[0].locate(['spec', 'hostNetwork']), { file: 'x.json', line: 6, col: 27 });
  });

  it('locates the deepest existing node of a path that does not exist', () => {
    const s = parseText('kind: Pod\nspec:\n  containers:\n  - name: c\n', 'p.yaml', new Diagnostics());
    assert.deepEqual(s[0].locate(['spec', 'containers', 0, 'ports', 3]), { file: 'p.yaml', line: 4, col: 5 });
    assert.deepEqual(s[0].locate(['spec', 'containers', 7]), { file: 'p.yaml', line: 4, col: 3 });
    assert.deepEqual(s[0].locate(['nothing']), { file: 'p.yaml', line: 1, col: 1 });
  });

  it('maps offsets inside plain, single- and double-quoted strings to columns', () => {
    const text = "a: app == 'x'\nb: 'app == ''x'''\nc: \"app == 'x'\"\n";
    const s = parseText(text, 's.yaml', new Diagnostics())[0];
    assert.deepEqual(s.locateInString(['a'], 4), { file: 's.yaml', line: 1, col: 8 }); // the '=' of a plain scalar
    assert.deepEqual(s.locateInString(['c'], 4), { file: 's.yaml', line: 3, col: 9 }); // after the opening quote
    // '' escapes make the text differ from the value: fall back to the scalar's own position
    assert.deepEqual(s.locateInString(['b'], 4), { file: 's.yaml', line: 2, col: 4 });
  });

  it('reports YAML syntax errors with line:col and still reads the other documents', () => {
    const d = new Diagnostics();
    const s = parseText('kind: Namespace\nmetadata: {name: ok}\n---\nkind: Pod\nmetadata:\n  name: [unclosed\nx: 1\n---\nkind: Namespace\nmetadata: {name: after}\n', 'bad.yaml', d);
    assert.deepEqual(names(s), ['ok', 'after']);
    assert.equal(d.errors.length, 1);
    assert.equal(d.errors[0].code, 'yaml-syntax');
    assert.equal(d.errors[0].location?.file, 'bad.yaml');
    assert.equal(d.errors[0].location?.line, 7);
    assert.match(d.errors[0].message, /^invalid YAML: /);
  });

  it('rejects duplicate keys as YAML errors', () => {
    const d = new Diagnostics();
    parseText('kind: Pod\nkind: Namespace\n', 'dup.yaml', d);
    assert.equal(d.errors.length, 1);
    assert.deepEqual([d.errors[0].location?.line, d.errors[0].location?.col], [2, 1]);
  });
});
