// Pass 1: files, directories and stdin to located objects.
//   - a directory is walked recursively for *.yaml, *.yml and *.json, in sorted order (runs are deterministic);
//   - a file may hold several YAML documents, and a document may be a `kind: List` whose items are the objects;
//   - JSON is read by the same YAML 1.2 parser (JSON is a subset of it), so it keeps positions too.
// Nothing here knows what a Pod or a policy is; that is the model's job.
import { isAscii } from 'buffer';
import * as fs from 'fs';
import * as path from 'path';
import { LineCounter, parseAllDocuments, parseDocument, isMap, isSeq, isScalar, isPair, type Document, type Node as YNode } from 'yaml';
import { Bail, fastJson, fastYamlEach, JsonScanner, LineIndex } from './fast';
import type { Diagnostics, FieldPath, Location } from '../model/diagnostics';
import type { SourceObject, SourcePlace, SourceSink } from './source';

export type { SourceObject, SourcePlace, SourceSink } from './source';

const MANIFEST_EXT = /\.(ya?ml|json)$/i;

/** Reads every input; problems (unreadable path, YAML syntax) become diagnostics, never exceptions. */
export function loadSources(inputs: string[], diags: Diagnostics, stdin?: string): SourceObject[] {
  const sink = new ListSink();
  readSources(inputs, diags, sink, stdin);
  return sink.list;
}

/** loadSources, each object given to `sink` as it is read (see SourceSink). */
export function readSources(inputs: string[], diags: Diagnostics, sink: SourceSink, stdin?: string): void {
  for (const input of inputs) {
    if (input === '-') {
      if (stdin === undefined) {
        diags.error('input', 'expected text on standard input for the path "-", found none', { location: { file: '<stdin>' } });
        continue;
      }
      readText(stdin, '<stdin>', diags, sink);
      continue;
    }
    for (const file of expand(input, diags)) {
      let text: string;
      try {
        text = fileText(file);
      } catch (err) {
        diags.error('input', `cannot read file: ${(err as Error).message}`, { location: { file } });
        continue;
      }
      readText(text, file, diags, sink);
    }
  }
}

/**
 * A file's text as UTF-8. A file of ASCII bytes only (most manifests) is the same text decoded as Latin-1, which
 * skips the UTF-8 decoder (6.4 MB: ~1 ms instead of ~4-7).
 */
function fileText(file: string): string {
  const bytes = fs.readFileSync(file);
  return isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
}

/** A sink that keeps every object in a list. */
class ListSink implements SourceSink {
  readonly list: SourceObject[] = [];
  private marked = 0;
  add(src: SourceObject): void {
    this.list.push(src);
  }
  mark(): void {
    this.marked = this.list.length;
  }
  rollback(): void {
    this.list.length = this.marked;
  }
}

/** A path to the list of manifest files it names: itself, or the manifests under it (recursive, sorted). */
function expand(input: string, diags: Diagnostics): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(input);
  } catch {
    diags.error('input', 'expected a manifest file, a directory or "-", found no such path', { location: { file: input } });
    return [];
  }
  if (!st.isDirectory()) return [input];
  const files: string[] = [];
  const walk = (dir: string): void => {
    const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (MANIFEST_EXT.test(e.name)) files.push(p);
    }
  };
  walk(input);
  if (files.length === 0) diags.warn('input', 'directory holds no *.yaml, *.yml or *.json files', { location: { file: input } });
  return files;
}

/**
 * Texts at least this long are first tried on the fast paths (JSON.parse, the block-YAML reader); shorter ones,
 * and any text a fast path gives up on, are read by the full YAML library.
 */
export const FAST_PATH_MIN_CHARS = 64 * 1024;

/** Parses one text (a file or stdin) into its objects. Exported for tests and for callers holding text. */
export function parseText(text: string, file: string, diags: Diagnostics, opts: { fast?: boolean } = {}): SourceObject[] {
  const sink = new ListSink();
  readText(text, file, diags, sink, opts);
  return sink.list;
}

/** parseText, each object given to `sink` as it is read. */
export function readText(text: string, file: string, diags: Diagnostics, sink: SourceSink, opts: { fast?: boolean } = {}): void {
  if ((opts.fast ?? text.length >= FAST_PATH_MIN_CHARS) && readFast(text, file, sink)) return;
  readFull(text, file, diags, sink);
}

