// Shadow comparison at a mirror step's gate ticks: read green's pair counters
// from the routing core (an activity), judge the bake's window
// (analysis/shadow-checks.ts) and fold the checks into the tick's report. A
// failing comparison's summary quotes the newest mismatching pair, so the
// rollback's reason shows what differed. Runs that predate it (or steps
// without compare) issue no extra command, so their histories replay unchanged.
import { judgeShadow, measureShadowWindow, type ShadowSnapshot } from '../analysis/shadow-checks.js';
import type { MirrorCompare, Policy } from '../policies/types.js';
import { act } from './activity-options.js';
import { withCustomChecks } from './gate-decision.js';
import type { RolloutContext } from './rollout-context.js';
import type { GateReport } from './types.js';

/** A policy with compare on a mirror step. */
export function policyCompares(policy: Policy): boolean {
  return policy.steps.some((s) => s.kind === 'mirror' && s.compare !== undefined);
}

/** Whether this run sets and judges shadow comparison: new runs of a policy with compare on a mirror step. */
export function comparesShadows(ctx: Pick<RolloutContext, 'patches' | 'policy'>): boolean {
  return ctx.patches.shadowCompare && policyCompares(ctx.policy);
}

/** Green's counters at the start of a bake with `compare`; undefined when this bake does not compare. */
export async function shadowWindowStart(ctx: RolloutContext, compare: MirrorCompare | undefined): Promise<ShadowSnapshot | undefined> {
  if (!ctx.patches.shadowCompare || compare === undefined) return undefined;
  const reading = await act('shadow comparison: window start').readShadowPairs({ endpoint: ctx.endpoint, green: ctx.green.name });
  return reading.snapshot;
}

/**
 * `report` with the shadow checks over the bake so far (from `start`). A bake
 * without a start began in a run that did not compare (a run from before this
 * change, continued as new): the router was never asked for pairs, so it is
 * not judged on them.
 */
export async function withShadowComparison(
  ctx: RolloutContext,
  report: GateReport,
  compare: MirrorCompare | undefined,
  start: ShadowSnapshot | undefined,
): Promise<GateReport> {
  if (!ctx.patches.shadowCompare || compare === undefined || start === undefined) return report;
  const reading = await act('shadow comparison: green vs blue answers').readShadowPairs({ endpoint: ctx.endpoint, green: ctx.green.name });
  const judged = judgeShadow(compare, measureShadowWindow(start, reading.snapshot));
  const merged = withCustomChecks(report, judged, 'shadow comparison checks');
  if (judged.phase !== 'Failed' || reading.example === undefined) return merged;
  return { ...merged, summary: `${merged.summary}; e.g. ${reading.example}` };
}
