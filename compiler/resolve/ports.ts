// Port-range algebra: sets of ports 0..65535 as sorted, disjoint, non-adjacent inclusive ranges.
import type { PortRange } from '../model/types';

export const ALL_PORTS: PortRange[] = [{ from: 0, to: 65535 }];

export function normalizePorts(list: readonly PortRange[]): PortRange[] {
  const sorted = [...list].filter((r) => r.from <= r.to).sort((a, b) => a.from - b.from || a.to - b.to);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else out.push({ from: r.from, to: r.to });
  }
  return out;
}

export function unionPorts(...lists: (readonly PortRange[])[]): PortRange[] {
  return normalizePorts(lists.flat());
}

export function intersectPorts(a: readonly PortRange[], b: readonly PortRange[]): PortRange[] {
  const na = normalizePorts(a);
  const nb = normalizePorts(b);
  const out: PortRange[] = [];
  let i = 0;
  let j = 0;
  while (i < na.length && j < nb.length) {
    const from = Math.max(na[i].from, nb[j].from);
    const to = Math.min(na[i].to, nb[j].to);
    if (from <= to) out.push({ from, to });
    if (na[i].to < nb[j].to) i++;
    else j++;
  }
  return out;
}

export function subtractPorts(a: readonly PortRange[], b: readonly PortRange[]): PortRange[] {
  let out = normalizePorts(a);
  for (const r of normalizePorts(b)) {
    const next: PortRange[] = [];
    for (const x of out) {
      if (r.to < x.from || r.from > x.to) next.push(x);
      else {
        if (x.from < r.from) next.push({ from: x.from, to: r.from - 1 });
        if (x.to > r.to) next.push({ from: r.to + 1, to: x.to });
      }
    }
    out = next;
  }
  return out;
}

export function portIn(port: number, list: readonly PortRange[]): boolean {
  return list.some((r) => port >= r.from && port <= r.to);
}

/** a ⊆ b */
export function portsSubset(a: readonly PortRange[], b: readonly PortRange[]): boolean {
  if (!isNormalPorts(a) || !isNormalPorts(b)) return subtractPorts(a, b).length === 0;
  // both normal: each range of a must lie inside one range of b (no allocation)
  let j = 0;
  for (const r of a) {
    while (j < b.length && b[j].to < r.from) j++;
    if (j === b.length || b[j].from > r.from || b[j].to < r.to) return false;
  }
  return true;
}

/** Sorted, disjoint, non-adjacent and non-empty ranges (what normalizePorts gives). */
function isNormalPorts(l: readonly PortRange[]): boolean {
  for (let i = 0; i < l.length; i++) if (l[i].from > l[i].to || (i > 0 && l[i].from <= l[i - 1].to + 1)) return false;
  return true;
}

export function formatPorts(list: readonly PortRange[]): string {
  return list.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`)).join(',');
}
