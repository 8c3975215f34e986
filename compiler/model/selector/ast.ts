// One selector AST for both languages: Kubernetes label selectors (matchLabels / matchExpressions) and
// Calico's selector expressions lower to the same nodes, so resolve/ and ir/ know a single form.
//
// Semantics (shared by both languages, as upstream defines them):
// - `eq`      key present and value equal.
// - `ne`      key absent, or present with another value (Calico `!=`).
// - `in`      key present and value among `values` (k8s In, Calico `in {}`).
// - `notin`   key absent, or value not among `values` (k8s NotIn, Calico `not in {}`).
// - `has`     key present (k8s Exists, Calico `has()`); `!has()` is `not(has)`, k8s DoesNotExist too.
// - `contains` / `startswith` / `endswith`: key present and the value has that substring/prefix/suffix.
// - `all`     matches every labelled object in scope (k8s `{}`, Calico `all()` and the empty string).
// - `global`  Calico `global()`: matches non-namespaced objects only (used in namespaceSelector).
// - `none`    matches nothing (never written by users; produced by lowering, e.g. an empty In list).

export type Selector =
  | { op: 'all' }
  | { op: 'none' }
  | { op: 'global' }
  | { op: 'has'; key: string }
  | { op: 'eq' | 'ne' | 'contains' | 'startswith' | 'endswith'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'not'; arg: Selector }
  | { op: 'and' | 'or'; args: Selector[] };

export type Labels = Readonly<Record<string, string>>;

export const ALL: Selector = { op: 'all' };
export const NONE: Selector = { op: 'none' };
