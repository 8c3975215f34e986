// The lab: pods as network namespaces behind host-side veths in one node netns, responders on every declared
// port, and real probes between them. `tollgate lab`, `tollgate load` (the interfaces) and the netns engine use it.
import * as fs from 'fs';
import { spawn } from 'child_process';
import { checkPrefix, defaultStatePath } from './names';
import { readState, type LabState, type PodState } from './state';
import { listNetns } from './run';
import type { LabOptions } from './build';

export { labUp, labDown, GATEWAY4, GATEWAY6 } from './build';
export type { LabOptions, UpOptions } from './build';
export { planLab, IFACE_ANNOTATION } from './topology';
export type { LabPlan, PodPlan } from './topology';
export { runProbes, DEFAULT_TIMEOUT_MS } from './probe';
export type { ProbeRequest, ProbeOptions } from './probe';
export type { ProbeOutcome, ProbeStatus } from './agent';
export type { LabState, PodState } from './state';

/**
 * The user's lab is 'tg'; tests pass their own prefix. TOLLGATE_LAB_PREFIX changes the default for every command
 * (so `matrix --engine netns` and `load` find a lab that a test built under its own prefix).
 */
export function labOptions(prefix = process.env.TOLLGATE_LAB_PREFIX || 'tg', statePath?: string): LabOptions {
  checkPrefix(prefix);
  return { prefix, statePath: statePath ?? defaultStatePath(prefix) };
}

export interface LabInterface {
  /** "ns/name" */
  pod: string;
  /** host-side veth, in `netns` */
  ifname: string;
  /** the node's netns (where the host-side veths live and programs attach) */
  netns: string;
  ifindex: number;
}

/** The host-side interfaces of the lab that is up ([] when none is). For `tollgate load`. */
export function labInterfaces(opts: LabOptions = labOptions()): LabInterface[] {
  const s = readState(opts.statePath);
  if (!s) return [];
  return s.pods.map((p) => ({ pod: p.id, ifname: p.hostIf, netns: s.nodeNetns, ifindex: p.hostIfindex }));
}

export interface LabStatus {
  up: boolean;
  state?: LabState;
  /** what is wrong with a lab that is up: a missing netns, a responder that died */
  problems: string[];
}

function alive(pid: number): boolean {
  return pid > 0 && fs.existsSync(`/proc/${pid}`);
}

export async function labStatus(opts: LabOptions = labOptions()): Promise<LabStatus> {
  const state = readState(opts.statePath);
  if (!state) return { up: false, problems: [] };
  const present = new Set(await listNetns());
  const problems: string[] = [];
  if (!present.has(state.nodeNetns)) problems.push(`node netns ${state.nodeNetns} is missing`);
  for (const p of state.pods) {
    if (!present.has(p.netns)) problems.push(`pod ${p.id}: netns ${p.netns} is missing`);
    if (p.responderPid > 0 && !alive(p.responderPid)) problems.push(`pod ${p.id}: responder (pid ${p.responderPid}) is not running`);
  }
  return { up: true, state, problems };
}

/** Reads the state of a lab that must be up and whole; the error says what to run otherwise. */
export async function requireLab(opts: LabOptions, pods: Iterable<string> = []): Promise<LabState> {
  const st = await labStatus(opts);
  if (!st.up || !st.state) throw new Error(`no lab is up (no ${opts.statePath}); run 'tollgate lab up PATHS...' first`);
  if (st.problems.length > 0) throw new Error(`the lab is broken: ${st.problems.join('; ')}; run 'tollgate lab down' and 'lab up' again`);
  const have = new Set(st.state.pods.map((p) => p.id));
  const missing = [...new Set(pods)].filter((p) => !have.has(p));
  if (missing.length > 0) {
    throw new Error(`the lab that is up has no netns for ${missing.join(', ')} (built from ${st.state.sources.join(' ') || 'a model'}); run 'tollgate lab down' and 'lab up' with these manifests`);
  }
  return st.state;
}

export function findPod(state: LabState, id: string): PodState {
  const p = state.pods.find((x) => x.id === id);
  if (!p) throw new Error(`expected a pod of the lab (${state.pods.map((x) => x.id).join(', ')}), found '${id}'`);
  return p;
}

/** Runs a command inside a pod's netns with the caller's stdio; resolves with its exit code. */
export async function labExec(opts: LabOptions, pod: string, argv: string[], stdio: 'inherit' | 'pipe' = 'inherit'): Promise<{ code: number; stdout: string; stderr: string }> {
  if (argv.length === 0) throw new Error('lab exec: expected a command after --, found none');
  const p = findPod(await requireLab(opts, [pod]), pod);
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', p.netns, ...argv], { stdio: stdio === 'inherit' ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, sig) => resolve({ code: code ?? (sig ? 128 : 1), stdout, stderr }));
  });
}

export { startStream, startFlood } from './traffic';
export type { Running, FloodStats, StreamStats } from './traffic';
