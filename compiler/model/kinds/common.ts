// Pieces shared by several kinds: object metadata, CIDRs and addresses, protocols, Kubernetes quantities.
import { parseCidr, parseIp, type ParsedCidr } from '../addresses';
import { describe, Reader, type Path } from '../fields';
import { PROTO } from '../types';

export interface Meta {
  name: string;
  namespace?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** A CIDR field. Host bits are cleared with a warning: the Kubernetes API server accepts "10.0.0.1/24" too. */
export function readCidr(r: Reader, v: unknown, path: Path, opts: { bareIp?: boolean; strict?: boolean } = {}): ParsedCidr | undefined {
  if (v === undefined || v === null) {
    r.error('required', path, `expected a CIDR like 10.0.0.0/8 or fd00::/64, found nothing`);
    return undefined;
  }
  if (typeof v !== 'string') {
    r.error('bad-cidr', path, `expected a CIDR like 10.0.0.0/8 or fd00::/64, found ${describe(v)}`);
    return undefined;
  }
  const p = parseCidr(v, opts);
  if ('error' in p) {
    r.error('bad-cidr', path, `expected a CIDR like 10.0.0.0/8 or fd00::/64${opts.bareIp ? ' (or an address)' : ''}, found ${describe(v)} (${p.error})`);
    return undefined;
  }
  if (p.hostBits && opts.strict) {
    // Calico's "net" validator (rule nets, IPPool cidr): the network must be strictly masked.
    r.error('bad-cidr', path, `expected a strictly masked network (no host bits set, e.g. ${p.cidr}), found ${describe(v)}`);
    return undefined;
  }
  if (p.hostBits) r.warn('cidr-host-bits', path, `CIDR ${JSON.stringify(v)} has host bits set; read as ${p.cidr}`);
  return p;
}

export function readCidrList(r: Reader, v: unknown, path: Path, opts: { bareIp?: boolean; strict?: boolean } = {}): ParsedCidr[] {
  const out: ParsedCidr[] = [];
  r.list(v, path).forEach((c, i) => {
    const p = readCidr(r, c, [...path, i], opts);
    if (p) out.push(p);
  });
  return out;
}

export function readIp(r: Reader, v: unknown, path: Path): string | undefined {
  if (typeof v !== 'string') {
    r.error('bad-ip', path, `expected an IP address, found ${describe(v)}`);
    return undefined;
  }
  const ip = parseIp(v);
  if (!ip) {
    r.error('bad-ip', path, `expected an IPv4 or IPv6 address, found ${describe(v)}`);
    return undefined;
  }
  return ip.addr;
}

/** Kubernetes protocols (NetworkPolicy ports, container ports, ANP ports): exact case, TCP when absent. */
export const K8S_PROTOCOLS = { TCP: PROTO.TCP, UDP: PROTO.UDP, SCTP: PROTO.SCTP } as const;

export function readK8sProtocol(r: Reader, v: unknown, path: Path): number | undefined {
  if (v === undefined || v === null) return PROTO.TCP;
  if (typeof v === 'string' && Object.prototype.hasOwnProperty.call(K8S_PROTOCOLS, v)) return K8S_PROTOCOLS[v as keyof typeof K8S_PROTOCOLS];
  r.error('bad-protocol', path, `expected a protocol (one of TCP, UDP, SCTP), found ${describe(v)}`);
  return undefined;
}

/**
 * Calico protocol names, exactly as libcalico-go's validator spells them (`^(TCP|UDP|ICMP|ICMPv6|SCTP|UDPLite)$`;
 * v3 keeps the case as written, so "tcp" is rejected), or a number 1..255 (also written as a string).
 */
const CALICO_PROTOCOLS: Record<string, number> = {
  TCP: PROTO.TCP, UDP: PROTO.UDP, ICMP: PROTO.ICMP, ICMPv6: PROTO.ICMPv6, SCTP: PROTO.SCTP, UDPLite: PROTO.UDPLite,
};

export function readCalicoProtocol(r: Reader, v: unknown, path: Path): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 255) return v;
  if (typeof v === 'string' && Object.prototype.hasOwnProperty.call(CALICO_PROTOCOLS, v)) return CALICO_PROTOCOLS[v];
  if (typeof v === 'string' && /^[0-9]+$/.test(v) && Number(v) >= 1 && Number(v) <= 255) return Number(v);
  const hint = typeof v === 'string' ? Object.keys(CALICO_PROTOCOLS).find((k) => k.toLowerCase() === v.toLowerCase()) : undefined;
  r.error('bad-protocol', path, `expected a protocol (TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1..255), found ${describe(v)}${hint ? ` (did you mean ${hint}?)` : ''}`);
  return undefined;
}

/** Protocols whose rules may have ports in Calico (numorstring.Protocol.SupportsPorts: 6, 17, 132; not UDPLite). */
export const PORT_PROTOCOLS: readonly number[] = [PROTO.TCP, PROTO.UDP, PROTO.SCTP];

// Kubernetes resource quantities: "<number><suffix>", suffix binary (Ki..Ei), decimal (n u m k M G T P E) or an
// exponent (e3). The bandwidth annotations are read as bits per second, as the CNI bandwidth plugin reads them.
const SUFFIX: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};
const QUANTITY = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$/;

/** A quantity as a number (rounded up to an integer, as resource.Quantity.Value() does); undefined if malformed. */
export function parseQuantity(text: string): number | undefined {
  const m = QUANTITY.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const suf = m[2] ?? '';
  const mult = /^[eE]/.test(suf) ? 10 ** Number(suf.slice(1)) : SUFFIX[suf];
  return Math.ceil(n * mult);
}

/** Bandwidth as Kubernetes checks it (pkg/util/bandwidth): between 1k and 1P bits per second. */
export function readBandwidth(r: Reader, v: string, path: Path): number | undefined {
  const q = parseQuantity(v);
  if (q === undefined) {
    r.error('bad-quantity', path, `expected a bandwidth quantity like "10M", "500k" or "1Gi" (bits per second), found ${describe(v)}`);
    return undefined;
  }
  if (q < 1e3 || q > 1e15) {
    r.error('bad-quantity', path, `expected a bandwidth between 1k and 1P bits per second, found ${describe(v)}`);
    return undefined;
  }
  return q;
}

type BandwidthPrefix = 'kubernetes.io/' | 'tollgate.dev/';
/** The annotation names under each prefix, built once per prefix (two at most; no text built per object). */
const BANDWIDTH_KEYS = new Map<BandwidthPrefix, { ingress: string; egress: string }>();
function bandwidthKeys(prefix: BandwidthPrefix): { ingress: string; egress: string } {
  let keys = BANDWIDTH_KEYS.get(prefix);
  if (!keys) BANDWIDTH_KEYS.set(prefix, (keys = { ingress: `${prefix}ingress-bandwidth`, egress: `${prefix}egress-bandwidth` }));
  return keys;
}

/** The two bandwidth annotations under `prefix` (kubernetes.io/ for pods, tollgate.dev/ for IP pools). */
export function readBandwidthAnnotations(r: Reader, annotations: Record<string, string>, prefix: BandwidthPrefix): { ingress?: number; egress?: number } {
  const out: { ingress?: number; egress?: number } = {};
  const keys = bandwidthKeys(prefix);
  for (const dir of ['ingress', 'egress'] as const) {
    const key = keys[dir];
    const v = annotations[key];
    if (v === undefined) continue;
    const bps = readBandwidth(r, v, ['metadata', 'annotations', key]);
    if (bps !== undefined) out[dir] = bps;
  }
  return out;
}
