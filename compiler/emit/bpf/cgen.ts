// A small typed builder for the generated per-node C file. Nothing user-written reaches C except inside
// comments, and comment text is escaped so it can never close the comment; identifiers and include paths
// are checked against strict patterns; numbers must be non-negative integers. Policy itself is never code.
export type Ident = string & { readonly __ident: unique symbol };

export function ident(name: string): Ident {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`C identifier: expected [A-Za-z_][A-Za-z0-9_]*, found '${name}'`);
  return name as Ident;
}

/** Comment text: no comment terminator, no control characters, no trigraph-like or line-continuation tricks. */
export function commentText(s: string): string {
  return s.replace(/\*\//g, '* /').replace(/\/\*/g, '/ *').replace(/[\x00-\x1f\x7f\\]/g, '?');
}

export class CBuilder {
  private lines: string[] = [];

  spdx(license: string): this {
    this.lines.push(`// SPDX-License-Identifier: ${commentText(license)}`);
    return this;
  }

  /** A block comment; each line escaped. */
  comment(lines: string[]): this {
    this.lines.push('/*');
    for (const l of lines) this.lines.push(l === '' ? ' *' : ` * ${commentText(l)}`);
    this.lines.push(' */');
    return this;
  }

  define(name: Ident, value: number, why?: string): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`#define ${name}: expected a non-negative integer, found ${value}`);
    this.lines.push(`#define ${name} ${value}${why ? ` /* ${commentText(why)} */` : ''}`);
    return this;
  }

  /** #include "path": relative path of [A-Za-z0-9_./-], no "..". */
  include(path: string): this {
    if (!/^[A-Za-z0-9_./-]+$/.test(path) || path.includes('..')) throw new Error(`#include: expected a plain relative path, found '${path}'`);
    this.lines.push(`#include "${path}"`);
    return this;
  }

  blank(): this {
    this.lines.push('');
    return this;
  }

  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}
