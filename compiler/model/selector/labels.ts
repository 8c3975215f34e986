// Label keys and values as Kubernetes validates them (apimachinery's IsQualifiedName / IsValidLabelValue).
export type Path = (string | number)[];
export interface SelectorIssue {
  /** relative to the object passed in (the LabelSelector, or the labels map) */
  path: Path;
  message: string;
}

const NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const LABEL_KEY_RULE =
  "an optional DNS subdomain prefix and '/', then a name of at most 63 characters from [A-Za-z0-9._-] that starts and ends alphanumeric";
export const LABEL_VALUE_RULE = 'at most 63 characters from [A-Za-z0-9._-], starting and ending alphanumeric, or empty';

/** Why `key` is not a valid label key, or undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  if (key === '') return 'it is empty';
  const parts = key.split('/');
  if (parts.length > 2) return "it has more than one '/'";
  const name = parts[parts.length - 1];
  if (parts.length === 2) {
    const prefix = parts[0];
    if (prefix === '') return "the prefix before '/' is empty";
    if (prefix.length > 253) return `the prefix is ${prefix.length} characters long (at most 253)`;
    if (!prefix.split('.').every((l) => DNS1123_LABEL.test(l) && l.length <= 63)) return `the prefix ${JSON.stringify(prefix)} is not a lowercase DNS subdomain`;
  }
  if (name === '') return 'the name is empty';
  if (name.length > 63) return `the name is ${name.length} characters long (at most 63)`;
  if (!NAME.test(name)) return `the name ${JSON.stringify(name)} has characters outside [A-Za-z0-9._-] or does not start and end alphanumeric`;
  return undefined;
}

/** Why `value` is not a valid label value, or undefined when it is. */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63) return `it is ${value.length} characters long (at most 63)`;
  if (!NAME.test(value)) return 'it has characters outside [A-Za-z0-9._-] or does not start and end alphanumeric';
  return undefined;
}

export function keyIssue(key: string, path: Path): SelectorIssue | undefined {
  const why = labelKeyProblem(key);
  return why === undefined ? undefined : { path, message: `expected a label key (${LABEL_KEY_RULE}), found ${JSON.stringify(key)}: ${why}` };
}
export function valueIssue(value: string, path: Path): SelectorIssue | undefined {
  const why = labelValueProblem(value);
  return why === undefined ? undefined : { path, message: `expected a label value (${LABEL_VALUE_RULE}), found ${JSON.stringify(value)}: ${why}` };
}

/** Checks metadata.labels: a map from valid label keys to valid label values (strings). Paths are [key]. */
export function validateLabels(labels: unknown): SelectorIssue[] {
  if (labels === undefined || labels === null) return [];
  if (typeof labels !== 'object' || Array.isArray(labels)) return [{ path: [], message: `expected a map of labels, found ${describe(labels)}` }];
  const out: SelectorIssue[] = [];
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    const ki = keyIssue(k, [k]);
    if (ki) out.push(ki);
    if (typeof v !== 'string') out.push({ path: [k], message: `expected a label value (a string), found ${describe(v)}` });
    else {
      const vi = valueIssue(v, [k]);
      if (vi) out.push(vi);
    }
  }
  return out;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}
