// Reading fields of one object with exact errors. Every reader takes the value and its field path, checks the
// type, and on a mismatch reports `expected X, found Y` at the field's line and column, then returns undefined so
// the caller carries on and the run reports every problem together.
import type { Diagnostics, FieldPath, ObjectRef } from './diagnostics';
import type { SourcePlace } from '../manifests/source';
import type { Origin } from './types';
import type { Selector } from './selector/ast';
import { ALL } from './selector/ast';
import { fromLabelSelector, parseCalicoSelector, validateLabels } from './selector';

export type Path = (string | number)[];

/**
 * `[...path, key]` in an array of its own length: readers make a path for every field they read (used only when
 * one is wrong), and an array spread is slow and leaves room for 17 elements more.
 */
export function sub(path: Path, key: string | number): Path {
  switch (path.length) {
    case 0: return [key];
    case 1: return [path[0], key];
    case 2: return [path[0], path[1], key];
    case 3: return [path[0], path[1], path[2], key];
    case 4: return [path[0], path[1], path[2], path[3], key];
    case 5: return [path[0], path[1], path[2], path[3], path[4], key];
    default: return path.concat([key]);
  }
}

/** `[...path, a, b]` in an array of its own length (see sub). */
export function sub2(path: Path, a: string | number, b: string | number): Path {
  switch (path.length) {
    case 0: return [a, b];
    case 1: return [path[0], a, b];
    case 2: return [path[0], path[1], a, b];
    case 3: return [path[0], path[1], path[2], a, b];
    case 4: return [path[0], path[1], path[2], path[3], a, b];
    default: return path.concat([a, b]);
  }
}

/** Diagnostic codes of the model pass: one table, so tests and tools can match on them. */
export const CODES = {
  'yaml-syntax': 'the text is not valid YAML or JSON',
  'bad-object': 'a document is not a Kubernetes object (apiVersion, kind, metadata.name)',
  'skipped-kind': 'a kind Tollgate does not read (warning)',
  'bad-api-version': 'a known kind under an apiVersion Tollgate does not read',
  'bad-type': 'a field has the wrong type',
  'required': 'a required field is missing',
  'bad-value': 'a field is not one of its allowed values',
  'bad-name': 'a name is not a valid DNS label or port name',
  'bad-cidr': 'a CIDR or IP address does not parse',
  'cidr-host-bits': 'a CIDR has host bits set; normalised as the API server does (warning)',
  'bad-except': 'an ipBlock except is not strictly inside its cidr',
  'mixed-family': 'addresses of both IP families where one is required',
  'bad-ip': 'an IP address does not parse',
  'port-range': 'a port number outside 1..65535 or a range that ends before it starts',
  'bad-end-port': 'endPort without a numeric port, or below it',
  'bad-protocol': 'an unknown protocol',
  'bad-selector': 'a selector that does not parse',
  'bad-labels': 'a label key or value Kubernetes rejects',
  'bad-icmp': 'ICMP fields on a non-ICMP rule, or code without type',
  'bad-ports-protocol': 'ports on a rule whose protocol has no ports',
  'ip-version': 'ipVersion disagrees with the rule\'s nets or ICMP version',
  'priority-range': 'AdminNetworkPolicy priority outside 0..1000',
  'same-priority': 'two AdminNetworkPolicies at one priority (warning)',
  'banp-name': 'BaselineAdminNetworkPolicy not named default',
  'too-many-rules': 'more than 100 AdminNetworkPolicy rules in one direction',
  'duplicate': 'the same kind/namespace/name twice',
  'unknown-tier': 'a Calico policy in a tier that is not declared',
  'unsupported': 'valid upstream but not expressible by Tollgate: refused rather than approximated',
  'not-enforced': 'a field that is accepted but not enforced on pod interfaces (warning)',
  'no-ip': 'a pod without an IP cannot be enforced (warning)',
  'bad-quantity': 'a bandwidth annotation that is not a reasonable Kubernetes quantity',
  'tenant': 'an object a tenant may not submit',
  'input': 'an input path that cannot be read',
  'unknown-field': 'a field the kind does not have, e.g. a misspelling (an error in policy parts, a warning in metadata)',
  'yaml': 'a YAML warning',
} as const;
export type Code = keyof typeof CODES;

/** How a value looks in a message: strings quoted, structures named by shape. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return typeof v;
}

export function isMapValue(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** key\0value pairs already found valid (validation is pure, so the answer never changes). */
const VALID_LABELS = new Set<string>();

/**
 * Valid label selectors that are matchLabels alone, by their labels (matchLabelsKey): policies repeat the same few
 * selectors, so each is checked and built once, and the policies share one Selector (the model is never mutated).
 */
const MATCH_LABELS_SELECTORS = new Map<string, Selector>();

