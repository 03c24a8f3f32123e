import { describe, expect, it } from 'vitest';
import { histogramQuantile } from '../../analysis/histogram-quantile.js';

const MS = [5, 10, 25, 50, 75, 100, 150, 200, 250, 300, 400, 500, 750, 1000, 1500, 2500, 5000, 10000];

/** Cumulative counts on MS plus +Inf from "count in the bucket ending at le" pairs (Infinity for +Inf). */
function cumulative(perBucket: Record<number, number>): number[] {
  let sum = 0;
  const out = MS.map((le) => (sum += perBucket[le] ?? 0));
  out.push(sum + (perBucket[Number.POSITIVE_INFINITY] ?? 0));
  return out;
}

// Expected values worked by hand with Prometheus' bucketQuantile:
// rank = q * total, first bucket whose cumulative count >= rank, then
// start + (end - start) * (rank - below) / (count in bucket).
describe('histogramQuantile', () => {
  it.each<{ name: string; buckets: Record<number, number>; q: number; want: number }>([
    { name: '50 in (25,50], 40 in (50,75], 10 in (100,150]', buckets: { 50: 50, 75: 40, 150: 10 }, q: 0.95, want: 125 },
    { name: 'same, p99', buckets: { 50: 50, 75: 40, 150: 10 }, q: 0.99, want: 145 },
    { name: 'same, p50 lands on a bucket edge', buckets: { 50: 50, 75: 40, 150: 10 }, q: 0.5, want: 50 },
    { name: 'rank in +Inf gives the highest finite bound', buckets: { 5: 90, [Infinity]: 10 }, q: 0.95, want: 10000 },
    { name: 'same, p99', buckets: { 5: 90, [Infinity]: 10 }, q: 0.99, want: 10000 },
    { name: 'same, p90 stays in the first bucket', buckets: { 5: 90, [Infinity]: 10 }, q: 0.9, want: 5 },
    { name: 'first bucket starts at 0', buckets: { 5: 20 }, q: 0.95, want: 4.75 },
    { name: 'first bucket, p99', buckets: { 5: 20 }, q: 0.99, want: 4.95 },
    { name: 'a single request', buckets: { 250: 1 }, q: 0.95, want: 247.5 },
    { name: 'a single request, p99', buckets: { 250: 1 }, q: 0.99, want: 249.5 },
    { name: 'empty buckets in between are skipped', buckets: { 10: 1, 1000: 1 }, q: 0.95, want: 975 },
  ])('$name: q=$q -> $want ms', ({ buckets, q, want }) => {
    expect(histogramQuantile(q, MS, cumulative(buckets))).toBeCloseTo(want, 9);
  });

  it('is null for an empty histogram or one without finite buckets', () => {
    expect(histogramQuantile(0.95, MS, cumulative({}))).toBeNull();
    expect(histogramQuantile(0.95, [], [7])).toBeNull();
  });

  it('first makes cumulative counts monotonic, as Prometheus does', () => {
    // [2, 1, 3] reads as [2, 2, 3]: rank 1.5 is in the first bucket.
    expect(histogramQuantile(0.5, [10, 20], [2, 1, 3])).toBeCloseTo(7.5, 9);
  });

  it('refuses a quantile outside (0, 1]', () => {
    expect(() => histogramQuantile(0, MS, cumulative({ 5: 1 }))).toThrow(RangeError);
    expect(() => histogramQuantile(1.5, MS, cumulative({ 5: 1 }))).toThrow(RangeError);
  });
});
