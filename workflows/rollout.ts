// The rollout plan as a short step interpreter: for each step of the policy,
// do it; bake it while gates are measured; wait (for an approval, through a
// pause, through the watch window) while gates keep guarding; and on any
// failure, abort, rollback or cancellation run the undo list in a
// non-cancellable scope, ending in "blue 100%, mirror off". Deterministic:
// all I/O is in activities.
import { ActivityFailure, ApplicationFailure, CancellationScope, ContinueAsNew, continueAsNew, workflowInfo } from '@temporalio/workflow';
import { formatDuration } from '../policies/units.js';
import { blueOf } from '../shared/contracts.js';
import { PROVISION_OPTIONS, ROLLBACK_OPTIONS, STEP_OPTIONS, act } from './activity-options.js';
import { bake } from './bake.js';
import { gateRules, shouldContinueAsNew } from './gate-decision.js';
import { GuardLease } from './guard-lease.js';
import { Notifier } from './notifier.js';
import { freshControl, installOperatorControls, operatorRequestPending } from './operator-controls.js';
import { appliedPatches } from './patches.js';
import { waitForApproval, waitWhilePaused, watchWindow } from './plan-waits.js';
import { rolledBackFailure } from './rolled-back.js';
import type { RolloutContext } from './rollout-context.js';
import { RolloutTracker } from './rollout-tracker.js';
import { comparesShadows, policyCompares } from './shadow-comparison.js';
import { StepFailure, toStepFailure } from './step-failure.js';
import type { MirrorCompare } from '../policies/types.js';
import type { RolloutInput, RolloutResult, UndoAction } from './types.js';

