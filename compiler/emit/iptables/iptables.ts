// IR -> iptables-restore input (table filter), in two styles, with the IR's evaluation order exactly:
//
//   FORWARD -> <P>-FORWARD:
//     ctstate RELATED,ESTABLISHED            ACCEPT   (replies of flows that were allowed)
//     -i <iface of each endpoint>            jump to its egress chain   (the pod sends: its egress policy)
//     -o <iface of each endpoint>            jump to its ingress chain  (the pod receives: its ingress policy)
//     -i / -o <iface of each endpoint>       ACCEPT   (both directions that apply let the packet through)
//   A direction chain DROPs (Deny) or RETURNs (Allow, or no tier decided: default allow) to <P>-FORWARD.
//
// flat:   one chain per endpoint and direction holding every rule of every tier inline, CIDRs and ports
//         expanded to one line each (the classic dataplane: per-packet cost grows with the rule count).
//         Pass sets the PASS mark bit; later rules of the same tier and its end action only match packets
//         without it; the bit is cleared where the next tier starts.
// calico: per endpoint `<P>-fw-<iface>` / `<P>-tw-<iface>` (Calico's from/to-workload chains), one chain per
//         tier and per policy inside it, CIDR lists as ipsets (hash:net), ports through multiport. Allow sets
//         the ACCEPT mark bit and returns; Pass sets the PASS bit and returns; the tier and endpoint chains
//         test the bits after each jump, as Calico's chains do.
//
// Negated address lists and port lists that a single match cannot express are done with an EXCLUDE bit:
// one line per negated value sets it, the rule's lines match only packets without it, and a last line clears it.
import type { Family } from '../../model/types';
import type { Direction } from '../../model/types';
import type { Chain, Endpoint, Program, TierChain } from '../../ir/types';
import {
  PORT_PROTOS,
  icmpProto,
  planRule,
  portText,
  protoName,
  safeText,
  type FamilyRule,
  type IcmpSpec,
} from './plan';
import type { PortRange } from '../../model/types';

export type IptablesStyle = 'flat' | 'calico';

export interface IptablesOptions {
  style: IptablesStyle;
  /** 4 (iptables, the default) or 6 (ip6tables) */
  family?: Family;
  /** chain name prefix (upper case by convention; ipset names use it in lower case). Default "TG". */
  prefix?: string;
  /** `-m comment` with the rule id on each rule line (default true; benchmarks turn it off) */
  comments?: boolean;
}

export interface IptablesOutput {
  /** iptables-restore input for table filter (replaces the table's rules; chains are created) */
  rules: string;
  /** `ipset restore` input (calico style; empty for flat) */
  ipsets: string;
  /** number of rules (-A lines) */
  ruleCount: number;
  /** the user chains created, and the ipsets (for clean-up) */
  chains: string[];
  sets: string[];
}

/** Mark bits, in the upper half of the mark as Calico uses it. */
export const MARK = { ACCEPT: 0x10000, PASS: 0x20000, EXCLUDE: 0x40000 } as const;

const hex = (n: number): string => '0x' + n.toString(16);
const setMark = (bits: number): string[] => ['-j', 'MARK', '--set-xmark', `${hex(bits)}/${hex(bits)}`];
const clearMark = (bits: number): string[] => ['-j', 'MARK', '--set-xmark', `0x0/${hex(bits)}`];
const markSet = (bits: number): string[] => ['-m', 'mark', '--mark', `${hex(bits)}/${hex(bits)}`];
const markClear = (bits: number): string[] => ['-m', 'mark', '--mark', `0x0/${hex(bits)}`];

const MULTIPORT_SLOTS = 15;

class Writer {
  readonly chains: string[] = [];
  readonly lines: string[] = [];
  readonly sets = new Map<string, { name: string; family: Family; cidrs: string[] }>();
  ruleCount = 0;
  private setSeq = 0;
  private chainSeq = 0;

  constructor(
    readonly prefix: string,
    readonly family: Family,
  ) {}

