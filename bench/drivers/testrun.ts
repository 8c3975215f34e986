// Driver: per-packet cost in the kernel through BPF_PROG_TEST_RUN.
//   floor:    an empty tc program (bench/tools/empty.bpf.c), loaded through the native addon; what any program
//             pays to be run at all.
//   new flow: Tollgate's datapath for the synthetic Program at each N, loaded by the real loader (bench/hook.ts),
//             the first packet of a flow that matches the last rule (worst case) and one in the middle;
//             established: the same packet once its flow is in conntrack. Without the hook they are null.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tollgateHook } from '../hook';
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

export async function measureNewflow(rules: number[], repeat: number): Promise<TestRunSample[]> {
  const { impl, missing } = tollgateHook();
  const positions = ['worst', 'middle'] as const;
  if (!impl) return rules.flatMap((n) => positions.map((position) => ({ rules: n, position, newflowNs: null, establishedNs: null, reason: missing })));
  const out: TestRunSample[] = [];
  try {
    for (const n of rules) {
      const program = syntheticProgram({ rules: n, iface: 'tgbtr', serverIp: '10.77.2.2' });
      for (const position of positions) {
        const k = position === 'worst' ? n - 1 : n >> 1;
        const packet = { src: peerOf(k), dst: '10.77.2.2', proto: 17, sport: 40000, dport: portOf(k) };
        try {
          const opts = { repeat, direction: 'ingress' as const };
          const fresh = await impl.testRun(program, packet, { ...opts, established: false });
          const est = await impl.testRun(program, packet, { ...opts, established: true });
          out.push({ rules: n, position, newflowNs: fresh.ns, establishedNs: est.ns, allowed: fresh.allowed && est.allowed, reason: 'loaded by the loader, test-run through the hook' });
        } catch (err) {
          out.push({ rules: n, position, newflowNs: null, establishedNs: null, reason: `the Tollgate hook failed: ${(err as Error).message.split('\n')[0].slice(0, 300)}` });
        }
      }
    }
  } finally {
    await impl.close();
  }
  return out;
}
