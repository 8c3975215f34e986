// Long-lived traffic in the lab, for watching what a policy update does to flows that are already running:
// a TCP stream that sends a numbered message at a fixed interval and counts the acknowledgements, and a UDP
// request flood (this machine has no ping). Both run inside the source pod's netns until stopped, and report what they saw.
import { spawn, type ChildProcess } from 'child_process';
import { agentCommand } from './agent-command';
import { findPod } from './index';
import type { LabState } from './state';
import type { FloodConfig, FloodStats, StreamConfig, StreamStats } from './agent';

export type { FloodStats, StreamStats } from './agent';

export interface Running<T> {
  /** stops the traffic and resolves with what it saw */
  stop(): Promise<T>;
}

function collect(child: ChildProcess): { out: () => string; err: () => string; closed: Promise<number | null> } {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { out: () => out, err: () => err, closed };
}

/** Resolves once the agent printed `marker`; rejects when it exits first or stays silent for 3 s. */
function waitFor(child: ChildProcess, io: ReturnType<typeof collect>, marker: string, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what}: not started after 3 s`));
    }, 3000);
    child.stdout!.on('data', () => {
      if (io.out().includes(marker)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void io.closed.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${what}: exited (${code}) before it started: ${io.err().trim() || io.out().trim()}`));
    });
  });
}

/** Runs the agent's `mode` in the source pod's netns; resolves once it printed `ready`, stop() with its report. */
async function startAgent<T>(state: LabState, from: string, mode: 'stream' | 'flood', cfg: StreamConfig | FloodConfig, ready: string): Promise<Running<T>> {
  const src = findPod(state, from);
  const what = `${mode} ${from} -> [${cfg.addr}]:${cfg.port}`;
  const child = spawn('ip', ['netns', 'exec', src.netns, ...agentCommand(), mode, JSON.stringify(cfg)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const io = collect(child);
  await waitFor(child, io, ready, what);
  return {
    async stop(): Promise<T> {
      child.stdin!.end();
      const code = await io.closed;
      const line = io.out().split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line) throw new Error(`${what}: exited ${code}: ${io.err().trim()}`);
      return JSON.parse(line) as T;
    },
  };
}

/** Opens one TCP connection from `from` to addr:port (a responder's port) and keeps it busy. */
export function startStream(state: LabState, from: string, addr: string, port: number, intervalMs = 10): Promise<Running<StreamStats>> {
  return startAgent<StreamStats>(state, from, 'stream', { addr, port, intervalMs }, 'connected\n');
}

/** UDP requests from `from` to addr:port (a responder's UDP port) every intervalMs, counting the answers. */
export function startFlood(state: LabState, from: string, addr: string, port: number, intervalMs = 5): Promise<Running<FloodStats>> {
  return startAgent<FloodStats>(state, from, 'flood', { addr, port, intervalMs }, 'started\n');
}
