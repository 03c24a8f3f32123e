// onFailure.action: pause. A failed gate holds the rollout instead of rolling
// it back: traffic stays exactly where the failure found it (no route change
// in the middle of an incident, and what failed stays there to look at) until
// an operator decides: `saferoll rollback` or `abort` roll back,
// `saferoll promote --force` goes on with the plan past the failed gate, and
// with no decision for onFailure.timeout the rollout rolls back on its own.
// Meanwhile the gates keep measuring (a breach that gets worse is recorded)
// and the guard lease keeps being renewed.
import { formatDuration } from '../policies/units.js';
import { guardedWait } from './guarded-wait.js';
import { holdTimeoutMs, newlyFailing, onFailureAction } from './guard-decision.js';
import type { RolloutContext, StepProgress } from './rollout-context.js';
import { StepFailure } from './step-failure.js';
import type { GateReport } from './types.js';

/**
 * What a failed gate does: throws `failure` (rollback), or holds until an
 * operator forces the rollout on (returns) or the hold ends in a rollback
 * (throws). `carry`: the progress of the bake or wait the hold is in, for a
 * run continued as new during the hold.
 */
export async function holdOrRollBack(ctx: RolloutContext, failure: StepFailure, carry: () => StepProgress): Promise<void> {
  if (onFailureAction(ctx.policy) !== 'pause') throw failure;
  const { status, tracker } = ctx;
  const timeoutMs = holdTimeoutMs(ctx.policy);
  status.heldOnFailure = {
    reason: failure.message,
    stepIndex: failure.stepIndex,
    gate: failure.gate,
    sinceMs: Date.now(),
    endsAtMs: Date.now() + timeoutMs,
    phase: status.phase,
  };
  tracker.setPhase('HeldOnFailure');
  tracker.decide(
    'gate',
    `held (onFailure: pause): ${failure.message}. Traffic stays as it is until saferoll rollback, promote --force or abort; with no decision it rolls back in ${formatDuration(timeoutMs)}`,
  );
  // An approval given while the failing reading was taken is for a gate that then failed: it is set aside (not
  // taken silently after promote --force, nor left pending, which would keep the held run from continuing as new).
  if (ctx.patches.continueApartFromOperators && ctx.control.approved) {
    ctx.control.approved = false;
    tracker.decide('operator', 'approval set aside: a gate failed while it was given; approve again once the hold is decided');
  }
  await holdUntilDecided(ctx, carry);
}

/** In a run continued as new during a hold, holds on; false when there was no hold. */
export async function resumeHold(ctx: RolloutContext, carry: () => StepProgress): Promise<boolean> {
  if (!ctx.status.heldOnFailure) return false;
  await holdUntilDecided(ctx, carry);
  return true;
}

async function holdUntilDecided(ctx: RolloutContext, carry: () => StepProgress): Promise<void> {
  const { status, control, tracker } = ctx;
  const held = status.heldOnFailure;
  if (!held) return;
  control.forced = false;
  let worst: GateReport | undefined = held.gate;
  const forced = await guardedWait(ctx, {
    what: 'held on a failed gate',
    until: () => control.forced,
    endsAtMs: held.endsAtMs,
    // Recorded, not acted on: the hold already waits for a person.
    onBreach: async (failure) => {
      const worse = failure.gate ? newlyFailing(worst, failure.gate) : [];
      if (worse.length === 0 || !failure.gate) return;
      worst = failure.gate;
      tracker.decide('gate', `worse while held: ${worse.join(', ')} failing too (${failure.gate.summary})`);
    },
    carry,
  });
  if (!forced) {
    throw new StepFailure(`${held.reason} (held ${formatDuration(held.endsAtMs - held.sinceMs)} with no operator decision)`, held.stepIndex, held.gate);
  }
  status.heldOnFailure = undefined;
  control.forced = false;
  tracker.setPhase(held.phase);
}
