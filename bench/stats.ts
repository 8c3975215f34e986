// The few statistics the benchmarks reduce samples with, in one place.

/** The median (the mean of the two middle values for an even count); NaN for no values. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The harmonic mean: of rates (packets per second), the rate that gives the mean cost per packet. */
export function harmonicMean(xs: readonly number[]): number {
  return xs.length / xs.reduce((s, x) => s + 1 / x, 0);
}
