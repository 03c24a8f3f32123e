// The gate of shadow comparison (a mirror step's `compare`): the pairs the
// router compared over a window -> "shadow mismatch x% <= limit (n pairs)"
// and "score PSI y <= limit". Pure and deterministic, as it runs in workflow
// code. With the other gates' honesty: only compared pairs count (shed and
// error pairs are shown, never judged), fewer than minPairs is Inconclusive,
// and the exact binomial test fails a mismatch share early when the evidence
// is overwhelming. Pairs are made by the routing core's built-in data plane,
// so they are read from its /metrics?endpoint= whatever analysis.source is.
import { SCORE_BIN_BOUNDS, SCORE_BIN_COUNT, populationStabilityIndex } from '../shared/score-distribution.js';
import { earlyFailure, type GateCheck, type GatePhase } from './evaluate.js';
import { parsePrometheusText } from './prometheus-text.js';

/** One mirrored deployment's shadow comparison counters (router/shadow/shadow-metrics.ts), cumulative. */
export interface ShadowSeries {
  match: number;
  mismatch: number;
  shed: number;
  error: number;
  /** Cumulative counts of each side's scores in the fixed bins (shared/score-distribution.ts), +Inf last; absent without scores. */
  scores?: { blue: number[]; green: number[] };
}

/** The counters of one deployment at one instant: a window is the difference of two. JSON (it travels in workflow history). */
export interface ShadowSnapshot {
  takenAtMs: number;
  /** The router process's start time; a change means its counters started again from zero. */
  processStartSeconds: number | null;
  series: ShadowSeries;
}

const PAIRS = 'saferoll_shadow_pairs_total';
const SCORE_BUCKET = 'saferoll_shadow_score_bucket';
const PROCESS_START = 'process_start_time_seconds';

/** `deployment`'s shadow counters in a router exposition (its /metrics?endpoint=). */
export function shadowSnapshot(text: string, endpoint: string, deployment: string, takenAtMs: number): ShadowSnapshot {
  const series: ShadowSeries = { match: 0, mismatch: 0, shed: 0, error: 0 };
  let processStartSeconds: number | null = null;
  for (const sample of parsePrometheusText(text, [PAIRS, SCORE_BUCKET, PROCESS_START])) {
    const { labels } = sample;
    if (sample.name === PROCESS_START) {
      processStartSeconds = Number.isFinite(sample.value) ? sample.value : null;
      continue;
    }
    if (labels.endpoint !== endpoint || labels.deployment !== deployment || !Number.isFinite(sample.value)) continue;
    if (sample.name === PAIRS) {
      const result = labels.result;
      if (result === 'match' || result === 'mismatch' || result === 'shed' || result === 'error') series[result] += sample.value;
      continue;
    }
    const side = labels.side;
    if (sample.name !== SCORE_BUCKET || (side !== 'blue' && side !== 'green')) continue;
    const bin = labels.le === '+Inf' ? SCORE_BIN_BOUNDS.length : SCORE_BIN_BOUNDS.indexOf(Number(labels.le));
    if (bin < 0) continue;
    series.scores ??= { blue: new Array<number>(SCORE_BIN_COUNT).fill(0), green: new Array<number>(SCORE_BIN_COUNT).fill(0) };
    series.scores[side][bin] = sample.value;
  }
  return { takenAtMs, processStartSeconds, series };
}

/** A mirror step's limits on its pairs (policies' MirrorCompare has these fields). */
export interface ShadowLimits {
  maxMismatch?: number;
  maxPsi?: number;
  minPairs: number;
}

/** One mirrored deployment's pairs over a window; scores per bin (not cumulative). */
export interface ShadowWindow {
  match: number;
  mismatch: number;
  shed: number;
  error: number;
  blueScores: number[];
  greenScores: number[];
}

const NONE: ShadowSeries = { match: 0, mismatch: 0, shed: 0, error: 0 };

/** What the router compared between `start` and `end` (from zero without a start, across a router restart, or after a reset). */
export function measureShadowWindow(start: ShadowSnapshot | undefined, end: ShadowSnapshot): ShadowWindow {
  const to = end.series;
  const restarted =
    start !== undefined && start.processStartSeconds !== null && end.processStartSeconds !== null && start.processStartSeconds !== end.processStartSeconds;
  let from = start === undefined || restarted ? NONE : start.series;
  if (wasReset(from, to)) from = NONE;
  return {
    match: to.match - from.match,
    mismatch: to.mismatch - from.mismatch,
    shed: to.shed - from.shed,
    error: to.error - from.error,
    blueScores: binCounts(to.scores?.blue, from.scores?.blue),
    greenScores: binCounts(to.scores?.green, from.scores?.green),
  };
}

export function judgeShadow(limits: ShadowLimits, w: ShadowWindow): { checks: GateCheck[]; phase: GatePhase } {
  const checks: GateCheck[] = [];
  const n = w.match + w.mismatch;
  const unjudged = `${w.shed} shed, ${w.error} error`;
  if (limits.maxMismatch !== undefined) {
    const limit = limits.maxMismatch;
    const value = n > 0 ? w.mismatch / n : null;
    const note = `${w.mismatch}/${n} pairs; ${unjudged}`;
    const early = earlyFailure(w.mismatch, n, limit);
    if (early !== undefined) checks.push({ metric: 'shadowMismatch', value, limit, phase: 'Failed', note: `${note}, ${early}` });
    else if (n < limits.minPairs || value === null)
      checks.push({ metric: 'shadowMismatch', value, limit, phase: 'Inconclusive', note: `${n} < ${limits.minPairs} pairs; ${unjudged}` });
    else checks.push({ metric: 'shadowMismatch', value, limit, phase: value > limit ? 'Failed' : 'Successful', note });
  }
  if (limits.maxPsi !== undefined) {
    const scored = w.greenScores.reduce((sum, c) => sum + c, 0);
    const psi = populationStabilityIndex(w.blueScores, w.greenScores) ?? null;
    const limit = limits.maxPsi;
    if (scored < limits.minPairs || psi === null)
      checks.push({ metric: 'shadowPsi', value: psi, limit, phase: 'Inconclusive', note: `${scored} < ${limits.minPairs} scored pairs` });
    else checks.push({ metric: 'shadowPsi', value: psi, limit, phase: psi > limit ? 'Failed' : 'Successful', note: `${scored} pairs` });
  }
  const phase = (['Failed', 'Inconclusive'] as const).find((p) => checks.some((c) => c.phase === p)) ?? 'Successful';
  return { checks, phase };
}

function wasReset(start: ShadowSeries, end: ShadowSeries): boolean {
  if (end.match < start.match || end.mismatch < start.mismatch || end.shed < start.shed || end.error < start.error) return true;
  const lower = (a: number[] | undefined, b: number[] | undefined) => (a ?? []).some((c, i) => c > (b?.[i] ?? 0));
  return lower(start.scores?.blue, end.scores?.blue) || lower(start.scores?.green, end.scores?.green);
}

/** Per-bin counts over the window from two cumulative lists. */
function binCounts(end: number[] | undefined, start: number[] | undefined): number[] {
  const out: number[] = [];
  let below = 0;
  for (let i = 0; i < SCORE_BIN_COUNT; i++) {
    const cumulative = Math.max((end?.[i] ?? 0) - (start?.[i] ?? 0), below);
    out.push(cumulative - below);
    below = cumulative;
  }
  return out;
}
