// Why a rollout rolls back: a step that did not hold, told apart from the
// ways the plan can end early (abort, cancellation, a lapsed guard lease, an
// activity that gave up), each turned into one reason for the result.
import { ActivityFailure, isCancellation } from '@temporalio/workflow';
import { controllerLostReason } from './guard-lease.js';
import type { GateReport } from './types.js';

/** A step that did not hold: the rollout rolls back with this reason. */
export class StepFailure extends Error {
  constructor(
    message: string,
    readonly stepIndex: number,
    readonly gate?: GateReport,
  ) {
    super(message);
  }
}

/** `operatorReason`: why the plan was cancelled, when an operator (or a lapsed lease) did it. */
export function toStepFailure(err: unknown, stepIndex: number, operatorReason: string | undefined): StepFailure {
  if (err instanceof StepFailure) return err;
  if (isCancellation(err)) return new StepFailure(operatorReason ?? 'cancelled from the Temporal UI or API', stepIndex);
  const lost = controllerLostReason(err);
  if (lost !== undefined) return new StepFailure(lost, stepIndex);
  if (err instanceof ActivityFailure) {
    const cause = err.cause instanceof Error ? err.cause.message : err.message;
    return new StepFailure(`step ${stepIndex + 1} failed: ${cause}`, stepIndex);
  }
  return new StepFailure(`step ${stepIndex + 1} failed: ${err instanceof Error ? err.message : String(err)}`, stepIndex);
}
