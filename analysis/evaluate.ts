// The gate: turns one window's numbers into Successful / Failed /
// Inconclusive / Error (the phases of Argo Rollouts' analysis runs). Pure and
// deterministic, as it runs inside Temporal workflow code: no I/O, no clock,
// no randomness, and no imports but types and the pure binomial math.
//
// Two ways to fail. With at least `minRequests` answers, a point estimate over
// its limit fails, as in any threshold gate. Below that, a gate can still fail
// early, because the gate is evaluated every few seconds and a green that
// fails every request should be caught after a handful of them, not after
// minRequests: an exact one-sided binomial test (a Clopper–Pearson lower
// bound) fails a check only when the evidence is overwhelming.
import { binomialUpperTail, clopperPearsonLower } from './binomial.js';
import type { WindowStats } from './window.js';

export type GatePhase = 'Successful' | 'Failed' | 'Inconclusive' | 'Error';
export type GateMetric =
  | 'p95'
  | 'p99'
  | 'errorRate'
  | 'latencyRatio'
  | 'errorRateDelta'
  | 'abortRate'
  | 'requests'
  | 'custom'
  /** Shadow comparison (analysis/shadow-checks.ts): share of compared mirror pairs that mismatched, and the score PSI. */
  | 'shadowMismatch'
  | 'shadowPsi';
/** A custom check's rule (analysis/custom-checks.ts): a limit on green, or green against blue. */
export type CustomRule = 'min' | 'max' | 'maxRatio' | 'maxDelta' | 'maxDrop';

export interface GateRules {
  /** Highest acceptable green p95 latency, in milliseconds. */
  p95Ms?: number;
  p99Ms?: number;
  /** Highest acceptable green error rate, as a fraction (0.01 = 1%). */
  errorRate?: number;
  /** Green answers needed before the gate can pass (and before point estimates can fail it). */
  minRequests: number;
  /** Highest acceptable green p95 / blue p95. */
  latencyRatio?: number;
  /** Highest acceptable green error rate minus blue's, as a fraction (0.01 = 1 percentage point). */
  errorRateDelta?: number;
  /**
   * Highest acceptable share of green's requests abandoned by their clients
   * (hang-ups before an answer) when there is no blue to compare with.
   */
  abortRate?: number;
  /** Highest acceptable green abandoned share minus blue's over the same window, when blue has minRequests. */
  abortRateDelta?: number;
}

export interface GateCheck {
  metric: GateMetric;
  value: number | null;
  limit: number;
  phase: GatePhase;
  note?: string;
  /** Custom checks only: the policy's name for the check, which rule this is, and green's query as sent. */
  name?: string;
  rule?: CustomRule;
  query?: string;
}

export interface GateResult {
  phase: GatePhase;
  checks: GateCheck[];
  summary: string;
}

/**
 * Level of the early-failure test (one-sided 99.99%): a check fails below
 * minRequests only when a green exactly at its limit would show this much,
 * or worse, less than once in 10,000 windows. Why not the usual 99.9%: the
 * test is repeated at every gate tick, on two windows, for several checks
 * and steps, so a rollout takes hundreds to thousands of looks; 99.99% keeps
 * the chance that noise fails a green sitting right at its limit small over
 * a whole rollout, and makes it negligible for a healthy green well under
 * it. The price is one sample at most to catch a green that fails every
 * request: 3 at a 1% limit, 4 at 5%, 5 at 10%, 6 at 20% (14 at 50%).
 */
export const EARLY_FAIL_ALPHA = 1e-4;

/**
 * Fewest bad requests (errors, or answers surely over a latency limit) that
 * can fail a check before minRequests. The exact test already needs 3 at
 * common limits; the floor keeps a single cold-start outlier or a couple of
 * errors from failing a gate at a lax limit, whatever the test says.
 */
export const EARLY_FAIL_MIN_EVENTS = 3;

/**
 * A latency ratio fails only when green is also slower than blue by more
 * than this. At tens of milliseconds the histogram's buckets (5, 10, 25,
 * 50 ms) are as wide as the difference, and interpolation over a few dozen
 * samples, with a fresh instance's first slow answers among them, can make
 * 20 ms read as 1.5x of itself; no one should roll back for that, and the
 * absolute SLOs still guard real regressions.
 */
export const LATENCY_RATIO_FLOOR_MS = 25;

