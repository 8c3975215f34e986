// An engine answers "would this connection be allowed?" for probes between pods. Three engines share one
// result shape so `matrix` and `trace` print the same JSON whichever decided:
//   ir    - the reference evaluator over the IR (the ground truth),
//   bpf   - crafted packets through the real loaded programs (BPF_PROG_TEST_RUN),
//   netns - real traffic between network namespaces of the lab.
import type { Compiled } from '../pipeline';
import type { Family } from '../model/types';

export interface Probe {
  /** "ns/pod" */
  from: string;
  to: string;
  port: number;
  /** IANA protocol number (model/types PROTO) */
  protocol: number;
  family: Family;
}

export interface DirectionResult {
  allowed: boolean;
  decidedBy: string;
}

/** The JSON contract of `matrix --output json` results (protocol printed by name: "TCP", "UDP", "SCTP"). */
export interface ProbeResult {
  from: string;
  to: string;
  port: number;
  protocol: string;
  allowed: boolean;
  egress: DirectionResult;
  ingress: DirectionResult;
  /** set when the engine could not probe this (e.g. SCTP in netns): allowed is then the IR's answer */
  note?: string;
}

export interface Engine {
  name: 'ir' | 'bpf' | 'netns';
  run(compiled: Compiled, probes: Probe[]): Promise<ProbeResult[]>;
}