function readFull(text: string, file: string, diags: Diagnostics, sink: SourceSink): void {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [];
  const lines = new TextLines(file, (offset) => lc.linePos(offset));
  list.forEach((doc, docIndex) => {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const pos = e.linePos?.[0] ?? lc.linePos(e.pos[0]);
        diags.error('yaml-syntax', `invalid YAML: ${firstLine(e.message)}`, { location: { file, line: pos.line, col: pos.col } });
      }
      return; // a document with a syntax error is not read at all: its data may be cut short
    }
    for (const w of doc.warnings) {
      const pos = w.linePos?.[0] ?? lc.linePos(w.pos[0]);
      diags.warn('yaml', firstLine(w.message), { location: { file, line: pos.line, col: pos.col } });
    }
    const value: unknown = doc.toJS({ maxAliasCount: 1000 });
    // An empty document (`---` at the end of a file, a comment-only file) holds nothing.
    if (doc.contents === null || value === null || value === undefined) return;
    const d = new YamlDoc(lines, text, 0, text.length, doc);
    if (isPlainObject(value) && value.kind === 'List' && Array.isArray(value.items)) {
      value.items.forEach((item, i) => sink.add(new Located(new YamlPlace(d, docIndex, ['items', i]), item)));
    } else {
      sink.add(new Located(new YamlPlace(d, docIndex, []), value));
    }
  });
}

/** Offset -> line:col in one file (LineIndex or the library's LineCounter), as a Location. */
class TextLines {
  constructor(
    readonly file: string,
    private readonly pos: (offset: number) => { line: number; col: number },
  ) {}
  at(offset: number): Location {
    const p = this.pos(offset);
    return { file: this.file, line: p.line, col: p.col };
  }
}

// Located objects are classes, not objects of closures: a large input holds thousands of them, and closures made
// per object cost memory and time (tsx names each one as it is made).

/**
 * The fast paths: every object with its start offset; a field's position is found only when asked. False when a
 * fast path gave up (the objects it had given `sink` are rolled back).
 */
function readFast(text: string, file: string, sink: SourceSink): boolean {
  const li = new LineIndex(text);
  const lines = new TextLines(file, (offset) => li.pos(offset));
  const first = /\S/.exec(text);
  if (first && (first[0] === '{' || first[0] === '[')) {
    const j = fastJson(text);
    if (!j) return false;
    const sc = new JsonScanner(text);
    const v = j.value;
    if (isPlainObject(v) && v.kind === 'List' && Array.isArray(v.items)) {
      const starts = j.itemStarts ?? [];
      if (starts.length !== v.items.length) return false;
      v.items.forEach((item, i) => sink.add(new Located(new JsonPlace(lines, text, sc, starts[i], ['items', i]), item)));
    } else sink.add(new Located(new JsonPlace(lines, text, sc, j.start, []), v));
    return true;
  }
  // Each document's objects go to the sink as soon as it is read, so its values can die young.
  sink.mark();
  let docIndex = 0;
  const ok = fastYamlEach(text, (d) => {
    const i = docIndex++;
    if (d.value === null || d.value === undefined) return;
    const doc = new YamlDoc(lines, text, d.start, d.end);
    const v = d.value;
    if (isPlainObject(v) && v.kind === 'List' && Array.isArray(v.items)) {
      const itemLines = d.itemLines ?? [];
      const itemCols = d.itemCols ?? [];
      if (itemLines.length !== v.items.length || itemCols.length !== v.items.length) throw new Bail();
      v.items.forEach((item, k) => sink.add(new Located(new YamlPlace(doc, i, ['items', k], itemLines[k], itemCols[k]), item)));
    } else sink.add(new Located(new YamlPlace(doc, i, [], d.contentLine, d.contentCol), v));
  });
  if (!ok) sink.rollback();
  return ok;
}

/** An object: its value and its place. */
class Located implements SourceObject {
  constructor(
    readonly place: SourcePlace,
    readonly value: unknown,
  ) {}
  get file(): string {
    return this.place.file;
  }
  get docPath(): (string | number)[] {
    return this.place.docPath;
  }
  get docIndex(): number {
    return this.place.docIndex;
  }
  locate(p: FieldPath): Location {
    return this.place.locate(p);
  }
  locateInString(p: FieldPath, offset: number): Location {
    return this.place.locateInString(p, offset);
  }
}

