// The client hang-up check's limits when a policy leaves them out: one
// place for the gate (workflows/gate-decision.ts) and the plan line
// (policies/describe.ts).

/**
 * Defaults of the client hang-up check (policy `slo.abortRate`,
 * `baseline.abortRateDelta`). A hang-up is not an answer, so it is in no
 * other check; a green so slow that its clients give up would otherwise
 * leave only empty, Inconclusive windows. 5% is far above what clients
 * abandon on a healthy service, so a breach means green, not the clients;
 * and with the early test a green that never answers fails after 4 hang-ups.
 */
export const DEFAULT_ABORT_RATE = 0.05;
export const DEFAULT_ABORT_RATE_DELTA = 0.05;
