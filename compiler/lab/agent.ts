// The lab's agent, run as its own process inside a pod's netns (`ip netns exec NETNS node agent ...`):
//   agent respond CONFIG_JSON  listens on every declared TCP and UDP port (IPv4 and IPv6) and answers each
//                              request `tg-probe NONCE` with `tg-ok POD PROTO/PORT NONCE`; prints "ready" once bound.
//   agent stream CONFIG_JSON   one long-lived TCP connection sending `seq N` at a fixed interval until stdin
//                              closes; prints what came back (for updates under traffic).
//   agent flood CONFIG_JSON    UDP requests to a responder at a fixed interval until stdin closes; prints how many
//                              were answered (the lab's stand-in for a ping flood: this machine has no ping).
//   agent probe                reads a batch of targets (JSON) on stdin, probes them all with a bounded timeout,
//                              prints the results (JSON) on stdout. One process per source pod, many probes each.
import * as dgram from 'dgram';
import * as net from 'net';

export interface RespondConfig {
  pod: string;
  ports: { port: number; protocol: 'tcp' | 'udp' }[];
}

export interface ProbeTarget {
  key: string;
  addr: string;
  port: number;
  protocol: 'tcp' | 'udp';
  /** the pod expected to answer: the reply must name it */
  pod: string;
  /** fixed source port (the engines' probe packets use one, and Calico rules can match it); else ephemeral */
  sport?: number;
}

export type ProbeStatus = 'ok' | 'refused' | 'timeout' | 'unreachable' | 'bad-reply' | 'error';

export interface ProbeOutcome {
  key: string;
  status: ProbeStatus;
  ms: number;
  detail?: string;
}

export interface ProbeBatch {
  timeoutMs: number;
  concurrency: number;
  targets: ProbeTarget[];
}

const reply = (pod: string, proto: string, port: number, nonce: string): string => `tg-ok ${pod} ${proto}/${port} ${nonce}`;

function nonceOf(request: string): string | undefined {
  const m = /^tg-probe ([A-Za-z0-9]{1,64})$/.exec(request.trim());
  return m ? m[1] : undefined;
}

function listenTcp(pod: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((sock) => {
      let buf = '';
      let streaming = false;
      sock.setTimeout(5000, () => sock.destroy());
      sock.on('error', () => sock.destroy());
      sock.on('data', (d) => {
        buf += d.toString('latin1');
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (streaming) {
            // a long-lived stream: every `seq N` comes back as `ack N`
            if (line.startsWith('seq ')) sock.write(`ack ${line.slice(4)}\n`);
            continue;
          }
          if (line === 'tg-stream') {
            streaming = true;
            sock.setTimeout(0);
            continue;
          }
          const nonce = nonceOf(line);
          sock.end(nonce ? reply(pod, 'tcp', port, nonce) + '\n' : 'tg-bad-request\n');
          return;
        }
        if (!streaming && buf.length >= 256) sock.end('tg-bad-request\n');
      });
    });
    server.once('error', reject);
    // '::' without ipv6Only is one dual-stack socket: IPv4 arrives as ::ffff:a.b.c.d
    server.listen({ host: '::', port, ipv6Only: false, backlog: 1024 }, () => resolve());
  });
}

function listenUdp(pod: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket({ type: 'udp6', ipv6Only: false });
    sock.on('message', (msg, rinfo) => {
      const nonce = nonceOf(msg.toString('latin1'));
      if (nonce) sock.send(reply(pod, 'udp', port, nonce), rinfo.port, rinfo.address);
    });
    sock.once('error', reject);
    sock.bind({ address: '::', port }, () => resolve());
  });
}

async function respond(cfg: RespondConfig): Promise<void> {
  await Promise.all(cfg.ports.map((p) => (p.protocol === 'tcp' ? listenTcp(cfg.pod, p.port) : listenUdp(cfg.pod, p.port))));
  process.stdout.write('ready\n');
  // The lab stops reading our stdout once we are ready; later writes must not kill us.
  process.stdout.on('error', () => undefined);
  process.on('SIGPIPE', () => undefined);
  process.on('SIGTERM', () => process.exit(0));
}

