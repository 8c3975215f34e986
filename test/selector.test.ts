import assert from 'node:assert/strict';
import type { Selector } from '../compiler/model/selector';
import { fromLabelSelector, matchSelector, parseCalicoSelector, printSelector, validateLabels } from '../compiler/model/selector';

function ok(text: string): Selector {
  const r = parseCalicoSelector(text);
  if (!r.ok) assert.fail(`${text}: ${r.error.col}: ${r.error.message}`);
  return r.selector;
}
function bad(text: string): { col: number; message: string } {
  const r = parseCalicoSelector(text);
  if (r.ok) assert.fail(`${text} parsed as ${JSON.stringify(r.selector)}`);
  return r.error;
}

describe('selector: Calico parser', () => {
  it('parses every operator, both quote styles, prefixed keys', () => {
    assert.deepEqual(ok("app == 'web'"), { op: 'eq', key: 'app', value: 'web' });
    assert.deepEqual(ok('app != "web"'), { op: 'ne', key: 'app', value: 'web' });
    assert.deepEqual(ok(`k in {'a', "b"}`), { op: 'in', key: 'k', values: ['a', 'b'] });
    assert.deepEqual(ok("k not in {'a'}"), { op: 'notin', key: 'k', values: ['a'] });
    assert.deepEqual(ok('k in {}'), { op: 'in', key: 'k', values: [] });
    assert.deepEqual(ok('has(projectcalico.org/name)'), { op: 'has', key: 'projectcalico.org/name' });
    assert.deepEqual(ok('!has(a_b-c.d)'), { op: 'not', arg: { op: 'has', key: 'a_b-c.d' } });
    assert.deepEqual(ok("k contains 'x'"), { op: 'contains', key: 'k', value: 'x' });
    assert.deepEqual(ok("k starts with 'x'"), { op: 'startswith', key: 'k', value: 'x' });
    assert.deepEqual(ok("k ends   with 'x'"), { op: 'endswith', key: 'k', value: 'x' });
    assert.deepEqual(ok('all()'), { op: 'all' });
    assert.deepEqual(ok(' global ( ) '), { op: 'global' });
    assert.deepEqual(ok(''), { op: 'all' });
    assert.deepEqual(ok('  \t '), { op: 'all' });
    assert.deepEqual(ok(`v == "it's"`), { op: 'eq', key: 'v', value: "it's" });
    assert.deepEqual(ok("a=='b'&&c!='d'"), { op: 'and', args: [{ op: 'eq', key: 'a', value: 'b' }, { op: 'ne', key: 'c', value: 'd' }] });
    // words that name functions are keys when no '(' follows
    assert.deepEqual(ok("all == 'x'"), { op: 'eq', key: 'all', value: 'x' });
  });

  it('! binds tighter than &&, && tighter than ||; parentheses group and leave no node', () => {
    const a = { op: 'eq', key: 'a', value: '1' } as const;
    const b = { op: 'eq', key: 'b', value: '2' } as const;
    const c = { op: 'eq', key: 'c', value: '3' } as const;
    assert.deepEqual(ok("a == '1' || b == '2' && c == '3'"), { op: 'or', args: [a, { op: 'and', args: [b, c] }] });
    assert.deepEqual(ok("(a == '1' || b == '2') && c == '3'"), { op: 'and', args: [{ op: 'or', args: [a, b] }, c] });
    assert.deepEqual(ok("!a == '1' && b == '2'"), { op: 'and', args: [{ op: 'not', arg: a }, b] });
    assert.deepEqual(ok("!(a == '1' && b == '2')"), { op: 'not', arg: { op: 'and', args: [a, b] } });
    assert.deepEqual(ok("a == '1' && (b == '2' && c == '3')"), { op: 'and', args: [a, b, c] });
    assert.deepEqual(ok("((a == '1'))"), a);
    assert.deepEqual(ok("!!a == '1'"), { op: 'not', arg: { op: 'not', arg: a } });
  });

  it('reports the column of the offending character and what was expected and found', () => {
    const cases: [string, number, string][] = [
      ['x == y', 6, "expected a quoted value after '==', found 'y'"],
      ["role == 'tenant' &&", 20, "expected a label key, '!', '(', 'has(', 'all()' or 'global()', found the end of the selector"],
      ["app in {'a', 'b'", 17, "expected ',' or '}' to close the set opened at column 8, found the end of the selector"],
      ["(a == 'b'", 10, "expected ')' to close the '(' at column 1, found the end of the selector"],
      ["a = 'b'", 3, "expected an operator after the key 'a' ('==', '!=', 'in', 'not in', 'contains', 'starts with' or 'ends with'), found '='"],
      ["a == 'b", 6, "expected a closing ' for the value that opens here, found the end of the selector"],
      ["a == 'b' & c == 'd'", 10, "expected '&&', found '&' alone"],
      ["a == 'b' c == 'd'", 10, "expected '&&', '||' or the end of the selector, found 'c'"],
      ["k not 'a'", 7, "expected 'in' after 'not', found the quote '"],
      ["k starts 'a'", 10, "expected 'with' after 'starts', found the quote '"],
      ['has()', 5, "expected a label key inside 'has(', found ')'"],
      ["k in 'a'", 6, "expected '{' after 'in', found the quote '"],
      ['all(x)', 5, "expected ')' after 'all(', found 'x'"],
    ];
    for (const [text, col, message] of cases) assert.deepEqual(bad(text), { col, message }, text);
  });
});

