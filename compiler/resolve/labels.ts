// Selector evaluation for resolve/: the selector module's matcher (model/selector/match.ts), under the name
// resolve/ uses. `global: true` marks non-namespaced objects, the only ones `global()` matches.
export { matchSelector as selectorMatches, type MatchOptions as MatchContext } from '../model/selector/match';