export async function rolloutWorkflow(input: RolloutInput): Promise<RolloutResult> {
  const { policy, endpoint, green } = input;
  const patches = appliedPatches(policyCompares(policy));
  const carried = input.carried;
  const tracker = carried ? new RolloutTracker(carried.status, policy) : RolloutTracker.fresh(endpoint, input.blue ?? '', green.name, policy);
  const status = tracker.status;
  const notifier = new Notifier(policy.notifications ?? [], tracker);
  const undo: UndoAction[] = carried?.undo ?? [];
  let carriedBake = carried?.bake;
  let carriedWait = carried?.wait;
  const control = freshControl();
  const plan = new CancellationScope();
  // If the routing core's guard lease lapsed (the controller was gone), the plan ends with that reason.
  const guard = new GuardLease(endpoint, policy, tracker, () => plan.cancel(), patches.guardLease, patches.guardReleaseOnce);
  let blueDeleted = false;
  /** Why blue is still there after a promotion whose deletion of blue was refused. */
  let blueKept: string | undefined;

  installOperatorControls(tracker, control, plan);

  const ctx: RolloutContext = {
    input,
    endpoint,
    green,
    policy,
    rules: gateRules(policy, { abortCheck: patches.abortCheck }),
    tracker,
    status,
    control,
    patches,
    customErrorStreaks: {},
    async continueIfLong(progress) {
      const info = workflowInfo();
      // Deliveries under way would be abandoned with this run: wait for them to end (a tick or two).
      if (!shouldContinueAsNew(info.historyLength, info.continueAsNewSuggested, input.maxHistoryEvents) || !notifier.idle) return;
      // An operator's request this run has not acted on yet would be lost: continue at a later tick instead.
      if (patches.continueApartFromOperators && operatorRequestPending(control, info.historyLength)) return;
      await continueAsNew<typeof rolloutWorkflow>({ ...input, carried: { status, undo, ...progress } });
    },
    takeCarriedBake(stepIndex) {
      const bakeProgress = carriedBake?.stepIndex === stepIndex ? carriedBake : undefined;
      carriedBake = undefined;
      return bakeProgress;
    },
    takeCarriedWait(kind, stepIndex) {
      if (carriedWait?.kind !== kind || carriedWait.stepIndex !== stepIndex) return undefined;
      const wait = carriedWait;
      carriedWait = undefined;
      return wait;
    },
  };

  // Sent with every route change of a run that compares (absolute: the step's spec, or off), and only then,
  // so a policy without compare needs nothing of the router it did not need before.
  const comparing = comparesShadows(ctx);
  const applyRoutes = async (greenPercent: number, mirrorPercent: number, compare?: MirrorCompare): Promise<void> => {
    if (!undo.some((u) => u.kind === 'restoreRoutes')) undo.push({ kind: 'restoreRoutes' });
    const traffic =
      greenPercent >= 100
        ? { [green.name]: 100 }
        : greenPercent > 0
          ? { [status.blue]: 100 - greenPercent, [green.name]: greenPercent }
          : { [status.blue]: 100 };
    const mirror = mirrorPercent > 0 ? { [green.name]: mirrorPercent } : {};
    const what = mirrorPercent > 0 ? `mirror ${mirrorPercent}% to green` : `blue ${100 - greenPercent}% / green ${greenPercent}%`;
    await act(`set traffic: ${what}`).setRoutes(endpoint, traffic, mirror, {
      guard: guard.request(),
      ...(comparing ? { compare: compare?.spec ?? null } : {}),
    });
    tracker.setRoutes(greenPercent, mirrorPercent);
    guard.keep();
  };

  const runPlan = async (): Promise<void> => {
    if (!carried) {
      status.blue = await findBlue();
      tracker.decide('step', `rollout of "${green.name}" replacing "${status.blue}" on ${endpoint} with policy ${policy.name}`);
    } else {
      tracker.setPhase(status.phase);
      tracker.decide('step', `continued as new at step ${status.stepIndex + 1}`);
      // The lease is held exactly while there are routes to undo.
      if (undo.some((u) => u.kind === 'restoreRoutes')) guard.resume();
    }
    // A run continued as new during a pause between steps resumes at the next step, not yet entered.
    const resumeAt = carried ? carried.status.stepIndex : -1;
    for (let i = carried?.wait?.stepIndex ?? status.stepIndex; i < policy.steps.length; i++) {
      const step = policy.steps[i];
      if (!step) break;
      const resuming = i === resumeAt;
      // A step resumed mid-way keeps its own pause handling (a bake measures on, an approval keeps its deadline).
      if (!resuming || !patches.gatesOutsideBakes) await waitWhilePaused(ctx, i);
      switch (step.kind) {
        case 'create':
          tracker.enterStep(i, 'Creating');
          // Pushed first, so a create that fails half-way is cleaned up too.
          if (!policy.onFailure.keepGreen && !undo.some((u) => u.kind === 'deleteGreen')) undo.push({ kind: 'deleteGreen' });
          await act(
            `create green "${green.name}" (${green.instanceCount} instance${green.instanceCount === 1 ? '' : 's'})`,
            PROVISION_OPTIONS,
          ).ensureDeployment(endpoint, green);
          break;
        case 'smoke':
          tracker.enterStep(i, 'Smoke');
          await act(`smoke: ${step.requests} × ${step.method} ${step.path} straight to green`, {
            ...STEP_OPTIONS,
            // Each request may take its own timeout; the activity heartbeats after each.
            startToCloseTimeout: step.requests * step.timeoutMs + 10_000,
            heartbeatTimeout: step.timeoutMs + 5_000,
          }).smokeTest({
            endpoint,
            deployment: green.name,
            requests: step.requests,
            path: step.path,
            method: step.method,
            body: step.body,
            headers: step.headers,
            expectStatus: step.expectStatus,
            timeoutMs: step.timeoutMs,
          });
          break;
        case 'mirror':
          if (!resuming) tracker.enterStep(i, 'Mirror');
          await applyRoutes(0, step.percent, step.compare);
          await bake(ctx, i, step.forMs, 'mirror', step.compare);
          break;
        case 'traffic':
          if (!resuming) tracker.enterStep(i, 'Traffic');
          await applyRoutes(step.percent, 0);
          await bake(ctx, i, step.forMs, 'live');
          break;
        case 'approval':
          if (!(await waitForApproval(ctx, i, step, resuming))) throw new StepFailure(`approval timed out after ${formatDuration(step.timeoutMs ?? 0)}`, i);
          break;
        case 'deleteBlue':
          if (!resuming) tracker.enterStep(i, 'DeletingBlue');
          if (step.afterMs > 0) await watchWindow(ctx, i, step.afterMs, resuming);
          await waitWhilePaused(ctx, i);
          // From here `saferoll rollback` is refused: blue is about to go.
          control.blueGone = true;
          // Blue is the lease's fallback: released first (after a last renewal that would learn of a lapse).
          await guard.release();
          // Point of no return: with blue gone there is nothing to roll back
          // to, so the deletion is not interrupted by an abort either.
          undo.length = 0;
          try {
            await CancellationScope.nonCancellable(() => act(`delete blue "${status.blue}"`, ROLLBACK_OPTIONS).deleteDeployment(endpoint, status.blue));
            blueDeleted = true;
          } catch (err) {
            // Only a refusal ends the retries (an unreachable router is retried until it answers): green was
            // promoted and nothing is left to roll back, so the rollout ends promoted, with blue kept and why.
            if (!patches.blueKeptOnRefusal || !(err instanceof ActivityFailure) || !(err.cause instanceof ApplicationFailure) || !err.cause.nonRetryable)
              throw err;
            blueKept = `blue "${status.blue}" was kept: its deletion was refused: ${err.cause instanceof Error ? err.cause.message : err.message}`;
            tracker.decide('step', blueKept);
          }
          status.watchEndsAtMs = undefined;
          break;
        default:
          // A step kind added to the policy schema but not handled here does not compile.
          return unhandledStep(step);
      }
    }
    await guard.release(); // a plan without deleteBlue still holds it
  };

  const findBlue = async (): Promise<string> => {
    const summary = await act('find blue: read the endpoint').describeEndpoint(endpoint);
    const blue = input.blue ?? blueOf(summary.traffic);
    if (!blue) {
      throw ApplicationFailure.nonRetryable(
        `cannot tell which deployment is blue on ${endpoint}: no deployment has 100% of live traffic (${JSON.stringify(summary.traffic)}); name it with --blue`,
        'SAFEROLL_E_VALIDATION',
      );
    }
    if (blue === green.name)
      throw ApplicationFailure.nonRetryable(`green "${green.name}" is the current blue deployment; give the new version a new name`, 'SAFEROLL_E_VALIDATION');
    // Rollback deletes green: never take over a deployment this rollout did not create.
    if (summary.deployments.some((d) => d.name === green.name)) {
      throw ApplicationFailure.nonRetryable(
        `deployment "${green.name}" already exists on ${endpoint}; give the new version a new name`,
        'SAFEROLL_E_VALIDATION',
      );
    }
    if (!summary.deployments.some((d) => d.name === blue))
      throw ApplicationFailure.nonRetryable(`blue deployment "${blue}" does not exist on ${endpoint}`, 'SAFEROLL_E_VALIDATION');
    return blue;
  };

  let failure: StepFailure | undefined;
  try {
    await plan.run(runPlan);
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    if (err instanceof ApplicationFailure && undo.length === 0 && status.stepIndex === 0) throw err; // bad input, nothing changed
    failure = toStepFailure(err, status.stepIndex, guard.lost ?? control.abortReason);
  }

  if (!failure) {
    tracker.setPhase('Promoted');
    // With blue kept, the router refused its deletion (it may have traffic again): no claim that green serves 100%.
    tracker.decide('done', blueKept ? `promoted "${green.name}" on ${endpoint}; ${blueKept}` : `promoted: "${green.name}" serves 100% of ${endpoint}`);
    const promoted = result('promoted', blueKept ? `green "${green.name}" promoted; ${blueKept}` : `green "${green.name}" promoted to 100%`);
    await notifier.drain();
    return promoted;
  }

  status.heldOnFailure = undefined;
  tracker.setPhase('RollingBack');
  tracker.decide('rollback', `rolling back: ${failure.message}`);
  await CancellationScope.nonCancellable(async () => {
    await guard.stop();
    for (const action of [...undo].reverse()) {
      if (action.kind === 'restoreRoutes') {
        // Blue 100% and the lease released in one change.
        await act(`rollback: blue "${status.blue}" 100%, mirror off`, ROLLBACK_OPTIONS).setRoutes(
          endpoint,
          { [status.blue]: 100 },
          {},
          { retryRefusals: true, guard: guard.releaseWithRoutes(), ...(comparing ? { compare: null } : {}) },
        );
        tracker.setRoutes(0, 0);
      } else {
        await act(`rollback: delete green "${green.name}"`, ROLLBACK_OPTIONS).deleteDeployment(endpoint, green.name, { retryRefusals: true });
      }
    }
  });
  tracker.setPhase('RolledBack');
  tracker.decide('done', `rolled back: ${failure.message}`);
  const rolledBack = result('rolled-back', failure.message, failure);
  await notifier.drain();
  // Failed, not Completed: the Temporal UI's list tells a rollback from a promotion at a glance.
  if (patches.rolledBackFailsWorkflow) throw rolledBackFailure(rolledBack);
  return rolledBack;

  function result(outcome: RolloutResult['outcome'], reason: string, failed?: StepFailure): RolloutResult {
    const step = failed ? policy.steps[failed.stepIndex] : undefined;
    return {
      outcome,
      endpoint,
      blue: status.blue,
      green: green.name,
      reason,
      failedStep: failed && step ? { index: failed.stepIndex, description: status.step } : undefined,
      lastGate: failed?.gate ?? status.lastGate,
      decisions: status.decisions,
      durationMs: Date.now() - status.startedAtMs,
      ...(blueDeleted ? { blueDeleted } : {}),
    };
  }
}

function unhandledStep(step: never): never {
  throw ApplicationFailure.nonRetryable(`unknown step ${JSON.stringify(step)}`, 'SAFEROLL_E_POLICY');
}
