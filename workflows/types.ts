// The data a rollout workflow takes, reports and returns. Plain JSON: it
// travels through Temporal history and to the CLI.
import type { GateCheck, GatePhase } from '../analysis/evaluate.js';
import type { MetricsSnapshot } from '../analysis/snapshot.js';
import type { Policy } from '../policies/types.js';

export type DeploymentSourceSpec =
  | { upstreams: string[] }
  | { process: { command: string; args: string[]; env: Record<string, string>; envFiles?: string[] | undefined; readinessPath: string } };

export interface GreenSpec {
  name: string;
  instanceCount: number;
  source: DeploymentSourceSpec;
}

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

export type RolloutPhase =
  | 'Starting'
  | 'Creating'
  | 'Smoke'
  | 'Mirror'
  | 'Traffic'
  | 'Approval'
  | 'DeletingBlue'
  | 'RollingBack'
  | 'Promoted'
  | 'RolledBack';

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
  lastGate?: GateReport | undefined;
  /** The latest decisions, oldest first (capped, so history stays small). */
  decisions: Decision[];
  startedAtMs: number;
  /** The sequence number of the last event sent to notification targets; only with targets. */
  notificationSeq?: number | undefined;
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
}

/** What rollback must undo, as data so it survives continue-as-new. */
export type UndoAction = { kind: 'restoreRoutes' } | { kind: 'deleteGreen' };

export interface BakeProgress {
  stepIndex: number;
  elapsedMs: number;
  stepStart: MetricsSnapshot;
  lastTick: MetricsSnapshot;
}

export interface CarriedState {
  status: RolloutStatus;
  undo: UndoAction[];
  bake?: BakeProgress | undefined;
}
