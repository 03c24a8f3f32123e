// What operators can do to a running rollout — abort, pause, resume,
// promote, approve — and the status query, wired to the rollout's state.
import { setHandler, type CancellationScope } from '@temporalio/workflow';
import { abortSignal, approveUpdate, pauseSignal, promoteUpdate, resumeSignal, statusQuery } from './messages.js';
import type { RolloutTracker } from './rollout-tracker.js';

/** The requests operators leave for the step interpreter to act on. */
export interface OperatorControl {
  abortReason: string | undefined;
  promote: boolean;
  approved: boolean;
  /** A mirror/traffic bake is running (promote applies only then). */
  baking: boolean;
}

/** Abort cancels `plan`, the scope the steps run in; rollback runs outside it. */
export function installOperatorControls(tracker: RolloutTracker, control: OperatorControl, plan: CancellationScope): void {
  const status = tracker.status;
  setHandler(statusQuery, () => status);
  setHandler(abortSignal, (reason?: string) => {
    if (control.abortReason !== undefined) return;
    control.abortReason = reason?.trim() || 'aborted by an operator';
    tracker.decide('operator', `abort: ${control.abortReason}`);
    plan.cancel();
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
    () => {
      control.promote = true;
      return `promoting: the ${status.step} bake ends after the next gate reading if it still passes`;
    },
    {
      validator: () => {
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
      control.approved = true;
      tracker.decide('operator', `approved${note ? `: ${note}` : ''}`);
      return `approved step ${status.stepIndex + 1}`;
    },
    {
      validator: (_note: string | undefined) => {
        if (!status.waitingForApproval) throw new Error(`nothing to approve: step ${status.stepIndex + 1} (${status.step}) is not an approval`);
      },
    },
  );
}
