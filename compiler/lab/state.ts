// The lab's state file (/run/tollgate/lab.json for the user's lab): which pod lives in which netns, behind which
// host-side veth, and which responder process serves it. `lab down` reads it; `load` and `matrix` rely on it.
import * as fs from 'fs';
import * as path from 'path';
import type { PodPlan } from './topology';

export interface PodState extends PodPlan {
  /** ifindex of the host-side veth inside the node netns */
  hostIfindex: number;
  /** the responder's pid (0 when the pod declares no TCP/UDP port) */
  responderPid: number;
}

export interface LabState {
  version: 1;
  prefix: string;
  nodeNetns: string;
  createdAt: string;
  /** the process that ran `lab up` */
  ownerPid: number;
  /** the manifests the lab was built from */
  sources: string[];
  pods: PodState[];
  skipped: { pod: string; reason: string }[];
}

export function readState(file: string): LabState | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const s = JSON.parse(text) as LabState;
  if (s.version !== 1 || !Array.isArray(s.pods)) throw new Error(`${file}: expected a tollgate lab state (version 1), found something else`);
  return s;
}

export function writeState(file: string, s: LabState): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n');
  fs.renameSync(tmp, file); // atomic: a reader sees the old state or the new, never half
}

export function removeState(file: string): void {
  fs.rmSync(file, { force: true });
}
