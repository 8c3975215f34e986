// Driver: real traffic through the node netns with a ruleset loaded.
//   UDP flood: bench/tools/udpflood sends small packets on one 5-tuple that matches a chosen rule; the flow is
//   never answered, so every packet is ctstate NEW and walks the rules. Every hop of a packet (the client's
//   send, veth, the node's forwarding and ruleset, veth, the server's interface) runs as softirq work in the
//   sender's own context, so the sender's CPU time is the whole path's cost. The figure is packets delivered to
//   the server's interface per CPU-second of the sender: the cost per packet, which does not depend on how much
//   of the shared machine the sender got (the wall-clock rate, also kept, does).
//   Two generators (Generator): 'raw', the one the figures use, sends prebuilt frames from a PACKET_TX_RING
//   with PACKET_QDISC_BYPASS (no socket, routing or neighbour lookup on the client) and the server's interface
//   drops them at tc ingress (tools/udpdrop.bpf.c) once counted, instead of delivering them to a socket: the
//   path's fixed cost shrinks to little more than the node's forwarding. 'socket', the earlier flood, sends
//   through a UDP socket to a UDP socket on the server (sendmmsg; every packet also pays the client's and the
//   server's UDP stack).
//   TCP: iperf3 from the client network to the last rule's port (only the SYN walks the rules).
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { inNs, rxPackets, run, type Topology } from '../netlab';
import { TCP_PORT } from '../generate';

export const GENERATORS = ['raw', 'socket'] as const;
export type Generator = (typeof GENERATORS)[number];

const TOOLS = path.join(__dirname, '..', 'tools');

/** Builds a source of bench/tools with clang (once per source version) and returns the output's path. */
function built(file: string, suffix: string, flags: string[]): string {
  const src = path.join(TOOLS, file);
  const hash = createHash('sha256').update(fs.readFileSync(src)).digest('hex').slice(0, 12);
  const out = path.join(os.tmpdir(), `tgb-${path.basename(file).split('.')[0]}-${hash}${suffix}`);
  if (!fs.existsSync(out)) {
    const tmp = `${out}.${process.pid}${suffix}`;
    run('clang', [...flags, '-o', tmp, src]);
    fs.renameSync(tmp, out);
  }
  return out;
}

/** bench/tools/udpflood.c, built. */
export function floodBinary(): string {
  return built('udpflood.c', '', ['-O2', '-Wall']);
}

/** bench/tools/udpdrop.bpf.c, built: the raw flood's receiver. */
function dropObject(): string {
  return built('udpdrop.bpf.c', '.o', ['-O2', '-g', '-Wall', '-target', 'bpf', '-c']);
}

export interface UdpResult {
  /** packets delivered to the server's interface per CPU-second of the sender (the whole path's cost) */
  pps: number;
  /** packets the client sent, and those counted in by the server's interface, during the sample */
  sent: number;
  delivered: number;
  /** packets delivered per wall-clock second */
  wallPps: number;
  /** packets per wall-clock second the client sent */
  sentPps: number;
  /** the sender's CPU seconds over the wall seconds of the sample (how much of a core it got) */
  cpuShare: number;
  /** times the sender was preempted during the sample */
  preempted: number;
  /** ksoftirqd CPU ticks during the sample (work that ran outside the sender's context: should be ~0) */
  ksoftirqdTicks: number;
}

/** CPU ticks (utime + stime) of every ksoftirqd thread. */
function ksoftirqdTicks(): number {
  let total = 0;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    if (!stat.includes('(ksoftirqd/')) continue;
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += Number(f[11]) + Number(f[12]);
  }
  return total;
}

export interface TcpResult {
  /** receiver throughput, bits per second */
  bps: number;
  /** segments the sender retransmitted */
  retransmits: number;
}

/**
 * What a traffic run needs in the server netns: the flood's receiver (for 'raw' the UDP drop at tc ingress, for
 * 'socket' a UDP sink on the ports) and an iperf3 server.
 */
export class TrafficServers {
  private procs: ChildProcess[] = [];
  private clsact = false;

  private constructor(
    private readonly t: Topology,
    readonly generator: Generator,
  ) {}

