// Driver: per-packet cost in the kernel through BPF_PROG_TEST_RUN.
//   floor:    an empty tc program (bench/tools/empty.bpf.c), loaded through the native addon; what any program
//             pays to be run at all.
//   new flow: Tollgate's datapath for the synthetic Program at each N, the first packet of a flow that matches
//             the last rule (worst case) and one in the middle; established: the same packet once its flow is
//             in conntrack. These come from the Tollgate hook (bench/hook.ts); without it they are null.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tollgateHook } from '../hook';
import { harnessTestRun } from '../adapters/harness-testrun';
import { peerOf, portOf, syntheticProgram } from '../generate';
import { run } from '../netlab';

export interface TestRunSample {
  rules: number;
  position: 'worst' | 'middle';
  newflowNs: number | null;
  establishedNs: number | null;
  allowed?: boolean;
  reason?: string;
}

export interface FloorSample {
  emptyNs: number | null;
  reason?: string;
}

const EMPTY_SRC = path.join(__dirname, '..', 'tools', 'empty.bpf.c');

function ipv4(a: string): Buffer {
  return Buffer.from(a.split('.').map(Number));
}

function checksum(b: Buffer): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) + (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

/** Ethernet + IPv4 + UDP frame with an 18-byte payload (60 bytes, the minimum Ethernet frame). */
export function udpFrame(src: string, dst: string, sport: number, dport: number): Buffer {
  const payload = 18;
  const f = Buffer.alloc(14 + 20 + 8 + payload);
  f.writeUInt16BE(0x0800, 12);
  const ip = f.subarray(14, 34);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 8 + payload, 2);
  ip[8] = 64;
  ip[9] = 17;
  ipv4(src).copy(ip, 12);
  ipv4(dst).copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  const udp = f.subarray(34, 42);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(8 + payload, 4);
  return f;
}

export async function measureFloor(repeat: number): Promise<FloorSample> {
  let native: typeof import('../../compiler/load/native');
  try {
    native = require('../../compiler/load/native') as typeof import('../../compiler/load/native');
    if (!native.nativeAvailable()) return { emptyNs: null, reason: 'the native addon is not built (npm run build:native)' };
  } catch (err) {
    return { emptyNs: null, reason: `compiler/load/native.ts cannot be loaded: ${(err as Error).message.split('\n')[0]}` };
  }
  const src = fs.readFileSync(EMPTY_SRC);
  const obj = path.join(os.tmpdir(), `tgb-empty-${createHash('sha256').update(src).digest('hex').slice(0, 12)}.o`);
  if (!fs.existsSync(obj)) {
    const tmp = `${obj}.${process.pid}.o`;
    run('clang', ['-O2', '-g', '-target', 'bpf', '-c', EMPTY_SRC, '-o', tmp]);
    fs.renameSync(tmp, obj);
  }
  const o = native.BpfObject.open(obj);
  try {
    await o.load();
    const r = await o.program('tgb_empty').testRun({ data: udpFrame('10.77.1.2', '10.77.2.2', 40000, 1024), repeat });
    if (r.retval !== 0) return { emptyNs: null, reason: `the empty program returned ${r.retval}, expected 0 (TC_ACT_OK)` };
    return { emptyNs: r.duration };
  } finally {
    o.close();
  }
}

export interface TestRunSource {
  /** which implementation measured: the hook, or the local adapter over the BPF engine's harness */
  source: 'hook' | 'harness' | 'none';
  reason?: string;
}

export async function measureNewflow(rules: number[], repeat: number): Promise<TestRunSample[]> {
  const hook = tollgateHook();
  const harness = hook.impl ? undefined : harnessTestRun();
  const out: TestRunSample[] = [];
  const positions = ['worst', 'middle'] as const;
  for (const n of rules) {
    const program = syntheticProgram({ rules: n, iface: 'tgbtr', serverIp: '10.77.2.2' });
    const packets = positions.map((position) => {
      const k = position === 'worst' ? n - 1 : n >> 1;
      return { src: peerOf(k), dst: '10.77.2.2', proto: 17, sport: 40000, dport: portOf(k) };
    });
    if (hook.impl) {
      for (let i = 0; i < positions.length; i++) {
        const opts = { repeat, ifname: 'tgbtr', direction: 'ingress' as const };
        const fresh = await hook.impl.testRun(program, packets[i], { ...opts, established: false });
        const est = await hook.impl.testRun(program, packets[i], { ...opts, established: true });
        out.push({ rules: n, position: positions[i], newflowNs: fresh.ns, establishedNs: est.ns, allowed: fresh.allowed, reason: 'through the Tollgate hook' });
      }
    } else if (harness?.run) {
      try {
        const rs = await harness.run(program, packets, { repeat, direction: 'ingress' });
        rs.forEach((r, i) =>
          out.push({ rules: n, position: positions[i], newflowNs: r.newflowNs, establishedNs: r.establishedNs, allowed: r.allowed, reason: 'through the BPF engine harness (bench/adapters/harness-testrun.ts)' }),
        );
      } catch (err) {
        const first = (err as Error).message.split('\n')[0];
        for (const position of positions) out.push({ rules: n, position, newflowNs: null, establishedNs: null, reason: `the BPF engine harness failed: ${first.slice(0, 300)}` });
      }
    } else {
      for (const position of positions) out.push({ rules: n, position, newflowNs: null, establishedNs: null, reason: `${hook.missing}; ${harness?.missing}` });
    }
  }
  return out;
}