export function evaluateGate(rules: GateRules, green: WindowStats, blue?: WindowStats): GateResult {
  const invalid = invalidInput(rules, green, blue);
  if (invalid !== undefined) return { phase: 'Error', checks: [], summary: invalid };

  const enough = green.requests >= rules.minRequests;
  const absolute: GateCheck[] = [];
  if (rules.p95Ms !== undefined) absolute.push(latencyCheck('p95', 0.05, green.p95Ms, rules.p95Ms, green, enough));
  if (rules.p99Ms !== undefined) absolute.push(latencyCheck('p99', 0.01, green.p99Ms, rules.p99Ms, green, enough));
  if (rules.errorRate !== undefined) absolute.push(errorRateCheck(rules.errorRate, green, enough));
  const aborts = abortCheck(rules, green, blue);
  if (aborts !== undefined) absolute.push(aborts);

  const baseline: GateCheck[] = [];
  const blueEnough = blue !== undefined && blue.requests >= rules.minRequests;
  const blueNote = blue === undefined || blue.requests === 0 ? 'no blue data' : `blue n=${blue.requests} < ${rules.minRequests}`;
  if (rules.latencyRatio !== undefined) {
    const ratio = enough && blueEnough && green.p95Ms !== null && blue.p95Ms !== null && blue.p95Ms > 0 ? green.p95Ms / blue.p95Ms : null;
    const check = pointCheck('latencyRatio', ratio, rules.latencyRatio, enough && !blueEnough ? blueNote : undefined);
    if (check.phase === 'Failed' && green.p95Ms !== null && blue?.p95Ms !== null && blue !== undefined && green.p95Ms - blue.p95Ms < LATENCY_RATIO_FLOOR_MS) {
      baseline.push({ ...check, phase: 'Successful', note: `within ${LATENCY_RATIO_FLOOR_MS}ms of blue` });
    } else {
      baseline.push(check);
    }
  }
  if (rules.errorRateDelta !== undefined) {
    const diff = enough && blueEnough && green.errorRate !== null && blue.errorRate !== null ? green.errorRate - blue.errorRate : null;
    baseline.push(pointCheck('errorRateDelta', diff, rules.errorRateDelta, enough && !blueEnough ? blueNote : undefined));
  }

  const requests: GateCheck = {
    metric: 'requests',
    value: green.requests,
    limit: rules.minRequests,
    phase: enough ? 'Successful' : 'Inconclusive',
  };
  const checks = [...absolute, ...baseline, requests];
  const failed = checks.filter((c) => c.phase === 'Failed');
  if (failed.length > 0) return { phase: 'Failed', checks, summary: `failed: ${failed.map(formatCheck).join('; ')}` };
  // A baseline check without enough blue data does not hold the gate: blue
  // legitimately has no traffic once green takes 100%, and the absolute SLOs
  // still protect the rollout then.
  const waiting = [requests, ...absolute].filter((c) => c.phase === 'Inconclusive');
  if (waiting.length > 0) return { phase: 'Inconclusive', checks, summary: `inconclusive: ${waiting.map(formatCheck).join('; ')}` };
  const skipped = baseline.filter((c) => c.phase === 'Inconclusive');
  const tail = skipped.length > 0 ? ` (not compared with blue: ${skipped[0]?.note ?? 'no blue data'})` : '';
  return { phase: 'Successful', checks, summary: `all checks hold over ${green.requests} requests${tail}` };
}

/**
 * One verdict from several windows (the caller gates both the whole step and
 * its latest interval, so a breach that starts late is not diluted): Failed
 * wins, then Error, then Inconclusive; Successful only if all are. The
 * deciding window's checks and summary are kept.
 */
export function combineGateResults(results: readonly GateResult[]): GateResult {
  for (const phase of ['Failed', 'Error', 'Inconclusive', 'Successful'] as const) {
    const decider = results.find((r) => r.phase === phase);
    if (decider) return decider;
  }
  return { phase: 'Inconclusive', checks: [], summary: 'inconclusive: nothing measured' };
}

/** One line for logs and the Temporal UI, e.g. `p95 312ms > 250ms FAILED; errors 0.0% <= 1% ok; n=48`. */
export function formatGateResult(result: GateResult): string {
  if (result.checks.length === 0) return `${result.phase}: ${result.summary}`;
  return result.checks.map(formatCheck).join('; ');
}

/** `allowedShare`: the share of requests a quantile lets exceed it (5% for p95), written out to avoid 1 - 0.95 != 0.05. */
function latencyCheck(metric: 'p95' | 'p99', allowedShare: number, value: number | null, limitMs: number, green: WindowStats, enough: boolean): GateCheck {
  // Only requests in buckets whose lower edge is at or above the limit are
  // surely slower than it; interpolating would guess.
  const slow = surelySlowerThan(green, limitMs);
  const n = latencyCount(green);
  const early = earlyFailure(slow, n, allowedShare);
  if (early !== undefined) {
    return { metric, value, limit: limitMs, phase: 'Failed', note: `${slow}/${n} slower than ${formatMs(limitMs)}, ${early}` };
  }
  return enough ? pointCheck(metric, value, limitMs) : { metric, value, limit: limitMs, phase: 'Inconclusive' };
}

