// Real probes: one agent process per source pod, inside its netns, takes that pod's whole batch of targets.
import { spawn } from 'child_process';
import { agentCommand } from './agent-command';
import type { LabState } from './state';
import type { ProbeBatch, ProbeOutcome, ProbeTarget } from './agent';

export interface ProbeRequest {
  /** source pod "ns/name" */
  from: string;
  /** destination pod "ns/name" (the reply must name it) */
  to: string;
  addr: string;
  port: number;
  protocol: 'tcp' | 'udp';
  /** fixed source port; default ephemeral */
  sport?: number;
}

export interface ProbeOptions {
  timeoutMs?: number;
  /** probes in flight per source pod */
  concurrency?: number;
  /** source pods probed at once (each is a process; this machine has 2 cores) */
  parallelSources?: number;
  /**
   * Probe a timed-out target once more before calling it a timeout (default true). On a loaded machine a reply can
   * be late; a dropped packet is dropped again, so a real denial costs one more timeout and is never lost.
   */
  retryTimeouts?: boolean;
}

export const DEFAULT_TIMEOUT_MS = 1000;

function runAgent(netns: string, batch: ProbeBatch): Promise<ProbeOutcome[]> {
  const [cmd, ...args] = ['ip', 'netns', 'exec', netns, ...agentCommand(), 'probe'];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    // A prober that died before reading its batch (killed by Ctrl-C with the rest of the process group, or a netns
    // that is gone) makes the write fail with EPIPE: 'close' below reports it; unhandled, it would crash the caller.
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`prober in ${netns} exited ${code}: ${err.trim()}`));
      try {
        resolve(JSON.parse(out) as ProbeOutcome[]);
      } catch {
        reject(new Error(`prober in ${netns}: expected JSON results, found '${out.slice(0, 200)}'`));
      }
    });
    child.stdin.end(JSON.stringify(batch));
  });
}

/** Probes every request; the result array is in request order. */
export async function runProbes(state: LabState, requests: ProbeRequest[], opts: ProbeOptions = {}): Promise<ProbeOutcome[]> {
  const first = await probeOnce(state, requests, opts);
  if (opts.retryTimeouts === false) return first;
  const again = first.map((o, i) => (o.status === 'timeout' ? i : -1)).filter((i) => i >= 0);
  if (again.length === 0) return first;
  const second = await probeOnce(state, again.map((i) => requests[i]), opts);
  again.forEach((i, j) => {
    const o = second[j];
    first[i] = o.status === 'timeout' ? { ...o, detail: [o.detail, 'twice'].filter(Boolean).join(', ') } : { ...o, detail: [o.detail, 'after one timeout'].filter(Boolean).join(', ') };
  });
  return first;
}

async function probeOnce(state: LabState, requests: ProbeRequest[], opts: ProbeOptions): Promise<ProbeOutcome[]> {
  const byPod = new Map(state.pods.map((p) => [p.id, p]));
  const groups = new Map<string, { idx: number[]; targets: ProbeTarget[] }>();
  requests.forEach((r, i) => {
    const src = byPod.get(r.from);
    if (!src) throw new Error(`probe from ${r.from}: expected a pod of the lab, found none (lab pods: ${[...byPod.keys()].join(', ')})`);
    let g = groups.get(src.netns);
    if (!g) groups.set(src.netns, (g = { idx: [], targets: [] }));
    g.idx.push(i);
    g.targets.push({ key: String(i), addr: r.addr, port: r.port, protocol: r.protocol, pod: r.to, ...(r.sport ? { sport: r.sport } : {}) });
  });
  const results: ProbeOutcome[] = new Array(requests.length);
  const queue = [...groups.entries()];
  const parallel = Math.max(1, opts.parallelSources ?? 8);
  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item; item = queue.shift()) {
      const [netns, g] = item;
      const batch: ProbeBatch = { timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, concurrency: opts.concurrency ?? 256, targets: g.targets };
      const out = await runAgent(netns, batch);
      out.forEach((o, j) => (results[g.idx[j]] = o));
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, queue.length) }, worker));
  return results;
}
