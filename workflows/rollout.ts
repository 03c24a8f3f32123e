// The rollout plan as a short step interpreter: for each step of the policy,
// do it, bake it while gates are measured, and on any failure, abort or
// cancellation run the undo list in a non-cancellable scope, ending in
// "blue 100%, mirror off". Deterministic: all I/O is in activities.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  sleep,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { RolloutActivities } from '../activities/types.js';
import { formatDuration } from '../policies/units.js';
import { gateRules, judgeTick, shouldContinueAsNew, tickVerdict } from './gate-decision.js';
import { GuardLease, controllerLostReason } from './guard-lease.js';
import { Notifier } from './notifier.js';
import { installOperatorControls, type OperatorControl } from './operator-controls.js';
import { RolloutTracker } from './rollout-tracker.js';
import type { BakeProgress, GateReport, RolloutInput, RolloutResult, UndoAction } from './types.js';

// Short: these calls take milliseconds, and a call lost with a crashed worker
// is retried only once this expires.
const STEP_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '250ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 6 },
};
const PROVISION_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '20m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 5 },
};
// Rollback must end in blue 100% whatever it takes, and so must the deletion
// of blue once past the point of no return: retry until the router answers.
const ROLLBACK_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '250ms', backoffCoefficient: 2, maximumInterval: '10s' },
};

/** Activities whose UI summary says what this call does. */
function act(summary: string, options: ActivityOptions = STEP_OPTIONS): RolloutActivities {
  return proxyActivities<RolloutActivities>({ ...options, summary });
}

/** A step that did not hold: the rollout rolls back with this reason. */
class StepFailure extends Error {
  constructor(
    message: string,
    readonly stepIndex: number,
    readonly gate?: GateReport,
  ) {
    super(message);
  }
}

