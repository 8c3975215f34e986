// The Selector AST -> canonical Calico selector text.
// Canonical: single spaces around binary operators, `&&`/`||` flattened, parentheses only where precedence needs them
// (an `||` inside `&&`, an `&&`/`||` under `!`), values in single quotes unless they contain one.
// parseCalicoSelector(printSelector(s)) is structurally equal to normalizeSelector(s) for every s the grammar can
// express (see normalizeSelector). `none` has no Calico spelling; it prints as `!all()`, which means the same.
import type { Selector } from './ast';

export function printSelector(sel: Selector): string {
  return print(normalizeSelector(sel));
}

function print(sel: Selector): string {
  switch (sel.op) {
    case 'all':
      return 'all()';
    case 'none':
      return '!all()';
    case 'global':
      return 'global()';
    case 'has':
      return `has(${key(sel.key)})`;
    case 'eq':
      return `${key(sel.key)} == ${quote(sel.value)}`;
    case 'ne':
      return `${key(sel.key)} != ${quote(sel.value)}`;
    case 'contains':
      return `${key(sel.key)} contains ${quote(sel.value)}`;
    case 'startswith':
      return `${key(sel.key)} starts with ${quote(sel.value)}`;
    case 'endswith':
      return `${key(sel.key)} ends with ${quote(sel.value)}`;
    case 'in':
    case 'notin':
      return `${key(sel.key)} ${sel.op === 'in' ? 'in' : 'not in'} {${sel.values.map(quote).join(', ')}}`;
    case 'not': {
      const inner = print(sel.arg);
      return sel.arg.op === 'and' || sel.arg.op === 'or' ? `!(${inner})` : `!${inner}`;
    }
    case 'and':
      return sel.args.map((a) => (a.op === 'or' ? `(${print(a)})` : print(a))).join(' && ');
    case 'or':
      return sel.args.map(print).join(' || ');
  }
}

/**
 * The form the parser produces: nested `and`/`or` flattened, a one-argument `and`/`or` replaced by its argument,
 * an empty `and` is `all`, an empty `or` is `none`. Otherwise the tree is kept as it is (no reordering, `!!x` stays).
 */
export function normalizeSelector(sel: Selector): Selector {
  switch (sel.op) {
    case 'not':
      return { op: 'not', arg: normalizeSelector(sel.arg) };
    case 'in':
    case 'notin':
      return { op: sel.op, key: sel.key, values: [...sel.values] };
    case 'and':
    case 'or': {
      const flat: Selector[] = [];
      for (const a of sel.args) {
        const n = normalizeSelector(a);
        if (n.op === sel.op) flat.push(...n.args);
        else flat.push(n);
      }
      if (flat.length === 0) return sel.op === 'and' ? { op: 'all' } : { op: 'none' };
      return flat.length === 1 ? flat[0] : { op: sel.op, args: flat };
    }
    default:
      return { ...sel };
  }
}

const KEY = /^[A-Za-z0-9_./-]+$/;

function key(k: string): string {
  if (!KEY.test(k)) throw new Error(`cannot print the label key ${JSON.stringify(k)} as a Calico selector: expected [A-Za-z0-9_./-]+`);
  return k;
}

function quote(v: string): string {
  if (!v.includes("'")) return `'${v}'`;
  if (!v.includes('"')) return `"${v}"`;
  throw new Error(`cannot print the value ${JSON.stringify(v)} as a Calico selector: it holds both quote characters`);
}
