// Hand-built models for the lab tests (the lab reads only pods from the model).
import * as fs from 'fs';
import type { Model, Pod } from '../compiler/model/types';
import { labDown, labOptions } from '../compiler/lab';
import { listNetns } from '../compiler/lab/run';
import { readState } from '../compiler/lab/state';

export function pod(ns: string, name: string, ips: string[], ports: [number, number][], annotations: Record<string, string> = {}): Pod {
  return {
    namespace: ns,
    name,
    labels: { app: name },
    annotations,
    serviceAccount: 'default',
    ips,
    ports: ports.map(([port, protocol]) => ({ port, protocol })),
    hostNetwork: false,
    bandwidth: {},
    origin: { ref: { kind: 'Pod', namespace: ns, name }, location: { file: 'test/lab-model.yaml', line: 1, col: 1 } },
  };
}

export function model(pods: Pod[]): Model {
  const nsNames = [...new Set(pods.map((p) => p.namespace))];
  return {
    namespaces: nsNames.map((n) => ({
      name: n,
      labels: { 'kubernetes.io/metadata.name': n },
      origin: { ref: { kind: 'Namespace', name: n }, location: { file: 'test/lab-model.yaml' } },
    })),
    pods,
    serviceAccounts: [],
    nodes: [],
    networkSets: [],
    hostEndpoints: [],
    ipPools: [],
    networkPolicies: [],
    calicoPolicies: [],
    tiers: [],
    adminPolicies: [],
  };
}

/**
 * The kernel-object prefix of this test process: 'tgl' and two base-36 characters from the pid. Every mocha run
 * in this checkout loads every test file, so two engineers' runs may run these tests at the same time; their labs
 * must not meet.
 */
export const TEST_PREFIX = `tgl${(process.pid % 1296).toString(36).padStart(2, '0')}`;

/**
 * Removes test labs ('tgl' + two characters) that a crashed test process left (netns or state file): those whose
 * state file is gone or names an owner process that no longer runs. A live run's lab always has its state file (written before the
 * first netns), so it is never touched.
 */
export async function sweepStaleTestLabs(): Promise<string[]> {
  const fromFiles = (fs.existsSync('/run/tollgate') ? fs.readdirSync('/run/tollgate') : []).map((f) => /^lab-(tgl[a-z0-9]{2})\.json$/.exec(f)?.[1]);
  const fromNetns = (await listNetns()).map((n) => /^(tgl[a-z0-9]{2})-/.exec(n)?.[1]);
  const prefixes = new Set([...fromNetns, ...fromFiles].filter((p): p is string => !!p && p !== TEST_PREFIX));
  const swept: string[] = [];
  for (const prefix of prefixes) {
    const opts = labOptions(prefix);
    let owner: number | undefined;
    try {
      owner = readState(opts.statePath)?.ownerPid;
    } catch {
      owner = undefined;
    }
    if (owner !== undefined && fs.existsSync(`/proc/${owner}`)) continue;
    await labDown(opts);
    swept.push(prefix);
  }
  return swept;
}
