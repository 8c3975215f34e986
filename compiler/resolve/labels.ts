// Selector evaluation against a label map, by the semantics written in model/selector/ast.ts.
// (A local reading of the shared AST so resolve/ does not wait on the selector module; both follow ast.ts.)
import type { Labels, Selector } from '../model/selector/ast';

export interface MatchContext {
  /** the object is non-namespaced (GlobalNetworkSet, HostEndpoint): only then does `global()` match */
  global?: boolean;
}

export function selectorMatches(sel: Selector, labels: Labels, ctx: MatchContext = {}): boolean {
  switch (sel.op) {
    case 'all':
      return true;
    case 'none':
      return false;
    case 'global':
      return ctx.global === true;
    case 'has':
      return Object.prototype.hasOwnProperty.call(labels, sel.key);
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
      return !selectorMatches(sel.arg, labels, ctx);
    case 'and':
      return sel.args.every((a) => selectorMatches(a, labels, ctx));
    case 'or':
      return sel.args.some((a) => selectorMatches(a, labels, ctx));
  }
}

function has(labels: Labels, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(labels, key);
}

/** A short readable form for messages (the selector module's printSelector is the full one). */
export function describeSelector(sel: Selector): string {
  switch (sel.op) {
    case 'all':
      return 'all()';
    case 'none':
      return 'none()';
    case 'global':
      return 'global()';
    case 'has':
      return `has(${sel.key})`;
    case 'eq':
      return `${sel.key} == "${sel.value}"`;
    case 'ne':
      return `${sel.key} != "${sel.value}"`;
    case 'contains':
      return `${sel.key} contains "${sel.value}"`;
    case 'startswith':
      return `${sel.key} starts with "${sel.value}"`;
    case 'endswith':
      return `${sel.key} ends with "${sel.value}"`;
    case 'in':
    case 'notin':
      return `${sel.key} ${sel.op === 'in' ? 'in' : 'not in'} {${sel.values.map((v) => `"${v}"`).join(', ')}}`;
    case 'not':
      return `!(${describeSelector(sel.arg)})`;
    case 'and':
    case 'or':
      return sel.args.map((a) => `(${describeSelector(a)})`).join(sel.op === 'and' ? ' && ' : ' || ');
  }
}