describe('selector: printer', () => {
  it('prints canonical, minimally parenthesised Calico syntax', () => {
    assert.equal(printSelector(ok("(a=='1'||b=='2')&&!(c in {'x',\"y\"})")), "(a == '1' || b == '2') && !c in {'x', 'y'}");
    assert.equal(printSelector(ok("!(a == '1' || b == '2') || c == '3' && d ends with 'q'")), "!(a == '1' || b == '2') || c == '3' && d ends with 'q'");
    assert.equal(printSelector({ op: 'eq', key: 'k', value: "it's" }), `k == "it's"`);
    assert.equal(printSelector({ op: 'and', args: [{ op: 'and', args: [{ op: 'all' }, { op: 'global' }] }] }), 'all() && global()');
    assert.equal(printSelector({ op: 'none' }), '!all()');
    assert.throws(() => printSelector({ op: 'eq', key: 'k', value: `'"` }), /both quote characters/);
  });
});

describe('selector: Kubernetes LabelSelector', () => {
  it('converts matchLabels and every operator, ANDed in order', () => {
    const r = fromLabelSelector({
      matchLabels: { app: 'web', 'example.com/tier': '' },
      matchExpressions: [
        { key: 'env', operator: 'In', values: ['a', 'b'] },
        { key: 'env2', operator: 'NotIn', values: ['c'] },
        { key: 'x', operator: 'Exists' },
        { key: 'y', operator: 'DoesNotExist', values: [] },
      ],
    });
    assert.deepEqual(r, {
      errors: [],
      selector: {
        op: 'and',
        args: [
          { op: 'eq', key: 'app', value: 'web' },
          { op: 'eq', key: 'example.com/tier', value: '' },
          { op: 'in', key: 'env', values: ['a', 'b'] },
          { op: 'notin', key: 'env2', values: ['c'] },
          { op: 'has', key: 'x' },
          { op: 'not', arg: { op: 'has', key: 'y' } },
        ],
      },
    });
    assert.deepEqual(fromLabelSelector({}), { selector: { op: 'all' }, errors: [] });
    assert.deepEqual(fromLabelSelector(null), { selector: { op: 'all' }, errors: [] });
    assert.deepEqual(fromLabelSelector(undefined), { selector: { op: 'all' }, errors: [] });
    assert.deepEqual(fromLabelSelector({ matchLabels: { a: 'b' } }), { selector: { op: 'eq', key: 'a', value: 'b' }, errors: [] });
  });

  it('reports every error with a path relative to the selector', () => {
    const r = fromLabelSelector({
      matchLabel: { a: 'b' },
      matchLabels: { 'bad key': 'x', ok: 'has space', n: 3 },
      matchExpressions: [
        { key: 'app', operator: 'Equals', values: ['web'] },
        { key: 'tier', operator: 'In' },
        { key: 'tier', operator: 'NotIn', values: [] },
        { key: 'x', operator: 'Exists', values: ['v'] },
        { operator: 'Exists' },
        'nope',
      ],
    });
    assert.equal(r.selector, undefined);
    assert.deepEqual(r.errors.map((e) => [e.path, e.message.replace(/ \((an optional [^)]*|at most 63 characters from [^)]*)\), found/, ' (...), found')]), [
      [['matchLabel'], 'expected matchLabels or matchExpressions, found the field "matchLabel"'],
      [['matchLabels', 'bad key'], 'expected a label key (...), found "bad key": the name "bad key" has characters outside [A-Za-z0-9._-] or does not start and end alphanumeric'],
      [['matchLabels', 'ok'], 'expected a label value (...), found "has space": it has characters outside [A-Za-z0-9._-] or does not start and end alphanumeric'],
      [['matchLabels', 'n'], 'expected a label value (a string), found 3'],
      [['matchExpressions', 0, 'operator'], 'expected operator In, NotIn, Exists or DoesNotExist, found "Equals"'],
      [['matchExpressions', 1, 'values'], 'expected a non-empty list of values for operator In, found none'],
      [['matchExpressions', 2, 'values'], 'expected a non-empty list of values for operator NotIn, found an empty list'],
      [['matchExpressions', 3, 'values'], 'expected no values for operator Exists, found 1 value'],
      [['matchExpressions', 4, 'key'], 'expected a label key (a string), found nothing'],
      [['matchExpressions', 5], 'expected a label selector requirement (a map with key, operator and values), found "nope"'],
    ]);
  });

  it('validates label keys and values as Kubernetes does', () => {
    const long = 'a'.repeat(64);
    assert.deepEqual(validateLabels({ a: 'b', 'example.com/x_y.z': 'A-1', [`p/${'a'.repeat(63)}`]: '', k: 'a'.repeat(63) }), []);
    const errs = validateLabels({ [long]: 'v', 'Upper.com/x': 'v', 'a/b/c': 'v', '/x': 'v', 'x/': 'v', '-a': 'v', v1: long, v2: '-a', v3: 'a_' });
    assert.deepEqual(errs.map((e) => e.path), [[long], ['Upper.com/x'], ['a/b/c'], ['/x'], ['x/'], ['-a'], ['v1'], ['v2'], ['v3']]);
    assert.match(errs[0].message, /the name is 64 characters long \(at most 63\)$/);
    assert.match(errs[1].message, /the prefix "Upper.com" is not a lowercase DNS subdomain$/);
    assert.match(errs[6].message, /it is 64 characters long \(at most 63\)$/);
    assert.deepEqual(validateLabels([1]), [{ path: [], message: 'expected a map of labels, found a list' }]);
  });
});