  chain(name: string): string {
    if (name.length > 28) throw new Error(`iptables chain name too long (28 max): ${name}`);
    this.chains.push(name);
    return name;
  }

  /** A fresh numbered chain name, e.g. TG-P12. */
  numbered(kind: string): string {
    return this.chain(`${this.prefix}-${kind}${this.chainSeq++}`);
  }

  rule(chain: string, args: string[], comment?: string): void {
    const c = comment !== undefined ? ['-m', 'comment', '--comment', `"${safeText(comment, 250)}"`] : [];
    this.lines.push(['-A', chain, ...c, ...args].join(' '));
    this.ruleCount++;
  }

  /** The ipset holding `cidrs` (shared by every rule with the same list). */
  ipset(cidrs: string[]): string {
    const key = cidrs.slice().sort().join(',');
    let s = this.sets.get(key);
    if (!s) {
      const name = `${this.prefix.toLowerCase()}-${this.family === 6 ? 'v6-' : ''}s${this.setSeq++}`;
      if (name.length > 31) throw new Error(`ipset name too long (31 max): ${name}`);
      s = { name, family: this.family, cidrs };
      this.sets.set(key, s);
    }
    return s.name;
  }
}

interface RuleCtx {
  w: Writer;
  style: IptablesStyle;
  dir: Direction;
  comments: boolean;
}

/** One alternative: the arguments of a match (no target). */
type Alt = string[];

function product(groups: Alt[][]): Alt[] {
  let out: Alt[] = [[]];
  for (const g of groups) {
    const next: Alt[] = [];
    for (const a of out) for (const b of g) next.push([...a, ...b]);
    out = next;
  }
  return out;
}

function multiportChunks(rs: PortRange[]): string[] {
  const chunks: string[] = [];
  let cur: string[] = [];
  let slots = 0;
  for (const r of rs) {
    const n = r.from === r.to ? 1 : 2;
    if (slots + n > MULTIPORT_SLOTS) {
      chunks.push(cur.join(','));
      cur = [];
      slots = 0;
    }
    cur.push(portText(r, ':'));
    slots += n;
  }
  if (cur.length) chunks.push(cur.join(','));
  return chunks;
}

function slotCount(rs: PortRange[]): number {
  return rs.reduce((n, r) => n + (r.from === r.to ? 1 : 2), 0);
}

function icmpArgs(family: Family, spec: IcmpSpec, negate: boolean): string[] {
  const v = spec.code === undefined ? String(spec.type) : `${spec.type}/${spec.code}`;
  const neg = negate ? ['!'] : [];
  return family === 4 ? ['-m', 'icmp', ...neg, '--icmp-type', v] : ['-m', 'icmp6', ...neg, '--icmpv6-type', v];
}

/** Port alternatives for one port protocol: flat = one line per range, calico = multiport chunks. */
function portAlts(style: IptablesStyle, proto: string, flag: 'd' | 's', rs: PortRange[] | undefined): Alt[] {
  if (!rs) return [[]];
  if (style === 'flat' && proto !== 'udplite') return rs.map((r) => ['-m', proto, `--${flag}port`, portText(r, ':')]);
  return multiportChunks(rs).map((c) => ['-m', 'multiport', `--${flag}ports`, c]);
}

interface Expanded {
  /** lines that set the EXCLUDE bit (negations a single match cannot express) */
  excludes: Alt[];
  /** the rule's match lines (any one matching = the rule matches) */
  alts: Alt[];
}

