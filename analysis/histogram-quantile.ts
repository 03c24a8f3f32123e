// PromQL's histogram_quantile on one classic histogram, step by step as in
// Prometheus' promql/quantile.go (bucketQuantile), so a gate reads the same
// p95 as a dashboard built on `histogram_quantile(0.95, increase(...))`.

/**
 * The q-quantile (0 < q <= 1) of a histogram given as ascending finite upper
 * bounds and cumulative counts with one extra last entry for +Inf. Linear
 * interpolation inside the bucket that holds the rank, the first bucket
 * starting at 0; a rank in the +Inf bucket gives the highest finite bound.
 * Null when the histogram is empty or has no finite bucket.
 */
export function histogramQuantile(q: number, upperBounds: readonly number[], cumulative: readonly number[]): number | null {
  if (!(q > 0 && q <= 1)) throw new RangeError(`quantile must be in (0, 1], got ${q}`);
  if (upperBounds.length === 0 || cumulative.length !== upperBounds.length + 1) return null;
  // Prometheus forces cumulative counts to be monotonic before interpolating:
  // counts scraped mid-update can dip by a few, which must not make a bucket negative.
  const counts: number[] = [];
  let max = 0;
  for (const c of cumulative) {
    max = Math.max(max, c);
    counts.push(max);
  }
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0) return null;

  let rank = q * total;
  let b = counts.findIndex((c) => c >= rank);
  if (b === -1) b = counts.length - 1; // q * total rounding above total
  if (b === upperBounds.length) return upperBounds[upperBounds.length - 1] ?? null;

  const bucketEnd = upperBounds[b] ?? 0;
  if (b === 0 && bucketEnd <= 0) return bucketEnd;
  let bucketStart = 0;
  let count = counts[b] ?? 0;
  if (b > 0) {
    bucketStart = upperBounds[b - 1] ?? 0;
    const below = counts[b - 1] ?? 0;
    count -= below;
    rank -= below;
  }
  return bucketStart + (bucketEnd - bucketStart) * (rank / count);
}