function errorRateCheck(limit: number, green: WindowStats, enough: boolean): GateCheck {
  const early = earlyFailure(green.errors, green.requests, limit);
  if (early !== undefined) {
    return { metric: 'errorRate', value: green.errorRate, limit, phase: 'Failed', note: `${green.errors}/${green.requests} errors, ${early}` };
  }
  return enough ? pointCheck('errorRate', green.errorRate, limit) : { metric: 'errorRate', value: green.errorRate, limit, phase: 'Inconclusive' };
}

/**
 * Green's share of requests abandoned by clients, aborts / (answers + aborts),
 * with the error rate's honesty: the exact early test below minRequests, the
 * point estimate from there. Live clients are shared, so while blue has
 * minRequests of its own the limit is blue's share plus abortRateDelta (a
 * client population that gives up often is not green's fault); otherwise
 * (green alone, or blue too quiet to compare) it is abortRate. Only aborts
 * and no answers is a share of 100%: enough of them fail, never wait.
 */
function abortCheck(rules: GateRules, green: WindowStats, blue: WindowStats | undefined): GateCheck | undefined {
  // Not counted in this window (measured before saferoll counted hang-ups): no figure to judge, and none is made up.
  const aborts = green.aborts;
  if (aborts === undefined) return undefined;
  const n = green.requests + aborts;
  const blueAborts = blue?.aborts ?? 0;
  const blueN = blue?.aborts === undefined ? 0 : blue.requests + blueAborts;
  const vsBlue = rules.abortRateDelta !== undefined && blueN > 0 && blueN >= rules.minRequests;
  let limit: number;
  let figures = `${aborts}/${n}`;
  if (vsBlue) {
    limit = Math.min(1, blueAborts / blueN + (rules.abortRateDelta ?? 0));
    figures += ` vs blue ${blueAborts}/${blueN}`;
  } else if (rules.abortRate !== undefined) {
    limit = rules.abortRate;
    if (blueN > 0) figures += `; blue ${blueAborts}/${blueN} too few to compare`;
  } else {
    return undefined;
  }
  const value = n > 0 ? aborts / n : null;
  const early = earlyFailure(aborts, n, limit);
  if (early !== undefined) return { metric: 'abortRate', value, limit, phase: 'Failed', note: `${figures}, ${early}` };
  if (n < rules.minRequests || value === null) return { metric: 'abortRate', value, limit, phase: 'Inconclusive', note: figures };
  return { ...pointCheck('abortRate', value, limit), note: figures };
}

/** A point estimate against its limit; null (no data) is inconclusive, never a pass. */
function pointCheck(metric: GateMetric, value: number | null, limit: number, note?: string): GateCheck {
  if (value === null) return note === undefined ? { metric, value, limit, phase: 'Inconclusive' } : { metric, value, limit, phase: 'Inconclusive', note };
  return { metric, value, limit, phase: value > limit ? 'Failed' : 'Successful' };
}

/**
 * When `bad` out of `n` proves, at EARLY_FAIL_ALPHA, that the true share of
 * bad requests exceeds `allowedShare`, a short reason; otherwise undefined.
 */
export function earlyFailure(bad: number, n: number, allowedShare: number): string | undefined {
  if (bad < EARLY_FAIL_MIN_EVENTS || bad / n <= allowedShare) return undefined;
  if (binomialUpperTail(bad, n, allowedShare) >= EARLY_FAIL_ALPHA) return undefined;
  const lower = clopperPearsonLower(bad, n, EARLY_FAIL_ALPHA);
  return `>= ${formatPercent(lower)} at ${formatLimitPercent(1 - EARLY_FAIL_ALPHA)} confidence vs ${formatLimitPercent(allowedShare)} allowed`;
}

function surelySlowerThan(stats: WindowStats, limitMs: number): number {
  let slow = 0;
  let lowerEdge = 0;
  for (const bucket of stats.buckets) {
    if (lowerEdge >= limitMs) slow += bucket.count;
    lowerEdge = bucket.leMs;
  }
  return lowerEdge >= limitMs ? slow + stats.overflow : slow;
}

function latencyCount(stats: WindowStats): number {
  return stats.buckets.reduce((sum, b) => sum + b.count, stats.overflow);
}

