// clang -O2 -g -target bpf, with an object cache keyed by the hash of the C text and the datapath sources:
// when only map contents change, the C text does not, and clang does not run.
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BPF_DIR } from './codes';

export const CACHE_DIR = process.env.TOLLGATE_BPF_CACHE ?? path.join(os.tmpdir(), 'tollgate-bpf-cache');

function datapathHash(): string {
  const h = crypto.createHash('sha256');
  for (const f of ['tollgate.bpf.c', 'include/tollgate_maps.h', 'include/verdicts.h']) h.update(fs.readFileSync(path.join(BPF_DIR, f)));
  return h.digest('hex');
}

export function clangArgs(src: string, out: string): string[] {
  const args = ['-O2', '-g', '-target', 'bpf', '-Wall', '-Werror', '-I', BPF_DIR, '-I', path.join(BPF_DIR, 'include')];
  const multiarch = `/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
  if (fs.existsSync(multiarch)) args.push('-I', multiarch);
  return [...args, '-c', src, '-o', out];
}

/** Compiles C text to a BPF object at outPath; returns whether the cache answered. */
export function compileBpf(cText: string, outPath: string): { cached: boolean; key: string } {
  const key = crypto.createHash('sha256').update(cText).update(datapathHash()).digest('hex').slice(0, 32);
  const cached = path.join(CACHE_DIR, `${key}.o`);
  if (fs.existsSync(cached)) {
    fs.copyFileSync(cached, outPath);
    return { cached: true, key };
  }
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const tmpDir = fs.mkdtempSync(path.join(CACHE_DIR, 'build-'));
  try {
    const src = path.join(tmpDir, 'prog.bpf.c');
    fs.writeFileSync(src, cText);
    const obj = path.join(tmpDir, 'prog.o');
    try {
      execFileSync('clang', clangArgs(src, obj), { stdio: 'pipe' });
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      throw new Error(`clang failed on the generated C: ${err.stderr?.toString() || err.message}`);
    }
    fs.renameSync(obj, cached);
  } finally {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
  fs.copyFileSync(cached, outPath);
  return { cached: false, key };
}
