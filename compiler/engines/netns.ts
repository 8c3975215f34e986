// The netns engine: real traffic between the lab's pods. `allowed` is what the packets did (a TCP connect and
// exchange, a UDP request and reply, each with a bounded timeout); egress/ingress `decidedBy` come from the IR's
// reference evaluator, which names the rule. When the traffic and the IR disagree, `note` says so: that is a bug
// in the dataplane (or in the IR), never something to hide.
import { PROTO } from '../model/types';
import type { Family } from '../model/types';
import { probeHead, probeResult, protocolName, PROBE_SPORT } from './ir';
import type { Compiled } from '../pipeline';
import { labOptions, labStatus, requireLab, runProbes, DEFAULT_TIMEOUT_MS, type LabOptions, type PodState, type ProbeOutcome, type ProbeRequest } from '../lab';
import type { Engine, Probe, ProbeResult } from './types';

export { protocolName };

// The IR side is the ir engine's own answer for the same probe (same packet, source port PROBE_SPORT), so the
// egress/ingress verdicts and texts are exactly those of `matrix --engine ir`.

// ---------------------------------------------------------------------------------------------------------

function addressOf(p: PodState, family: Family): string | undefined {
  return (family === 4 ? p.ipv4 : p.ipv6)[0];
}

const STATUS_WORDS: Record<ProbeOutcome['status'], string> = {
  ok: 'reply received',
  refused: 'refused',
  timeout: 'no reply within the timeout',
  unreachable: 'unreachable',
  'bad-reply': 'wrong reply',
  error: 'error',
};

export interface NetnsEngineOptions {
  lab?: LabOptions;
  timeoutMs?: number;
}

export function createNetnsEngine(opts: NetnsEngineOptions = {}): Engine {
  return {
    name: 'netns',
    async run(compiled: Compiled, probes: Probe[]): Promise<ProbeResult[]> {
      const lab = opts.lab ?? labOptions(); // at run time: TOLLGATE_LAB_PREFIX may name a test's lab
      const skipped = new Map(((await labStatus(lab)).state?.skipped ?? []).map((k) => [k.pod, k.reason]));
      const state = await requireLab(lab, probes.flatMap((p) => [p.from, p.to]).filter((id) => !skipped.has(id)));
      const pods = new Map(state.pods.map((p) => [p.id, p]));
      const requests: ProbeRequest[] = [];
      const reqIndex = new Map<string, number>();
      type Plan = { probe: Probe; ir: ProbeResult; req?: number; why?: string };
      // Addresses come from the model (a host-network pod has some, but no netns in the lab).
      const modelPods = new Map(compiled.model.pods.map((p) => [`${p.namespace}/${p.name}`, p]));
      const modelAddr = (id: string, family: Family): string | undefined =>
        modelPods.get(id)?.ips.find((a) => (family === 6) === a.includes(':')) ?? (pods.get(id) ? addressOf(pods.get(id)!, family) : undefined);
      const plans: Plan[] = probes.map((probe) => {
        const ir = probeResult(compiled.program, probe);
        const sa = modelAddr(probe.from, probe.family);
        const da = modelAddr(probe.to, probe.family);
        if (!sa || !da) return { probe, ir, why: `not probed: ${!sa ? probe.from : probe.to} has no IPv${probe.family} address` };
        const unplaced = [probe.from, probe.to].find((id) => skipped.has(id));
        if (unplaced) return { probe, ir, why: `not probed: ${unplaced} has no netns in the lab (${skipped.get(unplaced)})` };
        for (const [id, a] of [[probe.from, sa], [probe.to, da]] as const) {
          const p = pods.get(id)!;
          if (![...p.ipv4, ...p.ipv6].includes(a)) {
            throw new Error(`the lab is not built from these manifests: pod ${id} has ${a} in the manifests but ${[...p.ipv4, ...p.ipv6].join(', ')} in the lab; run 'tollgate lab down' and 'lab up' again`);
          }
        }
        if (probe.protocol !== PROTO.TCP && probe.protocol !== PROTO.UDP) {
          return { probe, ir, why: `not probed: the lab sends only TCP and UDP (${protocolName(probe.protocol)} has no probe here)` };
        }
        const protocol = probe.protocol === PROTO.TCP ? 'tcp' : 'udp';
        const key = `${probe.from}|${probe.to}|${da}|${protocol}|${probe.port}`;
        let req = reqIndex.get(key);
        if (req === undefined) {
          req = requests.length;
          reqIndex.set(key, req);
          // from the same source port as the other engines' packets: Calico source.ports rules see the same thing
          requests.push({ from: probe.from, to: probe.to, addr: da, port: probe.port, protocol, sport: PROBE_SPORT });
        }
        return { probe, ir, req };
      });
      const outcomes = await runProbes(state, requests, { timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS });
      return plans.map(({ probe, ir, req, why }): ProbeResult => {
        const base = probeHead(probe);
        const verdicts = { egress: ir.egress, ingress: ir.ingress };
        // not probed: the IR's answer (the contract of ProbeResult.note)
        if (req === undefined) return { ...base, allowed: ir.allowed, ...verdicts, note: [why, ir.note].filter(Boolean).join('; ') };
        const o = outcomes[req];
        // A refusal (TCP RST, ICMP port unreachable) came back from the destination pod's kernel: the network
        // delivered the packet both ways; only no process listens on the port.
        const allowed = o.status === 'ok' || o.status === 'refused';
        const notes: string[] = [];
        if (o.status !== 'ok') notes.push(`${STATUS_WORDS[o.status]}${o.detail ? ` (${o.detail})` : ''} after ${Math.round(o.ms)} ms`);
        if (allowed !== ir.allowed) {
          notes.push(`MISMATCH: real traffic was ${allowed ? 'allowed' : 'denied'} but the IR says ${ir.allowed ? 'allowed' : 'denied'}`);
        }
        return { ...base, allowed, ...verdicts, ...(notes.length ? { note: notes.join('; ') } : {}) };
      });
    },
  };
}

/** The user's lab (prefix 'tg', /run/tollgate/lab.json). */
export const engine: Engine = createNetnsEngine();
