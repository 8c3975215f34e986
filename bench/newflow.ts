// Driver: the cost of deciding a new flow as the rule count grows (issue 4: at 10,000 rules it must be at most
// 2x the cost at 10 rules). One endpoint, N ingress rules (each a distinct /24 peer and a TCP port, every
// other one Deny, then a Deny tier end), loaded through the native addon, and TCP SYNs through
// BPF_PROG_TEST_RUN: a SYN is always decided by policy (a SYN on an existing conntrack entry is evaluated
// again), so every repeat is the full new-flow path: endpoint, conntrack, peer LPM, port LPM, decision, insert.
// Also measured: an established packet (ACK on a conntrack hit).
//
//   npx tsx bench/newflow.ts [--sizes 10,10000,65536] [--repeat 200000] [--trials 5] [--ranges]
// --ranges: port ranges instead of single ports (both the peer and the port lookups then walk LPM tries).
import type { Program, Rule } from '../compiler/ir/types';
import { BpfHarness } from '../compiler/engines/bpf';
import { craft, TCP } from '../compiler/emit/bpf/packet';
import { median } from './stats';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
}

/** `ranges`: every rule's port is a 2-port range (a /15 prefix), so the port lookup goes to the trie too. */
export function syntheticProgram(n: number, ranges = false): Program {
  const rules: Rule[] = [];
  for (let i = 0; i < n; i++) {
    rules.push({
      id: `r${i}`, action: i % 2 ? 'Deny' : 'Allow',
      match: { peer: [`10.${(i >> 8) & 0xff}.${i & 0xff}.0/24`], proto: 6, dports: [ranges ? { from: 2 * (i % 30000), to: 2 * (i % 30000) + 1 } : { from: 1000 + (i % 20000), to: 1000 + (i % 20000) }] },
      source: { kind: 'CalicoNetworkPolicy', namespace: 'bench', name: `p${i >> 6}`, direction: 'ingress', index: i & 63 },
    });
  }
  return {
    version: 1,
    endpoints: [{ id: 'bench/server', namespace: 'bench', name: 'server', ips: ['192.168.0.1'], labels: {}, ports: [],
      ingress: { tiers: [{ name: 'default', kind: 'calico', rules, end: { action: 'Deny', reason: 'bench', policies: [] } }] }, egress: { tiers: [] } }],
  };
}

export interface Row {
  n: number;
  /** allowed new flow: decision + conntrack insert */
  newFlowNs: number;
  /** denied new flow: decision only */
  deniedNs: number;
  establishedNs: number;
  buildMs: number;
  decisions: number;
}

export async function measure(n: number, repeat: number, trials: number, ranges = false): Promise<Row> {
  const t0 = Date.now();
  const h = await BpfHarness.open(syntheticProgram(n, ranges), { record: false });
  const buildMs = Date.now() - t0;
  try {
    // Allowed and denied flows cost differently (an allowed one inserts a conntrack entry), so they are
    // measured apart: packets for rules spread over the table (first, middle, last of each verdict; even rules
    // allow, odd rules deny), and for denied also one that no rule matches (the tier end).
    const at = (i: number): { src: string; dport: number } => ({ src: `10.${(i >> 8) & 0xff}.${i & 0xff}.9`, dport: ranges ? 2 * (i % 30000) + 1 : 1000 + (i % 20000) });
    const even = (i: number): number => i - (i % 2);
    const allowPicks = [0, even(Math.floor(n / 2)), even(n - 1)].map(at);
    const denyPicks = [1, even(Math.floor(n / 2)) + 1, even(n - 1) - 1].map(at);
    denyPicks.push({ src: '172.16.0.1', dport: 1 });
    const fresh: number[] = [];
    const denied: number[] = [];
    const est: number[] = [];
    const syn = async (p: { src: string; dport: number }): Promise<number> =>
      (await h.run('ingress', craft({ src: p.src, dst: '192.168.0.1', proto: 6, sport: 40000, dport: p.dport }, { tcpFlags: TCP.SYN }), { repeat })).duration;
    for (let t = 0; t < trials; t++) {
      for (const p of allowPicks) fresh.push(await syn(p));
      for (const p of denyPicks) denied.push(await syn(p));
      const picks = allowPicks;
      const allowed = { src: picks[0].src, dst: '192.168.0.1', proto: 6, sport: 40000, dport: picks[0].dport };
      await h.run('ingress', craft(allowed, { tcpFlags: TCP.SYN }));
      est.push((await h.run('ingress', craft(allowed, { tcpFlags: TCP.ACK }), { repeat })).duration);
    }
    return { n, newFlowNs: median(fresh), deniedNs: median(denied), establishedNs: median(est), buildMs, decisions: h.tables.decisions.length };
  } finally {
    h.close();
  }
}

async function main(): Promise<void> {
  const sizes = arg('sizes', '10,10000,65536').split(',').map(Number);
  const repeat = Number(arg('repeat', '200000'));
  const trials = Number(arg('trials', '5'));
  const rows = [];
  const ranges = process.argv.includes('--ranges');
  for (const n of sizes) rows.push(await measure(n, repeat, trials, ranges));
  const base = rows[0];
  console.log(`rules: a distinct /24 peer and ${ranges ? 'a 2-port range' : 'one TCP port'} each`);
  console.log(`new-flow decision, BPF_PROG_TEST_RUN (ns per run), median of ${trials} trials x 3-4 packets, ${repeat} repeats each`);
  console.log('rules    allowed new  ratio  denied new  ratio  established  ratio  decisions  build+load ms');
  const f = (x: number, w: number): string => x.toFixed(0).padStart(w);
  const q = (x: number): string => x.toFixed(2).padStart(5);
  for (const r of rows) {
    console.log(`${String(r.n).padEnd(8)} ${f(r.newFlowNs, 11)}  ${q(r.newFlowNs / base.newFlowNs)}  ${f(r.deniedNs, 10)}  ${q(r.deniedNs / base.deniedNs)}  ${f(r.establishedNs, 11)}  ${q(r.establishedNs / base.establishedNs)}  ${String(r.decisions).padStart(9)}  ${String(r.buildMs).padStart(13)}`);
  }
  const r10k = rows.find((r) => r.n === 10000);
  if (r10k && base.n === 10) {
    const worst = Math.max(r10k.newFlowNs / base.newFlowNs, r10k.deniedNs / base.deniedNs);
    console.log(`new-flow ratio 10,000 / 10 rules (worse of allowed, denied): ${worst.toFixed(2)} (requirement: <= 2.00) ${worst <= 2 ? 'OK' : 'FAIL'}`);
    if (worst > 2) process.exitCode = 1;
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