/** A text that names `{matchLabels: {...}}` with string values exactly (lengths make it unambiguous); else undefined. */
function matchLabelsKey(v: unknown): string | undefined {
  if (!isMapValue(v)) return undefined;
  let key: string | undefined;
  for (const k in v) {
    const ml = v[k];
    if (k !== 'matchLabels' || !isMapValue(ml)) return undefined;
    key = '';
    for (const lk in ml) {
      const lv = ml[lk];
      if (typeof lv !== 'string') return undefined;
      key += `${lk.length}:${lk}${lv.length}:${lv}`;
    }
  }
  return key;
}

/** Field reader bound to one object: reports at `file:line:col: error: Kind ns/name: path: message`. */
export class Reader {
  constructor(
    readonly src: SourcePlace,
    readonly ref: ObjectRef,
    readonly diags: Diagnostics,
  ) {}

  private _origin?: Origin;
  /** The object's origin; one object per Reader, so it can key maps. */
  get origin(): Origin {
    return (this._origin ??= { ref: this.ref, location: this.src.locate([]) });
  }

  error(code: Code, path: FieldPath, message: string): void {
    this.diags.error(code, message, { location: this.src.locate(path), object: this.ref, path: [...path] });
  }
  warn(code: Code, path: FieldPath, message: string): void {
    this.diags.warn(code, message, { location: this.src.locate(path), object: this.ref, path: [...path] });
  }
  /** An error pointing at a character inside a string value (selector syntax). */
  errorInString(code: Code, path: FieldPath, offset: number, message: string): void {
    this.diags.error(code, message, { location: this.src.locateInString(path, offset), object: this.ref, path: [...path] });
  }

  /**
   * Refuses keys a policy part does not have. A misspelt field is otherwise silently absent, and absent mostly means
   * "everything": `port:` for `ports:` allows every port, `notnets:` excludes nothing. The API server refuses such
   * input under strict field validation (kubectl's default), so an unknown field here is an error. Returns whether
   * every key is known.
   */
  knownFields(m: Record<string, unknown> | undefined, path: Path, known: readonly string[]): boolean {
    return this.checkFields(m, path, known, true);
  }
  /**
   * Warns about keys outside the fields a part is known to have, in parts Tollgate does not enforce from
   * (object metadata): real manifests carry fields Tollgate need not read, and a newer API may add some.
   */
  lenientFields(m: Record<string, unknown> | undefined, path: Path, known: readonly string[]): void {
    this.checkFields(m, path, known, false);
  }
  private checkFields(m: Record<string, unknown> | undefined, path: Path, known: readonly string[], strict: boolean): boolean {
    if (!m) return true;
    let ok = true;
    // for-in with the own-key test: the keys of Object.keys in its order, without an array per object
    for (const k in m) {
      if (!Object.prototype.hasOwnProperty.call(m, k) || known.includes(k)) continue;
      ok = false;
      const hint = closestField(k, known);
      const text = `unknown field ${JSON.stringify(k)}${strict ? '' : ' ignored'}${hint ? ` (did you mean ${hint}?)` : ''}; expected one of ${known.join(', ')}`;
      if (strict) this.error('unknown-field', [...path, k], text);
      else this.warn('unknown-field', [...path, k], text);
    }
    return ok;
  }

