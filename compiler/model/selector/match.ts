// Evaluating a Selector against an object's labels, by the semantics written in ast.ts.
import type { Labels, Selector } from './ast';

export interface MatchOptions {
  /** the object is not namespaced (GlobalNetworkSet, HostEndpoint, a namespace as seen by namespaceSelector's global()) */
  global?: boolean;
}

export function matchSelector(sel: Selector, labels: Labels, opts: MatchOptions = {}): boolean {
  switch (sel.op) {
    case 'all':
      return true;
    case 'none':
      return false;
    case 'global':
      return opts.global === true;
    case 'has':
      return has(labels, sel.key);
    case 'eq':
      return has(labels, sel.key) && labels[sel.key] === sel.value;
    case 'ne':
      return !has(labels, sel.key) || labels[sel.key] !== sel.value;
    case 'contains':
      return has(labels, sel.key) && labels[sel.key].includes(sel.value);
    case 'startswith':
      return has(labels, sel.key) && labels[sel.key].startsWith(sel.value);
    case 'endswith':
      return has(labels, sel.key) && labels[sel.key].endsWith(sel.value);
    case 'in':
      return has(labels, sel.key) && sel.values.includes(labels[sel.key]);
    case 'notin':
      return !has(labels, sel.key) || !sel.values.includes(labels[sel.key]);
    case 'not':
      return !matchSelector(sel.arg, labels, opts);
    case 'and':
      return sel.args.every((a) => matchSelector(a, labels, opts));
    case 'or':
      return sel.args.some((a) => matchSelector(a, labels, opts));
  }
}

function has(labels: Labels, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(labels, key);
}
