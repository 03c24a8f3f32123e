// How activity errors reach the workflow: bad input and refusals (4xx) are
// non-retryable, carrying saferoll's error code as the failure type;
// everything else (router down, timeouts) is retried by Temporal.
import { ApplicationFailure } from '@temporalio/common';
import { isSaferollError } from '../shared/errors.js';

const NON_RETRYABLE = new Set([
  'SAFEROLL_E_VALIDATION',
  'SAFEROLL_E_NOT_FOUND',
  'SAFEROLL_E_CONFLICT',
  'SAFEROLL_E_GUARD_FIRED',
  'SAFEROLL_E_UNAUTHORIZED',
  'SAFEROLL_E_PROVISIONING',
  'SAFEROLL_E_POLICY',
]);

export function toActivityFailure(err: unknown): unknown {
  if (isSaferollError(err) && NON_RETRYABLE.has(err.code)) return ApplicationFailure.nonRetryable(err.message, err.code);
  return err;
}

/** Runs `fn`, turning saferoll's refusals into non-retryable failures. */
export async function classified<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toActivityFailure(err);
  }
}