function expand(fr: FamilyRule, ctx: RuleCtx): Expanded {
  const { w, style, dir } = ctx;
  const fam = fr.family;
  const peerFlag = dir === 'ingress' ? '-s' : '-d';
  const localFlag = dir === 'ingress' ? '-d' : '-s';
  const peerDir = dir === 'ingress' ? 'src' : 'dst';
  const localDir = dir === 'ingress' ? 'dst' : 'src';
  const excludes: Alt[] = [];

  const addrGroup = (cidrs: string[] | undefined, flag: string, setDir: string): Alt[] => {
    if (!cidrs) return [[]];
    if (style === 'calico' && cidrs.length > 1) return [['-m', 'set', '--match-set', w.ipset(cidrs), setDir]];
    return cidrs.map((c) => [flag, c]);
  };
  const notAddr = (cidrs: string[], flag: string, setDir: string): Alt => {
    if (cidrs.length === 0) return [];
    if (cidrs.length === 1) return ['!', flag, cidrs[0]];
    if (style === 'calico') return ['-m', 'set', '!', '--match-set', w.ipset(cidrs), setDir];
    for (const c of cidrs) excludes.push([flag, c]);
    return [];
  };

  const inlineNeg: Alt = [...notAddr(fr.notPeer, peerFlag, peerDir), ...notAddr(fr.notLocal, localFlag, localDir)];

  // Negated ports: inline (multiport !) when every alternative names its protocol and the list fits one
  // multiport match; otherwise EXCLUDE lines for each port protocol the rule can match.
  const negPortsInline =
    fr.protos !== undefined && slotCount(fr.notDports) <= MULTIPORT_SLOTS && slotCount(fr.notSports) <= MULTIPORT_SLOTS;
  if (!negPortsInline) {
    for (const p of fr.protos ?? PORT_PROTOS) {
      if (!PORT_PROTOS.includes(p)) continue;
      const name = protoName(p, fam);
      for (const c of multiportChunks(fr.notDports)) excludes.push(['-p', name, '-m', 'multiport', '--dports', c]);
      for (const c of multiportChunks(fr.notSports)) excludes.push(['-p', name, '-m', 'multiport', '--sports', c]);
    }
  }

  let protoGroup: Alt[];
  if (fr.protos) {
    protoGroup = [];
    for (const p of fr.protos) {
      const name = protoName(p, fam);
      const base = ['-p', name];
      if (PORT_PROTOS.includes(p)) {
        const neg: Alt = [];
        if (negPortsInline) {
          if (fr.notDports.length) neg.push('-m', 'multiport', '!', '--dports', multiportChunks(fr.notDports)[0]);
          if (fr.notSports.length) neg.push('-m', 'multiport', '!', '--sports', multiportChunks(fr.notSports)[0]);
        }
        for (const d of portAlts(style, name, 'd', fr.dports))
          for (const s of portAlts(style, name, 's', fr.sports)) protoGroup.push([...base, ...d, ...s, ...neg]);
      } else if (p === icmpProto(fam)) {
        const pos = fr.icmp ? icmpArgs(fam, fr.icmp, false) : [];
        const neg = fr.notIcmp ? icmpArgs(fam, fr.notIcmp, true) : [];
        protoGroup.push([...base, ...pos, ...neg]);
      } else {
        protoGroup.push(base);
      }
    }
  } else {
    protoGroup = [fr.notProto !== undefined ? ['!', '-p', protoName(fr.notProto, fam)] : []];
  }

  const alts = product([
    addrGroup(fr.peer, peerFlag, peerDir),
    addrGroup(fr.local, localFlag, localDir),
    protoGroup,
    [inlineNeg],
  ]);
  return { excludes, alts };
}

/**
 * Writes one rule's lines into `chain`. `guard` = mark bits that must be clear for the rule to apply.
 * The action's target is `target`; the caller adds what follows it (Calico-style returns).
 */
function writeRule(fr: FamilyRule, ctx: RuleCtx, chain: string, guard: number, target: string[]): void {
  const { w } = ctx;
  const { excludes, alts } = expand(fr, ctx);
  const comment = ctx.comments ? fr.id : undefined;
  for (const x of excludes) w.rule(chain, [...x, ...setMark(MARK.EXCLUDE)], comment);
  const g = guard | (excludes.length ? MARK.EXCLUDE : 0);
  for (const a of alts) w.rule(chain, [...a, ...(g ? markClear(g) : []), ...target], comment);
  if (excludes.length) w.rule(chain, clearMark(MARK.EXCLUDE), comment);
}

