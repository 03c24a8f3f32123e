// The series of shadow comparison for one mirrored deployment: pairs by
// result, the numeric difference of compared numbers, and both sides' scores
// in the fixed bins of shared/score-distribution.ts. Booked in plain counters
// once per pair (as metrics.ts books requests), rendered only on a scrape.
import type { PairVerdict } from '../../shared/shadow-compare.js';
import { SCORE_BIN_BOUNDS, SCORE_BIN_COUNT, scoreBin } from '../../shared/score-distribution.js';
import { header, labelText } from '../metric-text.js';

export type ShadowResult = 'match' | 'mismatch' | 'shed' | 'error';
const RESULTS: readonly ShadowResult[] = ['match', 'mismatch', 'shed', 'error'];

/** From "equal to float noise" to "a different answer", for numbers compared with a tolerance. */
export const NUMERIC_DIFFERENCE_BUCKETS = [0.000001, 0.0001, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 10];

const PAIRS_HEADER = header(
  'saferoll_shadow_pairs_total',
  'counter',
  "Mirrored requests paired with blue's live answer, by endpoint, mirrored deployment and result: match, mismatch, shed (not compared: too large or too many in flight) or error (a side failed or could not be read).",
);
const DIFFERENCE_HEADER = header(
  'saferoll_shadow_numeric_difference',
  'histogram',
  'The largest absolute difference between two numbers compared with a tolerance, per compared pair, by endpoint and mirrored deployment.',
);
const SCORE_HEADER = header(
  'saferoll_shadow_score',
  'histogram',
  'The score at the distribution path of both answers of each compared pair, by endpoint, mirrored deployment and side (blue or green).',
);

class BucketCounts {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bins: number) {
    this.counts = new Float64Array(bins);
  }

  add(bin: number, value: number): void {
    this.counts[bin]!++;
    this.sum += value;
    this.count++;
  }

  render(lines: string[], name: string, bounds: readonly number[], labels: string): void {
    let cumulative = 0;
    for (let i = 0; i < bounds.length; i++) {
      cumulative += this.counts[i] as number;
      lines.push(`${name}_bucket{le="${bounds[i]}",${labels}} ${cumulative}`);
    }
    lines.push(`${name}_bucket{le="+Inf",${labels}} ${this.count}`);
    lines.push(`${name}_sum{${labels}} ${this.sum}`);
    lines.push(`${name}_count{${labels}} ${this.count}`);
  }
}

export class ShadowMetrics {
  private readonly labels: string;
  private readonly blueLabels: string;
  private readonly greenLabels: string;
  private readonly results = new Float64Array(RESULTS.length);
  private readonly difference = new BucketCounts(NUMERIC_DIFFERENCE_BUCKETS.length + 1);
  private readonly blueScores = new BucketCounts(SCORE_BIN_COUNT);
  private readonly greenScores = new BucketCounts(SCORE_BIN_COUNT);

  constructor(
    endpoint: string,
    deployment: string,
    private readonly rendered: Set<ShadowMetrics>,
  ) {
    this.labels = labelText({ endpoint, deployment });
    this.blueLabels = labelText({ endpoint, deployment, side: 'blue' });
    this.greenLabels = labelText({ endpoint, deployment, side: 'green' });
    rendered.add(this);
  }

  /** Drops the series with its deployment. */
  remove(): void {
    this.rendered.delete(this);
  }

  /** A pair not compared: too large, or too many in flight. */
  shed(): void {
    this.results[2]!++;
  }

  book(verdict: PairVerdict): void {
    this.results[verdict.result === 'match' ? 0 : verdict.result === 'mismatch' ? 1 : 3]!++;
    if (verdict.result === 'error') return;
    const difference = verdict.numericDifference;
    if (difference !== undefined) {
      let bucket = 0;
      while (bucket < NUMERIC_DIFFERENCE_BUCKETS.length && difference > (NUMERIC_DIFFERENCE_BUCKETS[bucket] as number)) bucket++;
      this.difference.add(bucket, difference);
    }
    const scores = verdict.scores;
    if (scores) {
      this.blueScores.add(scoreBin(scores.blue), scores.blue);
      this.greenScores.add(scoreBin(scores.green), scores.green);
    }
  }

  /** Pairs so far by result (tests and the diffs view). */
  count(result: ShadowResult): number {
    return this.results[RESULTS.indexOf(result)] as number;
  }

  get booked(): boolean {
    return this.results.some((n) => n > 0);
  }

  renderPairs(lines: string[]): void {
    for (let i = 0; i < RESULTS.length; i++) {
      const n = this.results[i] as number;
      if (n > 0) lines.push(`saferoll_shadow_pairs_total{${this.labels},result="${RESULTS[i]}"} ${n}`);
    }
  }

  renderDifference(lines: string[]): void {
    if (this.difference.count > 0) this.difference.render(lines, 'saferoll_shadow_numeric_difference', NUMERIC_DIFFERENCE_BUCKETS, this.labels);
  }

  renderScores(lines: string[]): void {
    if (this.blueScores.count === 0) return;
    this.blueScores.render(lines, 'saferoll_shadow_score', SCORE_BIN_BOUNDS, this.blueLabels);
    this.greenScores.render(lines, 'saferoll_shadow_score', SCORE_BIN_BOUNDS, this.greenLabels);
  }
}

/**
 * The shadow families of these series, each followed by a blank line; nothing
 * at all until a pair has been booked, so a router that never compares
 * renders /metrics exactly as before.
 */
export function shadowFamilies(series: Iterable<ShadowMetrics>): string {
  const booked = [...series].filter((s) => s.booked);
  if (booked.length === 0) return '';
  const block = (head: string, render: (s: ShadowMetrics, lines: string[]) => void): string => {
    const lines = [head];
    for (const s of booked) render(s, lines);
    return lines.join('\n');
  };
  return `${block(PAIRS_HEADER, (s, l) => s.renderPairs(l))}\n\n${block(DIFFERENCE_HEADER, (s, l) => s.renderDifference(l))}\n\n${block(SCORE_HEADER, (s, l) => s.renderScores(l))}\n\n`;
}
