// The rule table (docs/design.md, "The BPF datapath"): one row per rule index, naming what a decision's rule
// index stands for (counters, decidedBy). Row 0 is "no rule"; then, per endpoint and direction, each tier's rules
// then its end, then the default row. The rows of two endpoints with the same chain differ only in their index,
// endpoint and direction: a chain's rows are kept once, as a template, and each (endpoint, direction) is a
// segment naming its first index and its chain's template. A row is an object only when asked for (at, iteration).
import type { Direction } from '../../model/types';
import type { Chain } from '../../ir/types';

export interface RuleRow {
  index: number;
  endpoint: string;
  direction: Direction;
  tier: string;
  tierIndex: number;
  kind: 'rule' | 'tier-end' | 'default';
  action: string;
  ruleId?: string;
  /** position of the rule in its tier */
  position?: number;
  /** "kind ns/name" of the policy, for rules */
  policy?: string;
  reason?: string;
}

/** A row less what differs per endpoint (index, endpoint, direction). */
export type RowTemplate = Omit<RuleRow, 'index' | 'endpoint' | 'direction'>;

/** The rows of one chain, in table order: each tier's rules then its end, then the default row. */
export function chainTemplate(chain: Chain, policiesOf: (rules: Chain['tiers'][number]['rules']) => string[]): RowTemplate[] {
  const out: RowTemplate[] = [];
  chain.tiers.forEach((tier, ti) => {
    const policies = policiesOf(tier.rules);
    tier.rules.forEach((rule, position) => {
      out.push({ tier: tier.name, tierIndex: ti, kind: 'rule', action: rule.action, ruleId: rule.id, position, policy: policies[position] });
    });
    out.push({ tier: tier.name, tierIndex: ti, kind: 'tier-end', action: tier.end.action, reason: tier.end.reason });
  });
  out.push({ tier: '', tierIndex: chain.tiers.length, kind: 'default', action: 'Allow', reason: 'no policy decided: allowed' });
  return out;
}

/** The row of index i: fields in the order the table has always written them (maps/rules.json). */
function row(index: number, endpoint: string, direction: Direction, r: RowTemplate): RuleRow {
  return r.kind === 'rule'
    ? { index, endpoint, direction, tier: r.tier, tierIndex: r.tierIndex, kind: r.kind, action: r.action, ruleId: r.ruleId, position: r.position, policy: r.policy }
    : { index, endpoint, direction, tier: r.tier, tierIndex: r.tierIndex, kind: r.kind, action: r.action, reason: r.reason };
}

export class RuleRows implements Iterable<RuleRow> {
  /** per segment: its first index, endpoint, direction and template (bases ascending, segments back to back) */
  private readonly bases: number[] = [];
  private readonly endpoints: string[] = [];
  private readonly directions: Direction[] = [];
  private readonly templates: (readonly RowTemplate[])[] = [];
  private n = 0;

  get length(): number {
    return this.n;
  }

  /** Appends the rows of one endpoint and direction (the template's rows, in order); returns the first index. */
  add(endpoint: string, direction: Direction, template: readonly RowTemplate[]): number {
    const base = this.n;
    if (template.length === 0) return base;
    this.bases.push(base);
    this.endpoints.push(endpoint);
    this.directions.push(direction);
    this.templates.push(template);
    this.n += template.length;
    return base;
  }

  at(index: number): RuleRow | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.n) return undefined;
    // the last segment whose base is <= index
    let lo = 0;
    let hi = this.bases.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.bases[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    return row(index, this.endpoints[lo], this.directions[lo], this.templates[lo][index - this.bases[lo]]);
  }

  *[Symbol.iterator](): Iterator<RuleRow> {
    for (let s = 0; s < this.bases.length; s++) {
      const base = this.bases[s];
      const tpl = this.templates[s];
      for (let j = 0; j < tpl.length; j++) yield row(base + j, this.endpoints[s], this.directions[s], tpl[j]);
    }
  }

  find(pred: (r: RuleRow) => boolean): RuleRow | undefined {
    for (const r of this) if (pred(r)) return r;
    return undefined;
  }

  /** The rows as an array (JSON.stringify writes them so). */
  toJSON(): RuleRow[] {
    return [...this];
  }
}