function logTarget(id: string): string[] {
  return ['-j', 'LOG', '--log-prefix', `"${safeText(`tg ${id}`, 27)}: "`];
}

function planTier(tier: TierChain, family: Family): FamilyRule[] {
  const out: FamilyRule[] = [];
  for (const r of tier.rules) {
    const fr = planRule(r, family);
    if (fr) out.push(fr);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// flat

function flatDirection(w: Writer, chain: string, c: Chain, dir: Direction, comments: boolean): void {
  const ctx: RuleCtx = { w, style: 'flat', dir, comments };
  let passSeen = false; // a previous tier may have left the PASS bit set
  for (const tier of c.tiers) {
    if (passSeen) w.rule(chain, clearMark(MARK.PASS));
    passSeen = false;
    for (const fr of planTier(tier, w.family)) {
      const guard = passSeen ? MARK.PASS : 0;
      switch (fr.action) {
        case 'Allow':
          writeRule(fr, ctx, chain, guard, ['-j', 'RETURN']);
          break;
        case 'Deny':
          writeRule(fr, ctx, chain, guard, ['-j', 'DROP']);
          break;
        case 'Log':
          writeRule(fr, ctx, chain, guard, logTarget(fr.id));
          break;
        case 'Pass':
          writeRule(fr, ctx, chain, guard, setMark(MARK.PASS));
          passSeen = true;
          break;
      }
    }
    const g = passSeen ? markClear(MARK.PASS) : [];
    if (tier.end.action === 'Allow') w.rule(chain, [...g, '-j', 'RETURN'], comments ? `tier ${tier.name} end` : undefined);
    if (tier.end.action === 'Deny') w.rule(chain, [...g, '-j', 'DROP'], comments ? `tier ${tier.name} end` : undefined);
  }
  // no tier decided: default allow (falls off the chain = RETURN)
}

// ---------------------------------------------------------------------------------------------------------
// calico

/** Consecutive rules of one source policy form one policy chain, as Calico has one chain per policy. */
function policyGroups(rules: FamilyRule[], tier: TierChain): FamilyRule[][] {
  const groups: FamilyRule[][] = [];
  const policyOf = new Map(tier.rules.map((r) => [r.id, `${r.source.kind}/${r.source.namespace ?? ''}/${r.source.name}`]));
  let lastKey: string | undefined;
  for (const fr of rules) {
    const key = policyOf.get(fr.id);
    if (key !== lastKey || groups.length === 0) groups.push([]);
    groups[groups.length - 1].push(fr);
    lastKey = key;
  }
  return groups;
}

function calicoDirection(w: Writer, chain: string, c: Chain, dir: Direction, comments: boolean): void {
  const ctx: RuleCtx = { w, style: 'calico', dir, comments };
  w.rule(chain, clearMark(MARK.ACCEPT | MARK.PASS));
  c.tiers.forEach((tier, ti) => {
    const rules = planTier(tier, w.family);
    if (rules.length === 0 && tier.end.action === 'Pass') return;
    const tierChain = w.numbered('T');
    if (ti > 0) w.rule(chain, clearMark(MARK.PASS));
    w.rule(chain, ['-j', tierChain], comments ? `tier ${tier.name}` : undefined);
    w.rule(chain, [...markSet(MARK.ACCEPT), '-j', 'RETURN']);
    for (const group of policyGroups(rules, tier)) {
      const pchain = w.numbered('P');
      w.rule(tierChain, [...markClear(MARK.PASS), '-j', pchain]);
      w.rule(tierChain, [...markSet(MARK.ACCEPT), '-j', 'RETURN']);
      for (const fr of group) {
        switch (fr.action) {
          case 'Allow':
            writeRule(fr, ctx, pchain, 0, setMark(MARK.ACCEPT));
            w.rule(pchain, [...markSet(MARK.ACCEPT), '-j', 'RETURN']);
            break;
          case 'Deny':
            writeRule(fr, ctx, pchain, 0, ['-j', 'DROP']);
            break;
          case 'Log':
            writeRule(fr, ctx, pchain, 0, logTarget(fr.id));
            break;
          case 'Pass':
            writeRule(fr, ctx, pchain, 0, setMark(MARK.PASS));
            w.rule(pchain, [...markSet(MARK.PASS), '-j', 'RETURN']);
            break;
        }
      }
    }
    const endComment = comments ? `tier ${tier.name} end` : undefined;
    if (tier.end.action === 'Allow') w.rule(tierChain, [...markClear(MARK.PASS), ...setMark(MARK.ACCEPT)], endComment);
    if (tier.end.action === 'Deny') w.rule(tierChain, [...markClear(MARK.PASS), '-j', 'DROP'], endComment);
  });
  // no tier decided: default allow (falls off the chain = RETURN)
}

// ---------------------------------------------------------------------------------------------------------

function enforced(program: Program): Endpoint[] {
  return program.endpoints.filter((e) => e.iface !== undefined && e.iface !== '');
}

export function emitIptables(program: Program, opts: IptablesOptions): IptablesOutput {
  const family: Family = opts.family ?? 4;
  const prefix = opts.prefix ?? 'TG';
  const comments = opts.comments ?? true;
  const w = new Writer(prefix, family);
  const fwd = w.chain(`${prefix}-FORWARD`);
  const eps = enforced(program);
  const header: string[] = [];
  for (const e of program.endpoints)
    if (!eps.includes(e)) header.push(`# endpoint ${safeText(e.id, 200)} has no host-side interface: not enforced here`);

  w.rule(fwd, ['-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT']);
  const dirChains: { ep: Endpoint; dir: Direction; chain: string }[] = [];
  for (const dir of ['egress', 'ingress'] as Direction[]) {
    for (const ep of eps) {
      const ifaceName = ep.iface as string;
      const chain = w.chain(`${prefix}-${dir === 'egress' ? 'fw' : 'tw'}-${ifaceName}`);
      dirChains.push({ ep, dir, chain });
      w.rule(fwd, [dir === 'egress' ? '-i' : '-o', ifaceName, '-j', chain], comments ? `${ep.id} ${dir}` : undefined);
    }
  }
  for (const ep of eps) {
    w.rule(fwd, ['-i', ep.iface as string, '-j', 'ACCEPT']);
    w.rule(fwd, ['-o', ep.iface as string, '-j', 'ACCEPT']);
  }
  for (const { ep, dir, chain } of dirChains) {
    if (opts.style === 'flat') flatDirection(w, chain, ep[dir], dir, comments);
    else calicoDirection(w, chain, ep[dir], dir, comments);
  }

  const out: string[] = [
    `# Tollgate ${opts.style} rules (${family === 4 ? 'iptables' : 'ip6tables'}-restore, table filter), from ${program.endpoints.length} endpoints`,
    ...header,
    '*filter',
    ...w.chains.map((c) => `:${c} - [0:0]`),
    `-A FORWARD -j ${fwd}`,
    ...w.lines,
    'COMMIT',
    '',
  ];
  const sets: string[] = [];
  for (const s of w.sets.values()) {
    const maxelem = Math.max(65536, s.cidrs.length);
    sets.push(`create ${s.name} hash:net family ${s.family === 4 ? 'inet' : 'inet6'} maxelem ${maxelem}`);
    for (const c of s.cidrs) sets.push(`add ${s.name} ${c}`);
  }
  return {
    rules: out.join('\n'),
    ipsets: sets.length ? sets.join('\n') + '\n' : '',
    ruleCount: w.ruleCount + 1,
    chains: w.chains,
    sets: [...w.sets.values()].map((s) => s.name),
  };
}

/** ip6tables-restore input: the same as emitIptables for IPv6. */
export function emitIp6tables(program: Program, opts: Omit<IptablesOptions, 'family'>): IptablesOutput {
  return emitIptables(program, { ...opts, family: 6 });
}
