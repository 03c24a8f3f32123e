// analysis.controllerLossTimeout: how long the routing core waits for a
// renewal of the rollout's guard lease before it decides the controller is
// gone and puts blue back on its own. The schema validates it; the workflow
// reads it as the lease's TTL. Imports nothing: workflow code uses it.
import type { Policy } from './types.js';

export const DEFAULT_CONTROLLER_LOSS_TIMEOUT_MS = 60_000;
// The routing core's own bounds on a lease TTL (router/guard-lease.ts).
export const MIN_CONTROLLER_LOSS_TIMEOUT_MS = 1_000;
export const MAX_CONTROLLER_LOSS_TIMEOUT_MS = 24 * 3_600_000;
/**
 * The controller looks at green only once per analysis interval: a shorter
 * timeout would guard no better, and would put blue back on an ordinary
 * pause; three intervals leave room for a retried renewal or two.
 */
export const CONTROLLER_LOSS_INTERVALS = 3;

/** The default: 60s, or 3 intervals when that is longer. */
export function defaultControllerLossTimeoutMs(intervalMs: number): number {
  return Math.max(DEFAULT_CONTROLLER_LOSS_TIMEOUT_MS, CONTROLLER_LOSS_INTERVALS * intervalMs);
}

/** The guard lease TTL a policy asks for, or undefined when it is `off`. */
export function controllerLossTimeoutMs(analysis: Policy['analysis']): number | undefined {
  const value = analysis.controllerLossTimeoutMs ?? defaultControllerLossTimeoutMs(analysis.intervalMs);
  return value === 'off' ? undefined : value;
}
