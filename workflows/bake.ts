// A bake: green holds a mirror or traffic share for the step's `for` while
// gates are measured every analysis.interval over the whole bake and its
// latest interval. A breach fails the step at once; the bake passes only if
// the whole bake passes when its time is up (or an operator promotes early).
// A failed step rolls back, or holds (failure-hold.ts) and, forced on by an
// operator, counts as done.
import { condition } from '@temporalio/workflow';
import { formatDuration } from '../policies/units.js';
import { act } from './activity-options.js';
import { holdOrRollBack, resumeHold } from './failure-hold.js';
import { withCustomMetrics } from './custom-metrics.js';
import { judgeTick, tickVerdict } from './gate-decision.js';
import type { MirrorCompare } from '../policies/types.js';
import { shadowWindowStart, withShadowComparison } from './shadow-comparison.js';
import type { RolloutContext } from './rollout-context.js';
import { StepFailure } from './step-failure.js';
import type { BakeProgress } from './types.js';

export async function bake(ctx: RolloutContext, stepIndex: number, forMs: number, greenTraffic: 'live' | 'mirror', compare?: MirrorCompare): Promise<void> {
  const { endpoint, green, policy, status, control, tracker } = ctx;
  let progress: BakeProgress | undefined = ctx.takeCarriedBake(stepIndex);
  if (!progress) {
    const start = await act('gate window start: read metrics').snapshotMetrics(endpoint, policy.analysis.source);
    const shadowStart = await shadowWindowStart(ctx, compare);
    progress = { stepIndex, elapsedMs: 0, stepStart: start, lastTick: start, ...(shadowStart === undefined ? {} : { shadowStart }) };
  }
  const baked = progress;
  const carry = () => ({ bake: baked });
  control.baking = true;
  control.promote = false;
  try {
    // Continued as new while held on this bake's failed gate: hold on; forced on, the step is done.
    if (await resumeHold(ctx, carry)) return;
    for (;;) {
      const remaining = forMs - progress.elapsedMs;
      status.bakeEndsAtMs = Date.now() + Math.max(0, remaining);
      const waitMs = Math.max(1, Math.min(policy.analysis.intervalMs, remaining > 0 ? remaining : policy.analysis.intervalMs));
      const tickStart = Date.now();
      await condition(() => control.promote, waitMs);

      const measured = await act(`gate: green (${greenTraffic}) vs blue, ${formatDuration(progress.elapsedMs)} of ${formatDuration(forMs)}`).measureWindows({
        endpoint,
        green: green.name,
        blue: status.blue,
        greenTraffic,
        stepStart: progress.stepStart,
        lastTick: progress.lastTick,
        source: policy.analysis.source,
      });
      // The bake clock counts the measurement too (a slow tick must not stretch the bake), not paused time.
      if (!status.paused) progress.elapsedMs += Date.now() - tickStart;
      progress.lastTick = measured.snapshot;
      const judged = judgeTick(ctx.rules, measured.windows, Date.now()).report;
      const withCustom = await withCustomMetrics(ctx, judged, progress.stepStart, measured.snapshot, `green (${greenTraffic})`);
      const report = await withShadowComparison(ctx, withCustom, compare, progress.shadowStart);
      tracker.gate(report);

      if (control.promote && report.phase !== 'Successful') {
        tracker.decide('operator', `promote not applied: the gate is ${report.phase} now (${report.summary})`);
        control.promote = false;
      }
      const over = control.promote || (!status.paused && progress.elapsedMs >= forMs);
      const verdict = tickVerdict(report, over);
      if (verdict === 'fail') {
        const why = report.phase === 'Failed' ? `gate failed: ${report.summary}` : `bake ended without a passing gate: ${report.summary}`;
        status.bakeEndsAtMs = undefined;
        await holdOrRollBack(ctx, new StepFailure(why, stepIndex, report), carry);
        return;
      }
      if (verdict === 'pass') {
        tracker.decide('gate', control.promote ? 'promoted early by an operator; gates passed' : `bake of ${formatDuration(forMs)} passed: ${report.summary}`);
        return;
      }
      await ctx.continueIfLong({ bake: progress });
    }
  } finally {
    control.baking = false;
    control.promote = false;
    status.bakeEndsAtMs = undefined;
  }
}
