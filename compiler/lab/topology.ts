// From the model to the lab's plan: which pods get a network namespace, with which names, addresses and ports.
// Pure (no kernel calls), so every naming and validation decision is testable on its own.
import * as ipaddr from 'ipaddr.js';
import { Diagnostics, InputError } from '../model/diagnostics';
import type { Model, Pod } from '../model/types';
import { checkPrefix, defaultHostIfname, ifnameProblem, nodeNetns, podNetns } from './names';

export const IFACE_ANNOTATION = 'tollgate.dev/interface';

export interface PodPlan {
  /** "namespace/name" */
  id: string;
  netns: string;
  /** host-side veth, in the node's netns */
  hostIf: string;
  ipv4: string[];
  ipv6: string[];
  ports: { port: number; protocol: number }[];
}

export interface LabPlan {
  prefix: string;
  nodeNetns: string;
  pods: PodPlan[];
  /** pods that get no netns, and why (host network, no address) */
  skipped: { pod: string; reason: string }[];
}

function podId(p: Pod): string {
  return `${p.namespace}/${p.name}`;
}

/** Plans the lab; throws InputError naming every pod whose annotation or addresses cannot be used. */
export function planLab(model: Model, prefix: string): LabPlan {
  checkPrefix(prefix);
  const diags = new Diagnostics();
  const plan: LabPlan = { prefix, nodeNetns: nodeNetns(prefix), pods: [], skipped: [] };
  const ifOwner = new Map<string, string>();
  for (const pod of model.pods) {
    const id = podId(pod);
    const at = { location: pod.origin.location, object: { kind: 'Pod', namespace: pod.namespace, name: pod.name } };
    if (pod.hostNetwork) {
      plan.skipped.push({ pod: id, reason: 'hostNetwork pod (shares the node netns)' });
      continue;
    }
    if (pod.ips.length === 0) {
      plan.skipped.push({ pod: id, reason: 'no address in status.podIPs' });
      continue;
    }
    const ipv4: string[] = [];
    const ipv6: string[] = [];
    pod.ips.forEach((text, i) => {
      if (!ipaddr.isValid(text)) {
        diags.error('lab-bad-ip', `expected an IPv4 or IPv6 address, found '${text}'`, { ...at, path: ['status', 'podIPs', i, 'ip'] });
        return;
      }
      const a = ipaddr.process(text);
      (a.kind() === 'ipv4' ? ipv4 : ipv6).push(a.toString());
    });
    let hostIf = defaultHostIfname(prefix, id);
    const annotated = pod.annotations[IFACE_ANNOTATION];
    if (annotated !== undefined) {
      const problem = ifnameProblem(annotated);
      if (problem) diags.error('lab-bad-ifname', problem, { ...at, path: ['metadata', 'annotations', IFACE_ANNOTATION] });
      else hostIf = annotated;
    }
    const other = ifOwner.get(hostIf);
    if (other !== undefined) {
      diags.error('lab-ifname-clash', `expected an interface name no other pod uses, found '${hostIf}' (also pod ${other})`, {
        ...at,
        path: ['metadata', 'annotations', IFACE_ANNOTATION],
      });
    }
    ifOwner.set(hostIf, id);
    const seen = new Set<string>();
    const ports: PodPlan['ports'] = [];
    for (const p of pod.ports) {
      const key = `${p.protocol}/${p.port}`;
      if (seen.has(key)) continue; // two containers may declare the same port; one responder serves it
      seen.add(key);
      ports.push({ port: p.port, protocol: p.protocol });
    }
    plan.pods.push({ id, netns: podNetns(prefix, id), hostIf, ipv4, ipv6, ports });
  }
  if (diags.hasErrors()) throw new InputError(diags.items);
  return plan;
}
