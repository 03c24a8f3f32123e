// The data a rollout workflow takes, reports and returns. Plain JSON: it
// travels through Temporal history and to the CLI.
import type { GateCheck, GatePhase } from '../analysis/evaluate.js';
import type { ShadowSnapshot } from '../analysis/shadow-checks.js';
import type { MetricsSnapshot } from '../analysis/snapshot.js';
import type { Policy } from '../policies/types.js';
import type { DeploymentSpec, RolloutPhase } from '../shared/contracts.js';

/** The new deployment a rollout creates. */
export type GreenSpec = DeploymentSpec;

export interface RolloutInput {
  endpoint: string;
  policy: Policy;
  green: GreenSpec;
  /** Found from the endpoint's live traffic when not given. */
  blue?: string | undefined;
  /** Where the policy came from, for people reading the UI. */
  policySource?: string | undefined;
  /** Continue as new once a run's history has this many events (default 8000; far below Temporal's 50k limit). */
  maxHistoryEvents?: number | undefined;
  /** Set only by continue-as-new: where the previous run stopped. */
  carried?: CarriedState | undefined;
}

export interface GateReport {
  phase: GatePhase;
  summary: string;
  checks: GateCheck[];
  greenRequests: number;
  blueRequests: number;
  /** Which window decided: the whole bake so far, or the latest interval. */
  window: 'step' | 'interval';
  atMs: number;
}

export interface Decision {
  atMs: number;
  step: number;
  kind: 'step' | 'gate' | 'operator' | 'rollback' | 'done' | 'notify';
  message: string;
}

export interface RolloutStatus {
  endpoint: string;
  blue: string;
  green: string;
  policy: string;
  /** 0-based index of the current step, stepCount when done. */
  stepIndex: number;
  stepCount: number;
  step: string;
  phase: RolloutPhase;
  paused: boolean;
  waitingForApproval: boolean;
  traffic: { blue: number; green: number };
  mirrorPercent: number;
  /** Workflow time at which the current bake ends (when not paused). */
  bakeEndsAtMs?: number | undefined;
  /** Workflow time at which the approval being waited for times out (approval.timeout). */
  approvalEndsAtMs?: number | undefined;
  /** Workflow time at which the watch window ends and blue is deleted (deleteBlue.after). */
  watchEndsAtMs?: number | undefined;
  /** Set while a failed gate holds the rollout (onFailure.action pause). */
  heldOnFailure?: HeldOnFailure | undefined;
  lastGate?: GateReport | undefined;
  /** The latest decisions, oldest first (capped, so history stays small). */
  decisions: Decision[];
  startedAtMs: number;
  /** The sequence number of the last event sent to notification targets; only with targets. */
  notificationSeq?: number | undefined;
}

export interface HeldOnFailure {
  /** The failure that would have rolled back; the rollback's reason if it still does. */
  reason: string;
  stepIndex: number;
  gate?: GateReport | undefined;
  sinceMs: number;
  /** Workflow time at which the hold gives up and rolls back. */
  endsAtMs: number;
  /** The phase to go back to when an operator forces the rollout on. */
  phase: RolloutPhase;
}

export interface RolloutResult {
  outcome: 'promoted' | 'rolled-back';
  endpoint: string;
  blue: string;
  green: string;
  reason: string;
  failedStep?: { index: number; description: string } | undefined;
  lastGate?: GateReport | undefined;
  decisions: Decision[];
  durationMs: number;
  /** Promoted and blue deleted: there is nothing left to roll back to. */
  blueDeleted?: boolean | undefined;
}

/** What rollback must undo, as data so it survives continue-as-new. */
export type UndoAction = { kind: 'restoreRoutes' } | { kind: 'deleteGreen' };

export interface BakeProgress {
  stepIndex: number;
  elapsedMs: number;
  stepStart: MetricsSnapshot;
  lastTick: MetricsSnapshot;
  /** Green's shadow comparison counters when the bake began (a mirror step with compare only). */
  shadowStart?: ShadowSnapshot | undefined;
}

/** Where a gate window outside a bake stands: since the wait began, and the latest tick. */
export interface GuardWindow {
  since: MetricsSnapshot;
  lastTick: MetricsSnapshot;
}

/** A guarded wait outside a bake, carried across continue-as-new. */
export interface WaitProgress {
  kind: 'approval' | 'paused' | 'watch';
  /** The step the plan resumes at: the waiting one, or the next one for a pause between steps. */
  stepIndex: number;
  window: GuardWindow;
}

export interface CarriedState {
  status: RolloutStatus;
  undo: UndoAction[];
  bake?: BakeProgress | undefined;
  wait?: WaitProgress | undefined;
}
