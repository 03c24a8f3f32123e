// How the rollout calls its activities: retry policies and timeouts per kind
// of call, and a summary that names what each call does in the Temporal UI.
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { RolloutActivities } from '../activities/types.js';

// Short: these calls take milliseconds, and a call lost with a crashed worker
// is retried only once this expires.
export const STEP_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '250ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 6 },
};
export const PROVISION_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '20m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 5 },
};
// Rollback must end in blue 100% whatever it takes: retry until the router answers.
export const ROLLBACK_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '250ms', backoffCoefficient: 2, maximumInterval: '10s' },
};

/** Activities whose UI summary says what this call does. */
export function act(summary: string, options: ActivityOptions = STEP_OPTIONS): RolloutActivities {
  return proxyActivities<RolloutActivities>({ ...options, summary });
}
