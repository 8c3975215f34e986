// A three-namespace bench topology: client netns A and server netns B, each joined by a veth pair to a "node"
// netns that routes between them (and holds whatever ruleset is loaded), as a Kubernetes node sits between
// its pods' host-side interfaces:
//
//   <tag>-a [eth0 10.77.1.2] ---- [<tag>a 10.77.1.1] <tag>-node [<tag>b 10.77.2.1] ---- [eth0 10.77.2.2] <tag>-b
//
// Extra client source addresses (10.200.0.0/16, the synthetic rules' peers) are added to A's eth0 on demand and
// routed back by the node. Every neighbour entry is filled in up front (permanent), so no packet of a benchmark
// waits for or pays for address resolution, and the raw flood (drivers/traffic.ts) can address its frames to the
// node's MAC directly. Every name starts with the tag (which must start with "tg"), and destroy() removes
// the namespaces, and with them their veths, rules, sets and tables.
import { execFileSync, spawnSync } from 'child_process';

export interface Topology {
  tag: string;
  node: string;
  a: string;
  b: string;
  /** host-side interfaces in the node netns */
  ifA: string;
  ifB: string;
  addrA: string;
  addrB: string;
  /** MAC of the node's interface facing the client (ifA): the next hop of every frame the client sends */
  nodeMacA: string;
}

export class CommandError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

/** Runs a command, returns stdout; throws with the command, exit status and stderr when it fails. */
export function run(cmd: string, args: string[], input?: string, timeoutMs = 120000): string {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: timeoutMs });
  if (r.error) throw new CommandError(`${cmd} ${args.join(' ')}: ${r.error.message}`, '');
  if (r.status !== 0) {
    const err = (r.stderr || '').trim().split('\n').slice(0, 8).join('\n');
    throw new CommandError(`${cmd} ${args.slice(0, 6).join(' ')}${args.length > 6 ? ' ...' : ''}: exit ${r.status}: ${err}`, r.stderr || '');
  }
  return r.stdout;
}

export function inNs(ns: string, cmd: string, args: string[], input?: string, timeoutMs?: number): string {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], input, timeoutMs);
}

export function netnsExists(ns: string): boolean {
  return run('ip', ['netns', 'list']).split('\n').some((l) => l.split(' ')[0] === ns);
}

export function createTopology(tag: string): Topology {
  if (!/^tg[a-z0-9]{1,9}$/.test(tag)) throw new Error(`topology tag: expected "tg" and 1-9 of [a-z0-9], found "${tag}"`);
  const t: Topology = {
    tag,
    node: `${tag}-node`,
    a: `${tag}-a`,
    b: `${tag}-b`,
    ifA: `${tag}a`,
    ifB: `${tag}b`,
    addrA: '10.77.1.2',
    addrB: '10.77.2.2',
    nodeMacA: '',
  };
  try {
    for (const ns of [t.node, t.a, t.b]) run('ip', ['netns', 'add', ns]);
    const batch = [
      `link add ${t.ifA} netns ${t.node} type veth peer name eth0 netns ${t.a}`,
      `link add ${t.ifB} netns ${t.node} type veth peer name eth0 netns ${t.b}`,
    ];
    run('ip', ['-batch', '-'], batch.join('\n') + '\n');
    const node = [
      `link set lo up`,
      `link set ${t.ifA} up`,
      `link set ${t.ifB} up`,
      `addr add 10.77.1.1/24 dev ${t.ifA}`,
      `addr add 10.77.2.1/24 dev ${t.ifB}`,
      `route add 10.200.0.0/16 via ${t.addrA} dev ${t.ifA}`,
    ];
    inNs(t.node, 'ip', ['-batch', '-'], node.join('\n') + '\n');
    inNs(t.node, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    for (const [ns, addr, gw] of [
      [t.a, `${t.addrA}/24`, '10.77.1.1'],
      [t.b, `${t.addrB}/24`, '10.77.2.1'],
    ]) {
      inNs(ns, 'ip', ['-batch', '-'], [`link set lo up`, `link set eth0 up`, `addr add ${addr} dev eth0`, `route add default via ${gw}`].join('\n') + '\n');
    }
    const mac = (ns: string, ifname: string): string => inNs(ns, 'cat', [`/sys/class/net/${ifname}/address`]).trim();
    t.nodeMacA = mac(t.node, t.ifA);
    const neigh = (ns: string, addr: string, lladdr: string, dev: string): void => {
      inNs(ns, 'ip', ['neigh', 'replace', addr, 'lladdr', lladdr, 'dev', dev, 'nud', 'permanent']);
    };
    neigh(t.node, t.addrA, mac(t.a, 'eth0'), t.ifA);
    neigh(t.node, t.addrB, mac(t.b, 'eth0'), t.ifB);
    neigh(t.a, '10.77.1.1', t.nodeMacA, 'eth0');
    neigh(t.b, '10.77.2.1', mac(t.node, t.ifB), 'eth0');
    return t;
  } catch (err) {
    destroyTopology(t);
    throw err;
  }
}

/** Removes the namespaces (and everything in them). Never throws; safe to call twice. */
export function destroyTopology(t: Pick<Topology, 'node' | 'a' | 'b'>): void {
  for (const ns of [t.a, t.b, t.node]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
}

/** Adds /32 source addresses to the client (for traffic that must match a given synthetic rule). */
export function addClientAddresses(t: Topology, addrs: string[]): void {
  if (addrs.length === 0) return;
  inNs(t.a, 'ip', ['-batch', '-'], addrs.map((a) => `addr add ${a}/32 dev eth0`).join('\n') + '\n');
}

export function rxPackets(ns: string, ifname: string): number {
  return Number(inNs(ns, 'cat', [`/sys/class/net/${ifname}/statistics/rx_packets`]).trim());
}

/** Removes every netns whose name starts with `tagPrefix` (left by a run that was killed). */
export function sweepNamespaces(tagPrefix: string): string[] {
  const gone: string[] = [];
  const names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n && n.startsWith(tagPrefix));
  for (const n of names) {
    spawnSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
    gone.push(n);
  }
  return gone;
}

/**
 * Removes namespaces `<prefix><pid in base 36><suffix>` left by processes that no longer run (a test run that
 * was killed before its after hooks): only those whose owner is gone, so concurrent runs are never touched.
 */
export function sweepOrphans(prefix: string): string[] {
  // 'q' after the prefix is reserved for labs (test/iptables.conformance.test.ts), never swept from here
  const re = new RegExp(`^${prefix}(?!q)([a-z0-9]+)xc?-(node|a|b|syntax|count)$`);
  const gone: string[] = [];
  const names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .split('\n')
    .map((l) => l.split(' ')[0]);
  for (const n of names) {
    const m = re.exec(n);
    if (!m) continue;
    const pid = parseInt(m[1], 36);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) {
      spawnSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
      gone.push(n);
    }
  }
  return gone;
}
