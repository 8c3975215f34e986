// Kubernetes LabelSelector (matchLabels / matchExpressions) -> the shared Selector AST.
// All terms are ANDed; `{}` (and null/absent) selects everything, as the API defines.
import type { Selector } from './ast';
import { ALL } from './ast';
import { describe, keyIssue, valueIssue } from './labels';
import type { Path, SelectorIssue } from './labels';

export interface LabelSelectorResult {
  /** set when there are no errors */
  selector?: Selector;
  errors: SelectorIssue[];
}

const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
type Operator = (typeof OPERATORS)[number];

export function fromLabelSelector(value: unknown): LabelSelectorResult {
  if (value === undefined || value === null) return { selector: ALL, errors: [] };
  const errors: SelectorIssue[] = [];
  if (!isMap(value)) return { errors: [{ path: [], message: `expected a label selector (a map with matchLabels and/or matchExpressions), found ${describe(value)}` }] };
  const terms: Selector[] = [];
  for (const k of Object.keys(value)) {
    if (k !== 'matchLabels' && k !== 'matchExpressions') errors.push({ path: [k], message: `expected matchLabels or matchExpressions, found the field ${JSON.stringify(k)}` });
  }
  const ml = value.matchLabels;
  if (ml !== undefined && ml !== null) {
    if (!isMap(ml)) errors.push({ path: ['matchLabels'], message: `expected a map of label keys to values, found ${describe(ml)}` });
    else
      for (const [k, v] of Object.entries(ml)) {
        const path: Path = ['matchLabels', k];
        const ki = keyIssue(k, path);
        if (ki) errors.push(ki);
        if (typeof v !== 'string') {
          errors.push({ path, message: `expected a label value (a string), found ${describe(v)}` });
          continue;
        }
        const vi = valueIssue(v, path);
        if (vi) errors.push(vi);
        terms.push({ op: 'eq', key: k, value: v });
      }
  }
  const me = value.matchExpressions;
  if (me !== undefined && me !== null) {
    if (!Array.isArray(me)) errors.push({ path: ['matchExpressions'], message: `expected a list of label selector requirements, found ${describe(me)}` });
    else me.forEach((req: unknown, i: number) => {
      const t = requirement(req, ['matchExpressions', i], errors);
      if (t) terms.push(t);
    });
  }
  if (errors.length) return { errors };
  return { selector: terms.length === 0 ? ALL : terms.length === 1 ? terms[0] : { op: 'and', args: terms }, errors };
}

function requirement(req: unknown, path: Path, errors: SelectorIssue[]): Selector | undefined {
  if (!isMap(req)) {
    errors.push({ path, message: `expected a label selector requirement (a map with key, operator and values), found ${describe(req)}` });
    return undefined;
  }
  const before = errors.length;
  for (const k of Object.keys(req)) {
    if (k !== 'key' && k !== 'operator' && k !== 'values') errors.push({ path: [...path, k], message: `expected key, operator or values, found the field ${JSON.stringify(k)}` });
  }
  const key = req.key;
  if (typeof key !== 'string') errors.push({ path: [...path, 'key'], message: `expected a label key (a string), found ${key === undefined ? 'nothing' : describe(key)}` });
  else {
    const ki = keyIssue(key, [...path, 'key']);
    if (ki) errors.push(ki);
  }
  const op = req.operator;
  let operator: Operator | undefined;
  if (typeof op === 'string' && (OPERATORS as readonly string[]).includes(op)) operator = op as Operator;
  else errors.push({ path: [...path, 'operator'], message: `expected operator In, NotIn, Exists or DoesNotExist, found ${op === undefined ? 'nothing' : describe(op)}` });

  const raw = req.values;
  let values: string[] = [];
  if (raw !== undefined && raw !== null) {
    if (!Array.isArray(raw)) errors.push({ path: [...path, 'values'], message: `expected a list of label values, found ${describe(raw)}` });
    else
      raw.forEach((v: unknown, j: number) => {
        if (typeof v !== 'string') errors.push({ path: [...path, 'values', j], message: `expected a label value (a string), found ${describe(v)}` });
        else {
          const vi = valueIssue(v, [...path, 'values', j]);
          if (vi) errors.push(vi);
          values.push(v);
        }
      });
  }
  if (operator === 'In' || operator === 'NotIn') {
    if (Array.isArray(raw) ? raw.length === 0 : raw === undefined || raw === null)
      errors.push({ path: [...path, 'values'], message: `expected a non-empty list of values for operator ${operator}, found ${raw === undefined || raw === null ? 'none' : 'an empty list'}` });
  } else if (operator === 'Exists' || operator === 'DoesNotExist') {
    if (Array.isArray(raw) && raw.length > 0)
      errors.push({ path: [...path, 'values'], message: `expected no values for operator ${operator}, found ${raw.length} value${raw.length === 1 ? '' : 's'}` });
  }
  if (errors.length > before || typeof key !== 'string' || !operator) return undefined;
  values = [...values];
  switch (operator) {
    case 'In':
      return { op: 'in', key, values };
    case 'NotIn':
      return { op: 'notin', key, values };
    case 'Exists':
      return { op: 'has', key };
    case 'DoesNotExist':
      return { op: 'not', arg: { op: 'has', key } };
  }
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
