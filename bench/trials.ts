// Which sizes each benchmark runs at. Drivers (bench/drivers/) say what is measured; trials say how much.
// `quick` is CI's smoke run and must finish within 3 minutes on a 2-core machine.
import type { Dataplane } from './dataplanes';
import type { Generator } from './drivers/traffic';

export interface Trials {
  name: 'quick' | 'full';
  /** rules on the one endpoint (synthetic Program) */
  rules: number[];
  /** evenly spread traffic positions per N (besides the worst case, the last rule) */
  spread: number;
  /** the UDP flood's generator (drivers/traffic.ts): 'raw' frames below the socket layer, or the UDP socket */
  generator: Generator;
  /** seconds per UDP flood sample / per iperf3 run */
  floodSeconds: number;
  /** rounds of the interleaved traffic schedule (each figure is a median over them) */
  rounds: number;
  /** rounds of iperf3 runs (every dataplane once per round; the figure is the median) */
  tcpRounds: number;
  tcpSeconds: number;
  dataplanes: Dataplane[];
  /** compile-time trials */
  compile: { policies: number; pods: number }[];
  /** each compile trial runs in a child process killed after this long (its figure is then null) */
  compileTimeoutMs: number;
  /** fresh processes per compile trial; the figure is the median run (drivers/compile.ts medianSample) */
  compileRuns: number;
  /** rule counts and load times: (rules, CIDR-set size) */
  counts: { rules: number; setSize: number }[];
  /** single-rule updates per count size (alternately rule 0 moved and moved back); the figure is their median */
  updates: number;
  /** BPF_PROG_TEST_RUN repeat count */
  testRunRepeat: number;
}

const ALL: Dataplane[] = ['none', 'iptables-legacy', 'iptables-nft', 'ipset', 'nftables', 'tollgate'];

export const QUICK: Trials = {
  name: 'quick',
  rules: [10, 1000, 10000],
  spread: 2,
  generator: 'raw',
  floodSeconds: 0.3,
  rounds: 3,
  tcpRounds: 1,
  tcpSeconds: 1,
  dataplanes: ALL,
  compile: [
    { policies: 100, pods: 50 },
    { policies: 1000, pods: 500 },
  ],
  compileTimeoutMs: 15000,
  compileRuns: 1,
  counts: [
    { rules: 10, setSize: 0 },
    { rules: 10000, setSize: 0 },
    { rules: 10, setSize: 10000 },
  ],
  updates: 3,
  testRunRepeat: 100000,
};

export const FULL: Trials = {
  name: 'full',
  rules: [10, 100, 1000, 10000, 65536],
  spread: 4,
  generator: 'raw',
  floodSeconds: 0.5,
  rounds: 5,
  tcpRounds: 3,
  tcpSeconds: 1,
  dataplanes: ALL,
  compile: [
    { policies: 100, pods: 50 },
    { policies: 1000, pods: 500 },
    { policies: 10000, pods: 5000 },
  ],
  compileTimeoutMs: 300000,
  compileRuns: 3,
  counts: [
    { rules: 10, setSize: 0 },
    { rules: 1000, setSize: 0 },
    { rules: 10000, setSize: 0 },
    { rules: 65536, setSize: 0 },
    { rules: 10, setSize: 100000 },
    { rules: 10, setSize: 1000000 },
  ],
  updates: 3,
  testRunRepeat: 1000000,
};
