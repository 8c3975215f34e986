// Two pods behind a node, for the loader's kernel tests: a node netns routing between pod netns A and B, joined
// by veths whose host-side ends live in the node netns (as the lab and a routed CNI do). Every name carries the
// caller's prefix and the pid; remove() deletes all of it (and is safe to call when nothing is there).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'child_process';

export function sh(...args: string[]): string {
  return execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

export function netnsList(): string[] {
  return sh('ip', 'netns', 'list').split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
}

export interface PodTopology {
  node: string;
  nsA: string;
  nsB: string;
  ifA: string;
  ifB: string;
  a: string;
  b: string;
  build(): void;
  remove(): void;
  /** one TCP connect + exchange from pod A to B:port; true when the echo came back within 600 ms */
  probe(port: number): boolean;
  /** TCP echo servers in pod B on the given ports; resolves once they listen */
  tcpServer(ports: number[]): Promise<ChildProcess>;
}

/** Names: `<prefix>-n-PID` (node), `<prefix>-a-PID`, `<prefix>-b-PID`; host-side veths `<prefix>aPID`, `<prefix>bPID`. */
export function podTopology(prefix: string, net: string, pid = process.pid): PodTopology {
  const t = {
    node: `${prefix}-n-${pid}`, nsA: `${prefix}-a-${pid}`, nsB: `${prefix}-b-${pid}`,
    ifA: `${prefix}a${pid}`.slice(0, 15), ifB: `${prefix}b${pid}`.slice(0, 15), a: `${net}.1`, b: `${net}.2`,
  };
  const probeScript = `const s = require('net').connect({ host: '${t.b}', port: Number(process.argv[1]) });
const t = setTimeout(() => process.exit(1), 600);
s.on('connect', () => s.write('x'));
s.on('data', () => { clearTimeout(t); process.exit(0); });
s.on('error', () => process.exit(1));`;
  return {
    ...t,
    build(): void {
      sh('ip', 'netns', 'add', t.node);
      sh('ip', 'netns', 'exec', t.node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
      sh('ip', '-n', t.node, 'link', 'set', 'lo', 'up');
      sh('ip', '-n', t.node, 'addr', 'add', '169.254.1.1/32', 'dev', 'lo');
      for (const [ns, hostIf, addr] of [[t.nsA, t.ifA, t.a], [t.nsB, t.ifB, t.b]]) {
        sh('ip', 'netns', 'add', ns);
        sh('ip', '-n', t.node, 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
        sh('ip', '-n', t.node, 'link', 'set', hostIf, 'up');
        sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
        sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up');
        sh('ip', '-n', ns, 'addr', 'add', `${addr}/32`, 'dev', 'eth0');
        sh('ip', '-n', ns, 'route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link');
        sh('ip', '-n', ns, 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0');
        sh('ip', '-n', t.node, 'route', 'add', `${addr}/32`, 'dev', hostIf);
      }
    },
    remove(): void {
      const have = netnsList();
      for (const ns of [t.nsA, t.nsB, t.node]) if (have.includes(ns)) spawnSync('ip', ['netns', 'del', ns]);
    },
    probe(port: number): boolean {
      return spawnSync('ip', ['netns', 'exec', t.nsA, process.execPath, '-e', probeScript, String(port)], { stdio: 'ignore' }).status === 0;
    },
    tcpServer(ports: number[]): Promise<ChildProcess> {
      const script = `const net = require('net');
let n = 0;
for (const port of ${JSON.stringify(ports)}) net.createServer((s) => { s.on('data', (d) => s.write(d)); s.on('error', () => {}); })
  .listen(port, '${t.b}', () => { if (++n === ${ports.length}) console.log('ready'); });`;
      const child = spawn('ip', ['netns', 'exec', t.nsB, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      return new Promise((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`no 'ready' from the server in ${t.nsB}: ${out}`)), 5000);
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('ready')) {
            clearTimeout(timer);
            resolve(child);
          }
        });
        child.on('exit', (c) => reject(new Error(`the server in ${t.nsB} exited with ${c}: ${out}`)));
      });
    },
  };
}