function classify(err: NodeJS.ErrnoException): ProbeStatus {
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'ECONNRESET':
      return 'refused';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return 'unreachable';
    case 'ETIMEDOUT':
      return 'timeout';
    default:
      return 'error';
  }
}

let nonceCounter = 0;
function newNonce(): string {
  return `${process.pid.toString(36)}n${(nonceCounter++).toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}`;
}

function probeTcp(t: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const start = process.hrtime.bigint();
  const nonce = newNonce();
  const expected = reply(t.pod, 'tcp', t.port, nonce);
  return new Promise((resolve) => {
    let done = false;
    let buf = '';
    const sock = net.connect({ host: t.addr, port: t.port, ...(t.sport ? { localPort: t.sport } : {}) });
    const finish = (status: ProbeStatus, detail?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // With a fixed source port, close with a reset: no TIME_WAIT, so the next probe can use the same port.
      if (t.sport && !sock.destroyed && sock.readyState === 'open') sock.resetAndDestroy();
      else sock.destroy();
      resolve({ key: t.key, status, ms: Number(process.hrtime.bigint() - start) / 1e6, detail });
    };
    const timer = setTimeout(() => finish('timeout', buf ? 'connected, no reply' : undefined), timeoutMs);
    sock.on('connect', () => sock.write(`tg-probe ${nonce}\n`));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        const line = buf.slice(0, nl);
        finish(line === expected ? 'ok' : 'bad-reply', line === expected ? undefined : `expected '${expected}', found '${line}'`);
      }
    });
    sock.on('end', () => finish('bad-reply', `connection closed after '${buf}'`));
    sock.on('error', (err: NodeJS.ErrnoException) => finish(classify(err), err.code));
  });
}

function probeUdp(t: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const start = process.hrtime.bigint();
  const nonce = newNonce();
  const expected = reply(t.pod, 'udp', t.port, nonce);
  return new Promise((resolve) => {
    let done = false;
    const sock = dgram.createSocket({ type: net.isIPv6(t.addr) ? 'udp6' : 'udp4', reuseAddr: true });
    const finish = (status: ProbeStatus, detail?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      resolve({ key: t.key, status, ms: Number(process.hrtime.bigint() - start) / 1e6, detail });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    sock.on('message', (msg) => {
      const line = msg.toString('latin1');
      finish(line === expected ? 'ok' : 'bad-reply', line === expected ? undefined : `expected '${expected}', found '${line}'`);
    });
    // A connected UDP socket hears the ICMP port-unreachable as ECONNREFUSED.
    sock.on('error', (err: NodeJS.ErrnoException) => finish(classify(err), err.code));
    const go = (): void => sock.connect(t.port, t.addr, () => sock.send(`tg-probe ${nonce}\n`));
    // connected sockets on one port each receive only their own peer's replies
    if (t.sport) sock.bind({ port: t.sport, exclusive: false }, go);
    else go();
  });
}

export interface StreamConfig {
  addr: string;
  port: number;
  intervalMs: number;
}

/** What a long-lived TCP stream saw, from its first message to the moment it was stopped. */
export interface StreamStats {
  sent: number;
  acked: number;
  /** the longest time between two acknowledgements (or from the last one to the end), ms */
  maxGapMs: number;
  durationMs: number;
  /** set when the connection failed or closed before it was stopped */
  error?: string;
}

/** Sends `seq N` every intervalMs over one TCP connection until stdin closes; then prints StreamStats. */
function stream(cfg: StreamConfig): void {
  const start = Date.now();
  let lastAck = start;
  let maxGap = 0;
  let sent = 0;
  let acked = 0;
  let error: string | undefined;
  let buf = '';
  let timer: NodeJS.Timeout | undefined;
  const sock = net.connect({ host: cfg.addr, port: cfg.port });
  sock.setNoDelay(true);
  sock.on('connect', () => {
    sock.write('tg-stream\n');
    process.stdout.write('connected\n');
    lastAck = Date.now();
    timer = setInterval(() => sock.write(`seq ${sent++}\n`), cfg.intervalMs);
  });
  sock.on('data', (d) => {
    buf += d.toString('latin1');
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const n = Number(buf.slice(4, nl));
      buf = buf.slice(nl + 1);
      if (n !== acked) error ??= `ack ${n} arrived when ${acked} was expected`;
      acked++;
      const now = Date.now();
      maxGap = Math.max(maxGap, now - lastAck);
      lastAck = now;
    }
  });
  sock.on('error', (err: NodeJS.ErrnoException) => (error ??= err.code ?? err.message));
  sock.on('close', () => {
    error ??= 'connection closed by the peer';
    if (timer) clearInterval(timer);
  });
  process.stdin.resume();
  process.stdin.on('end', () => {
    if (timer) clearInterval(timer);
    // the replies to the last messages are at most a round trip away
    setTimeout(() => {
      const end = Date.now();
      const stats: StreamStats = { sent, acked, maxGapMs: Math.max(maxGap, acked < sent ? end - lastAck : 0), durationMs: end - start, error };
      process.stdout.write(JSON.stringify(stats) + '\n');
      sock.destroy();
      process.exit(0);
    }, 100);
  });
}

