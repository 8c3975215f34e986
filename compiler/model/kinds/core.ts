// Cluster state (v1): Namespace, Pod, ServiceAccount, Node.
import { isPortName, Reader, sub, sub2, type Path } from '../fields';
import type { ContainerPort, Namespace, Node, Pod, ServiceAccount } from '../types';
import { readBandwidthAnnotations, readIp, readK8sProtocol, type Meta } from './common';
import { fitted } from '../../manifests/fast';

export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
/** The host-side interface of a pod (as a CNI names its veth end); read by the lab and the loader. */
export const INTERFACE_ANNOTATION = 'tollgate.dev/interface';

export function readNamespace(r: Reader, _obj: Record<string, unknown>, meta: Meta): Namespace {
  // The API server always sets this label to the namespace's name (and overrides any other value).
  return { name: meta.name, labels: { ...meta.labels, [NAMESPACE_NAME_LABEL]: meta.name }, origin: r.origin };
}

export function readServiceAccount(r: Reader, _obj: Record<string, unknown>, meta: Meta): ServiceAccount {
  return { namespace: meta.namespace ?? 'default', name: meta.name, labels: meta.labels, origin: r.origin };
}

export function readPod(r: Reader, obj: Record<string, unknown>, meta: Meta): Pod {
  const spec = r.map(obj.spec, ['spec']) ?? {};
  const status = r.map(obj.status, ['status']) ?? {};
  // An empty name is no name: the ServiceAccount admission plugin sets it to "default".
  const sa = r.string(spec.serviceAccountName, ['spec', 'serviceAccountName']) || r.string(spec.serviceAccount, ['spec', 'serviceAccount']) || 'default';
  const ports: ContainerPort[] = [];
  readContainerPorts(r, spec, 'containers', ports);
  readContainerPorts(r, spec, 'initContainers', ports);

  // status.podIPs (dual-stack) lists podIP first; either may be written alone.
  const ips: string[] = [];
  if (status.podIP !== undefined && status.podIP !== null) addIp(r, ips, status.podIP, ['status', 'podIP']);
  r.list(status.podIPs, ['status', 'podIPs']).forEach((e, i) => {
    const m = r.map(e, ['status', 'podIPs', i]);
    if (!m) return;
    r.knownFields(m, ['status', 'podIPs', i], ['ip']);
    addIp(r, ips, m.ip, ['status', 'podIPs', i, 'ip']);
  });
  const hostNetwork = r.bool(spec.hostNetwork, ['spec', 'hostNetwork'], false);
  // A finished pod has no network (libcalico-go conversion IsFinished: phase Failed, Succeeded or Completed); the
  // addresses its status still lists may belong to a new pod already, so they are dropped.
  const phase = status.phase;
  if (typeof phase === 'string' && ['Succeeded', 'Failed', 'Completed'].includes(phase)) {
    if (ips.length) r.warn('no-ip', ['status', 'phase'], `pod has finished (phase ${phase}); its addresses ${ips.join(', ')} are no longer its own and are ignored`);
    ips.length = 0;
  } else if (ips.length === 0) r.warn('no-ip', ['status'], 'pod has no IP address (status.podIP/podIPs); its policy cannot be enforced');
  if (hostNetwork) r.warn('not-enforced', ['spec', 'hostNetwork'], 'pod uses the host network; pod policy is not enforced on host interfaces');

  const iface = meta.annotations[INTERFACE_ANNOTATION];
  if (iface !== undefined && !/^[A-Za-z0-9_.-]{1,15}$/.test(iface)) {
    r.error('bad-name', ['metadata', 'annotations', INTERFACE_ANNOTATION], `expected an interface name (1-15 characters A-Z a-z 0-9 _ . -), found ${JSON.stringify(iface)}`);
  }
  const nodeName = r.string(spec.nodeName, ['spec', 'nodeName']);
  return {
    namespace: meta.namespace ?? 'default',
    name: meta.name,
    labels: meta.labels,
    annotations: meta.annotations,
    serviceAccount: sa,
    ips: fitted(ips),
    ports: fitted(ports),
    hostNetwork,
    ...(nodeName !== undefined ? { nodeName } : {}),
    bandwidth: readBandwidthAnnotations(r, meta.annotations, 'kubernetes.io/'),
    origin: r.origin,
  };
}

// Module functions rather than closures inside readPod: it runs once per pod, and tsx names each closure it makes.

/** The ports of spec.containers or spec.initContainers, appended to `ports`. */
function readContainerPorts(r: Reader, spec: Record<string, unknown>, key: 'containers' | 'initContainers', ports: ContainerPort[]): void {
  r.list(spec[key], ['spec', key]).forEach((c, i) => {
    const cp: Path = ['spec', key, i];
    const cm = r.map(c, cp);
    if (!cm) return;
    // Init containers run to completion, except sidecars (restartPolicy: Always), which serve for the pod's life.
    if (key === 'initContainers' && cm.restartPolicy !== 'Always') return;
    r.list(cm.ports, sub(cp, 'ports')).forEach((p, j) => {
      const pp: Path = sub2(cp, 'ports', j);
      const pm = r.map(p, pp);
      if (!pm) return;
      // A container port is read for named ports in policy: a misspelt field is refused like one in a policy.
      r.knownFields(pm, pp, ['name', 'containerPort', 'protocol', 'hostPort', 'hostIP']);
      const port = pm.containerPort === undefined
        ? (r.error('required', [...pp, 'containerPort'], 'expected a container port number 1..65535, found nothing'), undefined)
        : r.int(pm.containerPort, sub(pp, 'containerPort'), 1, 65535, 'a container port number', 'port-range');
      const protocol = readK8sProtocol(r, pm.protocol, sub(pp, 'protocol'));
      const name = r.string(pm.name, sub(pp, 'name'));
      if (name !== undefined && !isPortName(name)) {
        r.error('bad-name', [...pp, 'name'], `expected a port name (1-15 characters a-z, 0-9, '-', with a letter, no '--', no '-' at either end), found ${JSON.stringify(name)}`);
      }
      // a literal each way: one starting with a spread gets a hidden class of its own (see readRule)
      if (port !== undefined && protocol !== undefined) ports.push(name !== undefined ? { name, port, protocol } : { port, protocol });
    });
  });
}

/** An address of status.podIP/podIPs, appended to `ips` once. */
function addIp(r: Reader, ips: string[], v: unknown, path: Path): void {
  const ip = readIp(r, v, path);
  if (ip !== undefined && !ips.includes(ip)) ips.push(ip);
}

export function readNode(r: Reader, obj: Record<string, unknown>, meta: Meta): Node {
  const status = r.map(obj.status, ['status']) ?? {};
  const addresses: string[] = [];
  r.list(status.addresses, ['status', 'addresses']).forEach((a, i) => {
    const m = r.map(a, ['status', 'addresses', i]);
    if (!m) return;
    // Hostname entries name the node; only address entries (InternalIP, ExternalIP) are addresses.
    if (m.type === 'Hostname' || m.type === 'InternalDNS' || m.type === 'ExternalDNS') return;
    const ip = readIp(r, m.address, ['status', 'addresses', i, 'address']);
    if (ip !== undefined && !addresses.includes(ip)) addresses.push(ip);
  });
  return { name: meta.name, labels: meta.labels, addresses, origin: r.origin };
}