function invalidInput(rules: GateRules, green: WindowStats, blue: WindowStats | undefined): string | undefined {
  if (!(Number.isInteger(rules.minRequests) && rules.minRequests >= 0)) return `minRequests must be a whole number >= 0, got ${rules.minRequests}`;
  for (const key of ['p95Ms', 'p99Ms', 'errorRate', 'latencyRatio', 'errorRateDelta', 'abortRate', 'abortRateDelta'] as const) {
    const limit = rules[key];
    if (limit !== undefined && !Number.isFinite(limit)) return `${key} must be a finite number, got ${limit}`;
  }
  for (const [who, stats] of [
    ['green', green],
    ['blue', blue],
  ] as const) {
    if (stats === undefined) continue;
    const counts = [stats.requests, stats.errors, stats.aborts ?? 0, stats.overflow, ...stats.buckets.map((b) => b.count)];
    if (counts.some((c) => !(Number.isFinite(c) && c >= 0))) return `${who} window has a negative or non-finite count`;
    if (stats.errors > stats.requests) return `${who} window has more errors (${stats.errors}) than requests (${stats.requests})`;
  }
  return undefined;
}

const VERDICT: Record<GatePhase, string> = { Successful: 'ok', Failed: 'FAILED', Inconclusive: 'inconclusive', Error: 'error' };

function formatCheck(check: GateCheck): string {
  const { value, limit } = check;
  const cmp = value === null ? ', limit' : value > limit ? ' >' : ' <=';
  let text: string;
  switch (check.metric) {
    case 'requests':
      return check.phase === 'Successful' ? `n=${value}` : `n=${value} < ${limit}`;
    case 'p95':
    case 'p99':
      text = `${check.metric} ${value === null ? 'n/a' : formatMs(value)}${cmp} ${formatMs(limit)}`;
      break;
    case 'errorRate':
      text = `errors ${value === null ? 'n/a' : formatPercent(value)}${cmp} ${formatLimitPercent(limit)}`;
      break;
    case 'latencyRatio':
      text = `p95/blue ${value === null ? 'n/a' : `${value.toFixed(2)}x`}${cmp} ${limit}x`;
      break;
    case 'errorRateDelta':
      text = `errors-blue ${value === null ? 'n/a' : `${value >= 0 ? '+' : ''}${formatPercent(value)}`}${cmp} ${formatLimitPercent(limit)}`;
      break;
    case 'custom':
      text = customCheckText(check);
      break;
    case 'shadowMismatch':
      // The counts are in the note: `shadow mismatch 12.1% > 1% FAILED (7/58 pairs; 0 shed, 0 error)`.
      text = `shadow mismatch ${value === null ? 'n/a' : formatPercent(value)}${cmp} ${formatLimitPercent(limit)}`;
      break;
    case 'shadowPsi':
      text = `score PSI ${value === null ? 'n/a' : value.toFixed(3)}${cmp} ${limit}`;
      break;
    case 'abortRate':
      // The counts (and blue's, which the limit derives from) are in the note: `client aborts 100.0% > 5% FAILED (8/8 vs blue 0/40, ...)`.
      text = `client aborts ${value === null ? 'n/a' : formatPercent(value)}${cmp} ${formatLimitPercent(limit)}`;
      break;
  }
  // A passing check shows its note too when it passed by an exception (the latency-ratio floor).
  const note = check.note !== undefined ? ` (${check.note})` : '';
  const query = check.query !== undefined ? ` [${check.query}]` : '';
  return `${text} ${VERDICT[check.phase]}${note}${query}`;
}

/** `accuracy 0.87 < min 0.92`, `accuracy drop vs blue 0.03 > 0.01`; a custom rule's direction is its own (min fails below). */
function customCheckText(check: GateCheck): string {
  const { value, limit } = check;
  const shown = value === null ? 'n/a' : String(Number(value.toPrecision(6)));
  const failed = value !== null && (check.rule === 'min' ? value < limit : value > limit);
  const cmp = value === null ? ', limit' : check.rule === 'min' ? (failed ? ' <' : ' >=') : failed ? ' >' : ' <=';
  const name = check.name ?? 'custom';
  switch (check.rule) {
    case 'min':
      return `${name} ${shown}${cmp} min ${limit}`;
    case 'maxRatio':
      return `${name}/blue ${shown}${cmp} ${limit}x`;
    case 'maxDelta':
      return `${name}-blue ${shown}${cmp} ${limit}`;
    case 'maxDrop':
      return `${name} drop vs blue ${shown}${cmp} ${limit}`;
    default:
      return `${name} ${shown}${cmp} max ${limit}`;
  }
}

function formatMs(ms: number): string {
  return ms >= 10 ? `${Math.round(ms)}ms` : `${Number(ms.toFixed(1))}ms`;
}

/** A measured share, always with one decimal (two when tiny), e.g. `0.0%`, `1.7%`, `0.05%`. */
function formatPercent(fraction: number): string {
  const pct = fraction * 100;
  return `${pct.toFixed(pct !== 0 && Math.abs(pct) < 0.1 ? 2 : 1)}%`;
}

/** A configured share as written, e.g. `1%`, `0.5%`, `99.99%`. */
function formatLimitPercent(fraction: number): string {
  return `${Number((fraction * 100).toFixed(4))}%`;
}
