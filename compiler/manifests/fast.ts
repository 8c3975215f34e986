// Fast paths for large inputs (thousands of objects): the full YAML library builds a node tree with positions for
// every scalar, which costs seconds on 10 MB. Here:
//   - JSON is read with JSON.parse, and a small scanner finds where each object starts (for origins) and, only when
//     a diagnostic asks, where a field is;
//   - YAML in the block style that kubectl and most tools write is read by a line-based reader that keeps only the
//     offsets of documents and of `kind: List` items; a field's line:col is found by re-reading that one document
//     with the full library, only when a diagnostic asks.
// Both give up (return undefined) on anything outside what they know to read exactly as the YAML library reads it
// (anchors, tags, block scalars, multi-line scalars, duplicate keys, YAML escapes, ...): the caller then uses the
// full library, which also reports syntax errors with their positions. A fast path never reports an error itself.

export class Bail extends Error {}
const bail = (): never => {
  throw new Bail();
};

// ---------------------------------------------------------------------------------------------------------
// Lines and offsets

/** Offsets of the starts of lines, for offset -> line:col by binary search (built once per text, when needed). */
export class LineIndex {
  private starts: number[] | undefined;
  constructor(private readonly text: string) {}
  pos(offset: number): { line: number; col: number } {
    if (!this.starts) {
      const s = [0];
      const t = this.text;
      for (let i = t.indexOf('\n'); i >= 0; i = t.indexOf('\n', i + 1)) s.push(i + 1);
      this.starts = s;
    }
    const s = this.starts;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - s[lo] + 1 };
  }
}

// ---------------------------------------------------------------------------------------------------------
// JSON

export interface FastJson {
  value: unknown;
  /** offset of the top-level value */
  start: number;
  /** for `{"kind": "List", "items": [...]}`: offset of each item */
  itemStarts?: number[];
}

/** JSON.parse plus a structural scan (duplicate keys make it give up: the YAML library reports them). */
export function fastJson(text: string): FastJson | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  try {
    const sc = new JsonScanner(text);
    const start = sc.ws(0);
    let itemStarts: number[] | undefined;
    const isList = typeof value === 'object' && value !== null && !Array.isArray(value) && (value as Record<string, unknown>).kind === 'List' && Array.isArray((value as Record<string, unknown>).items);
    const end = sc.value(start, isList ? (starts) => (itemStarts = starts) : undefined);
    if (sc.ws(end) !== text.length) return undefined;
    return { value, start, ...(itemStarts ? { itemStarts } : {}) };
  } catch (e) {
    if (e instanceof Bail) return undefined;
    throw e;
  }
}

/** Scans JSON text that JSON.parse accepted: value boundaries, keys, and the path walk for positions. */
export class JsonScanner {
  constructor(private readonly t: string) {}

  ws(i: number): number {
    const t = this.t;
    for (;;) {
      const c = t.charCodeAt(i);
      if (c === 32 || c === 10 || c === 13 || c === 9) i++;
      else return i;
    }
  }
  /** end offset of the string starting at i (at the quote) */
  stringEnd(i: number): number {
    const t = this.t;
    for (let j = i + 1; ; ) {
      const q = t.indexOf('"', j);
      if (q < 0) bail();
      let b = q - 1;
      while (t.charCodeAt(b) === 92) b--;
      if ((q - 1 - b) % 2 === 0) return q + 1;
      j = q + 1;
    }
  }
  key(i: number, end: number): string {
    const raw = this.t.slice(i + 1, end - 1);
    return raw.includes('\\') ? (JSON.parse(this.t.slice(i, end)) as string) : raw;
  }
  /**
   * End offset of the value at i. With `onItems`, the value is a List object: the start of each element of its
   * top-level "items" array is reported. Objects are checked for duplicate keys (JSON.parse keeps the last one;
   * the YAML library, like the API server's strict decoding, rejects them).
   */
  value(i: number, onItems?: (starts: number[]) => void): number {
    const t = this.t;
    const c = t.charCodeAt(i);
    if (c === 34) return this.stringEnd(i);
    if (c === 123) {
      let j = this.ws(i + 1);
      if (t.charCodeAt(j) === 125) return j + 1;
      let keys: Set<string> | undefined;
      let first: string | undefined;
      for (;;) {
        const ke = this.stringEnd(j);
        const k = this.key(j, ke);
        if (first === undefined) first = k;
        else {
          if (!keys) keys = new Set([first]);
          if (keys.has(k)) bail();
          keys.add(k);
        }
        j = this.ws(ke);
        j = this.ws(j + 1); // ':'
        j = onItems && k === 'items' ? this.array(j, onItems) : this.value(j);
        j = this.ws(j);
        if (t.charCodeAt(j) === 125) return j + 1;
        j = this.ws(j + 1); // ','
      }
    }
    if (c === 91) return this.array(i);
    // number, true, false, null
    let j = i;
    for (;;) {
      const d = t.charCodeAt(j);
      if (d === 44 || d === 125 || d === 93 || d === 32 || d === 10 || d === 13 || d === 9 || Number.isNaN(d)) return j;
      j++;
    }
  }
  private array(i: number, onItems?: (starts: number[]) => void): number {
    const t = this.t;
    const starts: number[] = [];
    let j = this.ws(i + 1);
    if (t.charCodeAt(j) === 93) {
      onItems?.(starts);
      return j + 1;
    }
    for (;;) {
      starts.push(j);
      j = this.ws(this.value(j));
      if (t.charCodeAt(j) === 93) {
        onItems?.(starts);
        return j + 1;
      }
      j = this.ws(j + 1);
    }
  }

