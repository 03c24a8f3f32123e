// The workflow changes that alter history, gated with `patched()`. A run is
// old or new as a whole: the flags are read once, when the run starts, so a
// rollout that was already running when the worker was upgraded (or a
// committed history, test/histories) replays and goes on with the old
// commands, while new runs (and runs continued as new) record a marker and
// take the new ones. Never rename or reuse an id; once no run from before a
// change can be left (rollouts last hours, not months), `deprecatePatch` it,
// then drop the old branch.
import { patched } from '@temporalio/workflow';

export const PATCHES = {
  /** Gates also run outside bakes: approval waits, pauses, deleteBlue.after (guarded-wait.ts). */
  gatesOutsideBakes: 'saferoll-gates-outside-bakes',
  /** A rollback ends the workflow Failed, its result in the failure's details (rolled-back.ts). */
  rolledBackFailsWorkflow: 'saferoll-rolled-back-fails-workflow',
  /** The routing core's guard lease: taken with the routes, renewed, released (guard-lease.ts). */
  guardLease: 'saferoll-guard-lease',
  /** The lease is released in one call that refuses a lapsed lease, without a last renewal before it (guard-lease.ts). */
  guardReleaseOnce: 'saferoll-guard-release-once',
  /** Custom checks (policy analysis.metrics) are read at every gate tick (custom-metrics.ts). */
  customMetrics: 'saferoll-custom-metrics',
  /**
   * Client hang-ups are judged (gate-decision.ts gateRules): without the flag a
   * run replays as it was decided, even when a newer worker's windows carry aborts.
   */
  abortCheck: 'saferoll-abort-check',
  /** A mirror step's compare: set on the router with the routes, and judged at every tick of its bake (shadow-comparison.ts). */
  shadowCompare: 'saferoll-shadow-compare',
  /**
   * No continue-as-new while an operator's request is pending (an abort under
   * way, an approval not yet taken) or in the workflow task that accepted an
   * update (operator-controls.ts operatorRequestPending): the new run would
   * not know of it.
   */
  continueApartFromOperators: 'saferoll-continue-apart-from-operators',
  /**
   * A refused deletion of blue (a 4xx: it gained traffic again, say) ends the
   * rollout promoted with blue kept and the reason, not "rolled back" with
   * nothing rolled back (rollout.ts).
   */
  blueKeptOnRefusal: 'saferoll-blue-kept-on-refusal',
} as const;

export type AppliedPatches = Record<keyof typeof PATCHES, boolean>;

/**
 * Which changes this run takes; call once, first thing in the run.
 * `comparesShadows`: the policy has a mirror step with compare. Only then is
 * the shadow patch asked for, so a run without comparison records no marker
 * for it and its history is event for event what it was before.
 */
export function appliedPatches(comparesShadows: boolean): AppliedPatches {
  return {
    gatesOutsideBakes: patched(PATCHES.gatesOutsideBakes),
    rolledBackFailsWorkflow: patched(PATCHES.rolledBackFailsWorkflow),
    guardLease: patched(PATCHES.guardLease),
    guardReleaseOnce: patched(PATCHES.guardReleaseOnce),
    customMetrics: patched(PATCHES.customMetrics),
    abortCheck: patched(PATCHES.abortCheck),
    shadowCompare: comparesShadows && patched(PATCHES.shadowCompare),
    continueApartFromOperators: patched(PATCHES.continueApartFromOperators),
    blueKeptOnRefusal: patched(PATCHES.blueKeptOnRefusal),
  };
}