/** An object of a JSON text read by JSON.parse: positions by scanning the text from the object's start. */
class JsonPlace implements SourcePlace {
  readonly docIndex = 0;
  readonly file: string;
  constructor(
    private readonly lines: TextLines,
    private readonly text: string,
    private readonly sc: JsonScanner,
    private readonly start: number,
    readonly docPath: (string | number)[],
  ) {
    this.file = lines.file;
  }
  locate(p: FieldPath): Location {
    return this.lines.at(this.sc.walk(this.start, p).offset);
  }
  locateInString(p: FieldPath, offset: number): Location {
    const w = this.sc.walk(this.start, p);
    if (w.depth !== p.length || this.text.charCodeAt(w.offset) !== 34) return this.lines.at(w.offset);
    const raw = this.text.slice(w.offset, this.sc.stringEnd(w.offset));
    return this.lines.at(stringOffset(w.offset, raw, JSON.parse(raw) as string, offset));
  }
}

/**
 * A YAML document as the full library reads it: given (readFull), or parsed on demand from `text.slice(base,
 * end)` (the fast YAML path, only when a diagnostic asks where a field is). Node ranges are offsets from `base`.
 */
class YamlDoc {
  constructor(
    readonly lines: TextLines,
    readonly text: string,
    readonly base: number,
    private readonly end: number,
    private parsed?: Document.Parsed,
  ) {}
  get doc(): Document.Parsed {
    return (this.parsed ??= parseDocument(this.text.slice(this.base, this.end), { prettyErrors: false, uniqueKeys: true }));
  }
}

/**
 * The place of an object of a YAML document; `line` and `col` (fast path, as the reader counted them) are where the
 * object itself starts, for locate([]).
 */
class YamlPlace implements SourcePlace {
  readonly file: string;
  constructor(
    private readonly d: YamlDoc,
    readonly docIndex: number,
    readonly docPath: (string | number)[],
    private readonly line?: number,
    private readonly col?: number,
  ) {
    this.file = d.lines.file;
  }

  private deepest(p: FieldPath): YNode | null {
    let node = this.d.doc.contents as YNode | null;
    let found = node;
    for (const seg of [...this.docPath, ...p]) {
      if (node === null) break;
      let next: YNode | null = null;
      if (isMap(node)) {
        for (const pair of node.items) {
          if (!isPair(pair)) continue;
          const k = isScalar(pair.key) ? pair.key.value : pair.key;
          if (k === seg || (typeof seg === 'number' && k === String(seg))) {
            // a key with no value (`ports:`) is located at the key
            next = (pair.value as YNode | null) ?? (pair.key as YNode | null);
            break;
          }
        }
      } else if (isSeq(node) && typeof seg === 'number') {
        next = (node.items[seg] as YNode | undefined) ?? null;
      }
      if (next === null) break;
      node = next;
      found = next;
    }
    return found;
  }

  locate(p: FieldPath): Location {
    return p.length === 0 && this.line !== undefined ? { file: this.file, line: this.line, col: this.col } : this.locateNode(p);
  }

  private locateNode(p: FieldPath): Location {
    const r = this.deepest(p)?.range;
    return r ? this.d.lines.at(this.d.base + r[0]) : { file: this.file, line: 1, col: 1 };
  }

  locateInString(p: FieldPath, offset: number): Location {
    const node = this.deepest(p);
    if (!node || !node.range || !isScalar(node) || typeof node.value !== 'string') return this.locateNode(p);
    const start = this.d.base + node.range[0];
    return this.d.lines.at(stringOffset(start, this.d.text.slice(start, this.d.base + node.range[1]), node.value, offset));
  }
}

/** Offset of character `offset` of `value` inside the source text `raw` of a string scalar starting at `start`. */
function stringOffset(start: number, raw: string, value: string, offset: number): number {
  // The value appears verbatim in the source unless it was written with escapes or folded over lines.
  const k = raw.indexOf(value);
  if (k < 0 || value.length === 0) return start;
  return start + k + Math.max(0, Math.min(offset, value.length));
}

function firstLine(msg: string): string {
  return msg.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '').trim();
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
