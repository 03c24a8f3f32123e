import { describe, expect, it } from 'vitest';
import {
  EARLY_FAIL_ALPHA,
  combineGateResults,
  evaluateGate,
  formatGateResult,
  type GateMetric,
  type GatePhase,
  type GateResult,
  type GateRules,
} from '../../analysis/evaluate.js';
import type { WindowStats } from '../../analysis/window.js';
import { constant, healthyLatencyMs, seededRandom, windowOf, windowWithAborts } from './helpers.js';

const RULES: GateRules = { p95Ms: 250, errorRate: 0.01, minRequests: 50 };

function healthy(n: number, seed = 7): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => healthyLatencyMs(random));
}

function phaseOf(result: GateResult, metric: GateMetric): GatePhase | undefined {
  return result.checks.find((c) => c.metric === metric)?.phase;
}

describe('evaluateGate: absolute SLOs on green', () => {
  it.each<{ name: string; rules?: Partial<GateRules>; latenciesMs: number[]; errors?: number; phase: GatePhase; decidedBy?: GateMetric }>([
    { name: 'healthy green with latency noise passes at minRequests', latenciesMs: healthy(50), phase: 'Successful' },
    { name: 'the same green one request short is inconclusive, never a pass', latenciesMs: healthy(49), phase: 'Inconclusive', decidedBy: 'requests' },
    { name: 'no requests at all is inconclusive', latenciesMs: [], phase: 'Inconclusive', decidedBy: 'requests' },
    // Errors at a 1% limit, below minRequests: the exact test at 99.99% decides.
    { name: 'all-500 green fails with 10 samples', latenciesMs: constant(10, 20), errors: 10, phase: 'Failed', decidedBy: 'errorRate' },
    { name: 'all-500 green fails with 3 samples (P = 1e-6 at 1%)', latenciesMs: constant(3, 20), errors: 3, phase: 'Failed', decidedBy: 'errorRate' },
    { name: '2 of 2 errors stays under the 3-error floor', latenciesMs: constant(2, 20), errors: 2, phase: 'Inconclusive', decidedBy: 'errorRate' },
    { name: '3 errors in 10 is not overwhelming at 1% (P = 1.14e-4)', latenciesMs: constant(10, 20), errors: 3, phase: 'Inconclusive', decidedBy: 'errorRate' },
    { name: '4 errors in 10 is (P = 2.0e-6)', latenciesMs: constant(10, 20), errors: 4, phase: 'Failed', decidedBy: 'errorRate' },
    {
      name: '1 error in 60 at 1% is not failed below minRequests',
      rules: { minRequests: 100 },
      latenciesMs: constant(60, 20),
      errors: 1,
      phase: 'Inconclusive',
      decidedBy: 'errorRate',
    },
    {
      name: '5 errors in 60 is not yet (P = 3.5e-4)',
      rules: { minRequests: 100 },
      latenciesMs: constant(60, 20),
      errors: 5,
      phase: 'Inconclusive',
      decidedBy: 'errorRate',
    },
    { name: '6 errors in 60 is (P = 3.2e-5)', rules: { minRequests: 100 }, latenciesMs: constant(60, 20), errors: 6, phase: 'Failed', decidedBy: 'errorRate' },
    // At minRequests point estimates decide.
    {
      name: '1 error in 100 at 1% passes at minRequests (1.0% <= 1%)',
      rules: { minRequests: 100 },
      latenciesMs: constant(100, 20),
      errors: 1,
      phase: 'Successful',
    },
    {
      name: '2 errors in 100 fail at minRequests (2.0% > 1%)',
      rules: { minRequests: 100 },
      latenciesMs: constant(100, 20),
      errors: 2,
      phase: 'Failed',
      decidedBy: 'errorRate',
    },
    // Latency below minRequests: only requests in buckets starting at or above the limit count as slow.
    { name: '+300 ms green fails early on p95 with 15 samples', latenciesMs: healthy(15).map((ms) => ms + 300), phase: 'Failed', decidedBy: 'p95' },
    {
      name: '3 of 3 at 300 ms (bucket (250,300]) is not overwhelming at 5% (P = 1.25e-4)',
      latenciesMs: constant(3, 300),
      phase: 'Inconclusive',
      decidedBy: 'p95',
    },
    { name: '4 of 4 at 300 ms is (P = 6.25e-6)', latenciesMs: constant(4, 300), phase: 'Failed', decidedBy: 'p95' },
    { name: '5 slow of 15 is not (P = 6.1e-4)', latenciesMs: [...constant(10, 50), ...constant(5, 300)], phase: 'Inconclusive', decidedBy: 'p95' },
    { name: '6 slow of 15 is (P = 5.3e-5)', latenciesMs: [...constant(9, 50), ...constant(6, 300)], phase: 'Failed', decidedBy: 'p95' },
    {
      name: '240 ms with a 220 ms limit is not surely slower (bucket (200,250]) below minRequests',
      rules: { p95Ms: 220 },
      latenciesMs: constant(20, 240),
      phase: 'Inconclusive',
      decidedBy: 'p95',
    },
    { name: 'but its p95 of 247.5 ms fails at minRequests', rules: { p95Ms: 220 }, latenciesMs: constant(50, 240), phase: 'Failed', decidedBy: 'p95' },
    {
      name: 'p99 fails early at 1%: 4 of 10 over 500 ms',
      rules: { p99Ms: 500 },
      latenciesMs: [...constant(6, 50), ...constant(4, 600)],
      phase: 'Failed',
      decidedBy: 'p99',
    },
    {
      name: 'p99: 3 of 10 is not overwhelming at 1%',
      rules: { p95Ms: undefined, p99Ms: 500 },
      latenciesMs: [...constant(7, 50), ...constant(3, 600)],
      phase: 'Inconclusive',
      decidedBy: 'p99',
    },
    { name: 'a request past the last bucket counts as slow', latenciesMs: constant(4, 20_000), phase: 'Failed', decidedBy: 'p95' },
  ])('$name', ({ rules, latenciesMs, errors, phase, decidedBy }) => {
    const result = evaluateGate({ ...RULES, ...rules }, windowOf({ latenciesMs, errors }));
    expect(result.phase).toBe(phase);
    if (decidedBy !== undefined) expect(phaseOf(result, decidedBy)).toBe(phase);
  });

  it('names the evidence of an early failure', () => {
    const result = evaluateGate(RULES, windowOf({ latenciesMs: constant(10, 20), errors: 10 }));
    expect(result.checks.find((c) => c.metric === 'errorRate')?.note).toBe('10/10 errors, >= 39.8% at 99.99% confidence vs 1% allowed');
    expect(result.summary).toBe('failed: errors 100.0% > 1% FAILED (10/10 errors, >= 39.8% at 99.99% confidence vs 1% allowed)');
  });

  it('uses 99.99% one-sided confidence', () => {
    expect(EARLY_FAIL_ALPHA).toBe(1e-4);
  });

  it('is inconclusive when green has requests but no latency histogram', () => {
    const green: WindowStats = { requests: 60, errors: 0, errorRate: 0, p95Ms: null, p99Ms: null, buckets: [], overflow: 0, seconds: 10 };
    const result = evaluateGate(RULES, green);
    expect(result.phase).toBe('Inconclusive');
    expect(phaseOf(result, 'p95')).toBe('Inconclusive');
  });

  it('passes on request count alone when no SLO is set', () => {
    expect(evaluateGate({ minRequests: 10 }, windowOf({ latenciesMs: constant(10, 5_000), errors: 10 })).phase).toBe('Successful');
  });
});

