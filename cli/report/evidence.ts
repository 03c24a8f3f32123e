// The evidence of one rollout, as the report renders it: its verdict, the
// policy's limits, each step with every gate reading taken in it, and the
// decision trail. Built (purely) from the runs' histories plus the workflow's
// status query; every reading keeps the history event it came from.
import type { GateRules } from '../../analysis/evaluate.js';
import { describeStep } from '../../policies/describe.js';
import type { PolicyStepKind } from '../../policies/types.js';
import type { TickWindows } from '../../activities/types.js';
import { gateRules, judgeTick } from '../../workflows/gate-decision.js';
import type { Decision, GateReport, RolloutStatus } from '../../workflows/types.js';
import type { RunRecord } from './read-history.js';

export const EVIDENCE_SCHEMA = 'saferoll.report/v1';

export type ReportState = 'running' | 'promoted' | 'rolled-back' | 'failed';
export type StepState = 'passed' | 'rolled back' | 'running' | 'interrupted' | 'not reached';

export interface GateTick {
  runId: string;
  /** The history event (ActivityTaskCompleted of measureWindows) the windows were read from. */
  eventId: number;
  /** When the router's counters were read: the end of both windows. */
  atMs: number;
  /** Index into `steps`, or null when the decision trail no longer reaches back to this reading. */
  stepIndex: number | null;
  greenTraffic: 'live' | 'mirror';
  /** Exactly as measureWindows returned them: the bake so far ("step") and the latest interval, green and blue. */
  windows: TickWindows;
  /** The gate's reading of these windows under the policy's rules (the workflow's judgeTick). */
  gate: GateReport;
}

export interface StepEvidence {
  index: number;
  kind: PolicyStepKind;
  description: string;
  /** When the workflow entered the step (its decision trail). */
  startedAtMs: number | undefined;
  state: StepState;
  ticks: GateTick[];
}

export interface ReportLimits extends GateRules {
  intervalMs: number;
}

export interface RolloutEvidence {
  schema: typeof EVIDENCE_SCHEMA;
  workflowId: string;
  /** Every run of this rollout (continue-as-new), oldest first. */
  runIds: string[];
  endpoint: string;
  blue: string;
  green: string;
  policy: string;
  policySource: string | undefined;
  state: ReportState;
  /** Temporal's status of the latest run. */
  execution: 'RUNNING' | 'COMPLETED' | 'FAILED' | 'TERMINATED' | 'TIMED_OUT' | 'CANCELED';
  reason: string;
  failedStep: { index: number; description: string } | undefined;
  startedAtMs: number;
  endedAtMs: number | undefined;
  generatedAtMs: number;
  limits: ReportLimits;
  /** The workflow's own latest gate reading (its result, or its status query while it runs). */
  lastGate: GateReport | undefined;
  rollbackAtMs: number | undefined;
  steps: StepEvidence[];
  /** Readings whose step is unknown (older than the decision trail). */
  unplacedTicks: GateTick[];
  decisions: Decision[];
  notes: string[];
}

export interface EvidenceSource {
  workflowId: string;
  /** Oldest first; at least one. */
  runs: RunRecord[];
  /** The status query's answer, when a worker gave one. */
  status?: RolloutStatus | undefined;
  statusError?: string | undefined;
  generatedAtMs: number;
}