  /** Offset of the deepest value that exists along `path` from the value at `start` (and the path length reached). */
  walk(start: number, path: ReadonlyArray<string | number>): { offset: number; depth: number } {
    const t = this.t;
    let at = start;
    let depth = 0;
    for (const seg of path) {
      const c = t.charCodeAt(at);
      let next = -1;
      if (c === 123) {
        let j = this.ws(at + 1);
        if (t.charCodeAt(j) !== 125) {
          for (;;) {
            const ke = this.stringEnd(j);
            const k = this.key(j, ke);
            j = this.ws(this.ws(ke) + 1);
            if (k === String(seg)) {
              next = j;
              break;
            }
            j = this.ws(this.value(j));
            if (t.charCodeAt(j) === 125) break;
            j = this.ws(j + 1);
          }
        }
      } else if (c === 91 && typeof seg === 'number') {
        let j = this.ws(at + 1);
        let n = 0;
        while (t.charCodeAt(j) !== 93) {
          if (n === seg) {
            next = j;
            break;
          }
          j = this.ws(this.value(j));
          if (t.charCodeAt(j) === 93) break;
          j = this.ws(j + 1);
          n++;
        }
      }
      if (next < 0) break;
      at = next;
      depth++;
    }
    return { offset: at, depth };
  }
}

// ---------------------------------------------------------------------------------------------------------
// YAML (block style)

export interface FastYamlDoc {
  /** the document's text is text.slice(start, end) (after a `---` line, up to the next) */
  start: number;
  end: number;
  /** null for an empty document */
  value: unknown;
  /** line and column of the top-level node (1-based; 0 for an empty document), counted as the text is read */
  contentLine: number;
  contentCol: number;
  /** for a `kind: List` document: line and column of each item of `items` */
  itemLines?: number[];
  itemCols?: number[];
}

/** Where the items of a `kind: List` are: line and column of each (see FastYamlDoc). */
interface ItemPlaces {
  lines: number[];
  cols: number[];
}

/**
 * The content lines of one document (blank and comment-only lines left out), as columns of numbers: one set of
 * arrays for the whole text, refilled for each document (no object per line).
 */
class Lines {
  /** offset of the line's first character */
  start = new Int32Array(1024);
  /** column of the first non-space character (0-based) */
  indent = new Int32Array(1024);
  /** offset just after the line's last character (no \r, no \n) */
  end = new Int32Array(1024);
  /** line number in the text (1-based) */
  line = new Int32Array(1024);
  n = 0;
  push(start: number, indent: number, end: number, line: number): void {
    if (this.n === this.start.length) [this.start, this.indent, this.end, this.line] = [twice(this.start), twice(this.indent), twice(this.end), twice(this.line)];
    this.start[this.n] = start;
    this.indent[this.n] = indent;
    this.end[this.n] = end;
    this.line[this.n++] = line;
  }
}

