// Calico v3 selector expressions -> the shared Selector AST.
//
// Grammar (whitespace is allowed between any two tokens; `!` binds tighter than `&&`, `&&` tighter than `||`):
//   selector := empty | or
//   or       := and ('||' and)*
//   and      := unary ('&&' unary)*
//   unary    := '!' unary | '(' or ')' | 'all()' | 'global()' | 'has(' key ')' | key test
//   test     := '==' value | '!=' value | 'in' set | 'not' 'in' set
//             | 'contains' value | 'starts' 'with' value | 'ends' 'with' value
//   set      := '{' [value (',' value)*] '}'
//   value    := "'" chars "'" | '"' chars '"'        (no escapes, as upstream)
//   key      := [A-Za-z0-9_./-]+                      (e.g. projectcalico.org/name)
// The AST is normalised: nested `&&`/`||` are flattened and parentheses leave no node.
import type { Selector } from './ast';
import { ALL } from './ast';

export interface SelectorSyntaxError {
  /** 1-based column inside the selector string of the offending character (length+1 at end of input) */
  col: number;
  message: string;
}
export type ParseResult = { ok: true; selector: Selector } | { ok: false; error: SelectorSyntaxError };

const KEY_CHAR = /[A-Za-z0-9_./-]/;

class Fail extends Error {
  constructor(readonly pos: number, message: string) {
    super(message);
  }
}

export function parseCalicoSelector(text: string): ParseResult {
  if (text.trim() === '') return { ok: true, selector: ALL };
  const p = new Parser(text);
  try {
    const sel = p.parseOr();
    p.skipWs();
    if (!p.atEnd()) throw new Fail(p.pos, `expected '&&', '||' or the end of the selector, found ${p.found()}`);
    return { ok: true, selector: sel };
  } catch (e) {
    if (e instanceof Fail) return { ok: false, error: { col: e.pos + 1, message: e.message } };
    throw e;
  }
}

class Parser {
  pos = 0;
  constructor(private readonly s: string) {}

