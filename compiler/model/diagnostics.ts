// Diagnostics: every problem with the input, collected over a whole run and reported together.
// A diagnostic names where (file:line:col, or the object and field path), which object, what was expected
// and what was found. Errors make a run exit 2; warnings are printed and do not change the exit code.

export type Severity = 'error' | 'warning';

/** Where in the input a value came from. `line`/`col` are 1-based; absent when the source has no text. */
export interface Location {
  file: string;
  line?: number;
  col?: number;
}

/** The object a diagnostic is about, as the user wrote it. */
export interface ObjectRef {
  kind: string;
  namespace?: string;
  name: string;
}

export type FieldPath = ReadonlyArray<string | number>;

export interface Diagnostic {
  severity: Severity;
  /** Stable machine-readable code, e.g. 'bad-cidr', 'port-range'. */
  code: string;
  message: string;
  location?: Location;
  object?: ObjectRef;
  /** Field path inside the object, e.g. ['spec','ingress',0,'ports',1,'port']. */
  path?: FieldPath;
}

export function formatPath(path: FieldPath | undefined): string {
  if (!path || path.length === 0) return '';
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

export function formatObject(o: ObjectRef | undefined): string {
  if (!o) return '';
  return `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
}

export function formatLocation(l: Location | undefined): string {
  if (!l) return '';
  if (l.line === undefined) return l.file;
  return `${l.file}:${l.line}:${l.col ?? 1}`;
}

/** `file:line:col: error: Kind ns/name: spec.field: message` — one line, greppable, stable. */
export function formatDiagnostic(d: Diagnostic): string {
  const parts: string[] = [];
  const loc = formatLocation(d.location);
  if (loc) parts.push(loc);
  parts.push(d.severity);
  const obj = formatObject(d.object);
  if (obj) parts.push(obj);
  const path = formatPath(d.path);
  if (path) parts.push(path);
  parts.push(d.message);
  return parts.join(': ');
}

export class Diagnostics {
  readonly items: Diagnostic[] = [];
  add(d: Diagnostic): void {
    this.items.push(d);
  }
  error(code: string, message: string, at: Omit<Diagnostic, 'severity' | 'code' | 'message'> = {}): void {
    this.items.push({ severity: 'error', code, message, ...at });
  }
  warn(code: string, message: string, at: Omit<Diagnostic, 'severity' | 'code' | 'message'> = {}): void {
    this.items.push({ severity: 'warning', code, message, ...at });
  }
  get errors(): Diagnostic[] {
    return this.items.filter((d) => d.severity === 'error');
  }
  get warnings(): Diagnostic[] {
    return this.items.filter((d) => d.severity === 'warning');
  }
  hasErrors(): boolean {
    return this.items.some((d) => d.severity === 'error');
  }
}

/** Thrown by the pipeline when input errors stop a run; carries every diagnostic of the run. */
export class InputError extends Error {
  readonly exitCode = 2;
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic).join('\n'));
    this.name = 'InputError';
  }
}
