// Running the tools that build the lab (`ip`, `sysctl` inside a netns, `iptables`): argument vectors only, never a
// shell, so no pod name or annotation can become a command. Errors carry the command and what it printed.
import { execFile } from 'child_process';

export class CommandError extends Error {
  constructor(readonly argv: string[], readonly stderr: string, readonly exitCode: number | null) {
    super(`'${argv.join(' ')}' failed${exitCode !== null ? ` (exit ${exitCode})` : ''}: ${stderr.trim() || 'no output'}`);
    this.name = 'CommandError';
  }
}

export function run(file: string, args: string[], timeoutMs = 15000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const code = typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : null;
        reject(new CommandError([file, ...args], String(stderr) || err.message, code));
      } else resolve(String(stdout));
    });
  });
}

export const ip = (...args: string[]): Promise<string> => run('ip', args);

/** `ip -n NETNS ...` */
export const ipn = (netns: string, ...args: string[]): Promise<string> => run('ip', ['-n', netns, ...args]);

/** Writes sysctls inside a netns. Keys use '/' separators so interface names with dots stay one component. */
export function sysctl(netns: string, settings: Record<string, string | number>): Promise<string> {
  const args = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
  return run('ip', ['netns', 'exec', netns, 'sysctl', '-q', '-w', ...args]);
}

export async function listNetns(): Promise<string[]> {
  const out = await ip('-j', 'netns', 'list').catch(() => '');
  if (!out.trim()) return [];
  const rows = JSON.parse(out) as { name: string }[];
  return rows.map((r) => r.name);
}
