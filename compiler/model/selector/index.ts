// The selector module: one AST (ast.ts) for Kubernetes label selectors and Calico selector expressions.
export * from './ast';
export { parseCalicoSelector } from './parse-calico';
export type { ParseResult, SelectorSyntaxError } from './parse-calico';
export { fromLabelSelector } from './k8s';
export type { LabelSelectorResult } from './k8s';
export { printSelector, normalizeSelector } from './print';
export { matchSelector } from './match';
export type { MatchOptions } from './match';
export { validateLabels, labelKeyProblem, labelValueProblem } from './labels';
export type { SelectorIssue } from './labels';