  static async start(t: Topology, udpPorts: number[], generator: Generator = 'raw'): Promise<TrafficServers> {
    const s = new TrafficServers(t, generator);
    try {
      if (generator === 'raw') {
        const obj = dropObject();
        inNs(t.b, 'tc', ['qdisc', 'add', 'dev', 'eth0', 'clsact']);
        s.clsact = true;
        inNs(t.b, 'tc', ['filter', 'add', 'dev', 'eth0', 'ingress', 'bpf', 'direct-action', 'obj', obj, 'sec', 'tc']);
      } else await s.spawnReady([floodBinary(), 'sink', ...udpPorts.map(String)], /ready/);
      await s.spawnReady(['iperf3', '-s', '--forceflush', '-p', String(TCP_PORT), '-B', t.addrB], /Server listening/);
    } catch (err) {
      s.stop();
      throw err;
    }
    return s;
  }

  private spawnReady(argv: string[], ready: RegExp): Promise<void> {
    const p = spawn('ip', ['netns', 'exec', this.t.b, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.push(p);
    return new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${argv[0]} in ${this.t.b}: not ready after 5 s: ${out}`)), 5000);
      const onData = (d: Buffer): void => {
        out += d.toString();
        if (ready.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      p.stdout?.on('data', onData);
      p.stderr?.on('data', onData);
      p.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${argv[0]} in ${this.t.b} exited (${code}) before it was ready: ${out}`));
      });
    });
  }

  stop(): void {
    for (const p of this.procs) if (p.pid !== undefined && p.exitCode === null) p.kill('SIGKILL');
    this.procs = [];
    if (this.clsact) {
      this.clsact = false;
      spawnSync('ip', ['netns', 'exec', this.t.b, 'tc', 'qdisc', 'del', 'dev', 'eth0', 'clsact'], { stdio: 'ignore' });
    }
  }
}

/**
 * One flood sample: `seconds` of 60-byte frames (18 bytes of UDP payload) from `src` to the server's `port`,
 * sent by `generator` (the server side must have been started for the same generator: TrafficServers).
 */
export function udpFlood(t: Topology, src: string, port: number, seconds: number, generator: Generator = 'raw', payload = 18): UdpResult {
  const how = generator === 'raw' ? ['raw', 'eth0', t.nodeMacA] : ['send'];
  const before = rxPackets(t.b, 'eth0');
  const k0 = ksoftirqdTicks();
  const out = inNs(t.a, floodBinary(), [...how, src, t.addrB, String(port), String(seconds), String(payload)], undefined, (seconds + 20) * 1000);
  const k1 = ksoftirqdTicks();
  const after = rxPackets(t.b, 'eth0');
  const m = /sent (\d+) seconds ([\d.]+) cpu ([\d.]+) preempted (\d+)/.exec(out);
  if (!m) throw new Error(`udpflood printed no result: ${out}`);
  const secs = Number(m[2]);
  const cpu = Number(m[3]);
  if (!(cpu > 0)) throw new Error(`udpflood measured no CPU time: ${out}`);
  return { pps: (after - before) / cpu, sent: Number(m[1]), delivered: after - before, wallPps: (after - before) / secs, sentPps: Number(m[1]) / secs, cpuShare: cpu / secs, preempted: Number(m[4]), ksoftirqdTicks: k1 - k0 };
}

interface IperfJson {
  end?: { sum_received?: { bits_per_second?: number }; sum_sent?: { retransmits?: number } };
  error?: string;
}

export function tcpThroughput(t: Topology, seconds: number): TcpResult {
  const out = inNs(t.a, 'iperf3', ['-c', t.addrB, '-p', String(TCP_PORT), '-B', t.addrA, '-t', String(seconds), '-J'], undefined, (seconds + 20) * 1000);
  const j = JSON.parse(out) as IperfJson;
  if (j.error) throw new Error(`iperf3: ${j.error}`);
  const bps = j.end?.sum_received?.bits_per_second;
  if (typeof bps !== 'number') throw new Error('iperf3: no end.sum_received.bits_per_second in its JSON');
  return { bps, retransmits: j.end?.sum_sent?.retransmits ?? 0 };
}
