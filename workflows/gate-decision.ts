// Pure decisions of a bake, tested with tables: what a gate tick means for
// the step, and when a long bake should continue as new.
import { DEFAULT_ABORT_RATE, DEFAULT_ABORT_RATE_DELTA } from '../policies/abort-limits.js';
import { combineGateResults, evaluateGate, formatGateResult, type GateCheck, type GatePhase, type GateRules } from '../analysis/evaluate.js';
import type { Policy } from '../policies/types.js';
import type { TickWindows } from '../activities/types.js';
import type { GateReport } from './types.js';

export type TickVerdict = 'fail' | 'pass' | 'continue';

/** The rules a tick is judged by; `abortCheck` false for runs from before hang-ups were judged (patches.ts). */
export function gateRules(policy: Policy, { abortCheck = true }: { abortCheck?: boolean } = {}): GateRules {
  const rules: GateRules = {
    p95Ms: policy.slo.latency.p95Ms,
    p99Ms: policy.slo.latency.p99Ms,
    errorRate: policy.slo.errorRate,
    minRequests: policy.slo.minRequests,
    latencyRatio: policy.baseline.latencyRatio,
    errorRateDelta: policy.baseline.errorRateDelta,
  };
  if (!abortCheck) return rules;
  // Always on: client hang-ups are in no other check (policies from before the fields get the defaults).
  return { ...rules, abortRate: policy.slo.abortRate ?? DEFAULT_ABORT_RATE, abortRateDelta: policy.baseline.abortRateDelta ?? DEFAULT_ABORT_RATE_DELTA };
}

/**
 * Gates the whole bake so far and its latest interval: a breach in either
 * fails the step at once (a late breach is not diluted by a good start);
 * only the whole bake can pass it.
 */
export function judgeTick(rules: GateRules, windows: TickWindows, atMs: number): { report: GateReport } {
  const step = evaluateGate(rules, windows.greenStep, windows.blueStep);
  const interval = evaluateGate(rules, windows.greenInterval, windows.blueInterval);
  const combined = combineGateResults([step, interval]);
  const decidedByInterval = combined.phase === 'Failed' && step.phase !== 'Failed';
  const deciding = decidedByInterval ? interval : step;
  const green = decidedByInterval ? windows.greenInterval : windows.greenStep;
  const blue = decidedByInterval ? windows.blueInterval : windows.blueStep;
  return {
    report: {
      phase: combined.phase === 'Failed' ? 'Failed' : step.phase,
      summary: deciding.summary,
      checks: deciding.checks,
      greenRequests: green.requests,
      blueRequests: blue?.requests ?? 0,
      window: decidedByInterval ? 'interval' : 'step',
      atMs,
    },
  };
}

const PHASE_ORDER: readonly GatePhase[] = ['Failed', 'Error', 'Inconclusive', 'Successful'];

/**
 * The tick's report with its custom checks beside the built-in ones: the
 * worse phase wins (Failed, Error, Inconclusive, Successful), and the summary
 * names the checks that decided it, so a rollback's reason says "no data" or
 * the provider's error when a custom check is why.
 */
export function withCustomChecks(report: GateReport, custom: { checks: GateCheck[]; phase: GatePhase }, what = 'custom checks'): GateReport {
  if (custom.checks.length === 0) return report;
  const phase = PHASE_ORDER.find((p) => p === report.phase || p === custom.phase) ?? 'Inconclusive';
  const deciding = custom.checks.filter((c) => c.phase === phase);
  const customText = formatGateResult({ phase, checks: deciding, summary: '' });
  let summary: string;
  if (phase === 'Successful') summary = `${report.summary}; ${what} hold`;
  else if (custom.phase !== phase) summary = report.summary;
  else if (report.phase !== phase) summary = `${phase.toLowerCase()}: ${customText}`;
  else summary = `${report.summary}; ${customText}`;
  return { ...report, phase, summary, checks: [...report.checks, ...custom.checks] };
}

/**
 * What a tick means for the step: a failure ends it at once; once the bake
 * time is over (or promote was asked) the whole bake must have passed;
 * otherwise keep baking.
 */
export function tickVerdict(report: GateReport, bakeOver: boolean): TickVerdict {
  if (report.phase === 'Failed' || report.phase === 'Error') return report.phase === 'Failed' ? 'fail' : bakeOver ? 'fail' : 'continue';
  if (!bakeOver) return 'continue';
  return report.phase === 'Successful' ? 'pass' : 'fail';
}

/** Continue-as-new well before Temporal's 50k-event / 50 MB history limits. */
export const HISTORY_EVENTS_BEFORE_CONTINUE = 8_000;

export function shouldContinueAsNew(historyLength: number, suggested: boolean, limit = HISTORY_EVENTS_BEFORE_CONTINUE): boolean {
  return suggested || historyLength >= limit;
}
