// How a rollback ends the workflow: Failed, so that the Temporal UI's list
// (and `temporal workflow list`, and alerts on failed workflows) tells it
// from a promotion at a glance, with the full RolloutResult in the failure's
// details. Clients read it back with `rolledBackResult` (cli/follow-rollout.ts).
import { ApplicationFailure } from '@temporalio/common';
import type { ErrorCode } from '../shared/errors.js';
import type { RolloutResult } from './types.js';

/** The failure type of a rollout that rolled back (a verdict, not a crash). */
export const ROLLED_BACK = 'SAFEROLL_E_ROLLED_BACK' satisfies ErrorCode;

export function rolledBackFailure(result: RolloutResult): ApplicationFailure {
  return ApplicationFailure.create({ type: ROLLED_BACK, message: `rolled back: ${result.reason}`, nonRetryable: true, details: [result] });
}

/** The result a rolled-back rollout failed with, or undefined for any other failure. */
export function rolledBackResult(cause: unknown): RolloutResult | undefined {
  if (!(cause instanceof ApplicationFailure) || cause.type !== ROLLED_BACK) return undefined;
  const [result] = cause.details ?? [];
  return isResult(result) ? result : undefined;
}

function isResult(value: unknown): value is RolloutResult {
  return typeof value === 'object' && value !== null && (value as RolloutResult).outcome === 'rolled-back';
}
