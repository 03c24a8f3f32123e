// A policy in one line, for the CLI and the workflow's details in the
// Temporal UI: the steps in order, then the gates.

import { DEFAULT_ABORT_RATE, DEFAULT_ABORT_RATE_DELTA } from './abort-limits.js';
import type { CustomMetric, MirrorCompare, Policy, PolicyStep } from './types.js';
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
      return `mirror ${step.percent}% ${formatDuration(step.forMs)}${step.compare ? ` ${describeCompare(step.compare)}` : ''}`;
    case 'traffic':
      return `traffic ${step.percent}% ${formatDuration(step.forMs)}`;
    case 'approval':
      return step.timeoutMs === undefined ? 'approval' : `approval ≤${formatDuration(step.timeoutMs)}`;
    case 'deleteBlue':
      return step.afterMs === 0 ? 'deleteBlue' : `deleteBlue after ${formatDuration(step.afterMs)}`;
  }
}

function describeGates({ slo, baseline, analysis }: Policy): string {
  const limits: string[] = [];
  if (slo.latency.p95Ms !== undefined) limits.push(`p95≤${formatDuration(slo.latency.p95Ms)}`);
  if (slo.latency.p99Ms !== undefined) limits.push(`p99≤${formatDuration(slo.latency.p99Ms)}`);
  if (slo.errorRate !== undefined) limits.push(`errors≤${formatRate(slo.errorRate)}`);
  // Hang-ups are always judged: a policy that names no limit gets the defaults, shown as such.
  limits.push(`aborts≤${formatRate(slo.abortRate ?? DEFAULT_ABORT_RATE)}`);
  let text = `gates ${limits.join(' ')} (min ${slo.minRequests} req)`;
  // Where those figures come from, when it is not the router's own /metrics.
  if (analysis.source !== undefined) text += ` from Prometheus ${analysis.source.prometheus.address ?? "(the worker's SAFEROLL_PROMETHEUS_URL)"}`;

  const vsBlue: string[] = [];
  if (baseline.latencyRatio !== undefined) vsBlue.push(`p95≤${baseline.latencyRatio}×`);
  if (baseline.errorRateDelta !== undefined) vsBlue.push(`errors≤+${formatRate(baseline.errorRateDelta)}`);
  vsBlue.push(`aborts≤+${formatRate(baseline.abortRateDelta ?? DEFAULT_ABORT_RATE_DELTA)}`);
  if (vsBlue.length > 0) text += `, vs blue ${vsBlue.join(' ')}`;
  const custom = (analysis.metrics ?? []).map(describeCustomMetric);
  if (custom.length > 0) text += `, custom ${custom.join(' ')}`;
  return text;
}

/** `(compare mismatch≤1% PSI≤0.2, min 100 pairs)` */
function describeCompare(compare: MirrorCompare): string {
  const limits: string[] = [];
  if (compare.maxMismatch !== undefined) limits.push(`mismatch≤${formatRate(compare.maxMismatch)}`);
  if (compare.maxPsi !== undefined) limits.push(`PSI≤${compare.maxPsi}`);
  return `(compare ${limits.join(' ')}, min ${compare.minPairs} pairs)`;
}

/** `accuracy[prometheus]≥0.92,drop≤0.01` */
function describeCustomMetric(check: CustomMetric): string {
  const rules: string[] = [];
  if (check.min !== undefined) rules.push(`≥${check.min}`);
  if (check.max !== undefined) rules.push(`≤${check.max}`);
  if (check.baseline?.maxRatio !== undefined) rules.push(`blue×≤${check.baseline.maxRatio}`);
  if (check.baseline?.maxDelta !== undefined) rules.push(`blue+≤${check.baseline.maxDelta}`);
  if (check.baseline?.maxDrop !== undefined) rules.push(`drop≤${check.baseline.maxDrop}`);
  return `${check.name}[${'prometheus' in check ? 'prometheus' : 'web'}]${rules.join(',')}`;
}
