// Readable text form of the IR (`tollgate compile --emit ir`): per endpoint and direction, tiers in order,
// rules in order with their ids, and each tier's end.
import type { Chain, Endpoint, Match, Program, Rule, TierChain } from './types';
import { formatPorts } from '../resolve/ports';

const PROTO_NAMES: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP', 136: 'UDPLite' };

export function protoName(p: number): string {
  return PROTO_NAMES[p] ?? String(p);
}

export function renderMatch(m: Match): string {
  const parts: string[] = [];
  if (m.family) parts.push(`ipv${m.family}`);
  if (m.proto !== undefined) parts.push(`proto ${protoName(m.proto)}`);
  if (m.notProto !== undefined) parts.push(`!proto ${protoName(m.notProto)}`);
  const set = (name: string, v: string[] | undefined): void => {
    if (v) parts.push(`${name} ${v.length ? v.join(',') : '{}'}`);
  };
  set('peer', m.peer);
  set('!peer', m.notPeer);
  set('local', m.local);
  set('!local', m.notLocal);
  if (m.dports) parts.push(`dport ${m.dports.length ? formatPorts(m.dports) : '{}'}`);
  if (m.notDports) parts.push(`!dport ${formatPorts(m.notDports)}`);
  if (m.sports) parts.push(`sport ${m.sports.length ? formatPorts(m.sports) : '{}'}`);
  if (m.notSports) parts.push(`!sport ${formatPorts(m.notSports)}`);
  if (m.icmp) parts.push(`icmp ${m.icmp.type}${m.icmp.code !== undefined ? `/${m.icmp.code}` : ''}`);
  if (m.notIcmp) parts.push(`!icmp ${m.notIcmp.type}${m.notIcmp.code !== undefined ? `/${m.notIcmp.code}` : ''}`);
  return parts.length ? parts.join('  ') : 'any';
}

function renderRule(r: Rule): string {
  const at = r.source.file ? `  (${r.source.file}${r.source.line !== undefined ? `:${r.source.line}` : ''})` : '';
  return `      ${r.action.padEnd(5)} ${renderMatch(r.match)}   [${r.id}]${at}`;
}

function renderTier(t: TierChain): string[] {
  const out = [`    tier ${t.name} (${t.kind}):`];
  for (const r of t.rules) out.push(renderRule(r));
  out.push(`      end: ${t.end.action} - ${t.end.reason}`);
  return out;
}

function renderChain(dir: string, c: Chain): string[] {
  if (c.tiers.length === 0) return [`  ${dir}: no policy selects the pod: allow`];
  const last = c.tiers[c.tiers.length - 1];
  return [`  ${dir}:`, ...c.tiers.flatMap(renderTier), ...(last.end.action === 'Pass' ? ['    (nothing decided: allow)'] : [])];
}

export function renderEndpoint(e: Endpoint): string {
  const ports = e.ports.map((p) => `${p.port}/${protoName(p.protocol)}${p.name ? `(${p.name})` : ''}`).join(' ');
  const head = `endpoint ${e.id}  ips ${e.ips.join(',')}${e.iface ? `  iface ${e.iface}` : ''}${ports ? `  ports ${ports}` : ''}`;
  return [head, ...renderChain('ingress', e.ingress), ...renderChain('egress', e.egress)].join('\n') + '\n';
}

export function renderProgram(p: Program): string {
  if (p.endpoints.length === 0) return '# no endpoints (no pod with an address outside the host network)\n';
  return p.endpoints.map(renderEndpoint).join('\n');
}