export interface FloodConfig {
  addr: string;
  port: number;
  intervalMs: number;
}

export interface FloodStats {
  sent: number;
  /** distinct requests answered */
  received: number;
}

/** UDP requests to a responder's port every intervalMs until stdin closes; then prints FloodStats. */
function flood(cfg: FloodConfig): void {
  const sock = dgram.createSocket(net.isIPv6(cfg.addr) ? 'udp6' : 'udp4');
  const answered = new Set<string>();
  let sent = 0;
  sock.on('message', (msg) => {
    const m = / (f\d+)$/.exec(msg.toString('latin1'));
    if (m) answered.add(m[1]);
  });
  sock.on('error', () => undefined); // ICMP errors while a flow is cut: counted as lost
  const timer = setInterval(() => sock.send(`tg-probe f${sent++}\n`, cfg.port, cfg.addr), cfg.intervalMs);
  process.stdout.write('started\n');
  process.stdin.resume();
  process.stdin.on('end', () => {
    clearInterval(timer);
    setTimeout(() => {
      const stats: FloodStats = { sent, received: answered.size };
      process.stdout.write(JSON.stringify(stats) + '\n');
      process.exit(0);
    }, 200);
  });
}

async function probeAll(batch: ProbeBatch): Promise<ProbeOutcome[]> {
  const out: ProbeOutcome[] = new Array(batch.targets.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batch.targets.length) {
      const i = next++;
      const t = batch.targets[i];
      out[i] = await (t.protocol === 'tcp' ? probeTcp(t, batch.timeoutMs) : probeUdp(t, batch.timeoutMs));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(batch.concurrency, batch.targets.length)) }, worker));
  return out;
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'respond') {
    await respond(JSON.parse(argv[1]) as RespondConfig);
  } else if (argv[0] === 'stream') {
    stream(JSON.parse(argv[1]) as StreamConfig);
  } else if (argv[0] === 'flood') {
    flood(JSON.parse(argv[1]) as FloodConfig);
  } else if (argv[0] === 'probe') {
    const batch = JSON.parse(await readStdin()) as ProbeBatch;
    process.stdout.write(JSON.stringify(await probeAll(batch)) + '\n');
  } else {
    throw new Error(`agent: expected 'respond CONFIG' or 'probe', found '${argv.join(' ')}'`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: Error) => {
    process.stderr.write(`agent: ${err.message}\n`);
    process.exit(1);
  });
}
