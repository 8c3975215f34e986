// The ir engine: the reference evaluator over the compiled Program. `probeResult` builds the result of one probe
// (the JSON contract of `matrix --output json`) so other engines and tests can reuse it.
import { PROTO, type Family } from '../model/types';
import type { Endpoint, Packet, Program } from '../ir/types';
import type { Compiled } from '../pipeline';
import { evaluate } from '../ir/evaluate';
import type { DirectionResult, Engine, Probe, ProbeResult } from './types';

export function protocolName(p: number): string {
  switch (p) {
    case PROTO.TCP:
      return 'TCP';
    case PROTO.UDP:
      return 'UDP';
    case PROTO.SCTP:
      return 'SCTP';
    case PROTO.ICMP:
      return 'ICMP';
    case PROTO.ICMPv6:
      return 'ICMPv6';
    case PROTO.UDPLite:
      return 'UDPLite';
    default:
      return String(p);
  }
}

/** Source port of every probe packet (Calico source.ports rules see it). */
export const PROBE_SPORT = 40000;

export function endpointById(program: Program, id: string): Endpoint | undefined {
  return program.endpoints.find((e) => e.id === id);
}

export function addressOf(ep: Endpoint, family: Family): string | undefined {
  return ep.ips.find((ip) => (family === 6) === ip.includes(':'));
}

/** The packet a probe sends: TCP/UDP/SCTP from port 40000, or an ICMP echo request. */
export function packetFor(src: string, dst: string, protocol: number, port: number): Packet {
  if (protocol === PROTO.ICMP || protocol === PROTO.ICMPv6) {
    const proto = src.includes(':') ? PROTO.ICMPv6 : PROTO.ICMP;
    return { src, dst, proto, icmpType: proto === PROTO.ICMP ? 8 : 128, icmpCode: 0 };
  }
  return { src, dst, proto: protocol, sport: PROBE_SPORT, dport: port };
}

/** A probe's two endpoints and the packet it sends. */
export interface ProbePacket {
  from: Endpoint;
  to: Endpoint;
  pkt: Packet;
}

/** The probe's endpoints and packet, or why there is none (a side without an address of the probe's family). */
export function probePacket(program: Program, probe: Probe): ProbePacket | string {
  const from = endpointById(program, probe.from);
  const to = endpointById(program, probe.to);
  const src = from && addressOf(from, probe.family);
  const dst = to && addressOf(to, probe.family);
  if (!from || !to || !src || !dst) return `${!from || !src ? probe.from : probe.to} has no IPv${probe.family} address in the program`;
  return { from, to, pkt: packetFor(src, dst, probe.protocol, probe.port) };
}

/** The fields of a result that name its probe. */
export function probeHead(probe: Probe): Pick<ProbeResult, 'from' | 'to' | 'port' | 'protocol'> {
  return { from: probe.from, to: probe.to, port: probe.port, protocol: protocolName(probe.protocol) };
}

/** The result of a probe that has no packet (probePacket's reason): denied on both sides, the reason noted. */
export function packetlessResult(probe: Probe, why: string): ProbeResult {
  const d: DirectionResult = { allowed: false, decidedBy: why };
  return { ...probeHead(probe), allowed: false, egress: d, ingress: d, note: why };
}

/** One probe through the reference evaluator: source egress AND destination ingress. */
export function probeResult(program: Program, probe: Probe): ProbeResult {
  const pp = probePacket(program, probe);
  if (typeof pp === 'string') return packetlessResult(probe, pp);
  const e = evaluate(pp.from, 'egress', pp.pkt);
  const i = evaluate(pp.to, 'ingress', pp.pkt);
  return { ...probeHead(probe), allowed: e.allowed && i.allowed, egress: { allowed: e.allowed, decidedBy: e.decidedBy }, ingress: { allowed: i.allowed, decidedBy: i.decidedBy } };
}

export const engine: Engine = {
  name: 'ir',
  async run(compiled: Compiled, probes: Probe[]): Promise<ProbeResult[]> {
    return probes.map((p) => probeResult(compiled.program, p));
  },
};
