// Custom checks at a gate tick: read the policy's analysis.metrics for the
// window (an activity), judge them (analysis/custom-checks.ts) with the
// error streaks carried from the last tick, and fold them into the tick's
// report. Runs that predate custom checks (or policies without any) issue
// no extra command, so their histories replay unchanged.
import { judgeCustomChecks } from '../analysis/custom-checks.js';
import { DEFAULT_CONSECUTIVE_ERROR_LIMIT } from '../policies/custom-metric-limits.js';
import type { MetricsSnapshot } from '../analysis/snapshot.js';
import { act } from './activity-options.js';
import { withCustomChecks } from './gate-decision.js';
import type { RolloutContext } from './rollout-context.js';
import type { GateReport } from './types.js';

/**
 * `report` with the custom checks over the window from `since` to `now`
 * (router snapshot times: {{window}}, at least one interval).
 */
export async function withCustomMetrics(
  ctx: RolloutContext,
  report: GateReport,
  since: MetricsSnapshot,
  now: MetricsSnapshot,
  what: string,
): Promise<GateReport> {
  const metrics = ctx.policy.analysis.metrics;
  if (!ctx.patches.customMetrics || metrics === undefined || metrics.length === 0) return report;
  const intervalMs = ctx.policy.analysis.intervalMs;
  const readings = await act(`custom checks (${what}): ${metrics.map((m) => m.name).join(', ')}`).readCustomMetrics({
    endpoint: ctx.endpoint,
    green: ctx.green.name,
    blue: ctx.status.blue,
    windowMs: Math.max(intervalMs, now.takenAtMs - since.takenAtMs),
    intervalMs,
    metrics,
  });
  const limit = ctx.policy.analysis.consecutiveErrorLimit ?? DEFAULT_CONSECUTIVE_ERROR_LIMIT;
  const judged = judgeCustomChecks(metrics, readings, ctx.customErrorStreaks, limit);
  ctx.customErrorStreaks = judged.streaks;
  return withCustomChecks(report, judged);
}
