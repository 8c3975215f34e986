// Verdicts, drop reasons and flags: the TypeScript side of bpf/include/verdicts.h (the one table).
// test/emit-bpf-layout.test.ts parses the header and checks that every #define is here with the same value.
import * as fs from 'fs';
import * as path from 'path';

export const VERDICT = { NONE: 0, ALLOW: 1, DENY: 2 } as const;

export const REASON = {
  POLICY: 0,
  CT_ESTABLISHED: 1,
  CT_REPLY: 2,
  UNMANAGED: 3,
  NOT_IP: 4,
  ND: 5,
  UNKNOWN_LOCAL: 6,
  MALFORMED: 7,
  FRAGMENT: 8,
  EXTHDR: 9,
  POLICY_RECHECK: 10,
  TCP_NO_FLOW: 11,
} as const;
export type ReasonName = keyof typeof REASON;

export const DIR = { INGRESS: 0, EGRESS: 1 } as const;
export const EP_FLAG = { L4_RULES: 1, SPORTS: 2, PEER_EXACT: 4, PEER_LPM: 8, PORT_EXACT: 16, PORT_LPM: 32 } as const;
export const CT_FLAG = { FIN_LOCAL: 1, FIN_PEER: 2 } as const;
export const RULE_NONE = 0;

/** All the groups, keyed as the header names them (TG_<GROUP>_<NAME>). */
export const CODE_GROUPS: Record<string, Record<string, number>> = {
  VERDICT,
  REASON,
  DIR,
  EP: EP_FLAG,
  CT: CT_FLAG,
  RULE: { NONE: RULE_NONE },
};

export const BPF_DIR = path.join(__dirname, '..', '..', '..', 'bpf');
export const VERDICTS_H = path.join(BPF_DIR, 'include', 'verdicts.h');

/** The reason's text as the header comment gives it, for `status` and traces. */
export function reasonText(code: number): string {
  const name = (Object.keys(REASON) as ReasonName[]).find((k) => REASON[k] === code);
  return name ? headerComments()[`TG_REASON_${name}`] ?? name : `unknown reason ${code}`;
}

let comments: Record<string, string> | undefined;
function headerComments(): Record<string, string> {
  if (!comments) {
    comments = {};
    for (const d of parseVerdictsHeader(fs.readFileSync(VERDICTS_H, 'utf8'))) comments[d.name] = d.comment;
  }
  return comments;
}

export interface HeaderDefine {
  name: string;
  value: number;
  comment: string;
}

/** `#define TG_X_Y <number> /* comment *\/` lines of verdicts.h. */
export function parseVerdictsHeader(text: string): HeaderDefine[] {
  const out: HeaderDefine[] = [];
  const re = /^#define\s+(TG_[A-Z0-9_]+)\s+(\d+)\s*(?:\/\*\s*(.*?)\s*\*\/)?\s*$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push({ name: m[1], value: Number(m[2]), comment: m[3] ?? '' });
  return out;
}