describe('evaluateGate: baseline rules against blue', () => {
  const BASE: GateRules = { p95Ms: 1_000, errorRate: 0.05, minRequests: 50, latencyRatio: 1.2, errorRateDelta: 0.01 };
  // p95 inside (50,75] is 73.75 ms, inside (75,100] 98.75 ms.
  const blue = windowOf({ latenciesMs: constant(100, 60), errors: 1 });

  it.each<{ name: string; green: WindowStats; blue?: WindowStats; phase: GatePhase; ratio?: GatePhase; delta?: GatePhase }>([
    {
      name: 'green as fast and as clean as blue passes',
      green: windowOf({ latenciesMs: constant(60, 70), errors: 1 }),
      blue,
      phase: 'Successful',
      ratio: 'Successful',
      delta: 'Successful',
    },
    {
      name: 'green p95 1.34x blue fails the ratio',
      green: windowOf({ latenciesMs: constant(60, 90) }),
      blue,
      phase: 'Failed',
      ratio: 'Failed',
      delta: 'Successful',
    },
    {
      name: 'green 3% errors vs blue 1% fails the delta',
      green: windowOf({ latenciesMs: constant(100, 60), errors: 3 }),
      blue,
      phase: 'Failed',
      ratio: 'Successful',
      delta: 'Failed',
    },
    {
      name: 'green 2% errors vs blue 1% is exactly at the delta',
      green: windowOf({ latenciesMs: constant(100, 60), errors: 2 }),
      blue,
      phase: 'Successful',
      delta: 'Successful',
    },
    {
      name: 'blue under minRequests: baseline inconclusive, absolute SLOs decide',
      green: windowOf({ latenciesMs: constant(60, 90) }),
      blue: windowOf({ latenciesMs: constant(49, 20) }),
      phase: 'Successful',
      ratio: 'Inconclusive',
      delta: 'Inconclusive',
    },
    {
      name: 'no blue data: baseline inconclusive, absolute SLOs decide',
      green: windowOf({ latenciesMs: constant(60, 90) }),
      phase: 'Successful',
      ratio: 'Inconclusive',
      delta: 'Inconclusive',
    },
    { name: 'no blue data does not hide an absolute failure', green: windowOf({ latenciesMs: constant(60, 1_400) }), phase: 'Failed', ratio: 'Inconclusive' },
    {
      name: 'a ratio over the limit by only a few milliseconds (histogram resolution) holds',
      green: windowOf({ latenciesMs: constant(60, 40) }),
      blue: windowOf({ latenciesMs: constant(60, 20) }),
      phase: 'Successful',
      ratio: 'Successful',
    },
    {
      name: 'green under minRequests: everything waits',
      green: windowOf({ latenciesMs: constant(30, 90) }),
      blue,
      phase: 'Inconclusive',
      ratio: 'Inconclusive',
      delta: 'Inconclusive',
    },
  ])('$name', ({ green, blue: baseline, phase, ratio, delta }) => {
    const result = evaluateGate(BASE, green, baseline);
    expect(result.phase).toBe(phase);
    if (ratio !== undefined) expect(phaseOf(result, 'latencyRatio')).toBe(ratio);
    if (delta !== undefined) expect(phaseOf(result, 'errorRateDelta')).toBe(delta);
  });

  it('reports the ratio and the delta it compared', () => {
    const result = evaluateGate(BASE, windowOf({ latenciesMs: constant(60, 90), errors: 3 }), blue);
    expect(result.checks.find((c) => c.metric === 'latencyRatio')?.value).toBeCloseTo(98.75 / 73.75, 9);
    expect(result.checks.find((c) => c.metric === 'errorRateDelta')?.value).toBeCloseTo(0.05 - 0.01, 9);
  });

  it('says why blue was not compared', () => {
    const result = evaluateGate(BASE, windowOf({ latenciesMs: constant(60, 70) }), windowOf({ latenciesMs: constant(3, 70) }));
    expect(result.summary).toBe('all checks hold over 60 requests (not compared with blue: blue n=3 < 50)');
  });
});

