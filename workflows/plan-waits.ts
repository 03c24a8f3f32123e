// The plan's waits outside bakes: an approval, a pause between steps and the
// watch window of deleteBlue.after. Each is guarded by the gates
// (guarded-wait.ts); a breach rolls back or holds (failure-hold.ts); each
// resumes where it was in a run continued as new.
import type { PolicyStep } from '../policies/types.js';
import { formatDuration } from '../policies/units.js';
import { holdOrRollBack, resumeHold } from './failure-hold.js';
import { guardedWait } from './guarded-wait.js';
import type { RolloutContext, StepProgress } from './rollout-context.js';
import type { GuardWindow, WaitProgress } from './types.js';

/** Waits for `saferoll approve`: true when approved, false when the step's timeout passed first. */
export async function waitForApproval(
  ctx: RolloutContext,
  stepIndex: number,
  step: Extract<PolicyStep, { kind: 'approval' }>,
  resuming: boolean,
): Promise<boolean> {
  const { status, tracker, control } = ctx;
  if (!resuming) {
    tracker.enterStep(stepIndex, 'Approval');
    status.waitingForApproval = true;
    // The deadline is kept in the status, so a run continued as new keeps it too.
    status.approvalEndsAtMs = step.timeoutMs === undefined ? undefined : Date.now() + step.timeoutMs;
    tracker.decide('step', `waiting for approval${step.timeoutMs !== undefined ? ` (times out in ${formatDuration(step.timeoutMs)})` : ''}`);
  }
  const approved = await planWait(ctx, 'approval', stepIndex, 'waiting for approval', () => control.approved, status.approvalEndsAtMs);
  status.waitingForApproval = false;
  status.approvalEndsAtMs = undefined;
  control.approved = false;
  return approved;
}

/**
 * After promotion, blue is kept for `afterMs` while green, alone at 100%, is
 * gated against the absolute SLOs; `saferoll rollback` puts blue back until
 * the window ends.
 */
export async function watchWindow(ctx: RolloutContext, stepIndex: number, afterMs: number, resuming: boolean): Promise<void> {
  const { status, tracker } = ctx;
  const endsAtMs = resuming && status.watchEndsAtMs !== undefined ? status.watchEndsAtMs : Date.now() + afterMs;
  if (!resuming) {
    tracker.decide(
      'step',
      `watch window: green alone against the SLOs for ${formatDuration(afterMs)}; blue "${status.blue}" is kept until then (saferoll rollback puts it back)`,
    );
  }
  status.watchEndsAtMs = endsAtMs;
  // A hold carried over from the previous run holds on even when the window itself has ended meanwhile.
  if (endsAtMs > Date.now() || status.heldOnFailure) await planWait(ctx, 'watch', stepIndex, 'watching green after promotion', () => false, endsAtMs);
}

/** While an operator's pause holds the plan before step `stepIndex` (or before blue's deletion). */
export async function waitWhilePaused(ctx: RolloutContext, stepIndex: number): Promise<void> {
  // A hold carried over from the previous run holds on even if an operator resumed the pause during it.
  if (!ctx.status.paused && !ctx.status.heldOnFailure) return;
  await planWait(ctx, 'paused', stepIndex, 'paused', () => !ctx.status.paused, undefined);
}

/** A guarded wait of the plan; its deadline (`endsAtMs`) is kept in the status, which a run continued as new carries. */
async function planWait(
  ctx: RolloutContext,
  kind: WaitProgress['kind'],
  stepIndex: number,
  what: string,
  until: () => boolean,
  endsAtMs: number | undefined,
): Promise<boolean> {
  const carried = ctx.takeCarriedWait(kind, stepIndex);
  const progress = (window: GuardWindow): StepProgress => ({ wait: { kind, stepIndex, window } });
  let window = carried?.window;
  if (window) {
    const resumed = window;
    // Continued as new during a hold in this wait: hold on first, then judge afresh.
    if (await resumeHold(ctx, () => progress(resumed))) window = { since: resumed.lastTick, lastTick: resumed.lastTick };
  }
  return guardedWait(ctx, {
    what,
    until,
    endsAtMs,
    window,
    onBreach: (failure, at) => holdOrRollBack(ctx, failure, () => progress(at)),
    carry: progress,
  });
}
