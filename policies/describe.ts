// A policy in one line, for the CLI and the workflow's details in the
// Temporal UI: the steps in order, then the gates.

import type { Policy, PolicyStep } from './types.js';
import { formatDuration, formatRate } from './units.js';

/**
 * `quick: create → smoke ×3 → mirror 10% 5s → traffic 10% 5s → traffic 100% 5s → deleteBlue;
 * gates p95≤250ms errors≤1% (min 20 req), vs blue p95≤1.5×, every 1s` (one line).
 */
export function describePlan(policy: Policy): string {
  const steps = policy.steps.map(describeStep).join(' → ');
  const hold = policy.onFailure.action === 'pause' ? `; a failed gate holds ≤${formatDuration(policy.onFailure.timeoutMs ?? 0)}` : '';
  return `${policy.name}: ${steps}; ${describeGates(policy)}, every ${formatDuration(policy.analysis.intervalMs)}${hold}`;
}

export function describeStep(step: PolicyStep): string {
  switch (step.kind) {
    case 'create':
      return 'create';
    case 'smoke':
      return `smoke ×${step.requests}`;
    case 'mirror':
    case 'traffic':
      return `${step.kind} ${step.percent}% ${formatDuration(step.forMs)}`;
    case 'approval':
      return step.timeoutMs === undefined ? 'approval' : `approval ≤${formatDuration(step.timeoutMs)}`;
    case 'deleteBlue':
      return step.afterMs === 0 ? 'deleteBlue' : `deleteBlue after ${formatDuration(step.afterMs)}`;
  }
}

function describeGates({ slo, baseline }: Policy): string {
  const limits: string[] = [];
  if (slo.latency.p95Ms !== undefined) limits.push(`p95≤${formatDuration(slo.latency.p95Ms)}`);
  if (slo.latency.p99Ms !== undefined) limits.push(`p99≤${formatDuration(slo.latency.p99Ms)}`);
  if (slo.errorRate !== undefined) limits.push(`errors≤${formatRate(slo.errorRate)}`);
  if (slo.abortRate !== undefined) limits.push(`aborts≤${formatRate(slo.abortRate)}`);
  let text = `gates ${limits.join(' ')} (min ${slo.minRequests} req)`;

  const vsBlue: string[] = [];
  if (baseline.latencyRatio !== undefined) vsBlue.push(`p95≤${baseline.latencyRatio}×`);
  if (baseline.errorRateDelta !== undefined) vsBlue.push(`errors≤+${formatRate(baseline.errorRateDelta)}`);
  if (baseline.abortRateDelta !== undefined) vsBlue.push(`aborts≤+${formatRate(baseline.abortRateDelta)}`);
  if (vsBlue.length > 0) text += `, vs blue ${vsBlue.join(' ')}`;
  return text;
}
