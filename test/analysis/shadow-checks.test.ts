// The shadow comparison gate: the router's shadow series read into a
// snapshot, windowed, and judged with the other gates' honesty.
import { describe, expect, it } from 'vitest';
import { formatGateResult } from '../../analysis/evaluate.js';
import { judgeShadow, measureShadowWindow, shadowSnapshot, type ShadowWindow } from '../../analysis/shadow-checks.js';
import { RouterMetrics } from '../../router/metrics.js';
import type { PairVerdict } from '../../shared/shadow-compare.js';

const window = (w: Partial<ShadowWindow>): ShadowWindow => ({
  match: 0,
  mismatch: 0,
  shed: 0,
  error: 0,
  blueScores: new Array<number>(10).fill(0),
  greenScores: new Array<number>(10).fill(0),
  ...w,
});

describe('shadow series in a snapshot and a window', () => {
  it('reads what the router books for one deployment, and windows it', () => {
    const metrics = new RouterMetrics();
    const green = metrics.forShadow('ep', 'green');
    const other = metrics.forShadow('ep-other', 'green');
    const neighbour = metrics.forShadow('ep', 'spare');
    const book = (verdict: PairVerdict, times: number): void => {
      for (let i = 0; i < times; i++) green.book(verdict);
    };
    book({ result: 'match', scores: { blue: 0.05, green: 0.05 } }, 3);
    other.book({ result: 'mismatch' });
    neighbour.book({ result: 'mismatch' });
    const start = shadowSnapshot(metrics.renderSeries([], [green, other, neighbour]), 'ep', 'green', 1_000);
    expect(start.series).toEqual({
      match: 3,
      mismatch: 0,
      shed: 0,
      error: 0,
      scores: { blue: [3, 3, 3, 3, 3, 3, 3, 3, 3, 3], green: [3, 3, 3, 3, 3, 3, 3, 3, 3, 3] },
    });
    expect(start.processStartSeconds).toEqual(expect.any(Number));

    book({ result: 'mismatch', scores: { blue: 0.15, green: 0.95 } }, 2);
    book({ result: 'error' }, 4);
    green.shed();
    const end = shadowSnapshot(metrics.renderSeries([], [green]), 'ep', 'green', 2_000);
    expect(measureShadowWindow(start, end)).toEqual({
      match: 0,
      mismatch: 2,
      shed: 1,
      error: 4,
      blueScores: [0, 2, 0, 0, 0, 0, 0, 0, 0, 0],
      greenScores: [0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
    });
    // From the counters' start.
    expect(measureShadowWindow(undefined, end)).toMatchObject({ match: 3, mismatch: 2 });
  });

  it('is all zeros for a deployment never compared', () => {
    const snapshot = shadowSnapshot(new RouterMetrics().renderSeries([], []), 'ep', 'green', 1);
    expect(measureShadowWindow(undefined, snapshot)).toEqual(window({}));
  });

  it('counts from zero after a router restart', () => {
    const metrics = new RouterMetrics();
    const green = metrics.forShadow('ep', 'green');
    for (let i = 0; i < 5; i++) green.book({ result: 'match' });
    const before = shadowSnapshot(metrics.renderSeries([], [green]), 'ep', 'green', 1);
    const restarted = new RouterMetrics().forShadow('ep', 'green');
    restarted.book({ result: 'mismatch' });
    const after = {
      ...shadowSnapshot(new RouterMetrics().renderSeries([], [restarted]), 'ep', 'green', 2),
      processStartSeconds: (before.processStartSeconds ?? 0) + 1,
    };
    expect(measureShadowWindow(before, after)).toMatchObject({ match: 0, mismatch: 1 });
    // The same process with counters lower than before: a reset, also from zero.
    expect(measureShadowWindow(before, { ...after, processStartSeconds: before.processStartSeconds })).toMatchObject({ match: 0, mismatch: 1 });
  });
});

describe('judgeShadow', () => {
  const limits = { maxMismatch: 0.01, maxPsi: 0.2, minPairs: 100 };

  it('is Inconclusive below minPairs, whatever the shed and error pairs', () => {
    const judged = judgeShadow(limits, window({ match: 50, error: 500, shed: 80 }));
    expect(judged.phase).toBe('Inconclusive');
    expect(formatGateResult({ phase: judged.phase, checks: judged.checks, summary: '' })).toBe(
      'shadow mismatch 0.0% <= 1% inconclusive (50 < 100 pairs; 80 shed, 500 error); score PSI n/a, limit 0.2 inconclusive (0 < 100 scored pairs)',
    );
  });

  it('is Inconclusive with no pairs at all: no data is never a pass', () => {
    expect(judgeShadow({ maxMismatch: 0.5, minPairs: 1 }, window({ error: 10 })).phase).toBe('Inconclusive');
  });

  it('fails early when the mismatches are overwhelming (exact binomial test), before minPairs', () => {
    const judged = judgeShadow({ maxMismatch: 0.01, minPairs: 100 }, window({ mismatch: 6, match: 4 }));
    expect(judged.phase).toBe('Failed');
    expect(judged.checks[0]?.note).toMatch(/^6\/10 pairs; 0 shed, 0 error, >= \d+\.\d% at 99\.99% confidence vs 1% allowed$/);
    // Two mismatches in ten are not overwhelming at a 10% limit.
    expect(judgeShadow({ maxMismatch: 0.1, minPairs: 100 }, window({ mismatch: 2, match: 8 })).phase).toBe('Inconclusive');
  });

  it('judges the share against the limit from minPairs on', () => {
    expect(judgeShadow({ maxMismatch: 0.05, minPairs: 100 }, window({ match: 96, mismatch: 4 })).phase).toBe('Successful');
    const failed = judgeShadow({ maxMismatch: 0.05, minPairs: 100 }, window({ match: 90, mismatch: 10 }));
    expect(failed.phase).toBe('Failed');
    expect(formatGateResult({ phase: 'Failed', checks: failed.checks, summary: '' })).toMatch(
      /^shadow mismatch 10\.0% > 5% FAILED \(10\/100 pairs; 0 shed, 0 error/,
    );
  });

  it('judges the score PSI from minPairs scored pairs on (blue 50/50 vs green 80/20: PSI 0.416)', () => {
    const bins = (a: number, b: number): number[] => [a, 0, 0, 0, 0, 0, 0, 0, 0, b];
    const shifted = judgeShadow({ maxPsi: 0.2, minPairs: 100 }, window({ match: 100, blueScores: bins(50, 50), greenScores: bins(80, 20) }));
    expect(shifted.phase).toBe('Failed');
    expect(shifted.checks[0]?.value).toBeCloseTo(0.4158883, 6);
    expect(formatGateResult({ phase: 'Failed', checks: shifted.checks, summary: '' })).toBe('score PSI 0.416 > 0.2 FAILED (100 pairs)');
    const same = judgeShadow({ maxPsi: 0.2, minPairs: 100 }, window({ match: 100, blueScores: bins(50, 50), greenScores: bins(52, 48) }));
    expect(same.phase).toBe('Successful');
    expect(judgeShadow({ maxPsi: 0.2, minPairs: 100 }, window({ match: 99, blueScores: bins(50, 49), greenScores: bins(99, 0) })).phase).toBe('Inconclusive');
  });
});
