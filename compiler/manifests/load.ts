// Pass 1: files, directories and stdin to located objects.
//   - a directory is walked recursively for *.yaml, *.yml and *.json, in sorted order (runs are deterministic);
//   - a file may hold several YAML documents, and a document may be a `kind: List` whose items are the objects;
//   - JSON is read by the same YAML 1.2 parser (JSON is a subset of it), so it keeps positions too.
// Nothing here knows what a Pod or a policy is; that is the model's job.
import * as fs from 'fs';
import * as path from 'path';
import { LineCounter, parseAllDocuments, parseDocument, isMap, isSeq, isScalar, isPair, type Document, type Node as YNode } from 'yaml';
import { fastJson, fastYaml, JsonScanner, LineIndex } from './fast';
import type { Diagnostics, FieldPath, Location } from '../model/diagnostics';
import type { SourceObject } from './source';

export type { SourceObject } from './source';

const MANIFEST_EXT = /\.(ya?ml|json)$/i;

/** Reads every input; problems (unreadable path, YAML syntax) become diagnostics, never exceptions. */
export function loadSources(inputs: string[], diags: Diagnostics, stdin?: string): SourceObject[] {
  const out: SourceObject[] = [];
  for (const input of inputs) {
    if (input === '-') {
      if (stdin === undefined) {
        diags.error('input', 'expected text on standard input for the path "-", found none', { location: { file: '<stdin>' } });
        continue;
      }
      out.push(...parseText(stdin, '<stdin>', diags));
      continue;
    }
    for (const file of expand(input, diags)) {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        diags.error('input', `cannot read file: ${(err as Error).message}`, { location: { file } });
        continue;
      }
      out.push(...parseText(text, file, diags));
    }
  }
  return out;
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
  if (opts.fast ?? text.length >= FAST_PATH_MIN_CHARS) {
    const fast = parseFast(text, file);
    if (fast) return fast;
  }
  return parseFull(text, file, diags);
}

function parseFull(text: string, file: string, diags: Diagnostics): SourceObject[] {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const out: SourceObject[] = [];
  const list = Array.isArray(docs) ? docs : [];
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
    const at = (offset: number): Location => {
      const p = lc.linePos(offset);
      return { file, line: p.line, col: p.col };
    };
    const mk = (docPath: (string | number)[], v: unknown): SourceObject => located(file, text, at, () => doc, 0, docIndex, docPath, v);
    if (isPlainObject(value) && value.kind === 'List' && Array.isArray(value.items)) {
      value.items.forEach((item, i) => out.push(mk(['items', i], item)));
    } else {
      out.push(mk([], value));
    }
  });
  return out;
}

/** The fast paths: every object with its start offset; a field's position is found only when asked. */
function parseFast(text: string, file: string): SourceObject[] | undefined {
  const li = new LineIndex(text);
  const at = (offset: number): Location => ({ file, ...li.pos(offset) });
  const first = /\S/.exec(text);
  const out: SourceObject[] = [];
  if (first && (first[0] === '{' || first[0] === '[')) {
    const j = fastJson(text);
    if (!j) return undefined;
    const sc = new JsonScanner(text);
    const mk = (docPath: (string | number)[], start: number, value: unknown): SourceObject => {
      const locate = (p: FieldPath): Location => at(sc.walk(start, p).offset);
      const locateInString = (p: FieldPath, offset: number): Location => {
        const w = sc.walk(start, p);
        if (w.depth !== p.length || text.charCodeAt(w.offset) !== 34) return at(w.offset);
        const raw = text.slice(w.offset, sc.stringEnd(w.offset));
        return at(stringOffset(w.offset, raw, JSON.parse(raw) as string, offset));
      };
      return { file, value, docPath, docIndex: 0, locate, locateInString };
    };
    const v = j.value;
    if (isPlainObject(v) && v.kind === 'List' && Array.isArray(v.items)) {
      const starts = j.itemStarts ?? [];
      if (starts.length !== v.items.length) return undefined;
      v.items.forEach((item, i) => out.push(mk(['items', i], starts[i], item)));
    } else out.push(mk([], j.start, v));
    return out;
  }
  const docs = fastYaml(text);
  if (!docs) return undefined;
  let lost = false;
  docs.forEach((d, docIndex) => {
    if (d.value === null || d.value === undefined) return;
    let parsed: Document.Parsed | undefined;
    const doc = (): Document.Parsed => (parsed ??= parseDocument(text.slice(d.start, d.end), { prettyErrors: false, uniqueKeys: true }));
    const mk = (docPath: (string | number)[], start: number, value: unknown): SourceObject => {
      const o = located(file, text, at, doc, d.start, docIndex, docPath, value);
      return { ...o, locate: (p: FieldPath) => (p.length === 0 ? at(start) : o.locate(p)) };
    };
    const v = d.value;
    if (isPlainObject(v) && v.kind === 'List' && Array.isArray(v.items)) {
      const starts = d.itemStarts ?? [];
      if (starts.length !== v.items.length) {
        lost = true;
        return;
      }
      v.items.forEach((item, i) => out.push(mk(['items', i], starts[i], item)));
    } else out.push(mk([], d.contentStart, v));
  });
  return lost ? undefined : out;
}

/** Offset of character `offset` of `value` inside the source text `raw` of a string scalar starting at `start`. */
function stringOffset(start: number, raw: string, value: string, offset: number): number {
  // The value appears verbatim in the source unless it was written with escapes or folded over lines.
  const k = raw.indexOf(value);
  if (k < 0 || value.length === 0) return start;
  return start + k + Math.max(0, Math.min(offset, value.length));
}

/**
 * A located object read by the full library. `doc` gives the document (parsed on demand for the fast YAML path),
 * whose node ranges are offsets from `base` in `text`.
 */
function located(
  file: string,
  text: string,
  at: (offset: number) => Location,
  doc: () => Document.Parsed,
  base: number,
  docIndex: number,
  docPath: (string | number)[],
  value: unknown,
): SourceObject {
  const deepest = (p: FieldPath): YNode | null => {
    let node = doc().contents as YNode | null;
    let found = node;
    for (const seg of [...docPath, ...p]) {
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
  };
  const locate = (p: FieldPath): Location => {
    const node = deepest(p);
    const r = node?.range;
    return r ? at(base + r[0]) : { file, line: 1, col: 1 };
  };
  const locateInString = (p: FieldPath, offset: number): Location => {
    const node = deepest(p);
    if (!node || !node.range || !isScalar(node) || typeof node.value !== 'string') return locate(p);
    const start = base + node.range[0];
    return at(stringOffset(start, text.slice(start, base + node.range[1]), node.value, offset));
  };
  return { file, value, docPath, docIndex, locate, locateInString };
}

function firstLine(msg: string): string {
  return msg.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '').trim();
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
