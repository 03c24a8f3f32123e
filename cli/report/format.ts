// What the md, html and SVG renderings of a report share: how numbers read
// (so the three agree to the digit), the headline, the limits and where each
// figure comes from.
import { LATENCY_RATIO_FLOOR_MS } from '../../analysis/evaluate.js';
import type { WindowStats } from '../../analysis/window.js';
import { formatDuration } from '../../policies/units.js';
import type { GateReport } from '../../workflows/types.js';
import type { GateTick, ReportLimits, RolloutEvidence } from './evidence.js';

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return 'n/a';
  return ms >= 10 ? `${Math.round(ms)} ms` : `${Number(ms.toFixed(1))} ms`;
}

/** A measured share: one decimal, two when tiny (`0.0%`, `1.7%`, `0.05%`). */
export function formatRate(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined) return 'n/a';
  const pct = fraction * 100;
  return `${pct.toFixed(pct !== 0 && Math.abs(pct) < 0.1 ? 2 : 1)}%`;
}

/** A configured share as written in the policy (`1%`, `0.5%`). */
export function formatLimitRate(fraction: number): string {
  return `${Number((fraction * 100).toFixed(4))}%`;
}

/** Time since the rollout started: `0:07`, `12:30`, `1:02:03`. */
export function formatOffset(ms: number): string {
  // Floored, as a clock shows it: a step that started at 4.5 s started in second 0:04.
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

export function formatTime(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

export function headline(e: RolloutEvidence): string {
  switch (e.state) {
    case 'promoted':
      return 'PROMOTED';
    case 'rolled-back':
      return 'ROLLED BACK';
    case 'running':
      return 'RUNNING (so far)';
    case 'failed':
      return `WORKFLOW ${e.execution.replace('_', ' ')}`;
  }
}

export function durationText(e: RolloutEvidence): string {
  const end = e.endedAtMs ?? e.generatedAtMs;
  return `${formatDuration(Math.round((end - e.startedAtMs) / 1000) * 1000)}${e.endedAtMs === undefined ? ' so far' : ''}`;
}

export interface LimitRow {
  check: string;
  limit: string;
  /** The series the figure is computed from. */
  series: string;
}

/** The policy's limits, each with the series its figure is computed from. */
export function limitRows(limits: ReportLimits): LimitRow[] {
  const latency = (q: string) => `histogram_quantile(${q}) of green's \`saferoll_request_duration_seconds\` buckets over the window`;
  const rows: LimitRow[] = [];
  if (limits.p95Ms !== undefined) rows.push({ check: 'green p95 latency', limit: `≤ ${formatMs(limits.p95Ms)}`, series: latency('0.95') });
  if (limits.p99Ms !== undefined) rows.push({ check: 'green p99 latency', limit: `≤ ${formatMs(limits.p99Ms)}`, series: latency('0.99') });
  if (limits.errorRate !== undefined) {
    rows.push({
      check: 'green error rate',
      limit: `≤ ${formatLimitRate(limits.errorRate)}`,
      series: "green's `saferoll_requests_total` answered 5xx (or with no status) ÷ all, over the window",
    });
  }
  if (limits.latencyRatio !== undefined) {
    rows.push({
      check: 'green p95 ÷ blue p95',
      limit: `≤ ${limits.latencyRatio}×`,
      series: `the two p95s of the same window (ignored while green is within ${LATENCY_RATIO_FLOOR_MS} ms of blue)`,
    });
  }
  if (limits.errorRateDelta !== undefined) {
    rows.push({ check: 'green − blue error rate', limit: `≤ ${formatLimitRate(limits.errorRateDelta)}`, series: 'the two error rates of the same window' });
  }
  if (limits.abortRate !== undefined) {
    rows.push({
      check: 'green client hang-ups',
      limit: `≤ ${formatLimitRate(limits.abortRate)}`,
      series: "green's `saferoll_client_aborts_total` ÷ (its answers + hang-ups), over the window, when blue is not compared",
    });
  }
  if (limits.abortRateDelta !== undefined) {
    rows.push({
      check: 'green − blue hang-up share',
      limit: `≤ ${formatLimitRate(limits.abortRateDelta)}`,
      series: 'the two hang-up shares of the same window (while blue has the minimum answers)',
    });
  }
  rows.push({
    check: 'green answers',
    limit: `≥ ${limits.minRequests}`,
    series: "green's `saferoll_requests_total` over the window; fewer is inconclusive, never a pass",
  });
  rows.push({ check: 'gate interval', limit: `every ${formatDuration(limits.intervalMs)}`, series: 'one reading of the counters per interval' });
  return rows;
}

export const SOURCE_NOTE = [
  'Every figure comes from the `measureWindows` activity results in the workflow history (event id given per reading):',
  "the routing core's counters for the endpoint, read at each gate tick, minus those read at the window's start",
  "(PromQL `increase` then `histogram_quantile`). Green's series is its mirrored copies during a mirror step and its",
  "live traffic otherwise; blue's is always live. Two windows per reading: **step** (since the step started; it alone",
  'can pass a step) and **interval** (since the previous reading; a breach in either fails the step at once).',
  "The verdict of each reading applies the policy's limits to these windows exactly as the workflow does.",
].join(' ');

/** The figures of the window that decided a reading (the step so far, or the interval when it alone failed). */
export function decidingWindows(tick: GateTick): { green: WindowStats; blue: WindowStats | undefined } {
  const w = tick.windows;
  return tick.gate.window === 'interval' ? { green: w.greenInterval, blue: w.blueInterval } : { green: w.greenStep, blue: w.blueStep };
}

export function windowName(gate: GateReport): string {
  return gate.window;
}

/** `Failed: errors 100.0% > 1%` — the phase and, unless it passed, what held it. */
export function verdictText(gate: GateReport): string {
  if (gate.phase === 'Successful') return 'Successful';
  return `${gate.phase}: ${gate.summary.replace(/^(failed|inconclusive): /, '')}`;
}

/** Where a reading is in the history: its event id, prefixed by the run's number when the rollout continued as new. */
export function eventRef(e: RolloutEvidence, tick: GateTick): string {
  return e.runIds.length > 1 ? `run ${e.runIds.indexOf(tick.runId) + 1} #${tick.eventId}` : `#${tick.eventId}`;
}

export function stepLabel(index: number, description: string): string {
  return `${index + 1} ${description}`;
}
