// Building and removing the lab in the kernel.
//
// Shape (one node, like a CNI with routed pods, e.g. Calico):
//   node netns  <prefix>-node: forwarding on (IPv4 and IPv6), 169.254.1.1/32 on lo, and for each pod a /32 (/128)
//               route to each pod address via the pod's host-side veth. The host-side veth carries fe80::1.
//   pod netns   <prefix>-<hash>: eth0 (the veth's other end) with the pod's addresses as /32 and /128;
//               default via 169.254.1.1 (ARP answered by the node, which owns that address) and via fe80::1.
//   responders  one agent process per pod serving every declared TCP/UDP port.
// IPv6 duplicate address detection is off in every lab netns, so addresses are usable at once.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PROTO } from '../model/types';
import type { Model } from '../model/types';
import { isLabNetns } from './names';
import { ip, ipn, listNetns, run, sysctl } from './run';
import { readState, removeState, writeState, type LabState, type PodState } from './state';
import { planLab, type PodPlan } from './topology';
import type { RespondConfig } from './agent';
import { agentCommand, isAgentArgv } from './agent-command';

export const GATEWAY4 = '169.254.1.1';
export const GATEWAY6 = 'fe80::1';
const BUILD_PARALLEL = 4;

export interface LabOptions {
  /** 'tg' for a user's lab; tests use their own (e.g. 'tgl') */
  prefix: string;
  /** defaults to names.defaultStatePath(prefix) */
  statePath: string;
}

export interface UpOptions extends LabOptions {
  sources?: string[];
  /** leave what was built when `up` fails (to debug it); default: remove it all */
  keepOnFailure?: boolean;
  /** aborting (e.g. on Ctrl-C) stops the build at the next step and removes what was built */
  signal?: AbortSignal;
}

async function buildNode(netns: string): Promise<void> {
  await ip('netns', 'add', netns);
  await sysctl(netns, {
    'net/ipv4/ip_forward': 1,
    'net/ipv6/conf/all/forwarding': 1,
    'net/ipv6/conf/all/accept_dad': 0,
    'net/ipv6/conf/default/accept_dad': 0,
  });
  await ipn(netns, 'link', 'set', 'lo', 'up');
  await ipn(netns, 'addr', 'add', `${GATEWAY4}/32`, 'dev', 'lo');
}