export function buildEvidence(source: EvidenceSource): RolloutEvidence {
  const first = source.runs[0];
  const last = source.runs.at(-1);
  if (!first || !last) throw new Error('no run to report on');
  const { policy, endpoint } = first.input;
  const closure = last.closure;
  const result = closure.kind === 'completed' ? closure.result : undefined;
  const status = source.status;
  const notes: string[] = [];

  const decisions = mergeDecisions(source.runs, result?.decisions, status?.decisions);
  const stepStarts = new Map<number, number>();
  for (const d of decisions) {
    const known = stepStarts.get(d.step);
    if (d.kind === 'step' && (known === undefined || d.atMs < known)) stepStarts.set(d.step, d.atMs);
  }
  const rollbackAtMs = decisions.find((d) => d.kind === 'rollback')?.atMs;

  const rules = gateRules(policy);
  const ticks: GateTick[] = source.runs.flatMap((run) =>
    run.ticks.map((t) => ({
      runId: t.runId,
      eventId: t.eventId,
      atMs: t.takenAtMs,
      stepIndex: stepAt(stepStarts, t.scheduledAtMs),
      greenTraffic: t.greenTraffic,
      windows: t.windows,
      gate: judgeTick(rules, t.windows, t.takenAtMs).report,
    })),
  );

  const state: ReportState =
    closure.kind === 'completed' ? closure.result.outcome : closure.kind === 'running' || closure.kind === 'continued' ? 'running' : 'failed';
  const reached = Math.max(-1, ...stepStarts.keys(), status?.stepIndex ?? -1);
  const current = status?.stepIndex ?? reached;
  const failedIndex = result?.failedStep?.index;
  const stepState = (i: number): StepState => {
    if (state === 'promoted') return 'passed';
    if (state === 'rolled-back')
      return failedIndex === undefined
        ? i <= reached
          ? 'passed'
          : 'not reached'
        : i < failedIndex
          ? 'passed'
          : i === failedIndex
            ? 'rolled back'
            : 'not reached';
    if (i < current) return 'passed';
    if (i > current) return 'not reached';
    return state === 'running' ? 'running' : 'interrupted';
  };
  const steps: StepEvidence[] = policy.steps.map((step, index) => ({
    index,
    kind: step.kind,
    description: describeStep(step),
    startedAtMs: stepStarts.get(index),
    state: stepState(index),
    ticks: ticks.filter((t) => t.stepIndex === index),
  }));
  const unplacedTicks = ticks.filter((t) => t.stepIndex === null);

  if (source.statusError) notes.push(`the status query was not answered (${source.statusError}); the decision trail comes from the history only`);
  if (unplacedTicks.length > 0) {
    notes.push(`${unplacedTicks.length} gate reading(s) are older than the decision trail (it keeps the latest 50 entries), so their step is not known`);
  }
  const skipped = source.runs.reduce((n, r) => n + r.skipped.length, 0);
  if (skipped > 0) notes.push(`${skipped} measureWindows result(s) in the history have a shape this saferoll does not read; they are left out`);
  const lastGate = result ? result.lastGate : status?.lastGate;
  const recomputed = ticks.at(-1)?.gate;
  if (state !== 'running' && lastGate && recomputed && !sameReading(lastGate, recomputed)) {
    notes.push(
      "the workflow's own last gate reading differs from the one recomputed here from the same windows: the worker that ran this rollout judged gates with other rules than this saferoll",
    );
  }

  return {
    schema: EVIDENCE_SCHEMA,
    workflowId: source.workflowId,
    runIds: source.runs.map((r) => r.runId),
    endpoint,
    blue: result?.blue || status?.blue || first.input.blue || first.input.carried?.status.blue || source.runs.flatMap((r) => r.ticks)[0]?.blue || '',
    green: first.input.green.name,
    policy: policy.name,
    policySource: first.input.policySource,
    state,
    execution: executionOf(closure.kind),
    reason: reasonOf(closure, status),
    failedStep: result?.failedStep,
    startedAtMs: first.startedAtMs,
    endedAtMs: closure.kind === 'running' || closure.kind === 'continued' ? undefined : last.closedAtMs,
    generatedAtMs: source.generatedAtMs,
    limits: { ...rules, intervalMs: policy.analysis.intervalMs },
    lastGate,
    rollbackAtMs,
    steps,
    unplacedTicks,
    decisions,
    notes,
  };
}

/** The step a reading belongs to: the latest step the workflow had entered when it asked for the reading. */
function stepAt(stepStarts: Map<number, number>, atMs: number): number | null {
  let best: number | null = null;
  let bestAt = -Infinity;
  for (const [step, startMs] of stepStarts) {
    if (startMs <= atMs && (startMs > bestAt || (startMs === bestAt && best !== null && step > best))) {
      best = step;
      bestAt = startMs;
    }
  }
  return best;
}

/** Every run carries a capped trail; together (and with the final one) they reach furthest back. */
function mergeDecisions(runs: RunRecord[], ...finals: (Decision[] | undefined)[]): Decision[] {
  const lists = [
    ...runs.flatMap((r) => [r.input.carried?.status.decisions, r.closure.kind === 'continued' ? r.closure.carried?.status.decisions : undefined]),
    ...finals,
  ];
  const seen = new Set<string>();
  const merged: Decision[] = [];
  for (const list of lists) {
    for (const d of list ?? []) {
      const key = `${d.atMs}|${d.step}|${d.kind}|${d.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      merged.push(d);
    }
  }
  // Stable: decisions of one instant keep the order the workflow made them in.
  return merged.sort((a, b) => a.atMs - b.atMs);
}

function sameReading(a: GateReport, b: GateReport): boolean {
  // Custom checks' readings and shadow pairs are not in the measured windows, so only the built-in part can be recomputed (and the phase only without them).
  const builtIn = (r: GateReport) => r.checks.filter((c) => c.metric !== 'custom' && c.metric !== 'shadowMismatch' && c.metric !== 'shadowPsi');
  const withCustom = builtIn(a).length !== a.checks.length;
  return (
    (withCustom || a.phase === b.phase) &&
    a.window === b.window &&
    a.greenRequests === b.greenRequests &&
    JSON.stringify(builtIn(a)) === JSON.stringify(builtIn(b))
  );
}

function executionOf(kind: RunRecord['closure']['kind']): RolloutEvidence['execution'] {
  switch (kind) {
    case 'running':
    case 'continued':
      return 'RUNNING';
    case 'completed':
      return 'COMPLETED';
    case 'failed':
      return 'FAILED';
    case 'terminated':
      return 'TERMINATED';
    case 'timed-out':
      return 'TIMED_OUT';
    case 'canceled':
      return 'CANCELED';
  }
}

function reasonOf(closure: RunRecord['closure'], status: RolloutStatus | undefined): string {
  switch (closure.kind) {
    case 'completed':
      return closure.result.reason;
    case 'running':
    case 'continued':
      return status
        ? `running: step ${Math.min(status.stepIndex + 1, status.stepCount)}/${status.stepCount} (${status.step}), phase ${status.phase}${status.paused ? ', paused' : ''}${status.waitingForApproval ? ', waiting for approval' : ''}`
        : 'running';
    default:
      return `${closure.message}; no rollback ran, so check the endpoint's traffic (saferoll endpoint show)`;
  }
}
