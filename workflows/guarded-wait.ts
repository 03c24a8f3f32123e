// Gates outside bakes. From green's first mirrored or live request until blue
// is deleted, every wait of the plan (an approval, a pause between steps, the
// watch window of deleteBlue.after, a hold on a failed gate) measures green
// every analysis.interval with the bake's rules, over the latest interval and
// over everything since the wait began, so no moment goes unguarded. Only a
// breach acts there (guard-decision.ts); long waits continue as new.
import { condition } from '@temporalio/workflow';
import { withCustomMetrics } from './custom-metrics.js';
import { judgeTick } from './gate-decision.js';
import { act } from './activity-options.js';
import { guardRules, guardTarget, guardWindows, isBreach, nextTickMs } from './guard-decision.js';
import type { RolloutContext, StepProgress } from './rollout-context.js';
import { StepFailure } from './step-failure.js';
import type { GuardWindow } from './types.js';

export interface GuardedWait {
  /** What the rollout is doing, for activity summaries and reasons: "waiting for approval". */
  what: string;
  /** True ends the wait (approved, resumed, forced on). */
  until: () => boolean;
  /** Workflow time the wait ends on its own; undefined = only `until` ends it. */
  endsAtMs?: number | undefined;
  /** Where a run continued as new left off; a fresh window otherwise. */
  window?: GuardWindow | undefined;
  /**
   * A breach (gate Failed): throws to end the plan (rollback), or returns to
   * wait on, judging afresh from the latest reading (a hold forced past, or
   * one that only records).
   */
  onBreach(failure: StepFailure, window: GuardWindow): Promise<void>;
  /** What a run continued as new carries to resume this wait. */
  carry(window: GuardWindow): StepProgress;
}

/** Waits until `until()` (true) or the wait's end (false), guarding green throughout. */
export async function guardedWait(ctx: RolloutContext, wait: GuardedWait): Promise<boolean> {
  const { status, policy, tracker } = ctx;
  const target = guardTarget(status);
  // Nothing reaches green yet, or a run from before gates ran outside bakes: wait as such runs did.
  if (target === undefined || !ctx.patches.gatesOutsideBakes) return plainWait(wait.until, wait.endsAtMs);

  const alone = status.traffic.green >= 100;
  let window = wait.window ?? (await startWindow(ctx, wait.what));
  for (;;) {
    if (wait.until()) return true;
    const waitMs = nextTickMs(policy.analysis.intervalMs, wait.endsAtMs, Date.now());
    if (waitMs === undefined) return false;
    if (await condition(wait.until, waitMs)) return true;

    const measured = await act(`gate (${wait.what}): green (${target}) ${alone ? 'alone, against the SLOs' : 'vs blue'}`).measureWindows({
      endpoint: ctx.endpoint,
      green: ctx.green.name,
      blue: status.blue,
      greenTraffic: target,
      stepStart: window.since,
      lastTick: window.lastTick,
      source: policy.analysis.source,
    });
    window = { since: window.since, lastTick: measured.snapshot };
    const judged = judgeTick(guardRules(ctx.rules, status), guardWindows(measured.windows, status), Date.now()).report;
    const report = await withCustomMetrics(ctx, judged, window.since, measured.snapshot, wait.what);
    tracker.gate(report, 'breaches');
    if (isBreach(report)) {
      await wait.onBreach(new StepFailure(`gate failed while ${wait.what}: ${report.summary}`, status.stepIndex, report), window);
      window = { since: window.lastTick, lastTick: window.lastTick };
    }
    await ctx.continueIfLong(wait.carry(window));
  }
}

async function startWindow(ctx: RolloutContext, what: string): Promise<GuardWindow> {
  const start = await act(`gate window start (${what}): read metrics`).snapshotMetrics(ctx.endpoint, ctx.policy.analysis.source);
  return { since: start, lastTick: start };
}

/** The unguarded wait: the same commands as before gates ran outside bakes (committed histories replay them). */
async function plainWait(until: () => boolean, endsAtMs: number | undefined): Promise<boolean> {
  if (endsAtMs === undefined) {
    await condition(until);
    return true;
  }
  const remaining = endsAtMs - Date.now();
  return remaining > 0 ? condition(until, remaining) : until();
}
