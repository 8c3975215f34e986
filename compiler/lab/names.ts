// Kernel object names of a lab. Every name starts with the lab's prefix ('tg' for a user's lab, a longer one such
// as 'tgl' for tests), so a sweep by prefix finds everything a crashed run left, and two labs never collide.
import { createHash } from 'crypto';

/** Linux IFNAMSIZ is 16 bytes with the NUL: 15 visible characters. */
export const IFNAME_MAX = 15;
const IFNAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;
const PREFIX_RE = /^tg[a-z0-9]{0,4}$/;

export function checkPrefix(prefix: string): void {
  if (!PREFIX_RE.test(prefix)) {
    throw new Error(`lab prefix: expected 'tg' followed by up to 4 lower-case letters or digits, found '${prefix}'`);
  }
}

/** Why `name` cannot be a Linux interface name, or undefined when it can. */
export function ifnameProblem(name: string): string | undefined {
  if (name.length === 0) return 'expected a non-empty interface name';
  if (name.length > IFNAME_MAX) return `expected at most ${IFNAME_MAX} characters, found ${name.length} ('${name}')`;
  if (!IFNAME_RE.test(name) || name === '.' || name === '..') {
    return `expected letters, digits, '_', '-' or '.', found '${name}'`;
  }
  return undefined;
}

function shortHash(prefix: string, pod: string): string {
  return createHash('sha256').update(`${prefix}\0${pod}`).digest('hex');
}

/** The node's network namespace: it routes between the pods. */
export function nodeNetns(prefix: string): string {
  return `${prefix}-node`;
}

/** A pod's network namespace (hex after the dash, so it can never be the node's 'node'). */
export function podNetns(prefix: string, pod: string): string {
  return `${prefix}-${shortHash(prefix, pod).slice(0, 10)}`;
}

/** The host-side veth of a pod when no tollgate.dev/interface annotation names it. */
export function defaultHostIfname(prefix: string, pod: string): string {
  return prefix + shortHash(prefix, pod).slice(0, IFNAME_MAX - prefix.length);
}

/** Netns names that belong to a lab with this prefix (the node's and the pods'). */
export function isLabNetns(prefix: string, name: string): boolean {
  return name === nodeNetns(prefix) || new RegExp(`^${prefix}-[0-9a-f]{10}$`).test(name);
}

export function defaultStatePath(prefix: string): string {
  return prefix === 'tg' ? '/run/tollgate/lab.json' : `/run/tollgate/lab-${prefix}.json`;
}