async function buildPod(node: string, p: PodPlan, owners: Map<string, string>): Promise<number> {
  // Caught here rather than by the kernel's "File exists" so the message names both pods.
  for (const a of [...p.ipv4, ...p.ipv6]) {
    const other = owners.get(a);
    if (other !== undefined) throw new Error(`pod ${p.id}: address ${a} is already the address of pod ${other}`);
    owners.set(a, p.id);
  }
  await ip('netns', 'add', p.netns);
  await sysctl(p.netns, { 'net/ipv6/conf/all/accept_dad': 0, 'net/ipv6/conf/default/accept_dad': 0 });
  await ipn(node, 'link', 'add', p.hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', p.netns);
  await sysctl(node, { [`net/ipv6/conf/${p.hostIf}/accept_dad`]: 0 });
  await ipn(node, 'link', 'set', p.hostIf, 'up');
  await ipn(p.netns, 'link', 'set', 'lo', 'up');
  await ipn(p.netns, 'link', 'set', 'eth0', 'up');
  for (const a of p.ipv4) await ipn(p.netns, 'addr', 'add', `${a}/32`, 'dev', 'eth0');
  for (const a of p.ipv6) await ipn(p.netns, '-6', 'addr', 'add', `${a}/128`, 'dev', 'eth0', 'nodad');
  if (p.ipv4.length > 0) {
    await ipn(p.netns, 'route', 'add', GATEWAY4, 'dev', 'eth0', 'scope', 'link');
    await ipn(p.netns, 'route', 'add', 'default', 'via', GATEWAY4, 'dev', 'eth0');
    for (const a of p.ipv4) await ipn(node, 'route', 'add', `${a}/32`, 'dev', p.hostIf);
  }
  if (p.ipv6.length > 0) {
    await ipn(node, '-6', 'addr', 'add', `${GATEWAY6}/64`, 'dev', p.hostIf, 'nodad');
    await ipn(p.netns, '-6', 'route', 'add', 'default', 'via', GATEWAY6, 'dev', 'eth0');
    for (const a of p.ipv6) await ipn(node, '-6', 'route', 'add', `${a}/128`, 'dev', p.hostIf);
  }
  const links = JSON.parse(await ipn(node, '-j', 'link', 'show', 'dev', p.hostIf)) as { ifindex: number }[];
  return links[0].ifindex;
}

/** Starts the pod's responder; resolves with its pid once every port is bound. */
function startResponder(p: PodPlan, logDir: string): Promise<number> {
  const ports: RespondConfig['ports'] = [];
  for (const x of p.ports) {
    if (x.protocol === PROTO.TCP) ports.push({ port: x.port, protocol: 'tcp' });
    else if (x.protocol === PROTO.UDP) ports.push({ port: x.port, protocol: 'udp' });
    // SCTP and others: not served (this kernel has no SCTP); the engine reports them as not probed.
  }
  if (ports.length === 0) return Promise.resolve(0);
  const cfg: RespondConfig = { pod: p.id, ports };
  const [cmd, ...args] = ['ip', 'netns', 'exec', p.netns, ...agentCommand(), 'respond', JSON.stringify(cfg)];
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${p.netns}.log`);
  const log = fs.openSync(logFile, 'w');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', log] });
  fs.closeSync(log);
  return new Promise((resolve, reject) => {
    let out = '';
    const fail = (why: string): void => {
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
      const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').trim() : '';
      reject(new Error(`pod ${p.id}: responder ${why}${text ? `: ${text}` : ''}`));
    };
    const timer = setTimeout(() => fail('not ready after 15 s'), 15000);
    child.on('error', (err) => fail(err.message));
    child.on('exit', (code, sig) => fail(`exited (${code ?? sig}) before it was ready`));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        child.stdout!.destroy();
        child.unref();
        resolve(child.pid!);
      }
    });
  });
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new Error('interrupted');
}

/** Builds the lab; on failure removes everything it made (unless keepOnFailure) and rethrows. */
export async function labUp(model: Model, opts: UpOptions): Promise<LabState> {
  const plan = planLab(model, opts.prefix);
  const existing = await existingLab(opts);
  if (existing.length > 0) {
    throw new Error(`a lab with prefix '${opts.prefix}' is already up (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', ...' : ''}); run 'tollgate lab down' first`);
  }
  const state: LabState = {
    version: 1,
    prefix: opts.prefix,
    nodeNetns: plan.nodeNetns,
    createdAt: new Date().toISOString(),
    ownerPid: process.pid,
    sources: opts.sources ?? [],
    pods: [],
    skipped: plan.skipped,
  };
  try {
    writeState(opts.statePath, state); // first, so a crash half-way still leaves a record for `lab down`
    await buildNode(plan.nodeNetns);
    const owners = new Map<string, string>();
    // A few pods at a time: each step is a short `ip` process, so the time goes to process start-up, which
    // overlaps well. Pods are taken in order, and buildPod claims its addresses before its first await, so an
    // address clash always names the later pod.
    const queue = [...plan.pods];
    const builder = async (): Promise<void> => {
      for (let p = queue.shift(); p; p = queue.shift()) {
        checkAborted(opts.signal);
        const ps: PodState = { ...p, hostIfindex: 0, responderPid: 0 };
        state.pods.push(ps);
        const built = buildPod(plan.nodeNetns, p, owners);
        writeState(opts.statePath, state); // the netns is about to exist: record it first
        ps.hostIfindex = await built;
      }
    };
    const built = await Promise.allSettled(Array.from({ length: Math.min(BUILD_PARALLEL, plan.pods.length) }, builder));
    const buildFailed = built.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (buildFailed) throw buildFailed.reason;
    const order = new Map(plan.pods.map((p, i) => [p.id, i]));
    state.pods.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
    writeState(opts.statePath, state);
    checkAborted(opts.signal);
    const logDir = path.join(path.dirname(opts.statePath), `${opts.prefix}-logs`);
    // Responders start together: each is its own process, and most of their start-up is node's.
    const pids = await Promise.allSettled(plan.pods.map((p) => startResponder(p, logDir)));
    pids.forEach((r, i) => {
      if (r.status === 'fulfilled') state.pods[i].responderPid = r.value;
    });
    writeState(opts.statePath, state);
    const failed = pids.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    checkAborted(opts.signal);
    return state;
  } catch (err) {
    if (!opts.keepOnFailure) await labDown(opts).catch(() => undefined);
    throw new Error(`lab up failed, ${opts.keepOnFailure ? 'kept what was built (--keep)' : 'removed what was built'}: ${(err as Error).message}`);
  }
}

async function existingLab(opts: LabOptions): Promise<string[]> {
  const found = (await listNetns()).filter((n) => isLabNetns(opts.prefix, n));
  if (readState(opts.statePath)) found.unshift(opts.statePath);
  return found;
}

function isOurResponder(pid: number): boolean {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return isAgentArgv(argv) && argv.includes('respond');
  } catch {
    return false;
  }
}

async function stopProcess(pid: number): Promise<void> {
  if (!pid || !isOurResponder(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 40; i++) {
    if (!fs.existsSync(`/proc/${pid}`)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/**
 * Removes the lab: the responders named in the state file and any process still in a lab netns (an agent a crash
 * left behind), then every netns of this prefix (their veths and routes go with them), then the state file.
 * Idempotent.
 */
export async function labDown(opts: LabOptions): Promise<{ netns: string[]; processes: number }> {
  const state = (() => {
    try {
      return readState(opts.statePath);
    } catch {
      return undefined; // a corrupt state file must not block the sweep
    }
  })();
  const pids = new Set<number>((state?.pods ?? []).map((p) => p.responderPid).filter((p) => p > 0));
  const names = new Set<string>((await listNetns()).filter((n) => isLabNetns(opts.prefix, n)));
  for (const n of names) {
    const out = await run('ip', ['netns', 'pids', n]).catch(() => '');
    for (const t of out.split(/\s+/)) if (/^\d+$/.test(t)) pids.add(Number(t));
  }
  await Promise.all([...pids].map(stopProcess));
  const removed: string[] = [];
  for (const n of names) {
    try {
      await ip('netns', 'del', n);
    } catch (err) {
      if ((await listNetns()).includes(n)) throw err; // else someone else's sweep removed it first
    }
    removed.push(n);
  }
  removeState(opts.statePath);
  fs.rmSync(path.join(path.dirname(opts.statePath), `${opts.prefix}-logs`), { recursive: true, force: true });
  return { netns: removed, processes: pids.size };
}
