// What the parts of a rollout (the plan, bakes, guarded waits, holds) share:
// its input, its state, what operators asked for, and the way to continue as
// new with the progress of the step at hand.
import type { ErrorStreaks } from '../analysis/custom-checks.js';
import type { GateRules } from '../analysis/evaluate.js';
import type { Policy } from '../policies/types.js';
import type { OperatorControl } from './operator-controls.js';
import type { AppliedPatches } from './patches.js';
import type { RolloutTracker } from './rollout-tracker.js';
import type { BakeProgress, CarriedState, GreenSpec, RolloutInput, RolloutStatus, WaitProgress } from './types.js';

/** The progress of the step at hand that a run continued as new resumes from. */
export type StepProgress = Pick<CarriedState, 'bake' | 'wait'>;

export interface RolloutContext {
  readonly input: RolloutInput;
  readonly endpoint: string;
  readonly green: GreenSpec;
  readonly policy: Policy;
  readonly rules: GateRules;
  readonly tracker: RolloutTracker;
  readonly status: RolloutStatus;
  readonly control: OperatorControl;
  /** Which history-changing workflow changes this run takes (patches.ts). */
  readonly patches: AppliedPatches;
  /** Provider errors in a row per custom check (custom-metrics.ts); a new run starts counting afresh. */
  customErrorStreaks: ErrorStreaks;
  /** Continues as new, carrying `progress`, once this run's history is long. */
  continueIfLong(progress: StepProgress): Promise<void>;
  /** The bake a previous run was in at this step, once. */
  takeCarriedBake(stepIndex: number): BakeProgress | undefined;
  /** The wait a previous run was in at this step, once (a run continued as new resumes it). */
  takeCarriedWait(kind: WaitProgress['kind'], stepIndex: number): WaitProgress | undefined;
}
