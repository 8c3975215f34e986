// Synthetic policies for the benchmarks, made directly as the IR every dataplane starts from (and, for the
// compile-time driver, as manifests).
//
// syntheticProgram: N rules on one endpoint (the server), ingress, one tier:
//   rule i: Allow UDP from peer 10.200.(i>>8).(i&255)/32 to port portOf(i)        (distinct CIDRs and ports)
//   then:   Allow TCP from the client network to the iperf3 port                   (last: a TCP SYN walks every rule)
//   tier end: Deny (a policy selects the server; what no rule allows is dropped)
// Traffic that matches rule k comes from peerOf(k) to portOf(k); spreading k evenly over 0..N-1 spreads the
// traffic evenly over the rules, k = N-1 is the worst case (the last UDP rule).
// With setSize > 0 the first rule instead allows a set of `setSize` distinct /32s plus peerOf(0) (a CIDR set).
import type { Program, Rule } from '../compiler/ir/types';

export const CLIENT_NET = '10.77.1.0/24';
export const SERVER_NET = '10.77.2.0/24';
export const PEER_NET = '10.200.0.0/16';
export const TCP_PORT = 5201;
export const MAX_RULES = 65536;

export function peerOf(i: number): string {
  if (i < 0 || i >= MAX_RULES) throw new RangeError(`rule index ${i} outside 0..${MAX_RULES - 1}`);
  return `10.200.${i >> 8}.${i & 255}`;
}

/** Distinct for the first 60000 rules; never the TCP port. */
export function portOf(i: number): number {
  return 1024 + (i % 60000) + (1024 + (i % 60000) >= TCP_PORT ? 1 : 0);
}

/** `count` distinct /32s outside the peer, client and server networks (for CIDR-set sizes up to 2^24). */
export function setMembers(count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(`11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`);
  return out;
}

export interface SyntheticOptions {
  rules: number;
  /** host-side interface of the server endpoint */
  iface: string;
  serverIp: string;
  /** members of a CIDR set on rule 0 (0 = none) */
  setSize?: number;
}

export function syntheticProgram(o: SyntheticOptions): Program {
  if (!Number.isInteger(o.rules) || o.rules < 1 || o.rules > MAX_RULES) throw new RangeError(`rules: expected 1..${MAX_RULES}, found ${o.rules}`);
  const source = (index: number): Rule['source'] => ({ kind: 'CalicoNetworkPolicy', namespace: 'bench', name: 'synthetic', direction: 'ingress', index });
  const rules: Rule[] = [];
  for (let i = 0; i < o.rules; i++) {
    const peer = i === 0 && o.setSize ? [...setMembers(o.setSize), `${peerOf(0)}/32`] : [`${peerOf(i)}/32`];
    rules.push({ id: `bench/synthetic/ingress/${i}`, action: 'Allow', match: { peer, proto: 17, dports: [{ from: portOf(i), to: portOf(i) }] }, source: source(i) });
  }
  rules.push({
    id: `bench/synthetic/ingress/${o.rules}`,
    action: 'Allow',
    match: { peer: [CLIENT_NET], proto: 6, dports: [{ from: TCP_PORT, to: TCP_PORT }] },
    source: source(o.rules),
  });
  return {
    version: 1,
    endpoints: [
      {
        id: 'bench/server',
        namespace: 'bench',
        name: 'server',
        ips: [o.serverIp],
        labels: { app: 'server' },
        iface: o.iface,
        ports: [],
        ingress: {
          tiers: [
            {
              name: 'default',
              kind: 'calico',
              rules,
              end: { action: 'Deny', reason: 'CalicoNetworkPolicy bench/synthetic selects the pod and no rule allowed', policies: ['CalicoNetworkPolicy bench/synthetic'] },
            },
          ],
        },
        egress: { tiers: [] },
      },
    ],
  };
}

/** Rule indexes for traffic: `spread` evenly spaced over 0..N-1 (midpoints of equal slices), and the last one. */
export function trafficPositions(rules: number, spread: number): { even: number[]; worst: number } {
  const n = Math.min(spread, rules);
  const even: number[] = [];
  for (let j = 0; j < n; j++) even.push(Math.min(rules - 1, Math.floor(((j + 0.5) * rules) / n)));
  return { even: [...new Set(even)], worst: rules - 1 };
}

/**
 * Manifests for the compile-time driver: `pods` pods in `namespaces` namespaces and `policies` Kubernetes
 * NetworkPolicies, each selecting one app label in its namespace and allowing ingress from pods of another app,
 * from an ipBlock and on two ports. Multi-document YAML text.
 */
export function syntheticManifests(o: { policies: number; pods: number; namespaces?: number }): string {
  const nsCount = o.namespaces ?? Math.max(1, Math.round(o.pods / 50));
  const apps = 20;
  const docs: string[] = [];
  for (let n = 0; n < nsCount; n++) {
    docs.push(`apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns${n}\n  labels:\n    team: t${n % 7}\n`);
  }
  for (let p = 0; p < o.pods; p++) {
    const ns = p % nsCount;
    const ip = `10.${64 + ((p >> 16) & 63)}.${(p >> 8) & 255}.${p & 255}`;
    docs.push(
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: pod${p}\n  namespace: ns${ns}\n  labels:\n    app: a${p % apps}\nspec:\n` +
        `  containers:\n    - name: c\n      image: x\n      ports:\n        - containerPort: 8080\n          name: http\nstatus:\n  podIP: ${ip}\n  podIPs:\n    - ip: ${ip}\n`,
    );
  }
  for (let i = 0; i < o.policies; i++) {
    const ns = i % nsCount;
    docs.push(
      `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: pol${i}\n  namespace: ns${ns}\nspec:\n` +
        `  podSelector:\n    matchLabels:\n      app: a${i % apps}\n  policyTypes: [Ingress]\n  ingress:\n` +
        `    - from:\n        - podSelector:\n            matchLabels:\n              app: a${(i + 1) % apps}\n` +
        `        - namespaceSelector:\n            matchLabels:\n              team: t${i % 7}\n` +
        `        - ipBlock:\n            cidr: 172.${16 + (i % 16)}.${(i >> 4) & 255}.0/24\n` +
        `      ports:\n        - protocol: TCP\n          port: ${1000 + (i % 5000)}\n        - protocol: TCP\n          port: http\n`,
    );
  }
  return docs.join('---\n');
}
