// How a rollout reads in a terminal: the progress block, decision lines and
// the final verdict, built from the workflow's status query and its result.
import { formatGateResult } from '../analysis/evaluate.js';
import type { Decision, GateReport, RolloutResult, RolloutStatus } from '../workflows/types.js';

export function trafficText(status: Pick<RolloutStatus, 'traffic' | 'mirrorPercent'>): string {
  const mirror = status.mirrorPercent > 0 ? `, mirror ${status.mirrorPercent}%` : '';
  return `blue ${status.traffic.blue}% / green ${status.traffic.green}%${mirror}`;
}

export function stepText(status: RolloutStatus): string {
  return `step ${Math.min(status.stepIndex + 1, status.stepCount)}/${status.stepCount}: ${status.step}`;
}

/** `Failed (step window, green n=40, blue n=200): p95 312ms > 250ms FAILED; ...` */
export function gateText(gate: GateReport | undefined): string {
  if (!gate) return 'not measured yet';
  return `${gate.phase} (${gate.window} window, green n=${gate.greenRequests}, blue n=${gate.blueRequests}): ${formatGateResult(gate)}`;
}

export function flagsText(status: RolloutStatus): string {
  return [
    status.paused ? 'PAUSED (saferoll resume)' : '',
    status.waitingForApproval ? 'WAITING FOR APPROVAL (saferoll approve)' : '',
    status.heldOnFailure ? 'HELD ON A FAILED GATE (saferoll rollback | promote --force | abort)' : '',
  ]
    .filter(Boolean)
    .join('  ');
}

/** The redrawn block of a followed rollout, and the body of `saferoll status <endpoint>`. */
export function statusLines(status: RolloutStatus, nowMs = Date.now()): string[] {
  const lines = [
    `${status.endpoint}: green "${status.green}" replacing blue "${status.blue || '?'}" (policy ${status.policy})`,
    `  ${stepText(status)}   phase ${status.phase}${flagsText(status) ? `   ${flagsText(status)}` : ''}`,
    `  traffic: ${trafficText(status)}`,
    `  gate: ${gateText(status.lastGate)}`,
  ];
  if (status.bakeEndsAtMs !== undefined) {
    const left = Math.max(0, Math.ceil((status.bakeEndsAtMs - nowMs) / 1000));
    lines.push(`  bake: ${left}s left${status.paused ? ' (clock stopped while paused)' : ''}`);
  }
  if (status.approvalEndsAtMs !== undefined && status.waitingForApproval) {
    lines.push(`  approval: times out in ${Math.max(0, Math.ceil((status.approvalEndsAtMs - nowMs) / 1000))}s (then rolls back)`);
  }
  if (status.heldOnFailure) {
    const left = Math.max(0, Math.ceil((status.heldOnFailure.endsAtMs - nowMs) / 1000));
    lines.push(`  held: ${status.heldOnFailure.reason}; rolls back by itself in ${left}s`);
  }
  if (status.watchEndsAtMs !== undefined && status.phase === 'DeletingBlue') {
    const left = Math.max(0, Math.ceil((status.watchEndsAtMs - nowMs) / 1000));
    lines.push(`  watch window: blue "${status.blue}" is deleted in ${left}s (saferoll rollback puts it back until then)`);
  }
  const last = status.decisions.at(-1);
  if (last) lines.push(`  latest: ${last.message}`);
  return lines;
}

export function decisionLine(decision: Decision): string {
  return `${clock(decision.atMs)}  ${decision.message}`;
}

export function decisionKey(decision: Decision): string {
  return `${decision.atMs}|${decision.message}`;
}

/** The verdict, with the reason last so it is the line a reader (or CI log) ends on. */
export function resultLines(result: RolloutResult, workflowId: string): string[] {
  const took = `${Math.round(result.durationMs / 1000)}s`;
  if (result.outcome === 'promoted') {
    return [`PROMOTED ${workflowId} in ${took}: green "${result.green}" serves 100% of ${result.endpoint}`, `  reason: ${result.reason}`];
  }
  const lines = [`ROLLED BACK ${workflowId} after ${took}: blue "${result.blue}" serves 100% of ${result.endpoint}, mirror off`];
  if (result.failedStep) lines.push(`  failed step: ${result.failedStep.index + 1} (${result.failedStep.description})`);
  if (result.lastGate) lines.push(`  gate: ${gateText(result.lastGate)}`);
  lines.push(`  reason: ${result.reason}`);
  return lines;
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}
