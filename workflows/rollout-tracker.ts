// Keeps a rollout's status: the `status` query's answer, the decision log,
// the search attributes and the current details shown by the Temporal UI;
// and tells a listener (the notifier) of the events operators hear about.
import { setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { formatGateResult } from '../analysis/evaluate.js';
import { describeStep } from '../policies/describe.js';
import type { NotificationEventName } from '../policies/notification-types.js';
import type { Policy } from '../policies/types.js';
import { GREEN_TRAFFIC_PERCENT, ROLLOUT_PHASE } from './search-attributes.js';
import type { RolloutPhase } from '../shared/contracts.js';
import type { Decision, GateReport, RolloutStatus } from './types.js';

const MAX_DECISIONS = 50;

/** Called as an event happens, with the status already showing it. */
export type RolloutEventListener = (event: NotificationEventName, reason?: string) => void;

export class RolloutTracker {
  readonly status: RolloutStatus;
  private listener: RolloutEventListener | undefined;
  // Pause and approval waits are flags set by several hands; events come from their changes.
  private wasPaused: boolean;
  private wasWaitingForApproval: boolean;

  constructor(
    status: RolloutStatus,
    private readonly policy: Policy,
  ) {
    this.status = status;
    this.wasPaused = status.paused;
    this.wasWaitingForApproval = status.waitingForApproval;
  }

  onEvent(listener: RolloutEventListener): void {
    this.listener = listener;
  }

  static fresh(endpoint: string, blue: string, green: string, policy: Policy): RolloutTracker {
    return new RolloutTracker(
      {
        endpoint,
        blue,
        green,
        policy: policy.name,
        stepIndex: 0,
        stepCount: policy.steps.length,
        step: policy.steps[0] ? describeStep(policy.steps[0]) : '',
        phase: 'Starting',
        paused: false,
        waitingForApproval: false,
        traffic: { blue: 100, green: 0 },
        mirrorPercent: 0,
        decisions: [],
        startedAtMs: Date.now(),
      },
      policy,
    );
  }

  enterStep(index: number, phase: RolloutPhase): void {
    const step = this.policy.steps[index];
    this.status.stepIndex = index;
    this.status.step = step ? describeStep(step) : 'done';
    this.status.bakeEndsAtMs = undefined;
    // A gate reading belongs to its step: promote must not act on the previous step's verdict.
    this.status.lastGate = undefined;
    this.decide('step', `step ${index + 1}/${this.status.stepCount}: ${this.status.step}`);
    this.setPhase(phase);
    // Create is always the first step and never entered again, also across continue-as-new.
    if (index === 0) this.emit('started');
    this.emit('stepStarted');
  }

  setPhase(phase: RolloutPhase): void {
    this.status.phase = phase;
    upsertSearchAttributes([{ key: ROLLOUT_PHASE, value: phase }]);
    this.publish();
  }

  setRoutes(greenPercent: number, mirrorPercent: number): void {
    this.status.traffic = { blue: 100 - greenPercent, green: greenPercent };
    this.status.mirrorPercent = mirrorPercent;
    upsertSearchAttributes([{ key: GREEN_TRAFFIC_PERCENT, value: greenPercent }]);
    this.publish();
  }

  /**
   * `log`: which readings go to the decision log. A bake logs every change of
   * verdict; a wait outside a bake only a breach, so an hour's approval wait
   * at low traffic (Inconclusive, Successful, Inconclusive...) does not push
   * the rollout's story out of the capped log.
   */
  gate(report: GateReport, log: 'changes' | 'breaches' = 'changes'): void {
    const previous = this.status.lastGate?.phase;
    this.status.lastGate = report;
    // Log a gate only when its verdict changes, so a long bake does not flood the log.
    const logged = log === 'changes' || report.phase === 'Failed';
    if (previous !== report.phase && logged) this.decide('gate', `gate ${report.phase}: ${formatGateResult(report)}`);
    this.publish();
    if (report.phase === 'Failed' && previous !== 'Failed') this.emit('gateFailed', report.summary);
  }

  decide(kind: Decision['kind'], message: string): void {
    this.status.decisions.push({ atMs: Date.now(), step: this.status.stepIndex, kind, message });
    if (this.status.decisions.length > MAX_DECISIONS) this.status.decisions.splice(0, this.status.decisions.length - MAX_DECISIONS);
    this.publish();
    this.emitFlagChanges(message);
    if (kind === 'done' && this.status.phase === 'Promoted') this.emit('promoted', message);
    if (kind === 'done' && this.status.phase === 'RolledBack') this.emit('rolledBack', message);
  }

  private emitFlagChanges(reason: string): void {
    const { paused, waitingForApproval } = this.status;
    if (paused !== this.wasPaused) this.emit(paused ? 'paused' : 'resumed', reason);
    if (waitingForApproval && !this.wasWaitingForApproval) this.emit('waitingForApproval', reason);
    this.wasPaused = paused;
    this.wasWaitingForApproval = waitingForApproval;
  }

  private emit(event: NotificationEventName, reason?: string): void {
    this.listener?.(event, reason);
  }

  /** The markdown the Temporal UI shows as the workflow's current details. */
  private publish(): void {
    const s = this.status;
    const gate = s.lastGate
      ? `${s.lastGate.phase} (${s.lastGate.window} window, green n=${s.lastGate.greenRequests}): ${formatGateResult(s.lastGate)}`
      : 'not measured yet';
    const held = s.heldOnFailure
      ? `**HELD ON A FAILED GATE** (rollback, promote --force or abort; rolls back by itself in ${secondsUntil(s.heldOnFailure.endsAtMs)} s)`
      : '';
    const flags = [s.paused ? '**PAUSED**' : '', s.waitingForApproval ? '**waiting for approval**' : '', held].filter(Boolean).join(' ');
    setCurrentDetails(
      [
        `**${s.phase}** ${flags} — step ${Math.min(s.stepIndex + 1, s.stepCount)}/${s.stepCount}: ${s.step}`,
        `traffic: blue \`${s.blue}\` ${s.traffic.blue}% · green \`${s.green}\` ${s.traffic.green}% · mirror ${s.mirrorPercent}%`,
        `last gate: ${gate}`,
        s.bakeEndsAtMs !== undefined ? `bake ends in ${secondsUntil(s.bakeEndsAtMs)} s` : '',
        s.approvalEndsAtMs !== undefined && s.waitingForApproval ? `approval times out in ${secondsUntil(s.approvalEndsAtMs)} s` : '',
        s.watchEndsAtMs !== undefined && s.phase === 'DeletingBlue'
          ? `watch window: blue is deleted in ${secondsUntil(s.watchEndsAtMs)} s (rollback puts it back until then)`
          : '',
        `policy: ${s.policy} · run ${workflowInfo().runId.slice(0, 8)}`,
      ]
        .filter(Boolean)
        .join('\n\n'),
    );
  }
}

function secondsUntil(atMs: number): number {
  return Math.max(0, Math.round((atMs - Date.now()) / 1000));
}
