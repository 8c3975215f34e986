// IR -> nftables ruleset (nft -f input): one `inet` table with both families.
//
//   chain forward (hook forward):
//     ct state established,related accept
//     iifname vmap { <iface>: jump <ep>_e_t0, ... }      the pod sends: its egress policy
//     oifname vmap { <iface>: jump <ep>_i_t0, ... }      the pod receives: its ingress policy
//     iifname/oifname { <ifaces> } accept
//   One chain per endpoint, direction and tier. Allow = `return` (back to the forward chain, which goes on to
//   the other direction), Deny = `drop`, Pass = `goto` the next tier's chain (a goto does not push a return
//   address, so a `return` anywhere still lands in the forward chain), Log = `log` and go on. A tier's end
//   action closes its chain; the last tier's Pass is `return` (default allow).
//   CIDR lists of two or more entries are named sets with the interval flag, shared by every rule that uses
//   the same list; port lists are anonymous sets.
import type { Family, PortRange } from '../../model/types';
import type { Chain, Endpoint, Program } from '../../ir/types';
import type { Direction } from '../../model/types';
import { PORT_PROTOS, icmpProto, planRule, portText, safeText, type FamilyRule, type IcmpSpec } from './plan';

export interface NftOptions {
  /** table name (inet family); default "tollgate" */
  table?: string;
  /** `comment "rule id"` on each rule (default true) */
  comments?: boolean;
}

export interface NftOutput {
  /** nft -f input: replaces the table atomically */
  ruleset: string;
  /** number of rules (not counting set elements) */
  ruleCount: number;
  table: string;
  sets: string[];
}

const NFT_PROTO: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'ipv6-icmp', 132: 'sctp', 136: 'udplite' };
const protoText = (p: number): string => NFT_PROTO[p] ?? String(p);

function setOf(items: string[]): string {
  return items.length === 1 ? items[0] : `{ ${items.join(', ')} }`;
}

function ports(rs: PortRange[]): string {
  return setOf(rs.map((r) => portText(r, '-')));
}

function icmpExpr(family: Family, spec: IcmpSpec, negate: boolean): string[] {
  const k = family === 4 ? 'icmp' : 'icmpv6';
  const op = negate ? '!= ' : '';
  if (spec.code === undefined) return [`${k} type ${op}${spec.type}`];
  if (!negate) return [`${k} type ${spec.type} ${k} code ${spec.code}`];
  // not (type t and code c) = type != t, or type t with another code
  return [`${k} type != ${spec.type}`, `${k} type ${spec.type} ${k} code != ${spec.code}`];
}

class Writer {
  readonly chains: { name: string; body: string[] }[] = [];
  readonly sets = new Map<string, { name: string; family: Family; cidrs: string[] }>();
  ruleCount = 0;
  private setSeq = 0;

  chain(name: string): string[] {
    const body: string[] = [];
    this.chains.push({ name, body });
    return body;
  }

  rule(body: string[], text: string): void {
    body.push(text);
    this.ruleCount++;
  }

  named(cidrs: string[], family: Family): string {
    const key = `${family}:` + cidrs.slice().sort().join(',');
    let s = this.sets.get(key);
    if (!s) {
      s = { name: `s${this.setSeq++}`, family, cidrs };
      this.sets.set(key, s);
    }
    return '@' + s.name;
  }
}

/** The match alternatives of one rule (each a conjunction of nft expressions); any one = the rule matches. */
function alternatives(fr: FamilyRule, dir: Direction, w: Writer): string[][] {
  const ip = fr.family === 4 ? 'ip' : 'ip6';
  const peerField = `${ip} ${dir === 'ingress' ? 'saddr' : 'daddr'}`;
  const localField = `${ip} ${dir === 'ingress' ? 'daddr' : 'saddr'}`;
  const addr = (cidrs: string[]): string => (cidrs.length === 1 ? cidrs[0] : w.named(cidrs, fr.family));
  const base: string[] = [`meta nfproto ${fr.family === 4 ? 'ipv4' : 'ipv6'}`];
  if (fr.peer) base.push(`${peerField} ${addr(fr.peer)}`);
  if (fr.notPeer.length) base.push(`${peerField} != ${addr(fr.notPeer)}`);
  if (fr.local) base.push(`${localField} ${addr(fr.local)}`);
  if (fr.notLocal.length) base.push(`${localField} != ${addr(fr.notLocal)}`);

  // Protocol part: a list of alternative conjunctions.
  let protoAlts: string[][];
  const portExprs = (): string[] => {
    const e: string[] = [];
    if (fr.dports) e.push(`th dport ${ports(fr.dports)}`);
    if (fr.notDports.length) e.push(`th dport != ${ports(fr.notDports)}`);
    if (fr.sports) e.push(`th sport ${ports(fr.sports)}`);
    if (fr.notSports.length) e.push(`th sport != ${ports(fr.notSports)}`);
    return e;
  };
  const icmpP = icmpProto(fr.family);
  if (fr.protos) {
    protoAlts = [];
    const portP = fr.protos.filter((p) => PORT_PROTOS.includes(p));
    const other = fr.protos.filter((p) => !PORT_PROTOS.includes(p));
    if (portP.length) protoAlts.push([`meta l4proto ${setOf(portP.map(protoText))}`, ...portExprs()]);
    for (const p of other) {
      if (p === icmpP) {
        const pos = fr.icmp ? icmpExpr(fr.family, fr.icmp, false) : [];
        const negs = fr.notIcmp ? icmpExpr(fr.family, fr.notIcmp, true) : [undefined];
        for (const n of negs) protoAlts.push([`meta l4proto ${protoText(p)}`, ...pos, ...(n ? [n] : [])]);
      } else {
        protoAlts.push([`meta l4proto ${protoText(p)}`]);
      }
    }
  } else {
    // no positive protocol: planRule sets one whenever a port or ICMP field is present
    protoAlts = [fr.notProto !== undefined ? [`meta l4proto != ${protoText(fr.notProto)}`] : []];
  }
  return protoAlts.map((p) => [...base, ...p]);
}