export async function rolloutWorkflow(input: RolloutInput): Promise<RolloutResult> {
  const { policy, endpoint, green } = input;
  const carried = input.carried;
  const tracker = carried ? new RolloutTracker(carried.status, policy) : RolloutTracker.fresh(endpoint, input.blue ?? '', green.name, policy);
  const status = tracker.status;
  const notifier = new Notifier(policy.notifications ?? [], tracker);
  const undo: UndoAction[] = carried?.undo ?? [];
  let carriedBake: BakeProgress | undefined = carried?.bake;
  const rules = gateRules(policy);
  const control: OperatorControl = { abortReason: undefined, promote: false, approved: false, baking: false };
  const plan = new CancellationScope();
  // If the routing core's guard lease lapsed (the controller was gone), the plan ends with that reason.
  const guard = new GuardLease(endpoint, policy, tracker, () => plan.cancel());

  installOperatorControls(tracker, control, plan);

  const waitWhilePaused = async (): Promise<void> => {
    if (status.paused) await condition(() => !status.paused);
  };

  const applyRoutes = async (greenPercent: number, mirrorPercent: number): Promise<void> => {
    if (!undo.some((u) => u.kind === 'restoreRoutes')) undo.push({ kind: 'restoreRoutes' });
    const traffic = greenPercent >= 100 ? { [green.name]: 100 } : greenPercent > 0 ? { [status.blue]: 100 - greenPercent, [green.name]: greenPercent } : { [status.blue]: 100 };
    const mirror = mirrorPercent > 0 ? { [green.name]: mirrorPercent } : {};
    const what = mirrorPercent > 0 ? `mirror ${mirrorPercent}% to green` : `blue ${100 - greenPercent}% / green ${greenPercent}%`;
    await act(`set traffic: ${what}`).setRoutes(endpoint, traffic, mirror, { guard: guard.request() });
    tracker.setRoutes(greenPercent, mirrorPercent);
    guard.keep();
  };

  const bake = async (stepIndex: number, forMs: number, greenTraffic: 'live' | 'mirror'): Promise<void> => {
    let progress = carriedBake?.stepIndex === stepIndex ? carriedBake : undefined;
    carriedBake = undefined;
    if (!progress) {
      const start = await act('gate window start: read metrics').snapshotMetrics(endpoint);
      progress = { stepIndex, elapsedMs: 0, stepStart: start, lastTick: start };
    }
    control.baking = true;
    control.promote = false;
    try {
      for (;;) {
        const remaining = forMs - progress.elapsedMs;
        status.bakeEndsAtMs = Date.now() + Math.max(0, remaining);
        const waitMs = Math.max(1, Math.min(policy.analysis.intervalMs, remaining > 0 ? remaining : policy.analysis.intervalMs));
        const tickStart = Date.now();
        await condition(() => control.promote, waitMs);

        const measured = await act(`gate: green (${greenTraffic}) vs blue, ${formatDuration(progress.elapsedMs)} of ${formatDuration(forMs)}`).measureWindows({
          endpoint,
          green: green.name,
          blue: status.blue,
          greenTraffic,
          stepStart: progress.stepStart,
          lastTick: progress.lastTick,
        });
        // The bake clock counts the measurement too (a slow tick must not stretch the bake), not paused time.
        if (!status.paused) progress.elapsedMs += Date.now() - tickStart;
        progress.lastTick = measured.snapshot;
        const { report } = judgeTick(rules, measured.windows, Date.now());
        tracker.gate(report);

        if (control.promote && report.phase !== 'Successful') {
          tracker.decide('operator', `promote not applied: the gate is ${report.phase} now (${report.summary})`);
          control.promote = false;
        }
        const over = control.promote || (!status.paused && progress.elapsedMs >= forMs);
        const verdict = tickVerdict(report, over);
        if (verdict === 'fail') {
          const why = report.phase === 'Failed' ? `gate failed: ${report.summary}` : `bake ended without a passing gate: ${report.summary}`;
          throw new StepFailure(why, stepIndex, report);
        }
        if (verdict === 'pass') {
          tracker.decide('gate', control.promote ? 'promoted early by an operator; gates passed' : `bake of ${formatDuration(forMs)} passed: ${report.summary}`);
          return;
        }
        const info = workflowInfo();
        // Deliveries under way would be abandoned with this run: wait for them to end (a tick or two).
        if (shouldContinueAsNew(info.historyLength, info.continueAsNewSuggested, input.maxHistoryEvents) && notifier.idle) {
          await continueAsNew<typeof rolloutWorkflow>({ ...input, carried: { status, undo, bake: progress } });
        }
      }
    } finally {
      control.baking = false;
      control.promote = false;
      status.bakeEndsAtMs = undefined;
    }
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
    for (let i = status.stepIndex; i < policy.steps.length; i++) {
      await waitWhilePaused();
      const step = policy.steps[i];
      if (!step) break;
      const resuming = carried !== undefined && i === carried.status.stepIndex;
      switch (step.kind) {
        case 'create':
          tracker.enterStep(i, 'Creating');
          // Pushed first, so a create that fails half-way is cleaned up too.
          if (!policy.onFailure.keepGreen && !undo.some((u) => u.kind === 'deleteGreen')) undo.push({ kind: 'deleteGreen' });
          await act(`create green "${green.name}" (${green.instanceCount} instance${green.instanceCount === 1 ? '' : 's'})`, PROVISION_OPTIONS).ensureDeployment(endpoint, green);
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
          await applyRoutes(0, step.percent);
          await bake(i, step.forMs, 'mirror');
          break;
        case 'traffic':
          if (!resuming) tracker.enterStep(i, 'Traffic');
          await applyRoutes(step.percent, 0);
          await bake(i, step.forMs, 'live');
          break;
        case 'approval': {
          tracker.enterStep(i, 'Approval');
          status.waitingForApproval = true;
          tracker.decide('step', `waiting for approval${step.timeoutMs !== undefined ? ` (times out in ${formatDuration(step.timeoutMs)})` : ''}`);
          // condition() with an undefined timeout would not wait at all: no timeout means forever.
          const approved = step.timeoutMs === undefined ? (await condition(() => control.approved), true) : await condition(() => control.approved, step.timeoutMs);
          status.waitingForApproval = false;
          control.approved = false;
          if (!approved) throw new StepFailure(`approval timed out after ${formatDuration(step.timeoutMs ?? 0)}`, i);
          break;
        }
        case 'deleteBlue':
          tracker.enterStep(i, 'DeletingBlue');
          if (step.afterMs > 0) await sleep(step.afterMs);
          await waitWhilePaused();
          // Blue is the lease's fallback: released first (after a last renewal that would learn of a lapse).
          await guard.release();
          // Point of no return: with blue gone there is nothing to roll back
          // to, so the deletion is not interrupted by an abort either.
          undo.length = 0;
          await CancellationScope.nonCancellable(() => act(`delete blue "${status.blue}"`, ROLLBACK_OPTIONS).deleteDeployment(endpoint, status.blue));
          break;
      }
    }
    await guard.release(); // a plan without deleteBlue still holds it
  };

  const findBlue = async (): Promise<string> => {
    const summary = await act('find blue: read the endpoint').describeEndpoint(endpoint);
    const blue = input.blue ?? Object.entries(summary.traffic).find(([, percent]) => percent === 100)?.[0];
    if (!blue) {
      throw ApplicationFailure.nonRetryable(
        `cannot tell which deployment is blue on ${endpoint}: no deployment has 100% of live traffic (${JSON.stringify(summary.traffic)}); name it with --blue`,
        'SAFEROLL_E_VALIDATION',
      );
    }
    if (blue === green.name) throw ApplicationFailure.nonRetryable(`green "${green.name}" is the current blue deployment; give the new version a new name`, 'SAFEROLL_E_VALIDATION');
    // Rollback deletes green: never take over a deployment this rollout did not create.
    if (summary.deployments.some((d) => d.name === green.name)) {
      throw ApplicationFailure.nonRetryable(`deployment "${green.name}" already exists on ${endpoint}; give the new version a new name`, 'SAFEROLL_E_VALIDATION');
    }
    if (!summary.deployments.some((d) => d.name === blue)) throw ApplicationFailure.nonRetryable(`blue deployment "${blue}" does not exist on ${endpoint}`, 'SAFEROLL_E_VALIDATION');
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
    tracker.decide('done', `promoted: "${green.name}" serves 100% of ${endpoint}`);
    const promoted = result('promoted', `green "${green.name}" promoted to 100%`);
    await notifier.drain();
    return promoted;
  }

  tracker.setPhase('RollingBack');
  tracker.decide('rollback', `rolling back: ${failure.message}`);
  await CancellationScope.nonCancellable(async () => {
    await guard.stop();
    for (const action of [...undo].reverse()) {
      if (action.kind === 'restoreRoutes') {
        // Blue 100% and the lease released in one change.
        await act(`rollback: blue "${status.blue}" 100%, mirror off`, ROLLBACK_OPTIONS).setRoutes(endpoint, { [status.blue]: 100 }, {}, { retryRefusals: true, guard: guard.releaseWithRoutes() });
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
    };
  }
}

function toStepFailure(err: unknown, stepIndex: number, abortReason: string | undefined): StepFailure {
  if (err instanceof StepFailure) return err;
  if (isCancellation(err)) return new StepFailure(abortReason ?? 'cancelled from the Temporal UI or API', stepIndex);
  const lost = controllerLostReason(err);
  if (lost !== undefined) return new StepFailure(lost, stepIndex);
  if (err instanceof ActivityFailure) {
    const cause = err.cause instanceof Error ? err.cause.message : err.message;
    return new StepFailure(`step ${stepIndex + 1} failed: ${cause}`, stepIndex);
  }
  return new StepFailure(`step ${stepIndex + 1} failed: ${err instanceof Error ? err.message : String(err)}`, stepIndex);
}