  /** A map, or undefined when absent/null. */
  map(v: unknown, path: Path): Record<string, unknown> | undefined {
    if (v === undefined || v === null) return undefined;
    if (isMapValue(v)) return v;
    this.error('bad-type', path, `expected a map, found ${describe(v)}`);
    return undefined;
  }
  /** A list, [] when absent/null. */
  list(v: unknown, path: Path): unknown[] {
    if (v === undefined || v === null) return [];
    if (Array.isArray(v)) return v;
    this.error('bad-type', path, `expected a list, found ${describe(v)}`);
    return [];
  }
  string(v: unknown, path: Path): string | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    this.error('bad-type', path, `expected a string, found ${describe(v)}`);
    return undefined;
  }
  requiredString(v: unknown, path: Path, what = 'a string'): string | undefined {
    if (v === undefined || v === null || v === '') {
      this.error('required', path, `expected ${what}, found ${v === '' ? 'an empty string' : 'nothing'}`);
      return undefined;
    }
    return this.string(v, path);
  }
  bool(v: unknown, path: Path, dflt: boolean): boolean {
    if (v === undefined || v === null) return dflt;
    if (typeof v === 'boolean') return v;
    this.error('bad-type', path, `expected true or false, found ${describe(v)}`);
    return dflt;
  }
  /** An integer in [min, max]; `code` names the error class when the range is the problem. */
  int(v: unknown, path: Path, min: number, max: number, what: string, code: Code = 'bad-value'): number | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.error('bad-type', path, `expected ${what} (an integer ${min}..${max}), found ${describe(v)}`);
      return undefined;
    }
    if (v < min || v > max) {
      this.error(code, path, `expected ${what} in ${min}..${max}, found ${v}`);
      return undefined;
    }
    return v;
  }
  number(v: unknown, path: Path, what: string): number | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    this.error('bad-type', path, `expected ${what} (a number), found ${describe(v)}`);
    return undefined;
  }
  /** One of `allowed`, exactly as spelled. */
  oneOf<T extends string>(v: unknown, path: Path, allowed: readonly T[], what: string): T | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    this.error('bad-value', path, `expected ${what} (one of ${allowed.join(', ')}), found ${describe(v)}`);
    return undefined;
  }
  stringList(v: unknown, path: Path): string[] {
    const out: string[] = [];
    this.list(v, path).forEach((s, i) => {
      const str = this.string(s, [...path, i]);
      if (str !== undefined) out.push(str);
    });
    return out;
  }

  /** Labels (metadata.labels): a map of strings, with keys and values as Kubernetes validates them. */
  labels(v: unknown, path: Path): Record<string, string> {
    const m = this.map(v, path);
    if (!m) return {};
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(m)) {
      // Kubernetes stores label values as strings; YAML `tier: 1` or `on: true` would be rejected by the API server.
      if (typeof val !== 'string') {
        this.error('bad-labels', [...path, k], `expected a label value (a string), found ${describe(val)}`);
        continue;
      }
      out[k] = val;
    }
    // Most objects repeat the same few labels: validate each key=value pair once per run of the process.
    let fresh: Record<string, string> | undefined;
    for (const [k, val] of Object.entries(out)) {
      if (VALID_LABELS.has(`${k}\u0000${val}`)) continue;
      (fresh ??= {})[k] = val;
    }
    if (fresh) {
      const issues = validateLabels(fresh);
      for (const e of issues) this.error('bad-labels', [...path, ...e.path], e.message);
      const badKeys = new Set(issues.map((e) => String(e.path[0])));
      if (VALID_LABELS.size > 100_000) VALID_LABELS.clear();
      for (const [k, val] of Object.entries(fresh)) if (!badKeys.has(k)) VALID_LABELS.add(`${k}\u0000${val}`);
    }
    return out;
  }
  /** Annotations: a map of strings. */
  annotations(v: unknown, path: Path): Record<string, string> {
    const m = this.map(v, path);
    if (!m) return {};
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(m)) {
      if (typeof val !== 'string') this.error('bad-type', [...path, k], `expected an annotation value (a string), found ${describe(val)}`);
      else out[k] = val;
    }
    return out;
  }

  /** A Kubernetes LabelSelector (matchLabels/matchExpressions); undefined when absent. */
  labelSelector(v: unknown, path: Path): Selector | undefined {
    if (v === undefined || v === null) return undefined;
    const key = matchLabelsKey(v);
    const known = key === undefined ? undefined : MATCH_LABELS_SELECTORS.get(key);
    if (known) return known;
    const r = fromLabelSelector(v);
    for (const e of r.errors) this.error('bad-selector', [...path, ...e.path], e.message);
    if (r.errors.length) return undefined;
    if (key !== undefined && r.selector) {
      if (MATCH_LABELS_SELECTORS.size > 10_000) MATCH_LABELS_SELECTORS.clear();
      MATCH_LABELS_SELECTORS.set(key, r.selector);
    }
    return r.selector;
  }
  /** A Calico selector expression; undefined when absent, `all()` when empty. */
  calicoSelector(v: unknown, path: Path): Selector | undefined {
    if (v === undefined || v === null) return undefined;
    const text = this.string(v, path);
    if (text === undefined) return undefined;
    if (text.trim() === '') return ALL;
    const r = parseCalicoSelector(text);
    if (r.ok) return r.selector;
    this.errorInString('bad-selector', path, r.error.col - 1, `invalid selector at column ${r.error.col} of ${JSON.stringify(text)}: ${r.error.message}`);
    return undefined;
  }
}

/**
 * The known field a misspelt key most likely meant: the same but for case, or at most two edits away (one for
 * short names), nearest first; undefined when nothing is that close.
 */
export function closestField(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const same = known.find((c) => c.toLowerCase() === lower);
  if (same) return same;
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of known) {
    const d = editDistance(lower, c.toLowerCase());
    if (d <= (Math.min(key.length, c.length) <= 4 ? 1 : 2) && d < bestDist) [best, bestDist] = [c, d];
  }
  return best;
}

/** Levenshtein distance (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/** DNS-1123 label: namespace names, and the shape Kubernetes wants for many names. */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** IANA_SVC_NAME as Kubernetes validates a named port: 1-15 chars, a-z0-9 and '-', a letter, no '--', no edge '-'. */
export function isPortName(s: string): boolean {
  return s.length >= 1 && s.length <= 15 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(s) && /[a-z]/.test(s) && !s.includes('--');
}