describe('selector: matching', () => {
  const m = (text: string, labels: Record<string, string>, global = false) => matchSelector(ok(text), labels, { global });
  it('!= and not in match when the key is absent; == and in do not', () => {
    assert.equal(m("a != 'x'", {}), true);
    assert.equal(m("a != 'x'", { a: 'x' }), false);
    assert.equal(m("a != 'x'", { a: 'y' }), true);
    assert.equal(m("a == 'x'", {}), false);
    assert.equal(m("a not in {'x'}", {}), true);
    assert.equal(m("a not in {'x'}", { a: 'x' }), false);
    assert.equal(m("a in {'x'}", {}), false);
    assert.equal(m("a in {}", { a: '' }), false);
    assert.equal(m("a == ''", { a: '' }), true);
    assert.equal(m("a contains 'b'", { a: 'abc' }), true);
    assert.equal(m("a contains ''", {}), false);
    assert.equal(m("a starts with 'ab'", { a: 'abc' }), true);
    assert.equal(m("a ends with 'ab'", { a: 'abc' }), false);
  });
  it('k8s NotIn and DoesNotExist match objects without the key', () => {
    const notin = fromLabelSelector({ matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }).selector!;
    assert.equal(matchSelector(notin, {}), true);
    assert.equal(matchSelector(notin, { env: 'prod' }), false);
    assert.equal(matchSelector(notin, { env: 'dev' }), true);
    const dne = fromLabelSelector({ matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }).selector!;
    assert.equal(matchSelector(dne, {}), true);
    assert.equal(matchSelector(dne, { env: '' }), false);
    assert.equal(matchSelector(fromLabelSelector({}).selector!, { any: 'thing' }), true);
  });
  it('global() matches only non-namespaced objects; all() matches both; none nothing', () => {
    assert.equal(m('global()', {}, true), true);
    assert.equal(m('global()', {}, false), false);
    assert.equal(m('all()', {}, true), true);
    assert.equal(m('all()', {}, false), true);
    assert.equal(m("!global() && has(a)", { a: '1' }), true);
    assert.equal(matchSelector({ op: 'none' }, {}), false);
    assert.equal(m('!has(a)', { b: '1' }), true);
  });
});