describe('evaluateGate: client hang-ups (abort rate)', () => {
  const ABORTS: GateRules = { p95Ms: 250, errorRate: 0.01, minRequests: 50, abortRate: 0.05, abortRateDelta: 0.05 };
  const quietBlue = windowWithAborts({ latenciesMs: constant(400, 20) }, 0);
  // Clients that give up on 9% of blue's requests too (a short client timeout): not green's doing.
  const impatientBlue = windowWithAborts({ latenciesMs: constant(400, 20) }, 40);
  const answers = (n: number) => ({ latenciesMs: constant(n, 20) });

  it.each<{ name: string; green: WindowStats; blue?: WindowStats; phase: GatePhase; aborts: GatePhase | undefined; limit?: number }>([
    // Only hang-ups, no answers: a share of 100%, decided by the exact test as errors are.
    {
      name: 'a green that never answers fails after 4 hang-ups, alone (P = 6.25e-6 at 5%)',
      green: windowWithAborts(answers(0), 4),
      phase: 'Failed',
      aborts: 'Failed',
      limit: 0.05,
    },
    {
      name: '3 hang-ups and nothing else are not overwhelming (P = 1.25e-4)',
      green: windowWithAborts(answers(0), 3),
      phase: 'Inconclusive',
      aborts: 'Inconclusive',
    },
    {
      name: '8 of 8 hung up while blue answered 400: fails against blue',
      green: windowWithAborts(answers(0), 8),
      blue: quietBlue,
      phase: 'Failed',
      aborts: 'Failed',
      limit: 0.05,
    },
    { name: 'at minRequests the share decides: 5 of 65 (7.7%) alone fails', green: windowWithAborts(answers(60), 5), phase: 'Failed', aborts: 'Failed' },
    { name: '2 of 62 (3.2%) alone holds', green: windowWithAborts(answers(60), 2), phase: 'Successful', aborts: 'Successful' },
    {
      name: '5 of 65 (7.7%) holds when blue loses 9.1% of the same clients',
      green: windowWithAborts(answers(60), 5),
      blue: impatientBlue,
      phase: 'Successful',
      aborts: 'Successful',
      limit: 40 / 440 + 0.05,
    },
    {
      name: '20 of 80 (25%) fails against blue losing 9.1%',
      green: windowWithAborts(answers(60), 20),
      blue: impatientBlue,
      phase: 'Failed',
      aborts: 'Failed',
      limit: 40 / 440 + 0.05,
    },
    {
      name: 'blue too quiet to compare: the absolute limit applies',
      green: windowWithAborts(answers(60), 5),
      blue: windowWithAborts(answers(10), 5),
      phase: 'Failed',
      aborts: 'Failed',
      limit: 0.05,
    },
    {
      name: 'green with no hang-ups and few answers waits on the request count',
      green: windowWithAborts(answers(30), 0),
      phase: 'Inconclusive',
      aborts: 'Inconclusive',
    },
    // Windows measured before hang-ups were counted (histories of running rollouts): no check, no figure made up.
    { name: 'a window without a hang-up count has no abort check', green: windowOf(answers(60)), blue: quietBlue, phase: 'Successful', aborts: undefined },
  ])('$name', ({ green, blue, phase, aborts, limit }) => {
    const result = evaluateGate(ABORTS, green, blue);
    expect(result.phase).toBe(phase);
    expect(phaseOf(result, 'abortRate')).toBe(aborts);
    if (limit !== undefined) expect(result.checks.find((c) => c.metric === 'abortRate')?.limit).toBeCloseTo(limit, 12);
  });

  it('is off without an abort limit in the rules', () => {
    expect(phaseOf(evaluateGate(RULES, windowWithAborts(answers(0), 8)), 'abortRate')).toBeUndefined();
  });

  it('names the counts it judged, green and blue', () => {
    const result = evaluateGate(ABORTS, windowWithAborts(answers(0), 8), quietBlue);
    expect(result.summary).toMatch(/^failed: client aborts 100\.0% > 5% FAILED \(8\/8 vs blue 0\/400, >= 31\.\d% at 99\.99% confidence vs 5% allowed\)$/);
    const held = evaluateGate(ABORTS, windowWithAborts(answers(60), 2), windowWithAborts(answers(10), 0));
    expect(formatGateResult(held)).toContain('client aborts 3.2% <= 5% ok (2/62; blue 0/10 too few to compare)');
  });

  it('refuses a negative hang-up count', () => {
    expect(evaluateGate(ABORTS, { ...windowWithAborts(answers(60), 0), aborts: -1 }).phase).toBe('Error');
  });
});

