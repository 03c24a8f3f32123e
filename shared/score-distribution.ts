// The score distribution check of shadow comparison: green's scores against
// blue's for the same mirrored requests, as a Population Stability Index over
// fixed bins. Pure: the router books scores into the bins (cumulative
// counters, like the latency histogram) and the gate computes PSI from a
// window's counts in workflow code.
//
// The bins are fixed, not decided from blue's first values: the router keeps
// cumulative counters that a gate windows by subtraction, so the bins must be
// the same for every window, across router restarts and for every rollout;
// bins learnt from data would make a verdict depend on which requests came
// first. Ten equal bins over [0, 1] fit the probability-like scores models
// usually return; a score below 0 counts in the first bin, above 1 in the last.

/** Upper bounds (inclusive, as Prometheus `le`) of all bins but the last, which is unbounded. */
export const SCORE_BIN_BOUNDS: readonly number[] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
export const SCORE_BIN_COUNT = SCORE_BIN_BOUNDS.length + 1;

/**
 * An empty bin's share is taken as this (a common PSI convention): ln(0) is
 * undefined, and a bin one side never reaches should still weigh heavily.
 */
export const PSI_EMPTY_SHARE = 0.0001;

/** The bin a score falls in: the first bound it is at or under, else the last bin. */
export function scoreBin(score: number): number {
  let bin = 0;
  while (bin < SCORE_BIN_BOUNDS.length && score > (SCORE_BIN_BOUNDS[bin] as number)) bin++;
  return bin;
}

/**
 * PSI = sum over bins of (g - b) x ln(g / b), with b and g each side's share
 * of its scores in the bin. 0 is the same distribution; by the usual reading
 * under 0.1 is stable, 0.1 to 0.25 a shift, over 0.25 a large one.
 * Undefined (no verdict) when either side has no scores.
 */
export function populationStabilityIndex(blueCounts: readonly number[], greenCounts: readonly number[]): number | undefined {
  if (blueCounts.length !== greenCounts.length)
    throw new RangeError(`PSI needs the same bins on both sides, got ${blueCounts.length} and ${greenCounts.length}`);
  const blueTotal = blueCounts.reduce((sum, n) => sum + n, 0);
  const greenTotal = greenCounts.reduce((sum, n) => sum + n, 0);
  if (blueTotal <= 0 || greenTotal <= 0) return undefined;
  let psi = 0;
  for (let i = 0; i < blueCounts.length; i++) {
    const b = Math.max((blueCounts[i] as number) / blueTotal, PSI_EMPTY_SHARE);
    const g = Math.max((greenCounts[i] as number) / greenTotal, PSI_EMPTY_SHARE);
    psi += (g - b) * Math.log(g / b);
  }
  return psi;
}
