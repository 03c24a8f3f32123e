// A fixed rollout for the report's unit tests, built from hand-written runs:
// a mirror step that passes, then a 10% traffic step whose green p95 (312 ms)
// breaks the 250 ms limit, and the rollback. Times are offsets from T0.
import type { WindowStats } from '../../../analysis/window.js';
import type { RunRecord, MeasuredTick } from '../../../cli/report/read-history.js';
import { buildEvidence, type RolloutEvidence } from '../../../cli/report/evidence.js';
import { judgeTick, gateRules } from '../../../workflows/gate-decision.js';
import type { Policy } from '../../../policies/types.js';
import type { Decision, RolloutInput } from '../../../workflows/types.js';

export const T0 = Date.UTC(2026, 0, 15, 10, 0, 0);

export const POLICY: Policy = {
  name: 'fixture',
  slo: { latency: { p95Ms: 250, p99Ms: 1000 }, errorRate: 0.01, minRequests: 20 },
  baseline: { latencyRatio: 1.25, errorRateDelta: 0.005 },
  analysis: { intervalMs: 1000 },
  steps: [
    { kind: 'create' },
    { kind: 'mirror', percent: 10, forMs: 3000 },
    { kind: 'traffic', percent: 10, forMs: 3000 },
    { kind: 'approval' },
    { kind: 'traffic', percent: 100, forMs: 3000 },
    { kind: 'deleteBlue', afterMs: 0 },
  ],
  onFailure: { keepGreen: false },
};

export const INPUT: RolloutInput = {
  endpoint: 'scoring',
  policy: POLICY,
  green: { name: 'v2', instanceCount: 1, source: { upstreams: ['http://127.0.0.1:9'] } },
  blue: 'v1',
  policySource: 'fixture.yaml',
};

/** A window of `requests` answers, `errors` of them 5xx, with these quantiles. */
export function win(requests: number, errors: number, p95Ms: number | null, p99Ms: number | null = p95Ms): WindowStats {
  return { requests, errors, errorRate: requests > 0 ? errors / requests : null, p95Ms, p99Ms, buckets: [], overflow: 0, seconds: 1 };
}

export function tick(
  eventId: number,
  atOffsetMs: number,
  greenTraffic: 'live' | 'mirror',
  green: [WindowStats, WindowStats],
  blue: [WindowStats, WindowStats],
  runId = 'run-1',
): MeasuredTick {
  return {
    runId,
    eventId,
    scheduledAtMs: T0 + atOffsetMs - 5,
    takenAtMs: T0 + atOffsetMs,
    greenTraffic,
    green: 'v2',
    blue: 'v1',
    windows: { greenStep: green[0], greenInterval: green[1], blueStep: blue[0], blueInterval: blue[1] },
  };
}

export const TICKS: MeasuredTick[] = [
  tick(40, 2000, 'mirror', [win(30, 0, 40, 80), win(30, 0, 40, 80)], [win(300, 0, 38, 70), win(300, 0, 38, 70)]),
  tick(51, 3000, 'mirror', [win(60, 0, 45, 90), win(30, 0, 47, 95)], [win(600, 1, 40, 72), win(300, 1, 41, 75)]),
  tick(62, 4000, 'mirror', [win(90, 0, 42, 88), win(30, 0, 41, 85)], [win(900, 1, 41, 74), win(300, 0, 42, 77)]),
  tick(80, 5600, 'live', [win(25, 0, 52, 90), win(25, 0, 52, 90)], [win(230, 0, 44, 80), win(230, 0, 44, 80)]),
  tick(91, 6600, 'live', [win(50, 0, 312, 480), win(25, 0, 330, 500)], [win(460, 0, 45, 82), win(230, 0, 46, 84)]),
];

const decision = (offsetMs: number, step: number, kind: Decision['kind'], message: string): Decision => ({ atMs: T0 + offsetMs, step, kind, message });

export const DECISIONS: Decision[] = [
  decision(0, 0, 'step', 'rollout of "v2" replacing "v1" on scoring with policy fixture'),
  decision(0, 0, 'step', 'step 1/6: create'),
  decision(1000, 1, 'step', 'step 2/6: mirror 10% 3s'),
  decision(3000, 1, 'operator', 'paused | by <b>ops</b> & co'),
  decision(4500, 1, 'gate', 'bake of 3s passed: all checks hold over 90 requests'),
  decision(4500, 2, 'step', 'step 3/6: traffic 10% 3s'),
  decision(6600, 2, 'rollback', 'rolling back: gate failed: p95 312ms > 250ms'),
  decision(6800, 2, 'done', 'rolled back: gate failed: p95 312ms > 250ms'),
];

const lastTick = TICKS.at(-1);
export const LAST_GATE = lastTick ? judgeTick(gateRules(POLICY), lastTick.windows, T0 + 6610).report : undefined;

export const RUN: RunRecord = {
  runId: 'run-1',
  startedAtMs: T0,
  closedAtMs: T0 + 6800,
  previousRunId: undefined,
  input: INPUT,
  ticks: TICKS,
  closure: {
    kind: 'completed',
    result: {
      outcome: 'rolled-back',
      endpoint: 'scoring',
      blue: 'v1',
      green: 'v2',
      reason: 'gate failed: failed: p95 312ms > 250ms FAILED',
      failedStep: { index: 2, description: 'traffic 10% 3s' },
      lastGate: LAST_GATE,
      decisions: DECISIONS,
      durationMs: 6800,
    },
  },
  skipped: [],
};

export function fixtureEvidence(): RolloutEvidence {
  return buildEvidence({ workflowId: 'rollout-scoring', runs: [RUN], generatedAtMs: T0 + 60_000 });
}