describe('evaluateGate: bad input is an Error, not a verdict', () => {
  const green = windowOf({ latenciesMs: constant(60, 20) });
  it.each<[string, GateRules, WindowStats]>([
    ['negative minRequests', { ...RULES, minRequests: -1 }, green],
    ['fractional minRequests', { ...RULES, minRequests: 1.5 }, green],
    ['NaN limit', { ...RULES, p95Ms: Number.NaN }, green],
    ['NaN count', RULES, { ...green, requests: Number.NaN }],
    ['more errors than requests', RULES, { ...green, errors: 61 }],
  ])('%s', (_name, rules, stats) => {
    const result = evaluateGate(rules, stats);
    expect(result.phase).toBe('Error');
    expect(formatGateResult(result)).toMatch(/^Error: /);
  });
});

describe('combineGateResults', () => {
  const r = (phase: GatePhase): GateResult => ({ phase, checks: [], summary: phase });
  it.each<[GatePhase[], GatePhase]>([
    [['Successful', 'Successful'], 'Successful'],
    [['Successful', 'Inconclusive'], 'Inconclusive'],
    [['Inconclusive', 'Failed'], 'Failed'],
    [['Successful', 'Failed'], 'Failed'],
    [['Error', 'Successful'], 'Error'],
    [['Error', 'Inconclusive'], 'Error'],
    [['Failed', 'Error'], 'Failed'],
    [[], 'Inconclusive'],
  ])('%j -> %s', (phases, want) => {
    expect(combineGateResults(phases.map(r)).phase).toBe(want);
  });
  // How the step and its latest interval combine in a tick (a late breach fails,
  // a short interval does not hold the step) is judgeTick's: test/workflows/gate-decision.test.ts.
});

describe('formatGateResult', () => {
  it('prints one line of checks', () => {
    const result: GateResult = {
      phase: 'Failed',
      summary: '',
      checks: [
        { metric: 'p95', value: 312.4, limit: 250, phase: 'Failed' },
        { metric: 'errorRate', value: 0, limit: 0.01, phase: 'Successful' },
        { metric: 'requests', value: 48, limit: 20, phase: 'Successful' },
      ],
    };
    expect(formatGateResult(result)).toBe('p95 312ms > 250ms FAILED; errors 0.0% <= 1% ok; n=48');
  });

  it('prints baseline checks, missing values and the request shortfall', () => {
    const result = evaluateGate(
      { p95Ms: 250, p99Ms: 400, errorRate: 0.005, minRequests: 100, latencyRatio: 1.5, errorRateDelta: 0.002 },
      windowOf({ latenciesMs: constant(40, 7) }),
    );
    expect(formatGateResult(result)).toBe(
      'p95 9.8ms <= 250ms inconclusive; p99 9.9ms <= 400ms inconclusive; errors 0.0% <= 0.5% inconclusive; ' +
        'p95/blue n/a, limit 1.5x inconclusive; errors-blue n/a, limit 0.2% inconclusive; n=40 < 100',
    );
  });
});