/** A copy of `a` in an array twice as long. */
function twice(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

const NULL_RE = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL_RE = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_RE = /^[-+]?[0-9]+$/;
const OCT_RE = /^0o[0-7]+$/;
const HEX_RE = /^0x[0-9a-fA-F]+$/;
const EXP_RE = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT_RE = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;
const SPECIAL_FLOAT_RE = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;

/** A plain scalar as the YAML 1.2 core schema resolves it (the library's default). */
export function resolvePlain(s: string): unknown {
  const c = s.charCodeAt(0);
  // Fast exits: most plain scalars are words, and what starts with a letter can only be null or a boolean.
  if (!(c === 126 || c === 110 || c === 78 || c === 116 || c === 84 || c === 102 || c === 70 || c === 43 || c === 45 || c === 46 || (c >= 48 && c <= 57) || s === '')) return s;
  if (c === 126 || c === 110 || c === 78 || s === '') return NULL_RE.test(s) ? null : s;
  if (c === 116 || c === 84 || c === 102 || c === 70) return BOOL_RE.test(s) ? c === 116 || c === 84 : s;
  // No number has two dots (addresses do).
  if (s.indexOf('.') !== s.lastIndexOf('.')) return s;
  if (OCT_RE.test(s)) return parseInt(s.slice(2), 8);
  if (INT_RE.test(s)) return parseInt(s, 10);
  if (HEX_RE.test(s)) return parseInt(s.slice(2), 16);
  if (SPECIAL_FLOAT_RE.test(s)) return s.endsWith('n') || s.endsWith('N') ? NaN : s[0] === '-' ? -Infinity : Infinity;
  if (EXP_RE.test(s) || FLOAT_RE.test(s)) return parseFloat(s);
  return s;
}

/** Reads every document of a block-style YAML text, or gives up (undefined). */
export function fastYaml(text: string): FastYamlDoc[] | undefined {
  const docs: FastYamlDoc[] = [];
  return fastYamlEach(text, (d) => void docs.push(d)) ? docs : undefined;
}

/**
 * fastYaml, each document given to `onDoc` as soon as it is read (so its value can die young); false when the
 * reader gave up (after some documents may have been given). `onDoc` may throw Bail to give up too.
 */
export function fastYamlEach(text: string, onDoc: (d: FastYamlDoc) => void): boolean {
  try {
    new YamlReader(text).documents(onDoc);
    return true;
  } catch (e) {
    if (e instanceof Bail) return false;
    throw e;
  }
}

class YamlReader {
  private readonly lines = new Lines();
  /** the current line */
  private li = 0;
  /** plain keys met, by length and end characters (keyText) */
  private readonly keyTexts = new Map<number, string>();
  constructor(private readonly t: string) {}

  documents(onDoc: (d: FastYamlDoc) => void): void {
    const t = this.t;
    if (t.charCodeAt(0) === 0xfeff) bail();
    let docStart = 0;
    let sawContent = false;
    let sawMarker = false;
    const flush = (end: number): void => {
      if (sawMarker || sawContent) onDoc(this.document(docStart, end));
      this.lines.n = 0;
    };
    let pos = 0;
    let line = 1;
    for (; pos < t.length; line++) {
      let nl = t.indexOf('\n', pos);
      if (nl < 0) nl = t.length;
      let end = nl;
      if (end > pos && t.charCodeAt(end - 1) === 13) end--;
      const c0 = t.charCodeAt(pos);
      if (c0 === 45 && t.startsWith('---', pos) && (end === pos + 3 || t.charCodeAt(pos + 3) === 32 || t.charCodeAt(pos + 3) === 9)) {
        if (/\S/.test(t.slice(pos + 3, end)) && !/^\s+#/.test(t.slice(pos + 3, end))) bail(); // content after ---
        flush(pos);
        docStart = nl + 1;
        sawMarker = true;
        sawContent = false;
      } else if (c0 === 46 && t.startsWith('...', pos)) bail();
      else if (c0 === 37 && !sawContent) bail(); // %YAML / %TAG directives
      else {
        let i = pos;
        while (t.charCodeAt(i) === 32) i++;
        if (t.charCodeAt(i) === 9 && i < end) bail(); // a tab in indentation
        if (i < end && t.charCodeAt(i) !== 35) {
          this.lines.push(pos, i - pos, end, line);
          sawContent = true;
        }
      }
      pos = nl + 1;
    }
    flush(t.length);
  }

  private document(start: number, end: number): FastYamlDoc {
    const lines = this.lines;
    if (lines.n === 0) return { start, end, value: null, contentLine: 0, contentCol: 0 };
    this.li = 0;
    let items: ItemPlaces | undefined;
    const value = this.node(lines.indent[0], -1, true, (s) => (items = s));
    if (this.li !== lines.n) bail();
    const isList = typeof value === 'object' && value !== null && !Array.isArray(value) && (value as Record<string, unknown>).kind === 'List' && Array.isArray((value as Record<string, unknown>).items);
    const d: FastYamlDoc = { start, end, value, contentLine: lines.line[0], contentCol: lines.indent[0] + 1 };
    if (isList && items) [d.itemLines, d.itemCols] = [items.lines, items.cols];
    return d;
  }

  /** The node starting at column `col` of the current line (the line may start before col: `- key: v`). */
  private node(col: number, parentIndent: number, root: boolean, onItems?: (s: ItemPlaces) => void): unknown {
    const lines = this.lines;
    const lineEnd = lines.end[this.li];
    const t = this.t;
    const at = lines.start[this.li] + col;
    const c = t.charCodeAt(at);
    if (c === 45 && (at + 1 === lineEnd || t.charCodeAt(at + 1) === 32)) return this.sequence(col, onItems);
    if (c !== 91 && c !== 123) {
      const colon = this.keyEnd(at, lineEnd);
      if (colon >= 0) return this.mapping(col, colon, root ? onItems : undefined);
    }
    // A scalar or flow collection alone on its line(s).
    const v = this.inline(at, lineEnd);
    this.li++;
    if (this.li < lines.n && lines.indent[this.li] > parentIndent && !root) bail();
    return v;
  }

  /**
   * If the text at `at` is a mapping key followed by ':' (and a space or the end), the offset of that ':';
   * else -1.
   */
  private keyEnd(at: number, end: number): number {
    const t = this.t;
    const c = t.charCodeAt(at);
    if (c === 34 || c === 39) {
      const close = this.quotedEnd(at, end);
      if (close < 0) return -1;
      let j = close;
      while (t.charCodeAt(j) === 32) j++;
      return t.charCodeAt(j) === 58 && (j + 1 === end || t.charCodeAt(j + 1) === 32) ? j : -1;
    }
    if (c === 63 && (at + 1 === end || t.charCodeAt(at + 1) === 32)) bail(); // complex key
    for (let j = at; j < end; j++) {
      const d = t.charCodeAt(j);
      if (d === 35 && (t.charCodeAt(j - 1) === 32 || t.charCodeAt(j - 1) === 9)) return -1; // the rest is a comment
      if (d === 58 && (j + 1 === end || t.charCodeAt(j + 1) === 32 || t.charCodeAt(j + 1) === 9)) return j;
    }
    return -1;
  }

  /** Offset after the closing quote of the quoted scalar at `at` on this line; -1 if it does not close here. */
  private quotedEnd(at: number, end: number): number {
    const t = this.t;
    const q = t.charCodeAt(at);
    for (let j = at + 1; j < end; j++) {
      const c = t.charCodeAt(j);
      if (q === 39 && c === 39) {
        if (t.charCodeAt(j + 1) === 39) j++;
        else return j + 1;
      } else if (q === 34 && c === 92) j++;
      else if (q === 34 && c === 34) return j + 1;
    }
    return -1;
  }

  private quoted(at: number, close: number): string {
    const t = this.t;
    if (t.charCodeAt(at) === 39) return t.slice(at + 1, close - 1).replace(/''/g, "'");
    const raw = t.slice(at, close);
    if (!raw.includes('\\')) return raw.slice(1, -1);
    if (/\\[^"\\/bfnrtu]/.test(raw)) bail(); // YAML-only escapes
    try {
      return JSON.parse(raw) as string;
    } catch {
      return bail();
    }
  }

  /** The rest of a line after a comment is cut off: offset of the end of the content. */
  private contentEnd(from: number, end: number): number {
    const t = this.t;
    for (let h = from; h < end; h++) {
      if (t.charCodeAt(h) !== 35) continue;
      const p = t.charCodeAt(h - 1);
      if (h === from || p === 32 || p === 9) {
        end = h;
        break;
      }
    }
    while (end > from && (t.charCodeAt(end - 1) === 32 || t.charCodeAt(end - 1) === 9)) end--;
    return end;
  }

  /** A scalar or flow collection from `at` to the end of the line (a comment may follow). */
  private inline(at: number, end: number): unknown {
    const t = this.t;
    const c = t.charCodeAt(at);
    if (c === 34 || c === 39) {
      const close = this.quotedEnd(at, end);
      if (close < 0) bail(); // multi-line quoted scalar
      if (this.contentEnd(close, end) !== close) bail();
      return this.quoted(at, close);
    }
    if (c === 91 || c === 123) return this.flow(at, end);
    const e = this.plainEnd(at, end);
    const s = t.slice(at, e);
    // Indicators a plain scalar cannot start with (anchors, aliases, tags, block scalars, reserved).
    if (c === 38 || c === 42 || c === 33 || c === 124 || c === 62 || c === 37 || c === 64 || c === 96 || c === 44 || c === 93 || c === 125 || c === 35) bail();
    if ((c === 63 || c === 58 || c === 45) && (s.length === 1 || s.charCodeAt(1) === 32)) bail();
    return resolvePlain(s);
  }

  /**
   * contentEnd for a plain scalar, in the same pass giving up on a ':' followed by a space, a tab or the end of the
   * content (the library would read a mapping, or the scalar differently).
   */
  private plainEnd(at: number, end: number): number {
    const t = this.t;
    let e = end;
    for (let h = at; h < end; h++) {
      const d = t.charCodeAt(h);
      if (d === 35) {
        const p = t.charCodeAt(h - 1);
        if (h === at || p === 32 || p === 9) {
          e = h;
          break;
        }
      } else if (d === 58) {
        const n = t.charCodeAt(h + 1);
        if (h + 1 === end || n === 32 || n === 9) bail();
      }
    }
    while (e > at && (t.charCodeAt(e - 1) === 32 || t.charCodeAt(e - 1) === 9)) e--;
    return e;
  }

  /**
   * A flow collection that opens at `at` and closes on this line (only spaces or a comment may follow): nested
   * `[...]` and `{...}`, plain and quoted scalars. Gives up on what the YAML library might read otherwise:
   * implicit pairs (`[a: b]`), keys without values, complex keys, comments inside, tabs, anything across lines.
   */
  private flow(at: number, end: number): unknown {
    const r = new FlowReader(this.t, end, (a, b) => this.quotedEnd(a, b), (a, b) => this.quoted(a, b));
    const v = r.node(at);
    let i = r.pos;
    while (i < end && this.t.charCodeAt(i) === 32) i++;
    if (i < end && !(this.t.charCodeAt(i) === 35 && i > r.pos)) bail(); // only a comment after a space may follow
    return v;
  }

  /** A block mapping at column `col`; its first key ends at `firstColon` (found by the caller). */
  private mapping(col: number, firstColon: number, onItems?: (s: ItemPlaces) => void): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const t = this.t;
    const lines = this.lines;
    let first = true;
    while (this.li < lines.n) {
      const li = this.li;
      const lineStart = lines.start[li];
      const indent = lines.indent[li];
      const lineEnd = lines.end[li];
      if (!first) {
        if (indent < col) break;
        if (indent > col) bail();
      }
      const at = first ? lineStart + col : lineStart + indent;
      const colon = first ? firstColon : this.keyEnd(at, lineEnd);
      first = false;
      if (colon < 0) bail();
      const c = t.charCodeAt(at);
      let key: string;
      if (c === 34 || c === 39) key = this.quoted(at, this.quotedEnd(at, lineEnd));
      else {
        let e = colon;
        while (t.charCodeAt(e - 1) === 32 || t.charCodeAt(e - 1) === 9) e--;
        key = this.plainKey(at, e);
      }
      if (key === '__proto__' || Object.prototype.hasOwnProperty.call(out, key)) bail();
      let v = colon + 1;
      while (t.charCodeAt(v) === 32 || t.charCodeAt(v) === 9) v++;
      // nothing or only a comment after the key (v is past spaces and tabs, so contentEnd(v, lineEnd) === v)
      if (v === lineEnd || t.charCodeAt(v) === 35) {
        // The value is on the following lines: more indented, or a sequence at this same column.
        const next = ++this.li;
        const more = next < lines.n;
        if (more && lines.indent[next] > col) out[key] = this.node(lines.indent[next], col, false, onItems && key === 'items' ? onItems : undefined);
        else if (more && lines.indent[next] === col && this.isSeqLine(next)) out[key] = this.sequence(col, onItems && key === 'items' ? onItems : undefined);
        else out[key] = null;
      } else {
        const cv = t.charCodeAt(v);
        if (cv === 45 && (v + 1 === lineEnd || t.charCodeAt(v + 1) === 32)) bail();
        out[key] = this.inline(v, lineEnd);
        this.li++;
      }
    }
    return out;
  }

  /**
   * The text of a plain key; gives up on keys the library might read otherwise. Manifests repeat a few dozen keys:
   * the last key met with the same length and end characters is compared in place and returned when it is the same
   * (a string V8 already holds as a property name, where a new one would first be looked up in its string table;
   * and it passed the checks below when it was first met: a key that fails them ends this reader).
   */
  private plainKey(at: number, e: number): string {
    const t = this.t;
    const n = e - at;
    const c = t.charCodeAt(at);
    const slot = n * 65536 + ((c & 255) << 8) + (t.charCodeAt(e - 1) & 255);
    const known = this.keyTexts.get(slot);
    if (known !== undefined && known.length === n && t.startsWith(known, at)) return known;
    if (c === 38 || c === 42 || c === 33 || c === 124 || c === 62 || c === 37 || c === 64 || c === 96 || c === 91 || c === 123 || c === 45 || c === 44) bail();
    const k = t.slice(at, e);
    if (typeof resolvePlain(k) !== 'string' || k === '<<') bail();
    this.keyTexts.set(slot, k);
    return k;
  }

  /** Does content line `i` start with a `- ` sequence entry? */
  private isSeqLine(i: number): boolean {
    const at = this.lines.start[i] + this.lines.indent[i];
    return this.t.charCodeAt(at) === 45 && (at + 1 === this.lines.end[i] || this.t.charCodeAt(at + 1) === 32);
  }

  private sequence(col: number, onItems: ((s: ItemPlaces) => void) | undefined): unknown[] {
    const out: unknown[] = [];
    // where the items are, only for the `items` of a List
    const places: ItemPlaces | undefined = onItems && { lines: [], cols: [] };
    const t = this.t;
    const lines = this.lines;
    while (this.li < lines.n) {
      const li = this.li;
      const lineStart = lines.start[li];
      const indent = lines.indent[li];
      const lineEnd = lines.end[li];
      if (indent < col) break;
      if (indent > col) bail();
      if (!this.isSeqLine(li)) break;
      let v = lineStart + col + 1;
      while (t.charCodeAt(v) === 32) v++;
      if (t.charCodeAt(v) === 9) bail();
      // nothing or only a comment after the `-` (v is past spaces and not at a tab: see mapping)
      if (v === lineEnd || t.charCodeAt(v) === 35) {
        const next = ++this.li;
        if (next < lines.n && lines.indent[next] > col) {
          if (places) this.place(places, next, lines.start[next] + lines.indent[next]);
          out.push(this.node(lines.indent[next], col, false, undefined));
        } else {
          if (places) this.place(places, li, v);
          out.push(null);
        }
        continue;
      }
      const c = t.charCodeAt(v);
      if (c === 45 && (v + 1 === lineEnd || t.charCodeAt(v + 1) === 32)) bail(); // `- - x`
      if (places) this.place(places, li, v);
      const colon = c !== 91 && c !== 123 ? this.keyEnd(v, lineEnd) : -1;
      if (colon >= 0) out.push(this.mapping(v - lineStart, colon, undefined));
      else {
        out.push(this.inline(v, lineEnd));
        this.li++;
        if (this.li < lines.n && lines.indent[this.li] > col) bail();
      }
    }
    if (places && onItems) onItems(places);
    return fitted(out);
  }

  /** Records the item at offset `at` of content line `li` (its line and column). */
  private place(p: ItemPlaces, li: number, at: number): void {
    p.lines.push(this.lines.line[li]);
    p.cols.push(at - this.lines.start[li] + 1);
  }
}

/**
 * The elements of a list built by push in an array of their own length: the first push gives room for 17, and a
 * large input keeps thousands of lists of one to three values (136 bytes each to hold and to copy through GC).
 */
export function fitted<T>(list: T[]): T[] {
  return list.slice();
}

/** Flow collections on one line, from offset `pos` (see YamlReader.flow). */
class FlowReader {
  pos = 0;
  constructor(
    private readonly t: string,
    private readonly end: number,
    private readonly quotedEnd: (at: number, end: number) => number,
    private readonly quoted: (at: number, close: number) => string,
  ) {}

  private ws(): number {
    while (this.pos < this.end && this.t.charCodeAt(this.pos) === 32) this.pos++;
    return this.pos < this.end ? this.t.charCodeAt(this.pos) : -1;
  }

  /** A node at `at`: a collection, a quoted or a plain scalar. */
  node(at: number): unknown {
    this.pos = at;
    const c = this.t.charCodeAt(at);
    if (c === 91) return this.seq();
    if (c === 123) return this.map();
    return this.scalar().value;
  }

  private seq(): unknown[] {
    const out: unknown[] = [];
    this.pos++; // [
    for (;;) {
      const c = this.ws();
      if (c === 93) {
        this.pos++;
        return fitted(out);
      }
      out.push(this.node(this.pos));
      const d = this.ws();
      if (d === 44) this.pos++;
      else if (d !== 93) bail(); // ':' (an implicit pair), end of line, anything else
    }
  }

  private map(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.pos++; // {
    for (;;) {
      const c = this.ws();
      if (c === 125) {
        this.pos++;
        return out;
      }
      if (c === 91 || c === 123) bail(); // a collection as a key
      const k = this.scalar();
      if (typeof k.value !== 'string' || (!k.quoted && k.value === '<<') || k.value === '__proto__' || Object.prototype.hasOwnProperty.call(out, k.value)) bail();
      // `key: value` with a space after the colon; no value (`{a}`, `{a: }`) is left to the library
      if (this.ws() !== 58 || this.t.charCodeAt(this.pos + 1) !== 32) bail();
      this.pos++;
      const v = this.ws();
      if (v === 44 || v === 125 || v === -1) bail();
      out[k.value as string] = this.node(this.pos);
      const d = this.ws();
      if (d === 44) this.pos++;
      else if (d !== 125) bail();
    }
  }

  private scalar(): { value: unknown; quoted: boolean } {
    const t = this.t;
    const at = this.pos;
    const c = t.charCodeAt(at);
    if (c === 34 || c === 39) {
      const close = this.quotedEnd(at, this.end);
      if (close < 0) bail();
      this.pos = close;
      return { value: this.quoted(at, close), quoted: true };
    }
    // Indicators a plain scalar cannot start with here (and `:`/`?`, which may start an implicit key).
    if (c === 38 || c === 42 || c === 33 || c === 124 || c === 62 || c === 37 || c === 64 || c === 96 || c === 44 || c === 93 || c === 125 || c === 35 || c === 58 || c === 63) bail();
    if (c === 45 && this.endsPlain(at + 1)) bail();
    let j = at;
    for (; j < this.end; j++) {
      const d = t.charCodeAt(j);
      if (d === 44 || d === 91 || d === 93 || d === 123 || d === 125) break;
      if (d === 58 && this.endsPlain(j + 1)) break;
      if (d === 9 || (d === 35 && t.charCodeAt(j - 1) === 32)) bail(); // a tab; a comment inside the collection
    }
    let e = j;
    while (e > at && t.charCodeAt(e - 1) === 32) e--;
    if (e === at) bail();
    this.pos = j;
    return { value: resolvePlain(t.slice(at, e)), quoted: false };
  }

  /** After a `:` or `-`: does the plain scalar end here (a space, a flow indicator, the end of the line)? */
  private endsPlain(i: number): boolean {
    if (i >= this.end) return true;
    const d = this.t.charCodeAt(i);
    return d === 32 || d === 9 || d === 44 || d === 91 || d === 93 || d === 123 || d === 125;
  }
}
