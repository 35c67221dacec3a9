// Order statistics for benchmark samples (nearest-rank percentiles, no interpolation).

/** The p-th percentile (0 < p <= 100) of `values` by nearest rank. */
export function percentile(values, p) {
  if (values.length === 0) throw new Error('percentile of no samples');
  const sorted = Float64Array.from(values).sort();
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

/** Median: the mean of the two middle values for an even count. */
export function median(values) {
  if (values.length === 0) throw new Error('median of no samples');
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function min(values) { return values.reduce((a, b) => Math.min(a, b), Infinity); }
export function max(values) { return values.reduce((a, b) => Math.max(a, b), -Infinity); }
