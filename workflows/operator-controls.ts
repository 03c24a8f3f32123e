// What operators can do to a running rollout — abort, pause, resume,
// promote (--force), approve, rollback — and the status query, wired to the
// rollout's state. Updates have validators, so a request that cannot apply
// now is refused with the reason, and nothing is written to history.
import { setHandler, workflowInfo, type CancellationScope } from '@temporalio/workflow';
import { abortSignal, approveUpdate, pauseSignal, promoteUpdate, resumeSignal, rollbackUpdate, statusQuery, type PromoteOptions } from './messages.js';
import type { RolloutTracker } from './rollout-tracker.js';

/** The requests operators leave for the step interpreter to act on. */
export interface OperatorControl {
  /** Why an operator ended the plan (abort, rollback): the rollback's reason. */
  abortReason: string | undefined;
  promote: boolean;
  approved: boolean;
  /** A mirror/traffic bake is running (promote applies only then). */
  baking: boolean;
  /** promote --force: go on past the failed gate that holds the rollout. */
  forced: boolean;
  /** Blue's deletion has begun: nothing is left to roll back to. */
  blueGone: boolean;
  /** The workflow task (by its history length) that last accepted an operator's update. */
  updateTask: number | undefined;
}

export function freshControl(): OperatorControl {
  return { abortReason: undefined, promote: false, approved: false, baking: false, forced: false, blueGone: false, updateTask: undefined };
}

/** Abort and rollback cancel `plan`, the scope the steps run in; the rollback runs outside it. */
export function installOperatorControls(tracker: RolloutTracker, control: OperatorControl, plan: CancellationScope): void {
  const status = tracker.status;
  const rollBack = (reason: string, what: string): void => {
    control.abortReason = reason;
    tracker.decide('operator', `${what}: ${reason}`);
    plan.cancel();
  };
  const ended = (): boolean =>
    control.abortReason !== undefined || status.phase === 'RollingBack' || status.phase === 'RolledBack' || status.phase === 'Promoted';

  setHandler(statusQuery, () => status);
  setHandler(abortSignal, (reason?: string) => {
    if (control.abortReason !== undefined) return;
    rollBack(reason?.trim() || 'aborted by an operator', 'abort');
  });
  setHandler(pauseSignal, () => {
    if (status.paused) return;
    status.paused = true;
    tracker.decide('operator', 'paused: no further step starts and the bake clock stops; gates keep guarding');
  });
  setHandler(resumeSignal, () => {
    if (!status.paused) return;
    status.paused = false;
    tracker.decide('operator', 'resumed');
  });
  setHandler(
    promoteUpdate,
    (options?: PromoteOptions) => {
      markUpdate(control);
      if (options?.force) {
        control.forced = true;
        const reason = options.reason?.trim();
        tracker.decide(
          'operator',
          `promote --force: past the failed gate of step ${status.stepIndex + 1} (${status.heldOnFailure?.reason ?? '?'})${reason ? `: ${reason}` : ''}`,
        );
        return `forced on past the failed gate: the plan goes on from step ${status.stepIndex + 1} (${status.step})`;
      }
      control.promote = true;
      return `promoting: the ${status.step} bake ends after the next gate reading if it still passes`;
    },
    {
      validator: (options?: PromoteOptions) => {
        const held = status.heldOnFailure;
        if (options?.force) {
          if (!held)
            throw new Error(
              `nothing to force: promote --force applies to a rollout held on a failed gate (onFailure: pause); step ${status.stepIndex + 1} (${status.step}) is not held`,
            );
          if (ended()) throw new Error(`the rollout is ending (${status.phase})`);
          return;
        }
        if (held) throw new Error(`held on a failed gate (${held.reason}): promote --force goes on past it, rollback rolls back`);
        if (!control.baking) throw new Error(`nothing to promote: step ${status.stepIndex + 1} (${status.step}) is not baking`);
        if (status.lastGate?.phase !== 'Successful') {
          throw new Error(`promote refused: the gates have not passed yet (last gate: ${status.lastGate ? status.lastGate.summary : 'not measured yet'})`);
        }
      },
    },
  );
  setHandler(
    approveUpdate,
    (note: string | undefined) => {
      markUpdate(control);
      control.approved = true;
      tracker.decide('operator', `approved${note ? `: ${note}` : ''}`);
      return `approved step ${status.stepIndex + 1}`;
    },
    {
      validator: (_note: string | undefined) => {
        if (!status.waitingForApproval) throw new Error(`nothing to approve: step ${status.stepIndex + 1} (${status.step}) is not an approval`);
        if (status.heldOnFailure) throw new Error(`held on a failed gate (${status.heldOnFailure.reason}): promote --force or rollback first`);
      },
    },
  );
  setHandler(
    rollbackUpdate,
    (reason: string | undefined) => {
      markUpdate(control);
      rollBack(reason?.trim() || 'rolled back by an operator', 'rollback');
      return `rolling back: blue "${status.blue}" back to 100%, mirror off`;
    },
    {
      validator: (_reason: string | undefined) => {
        if (control.blueGone) throw new Error(`nothing to roll back to: blue "${status.blue}" is being deleted (the watch window is over)`);
        if (ended())
          throw new Error(
            `the rollout is already ${status.phase === 'Promoted' ? 'promoted' : `rolling back${control.abortReason ? `: ${control.abortReason}` : ''}`}`,
          );
      },
    },
  );
}

/**
 * An operator's request this run holds and has not acted on yet (an abort
 * under way; an approval, promotion or force not yet taken), or an update
 * accepted in the workflow task now running (`historyLength`). Such a run
 * must not continue as new yet: the requests live in this run only, and an
 * update's answer would follow the continue-as-new command, which must be the
 * last of its task.
 */
export function operatorRequestPending(control: OperatorControl, historyLength: number): boolean {
  return control.abortReason !== undefined || control.approved || control.promote || control.forced || control.updateTask === historyLength;
}

/**
 * Remembers the workflow task an update was accepted in (in the handler, not
 * the validator: handlers run on replay too, so the decision it feeds replays).
 */
function markUpdate(control: OperatorControl): void {
  control.updateTask = workflowInfo().historyLength;
}