  atEnd(): boolean {
    return this.pos >= this.s.length;
  }
  skipWs(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos])) this.pos++;
  }
  /** A description of what stands at the cursor, for "found ..." in messages. */
  found(at = this.pos): string {
    if (at >= this.s.length) return 'the end of the selector';
    const c = this.s[at];
    if (KEY_CHAR.test(c)) {
      let end = at;
      while (end < this.s.length && KEY_CHAR.test(this.s[end])) end++;
      return `'${this.s.slice(at, end)}'`;
    }
    if (c === "'" || c === '"') return `the quote ${c}`;
    return `'${c}'`;
  }
  /** Consumes `tok` (after whitespace) if it is next. */
  eat(tok: string): boolean {
    this.skipWs();
    if (this.s.startsWith(tok, this.pos)) {
      this.pos += tok.length;
      return true;
    }
    return false;
  }
  /** The run of key characters at the cursor (after whitespace), not consumed. */
  peekWord(): string {
    this.skipWs();
    let end = this.pos;
    while (end < this.s.length && KEY_CHAR.test(this.s[end])) end++;
    return this.s.slice(this.pos, end);
  }
  /** Whether `name` followed by optional whitespace and '(' stands at the cursor (a function call, not a key). */
  isCall(name: string): boolean {
    if (this.peekWord() !== name) return false;
    let i = this.pos + name.length;
    while (i < this.s.length && /\s/.test(this.s[i])) i++;
    return this.s[i] === '(';
  }

  parseOr(): Selector {
    const args = [this.parseAnd()];
    for (;;) {
      this.skipWs();
      if (this.s.startsWith('||', this.pos)) {
        this.pos += 2;
        args.push(this.parseAnd());
      } else if (this.s[this.pos] === '|') {
        throw new Fail(this.pos, `expected '||', found ${this.found()} alone`);
      } else break;
    }
    return join('or', args);
  }

  parseAnd(): Selector {
    const args = [this.parseUnary()];
    for (;;) {
      this.skipWs();
      if (this.s.startsWith('&&', this.pos)) {
        this.pos += 2;
        args.push(this.parseUnary());
      } else if (this.s[this.pos] === '&') {
        throw new Fail(this.pos, `expected '&&', found ${this.found()} alone`);
      } else break;
    }
    return join('and', args);
  }

  parseUnary(): Selector {
    this.skipWs();
    const start = this.pos;
    if (this.eat('!')) return { op: 'not', arg: this.parseUnary() };
    if (this.eat('(')) {
      const inner = this.parseOr();
      if (!this.eat(')')) throw new Fail(this.pos, `expected ')' to close the '(' at column ${start + 1}, found ${this.found()}`);
      return inner;
    }
    if (this.isCall('all') || this.isCall('global')) {
      const name = this.peekWord();
      this.pos += name.length;
      this.eat('(');
      if (!this.eat(')')) throw new Fail(this.pos, `expected ')' after '${name}(', found ${this.found()}`);
      return name === 'all' ? { op: 'all' } : { op: 'global' };
    }
    if (this.isCall('has')) {
      this.pos += 3;
      this.eat('(');
      const key = this.key(`a label key inside 'has('`);
      if (!this.eat(')')) throw new Fail(this.pos, `expected ')' after 'has(${key}', found ${this.found()}`);
      return { op: 'has', key };
    }
    const key = this.key(`a label key, '!', '(', 'has(', 'all()' or 'global()'`);
    return this.parseTest(key);
  }

  key(expected: string): string {
    const word = this.peekWord();
    if (word === '') throw new Fail(this.pos, `expected ${expected}, found ${this.found()}`);
    this.pos += word.length;
    return word;
  }

  parseTest(key: string): Selector {
    this.skipWs();
    if (this.eat('==')) return { op: 'eq', key, value: this.value("'=='") };
    if (this.eat('!=')) return { op: 'ne', key, value: this.value("'!='") };
    const opStart = this.pos;
    const word = this.peekWord();
    switch (word) {
      case 'in':
        this.pos += word.length;
        return { op: 'in', key, values: this.set("'in'") };
      case 'not':
        this.pos += word.length;
        if (this.peekWord() !== 'in') throw new Fail(this.pos, `expected 'in' after 'not', found ${this.found()}`);
        this.pos += 2;
        return { op: 'notin', key, values: this.set("'not in'") };
      case 'contains':
        this.pos += word.length;
        return { op: 'contains', key, value: this.value("'contains'") };
      case 'starts':
      case 'ends': {
        this.pos += word.length;
        if (this.peekWord() !== 'with') throw new Fail(this.pos, `expected 'with' after '${word}', found ${this.found()}`);
        this.pos += 4;
        const value = this.value(`'${word} with'`);
        return word === 'starts' ? { op: 'startswith', key, value } : { op: 'endswith', key, value };
      }
    }
    throw new Fail(
      opStart,
      `expected an operator after the key '${key}' ('==', '!=', 'in', 'not in', 'contains', 'starts with' or 'ends with'), found ${this.found(opStart)}`,
    );
  }

  value(after: string): string {
    this.skipWs();
    const q = this.s[this.pos];
    if (q !== "'" && q !== '"') throw new Fail(this.pos, `expected a quoted value after ${after}, found ${this.found()}`);
    const close = this.s.indexOf(q, this.pos + 1);
    if (close < 0) throw new Fail(this.pos, `expected a closing ${q} for the value that opens here, found the end of the selector`);
    const v = this.s.slice(this.pos + 1, close);
    this.pos = close + 1;
    return v;
  }

  set(after: string): string[] {
    this.skipWs();
    const open = this.pos;
    if (!this.eat('{')) throw new Fail(this.pos, `expected '{' after ${after}, found ${this.found()}`);
    const values: string[] = [];
    if (this.eat('}')) return values;
    for (;;) {
      values.push(this.value(values.length === 0 ? "'{'" : "','"));
      if (this.eat('}')) return values;
      if (!this.eat(',')) throw new Fail(this.pos, `expected ',' or '}' to close the set opened at column ${open + 1}, found ${this.found()}`);
    }
  }
}

/** Builds a flattened and/or node (nested nodes of the same kind are merged; one argument stands alone). */
function join(op: 'and' | 'or', args: Selector[]): Selector {
  const flat: Selector[] = [];
  for (const a of args) {
    if (a.op === op) flat.push(...a.args);
    else flat.push(a);
  }
  return flat.length === 1 ? flat[0] : { op, args: flat };
}
