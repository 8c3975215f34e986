// The kernel's tick rate (CONFIG_HZ) for the datapath clock (bpf/tollgate.bpf.c tg_now, the `tg_hz` constant):
// read from the kernel config where libbpf would look (/boot/config-$(uname -r), then /proc/config.gz). Neither
// readable (containers without /boot, kernels without CONFIG_IKCONFIG_PROC): 0, and the program keeps the coarse
// clock helper. (A `__kconfig` extern made libbpf refuse the whole object there, weak or not.)
import * as fs from 'fs';
import * as os from 'os';
import * as zlib from 'zlib';

let cached: number | undefined;

function readConfig(file: string): string | undefined {
  try {
    const b = fs.readFileSync(file);
    return (b[0] === 0x1f && b[1] === 0x8b ? zlib.gunzipSync(b) : b).toString('latin1');
  } catch {
    return undefined;
  }
}

/** CONFIG_HZ of the running kernel, 0 when no config can be read (a kernel constant: read once per process). */
export function kernelHz(): number {
  if (cached !== undefined) return cached;
  cached = 0;
  for (const file of [`/boot/config-${os.release()}`, '/proc/config.gz']) {
    const text = readConfig(file);
    if (text === undefined) continue;
    const m = /^CONFIG_HZ=(\d+)$/m.exec(text);
    cached = m ? Number(m[1]) : 0;
    break;
  }
  return cached;
}
