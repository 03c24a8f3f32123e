// Pure decisions of the gates that run outside bakes (approval waits, pauses,
// the watch window of deleteBlue.after, a hold on a failed gate), tested with
// tables: what there is to measure, against which rules, when to look next,
// and what a reading means there.
import type { GateMetric, GateRules } from '../analysis/evaluate.js';
import { DEFAULT_HOLD_TIMEOUT_MS } from '../policies/on-failure.js';
import type { Policy } from '../policies/types.js';
import type { TickWindows } from '../activities/types.js';
import type { GateReport, RolloutStatus } from './types.js';

export type GuardTarget = 'live' | 'mirror';

/** What green is receiving, to measure; undefined before any mirror or traffic step (nothing to guard). */
export function guardTarget(status: Pick<RolloutStatus, 'traffic' | 'mirrorPercent'>): GuardTarget | undefined {
  if (status.traffic.green > 0) return 'live';
  if (status.mirrorPercent > 0) return 'mirror';
  return undefined;
}

/**
 * Green at 100% (the watch window after promotion) is judged alone: blue has
 * no live answers to compare with, so only the absolute SLOs apply, and the
 * report does not list comparisons that cannot be made.
 */
export function guardRules(rules: GateRules, status: Pick<RolloutStatus, 'traffic'>): GateRules {
  if (status.traffic.green < 100) return rules;
  const { latencyRatio: _ratio, errorRateDelta: _delta, abortRateDelta: _abortDelta, ...absolute } = rules;
  return absolute;
}

/** The windows to judge: without blue's when green is alone. */
export function guardWindows(windows: TickWindows, status: Pick<RolloutStatus, 'traffic'>): TickWindows {
  return status.traffic.green < 100 ? windows : { greenStep: windows.greenStep, greenInterval: windows.greenInterval };
}

/** How long to wait for the next reading: an interval, or less when the wait ends sooner; undefined once it has ended. */
export function nextTickMs(intervalMs: number, endsAtMs: number | undefined, nowMs: number): number | undefined {
  if (endsAtMs === undefined) return intervalMs;
  const remaining = endsAtMs - nowMs;
  // Never 0: condition(fn, 0) has a meaning of its own in the SDK.
  return remaining > 0 ? Math.max(1, Math.min(intervalMs, remaining)) : undefined;
}

/**
 * Outside a bake only a breach acts: nothing is being decided there, so too
 * few answers (Inconclusive) or a metrics error is no reason to roll back;
 * the next reading looks again.
 */
export function isBreach(report: Pick<GateReport, 'phase'>): boolean {
  return report.phase === 'Failed';
}

/** Checks failing now that were not in the previous failing reading: a hold records a breach that got worse. */
export function newlyFailing(previous: Pick<GateReport, 'checks'> | undefined, now: Pick<GateReport, 'checks'>): GateMetric[] {
  const before = new Set((previous?.checks ?? []).filter((c) => c.phase === 'Failed').map((c) => c.metric));
  return now.checks.filter((c) => c.phase === 'Failed' && !before.has(c.metric)).map((c) => c.metric);
}

/** What a failed gate does; rollouts started before `onFailure.action` existed roll back. */
export function onFailureAction(policy: Pick<Policy, 'onFailure'>): 'rollback' | 'pause' {
  return policy.onFailure.action ?? 'rollback';
}

export function holdTimeoutMs(policy: Pick<Policy, 'onFailure'>): number {
  return policy.onFailure.timeoutMs ?? DEFAULT_HOLD_TIMEOUT_MS;
}