function direction(w: Writer, epName: string, c: Chain, dir: Direction, comments: boolean): string {
  const tag = dir === 'egress' ? 'e' : 'i';
  const names = c.tiers.map((_, i) => `${epName}_${tag}_t${i}`);
  if (names.length === 0) {
    w.rule(w.chain(`${epName}_${tag}_t0`), 'return');
    return `${epName}_${tag}_t0`;
  }
  c.tiers.forEach((tier, ti) => {
    const body = w.chain(names[ti]);
    const next = ti + 1 < names.length ? `goto ${names[ti + 1]}` : 'return';
    for (const family of [4, 6] as Family[]) {
      for (const r of tier.rules) {
        const fr = planRule(r, family);
        if (!fr) continue;
        const verdict =
          fr.action === 'Allow' ? 'return' : fr.action === 'Deny' ? 'drop' : fr.action === 'Pass' ? next : `log prefix "${safeText(`tg ${fr.id}`, 60)}: "`;
        const comment = comments ? ` comment "${safeText(fr.id, 120)}"` : '';
        for (const alt of alternatives(fr, dir, w)) w.rule(body, `${alt.join(' ')} ${verdict}${comment}`);
      }
    }
    w.rule(body, tier.end.action === 'Allow' ? 'return' : tier.end.action === 'Deny' ? 'drop' : next);
  });
  return names[0];
}

export function emitNftables(program: Program, opts: NftOptions = {}): NftOutput {
  const table = opts.table ?? 'tollgate';
  const comments = opts.comments ?? true;
  const w = new Writer();
  const eps: Endpoint[] = program.endpoints.filter((e) => e.iface);
  const fwd = w.chain('forward');
  const egress: string[] = [];
  const ingress: string[] = [];
  eps.forEach((ep, i) => {
    const name = `ep${i}`;
    egress.push(`"${ep.iface}" : jump ${direction(w, name, ep.egress, 'egress', comments)}`);
    ingress.push(`"${ep.iface}" : jump ${direction(w, name, ep.ingress, 'ingress', comments)}`);
  });
  w.rule(fwd, 'ct state established,related accept');
  if (eps.length) {
    const ifaces = setOf(eps.map((e) => `"${e.iface}"`));
    w.rule(fwd, `iifname vmap { ${egress.join(', ')} }`);
    w.rule(fwd, `oifname vmap { ${ingress.join(', ')} }`);
    w.rule(fwd, `iifname ${ifaces} accept`);
    w.rule(fwd, `oifname ${ifaces} accept`);
  }

  const out: string[] = [
    `# Tollgate nftables ruleset from ${program.endpoints.length} endpoints (${eps.length} with a host-side interface)`,
    ...program.endpoints.filter((e) => !e.iface).map((e) => `# endpoint ${safeText(e.id, 200)} has no host-side interface: not enforced here`),
    `table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
  ];
  for (const s of w.sets.values()) {
    out.push(`\tset ${s.name} {`, `\t\ttype ${s.family === 4 ? 'ipv4_addr' : 'ipv6_addr'}`, '\t\tflags interval', '\t}');
  }
  // the base chain last: every chain its vmaps jump to is declared before it
  for (const c of [...w.chains.filter((c) => c.name !== 'forward'), ...w.chains.filter((c) => c.name === 'forward')]) {
    out.push(`\tchain ${c.name} {`);
    if (c.name === 'forward') out.push('\t\ttype filter hook forward priority filter; policy accept;');
    for (const line of c.body) out.push(`\t\t${line}`);
    out.push('\t}');
  }
  out.push('}');
  // set elements in chunks, so no line gets huge
  for (const s of w.sets.values())
    for (let i = 0; i < s.cidrs.length; i += 512) out.push(`add element inet ${table} ${s.name} { ${s.cidrs.slice(i, i + 512).join(', ')} }`);
  out.push('');
  return { ruleset: out.join('\n'), ruleCount: w.ruleCount, table, sets: [...w.sets.values()].map((s) => s.name) };
}
