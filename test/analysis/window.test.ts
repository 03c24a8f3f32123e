import { describe, expect, it } from 'vitest';
import { measureWindow } from '../../analysis/window.js';
import { constant, seriesOf, snapshotOf } from './helpers.js';

// Requests of blue before the window: 50 at 40 ms, 40 at 60 ms, 10 at 120 ms, 2 of them 5xx.
const before = [...constant(50, 40), ...constant(40, 60), ...constant(10, 120)];
const start = snapshotOf({ blue: { live: seriesOf({ latenciesMs: before, errors: 2 }) } }, { takenAtMs: 10_000 });

describe('measureWindow', () => {
  it('measures the increase between two snapshots, quantiles as histogram_quantile(increase)', () => {
    // During the window: 10 at 120 ms and 10 at 350 ms, 1 more 5xx.
    const after = [...before, ...constant(10, 120), ...constant(10, 350)];
    const end = snapshotOf({ blue: { live: seriesOf({ latenciesMs: after, errors: 3 }) } }, { takenAtMs: 40_000 });
    const w = measureWindow(start, end, 'blue', 'live');
    expect(w).toMatchObject({ requests: 20, errors: 1, errorRate: 0.05, overflow: 0, seconds: 30 });
    // rank 19 of 20 -> bucket (300,400] holding ranks 11..20: 300 + 100 * 9/10.
    expect(w.p95Ms).toBeCloseTo(390, 9);
    expect(w.p99Ms).toBeCloseTo(398, 9);
    expect(w.buckets.filter((b) => b.count > 0)).toEqual([
      { leMs: 150, count: 10 },
      { leMs: 400, count: 10 },
    ]);
    expect(w.buckets.map((b) => b.leMs)).toEqual([5, 10, 25, 50, 75, 100, 150, 200, 250, 300, 400, 500, 750, 1000, 1500, 2500, 5000, 10000]);
  });

  it('runs from zero without a start snapshot', () => {
    const w = measureWindow(undefined, start, 'blue', 'live');
    expect(w).toMatchObject({ requests: 100, errors: 2, errorRate: 0.02, seconds: null });
    expect(w.p95Ms).toBeCloseTo(125, 9);
    expect(w.p99Ms).toBeCloseTo(145, 9);
  });

  it.each([
    {
      name: 'counts went down (router restarted): the end counts are the increase',
      end: snapshotOf({ blue: { live: seriesOf({ latenciesMs: constant(5, 30), errors: 1 }) } }),
      want: { requests: 5, errors: 1, p95Ms: 48.75, p99Ms: 49.75 },
    },
    {
      name: 'new process start time, although counts grew',
      end: snapshotOf({ blue: { live: seriesOf({ latenciesMs: constant(120, 30) }) } }, { processStartSeconds: 1_800_000_000 }),
      want: { requests: 120, errors: 0 },
    },
    {
      name: 'one bucket went down while the total grew (no start time exported)',
      // Same 2 errors, 120 > 100 requests, but nothing at <= 50 ms any more where there were 50.
      end: snapshotOf({ blue: { live: seriesOf({ latenciesMs: constant(120, 350), errors: 2 }) } }, { processStartSeconds: null }),
      want: { requests: 120, errors: 2, p95Ms: 395 },
    },
    {
      name: 'a different bucket layout (only a new router build brings one)',
      end: snapshotOf({ blue: { live: seriesOf({ latenciesMs: constant(150, 30), errors: 3 }, [0.05, 0.1]) } }, { le: [0.05, 0.1] }),
      want: { requests: 150, errors: 3 },
    },
  ])('reset: $name', ({ end, want }) => {
    const w = measureWindow(start, end, 'blue', 'live');
    expect(w).toMatchObject({ ...want, p95Ms: expect.any(Number) });
    if (want.p95Ms !== undefined) expect(w.p95Ms).toBeCloseTo(want.p95Ms, 9);
    if (want.p99Ms !== undefined) expect(w.p99Ms).toBeCloseTo(want.p99Ms, 9);
  });

  it('puts requests slower than the last bound in overflow, and p95 at the last bound', () => {
    const end = snapshotOf({ green: { live: seriesOf({ latenciesMs: [...constant(8, 20), 12_000, 30_000] }) } });
    const w = measureWindow(undefined, end, 'green', 'live');
    expect(w.overflow).toBe(2);
    expect(w.buckets.reduce((sum, b) => sum + b.count, 0)).toBe(8);
    expect(w.p95Ms).toBe(10_000);
    expect(w.p99Ms).toBe(10_000);
  });

  it('has no rate or quantiles without requests (a deployment not seen at all)', () => {
    const w = measureWindow(start, start, 'green', 'mirror');
    expect(w).toMatchObject({ requests: 0, errors: 0, errorRate: null, p95Ms: null, p99Ms: null, overflow: 0, seconds: 0 });
    expect(w.buckets.every((b) => b.count === 0)).toBe(true);
  });

  it('keeps kinds of traffic apart', () => {
    const end = snapshotOf({
      green: { mirror: seriesOf({ latenciesMs: constant(7, 40) }), direct: seriesOf({ latenciesMs: constant(3, 900), errors: 3 }) },
    });
    expect(measureWindow(undefined, end, 'green', 'mirror')).toMatchObject({ requests: 7, errors: 0 });
    expect(measureWindow(undefined, end, 'green', 'direct')).toMatchObject({ requests: 3, errors: 3 });
    expect(measureWindow(undefined, end, 'green', 'live').requests).toBe(0);
  });

  describe('client hang-ups', () => {
    const counting = { countsAborts: true };
    const greenWith = (answers: number, aborts: number) => ({ green: { live: { ...seriesOf({ latenciesMs: constant(answers, 20) }), aborts } } });

    it('are the increase of the hang-up counter, apart from the answers', () => {
      const w = measureWindow(snapshotOf(greenWith(10, 1), counting), snapshotOf(greenWith(12, 9), counting), 'green', 'live');
      expect(w).toMatchObject({ requests: 2, aborts: 8, errors: 0 });
    });

    it('a green with only hang-ups has no answers but counts them', () => {
      const end = snapshotOf({ green: { live: { count: 0, errors: 0, buckets: [], aborts: 8 } } }, counting);
      expect(measureWindow(undefined, end, 'green', 'live')).toMatchObject({ requests: 0, aborts: 8, p95Ms: null });
    });

    it('are 0 for a deployment with none, in a snapshot that counts them', () => {
      expect(measureWindow(undefined, snapshotOf(greenWith(5, 0), counting), 'green', 'live').aborts).toBe(0);
      expect(measureWindow(undefined, snapshotOf({}, counting), 'green', 'live').aborts).toBe(0);
    });

    it('are absent from a mirror window: mirrored copies have no client to hang up, so 0 would be a check that cannot fail', () => {
      const mirrored = { green: { mirror: { ...seriesOf({ latenciesMs: constant(30, 20) }), aborts: 0 } } };
      const w = measureWindow(undefined, snapshotOf(mirrored, counting), 'green', 'mirror');
      expect(w.requests).toBe(30);
      expect(w).not.toHaveProperty('aborts');
    });

    it("are unknown (absent), not 0, from a start snapshot taken before they were counted (a running rollout's history)", () => {
      // The old start has no hang-ups; the end's 9 include every one since the router started.
      const w = measureWindow(snapshotOf(greenWith(10, 0)), snapshotOf(greenWith(12, 9), counting), 'green', 'live');
      expect(w.requests).toBe(2);
      expect(w).not.toHaveProperty('aborts');
      expect(measureWindow(snapshotOf(greenWith(10, 0)), snapshotOf(greenWith(12, 9)), 'green', 'live')).not.toHaveProperty('aborts');
    });

    it('after a restart run from zero again', () => {
      const end = snapshotOf(greenWith(3, 2), { ...counting, processStartSeconds: 1_800_000_000 });
      expect(measureWindow(snapshotOf(greenWith(10, 7)), end, 'green', 'live')).toMatchObject({ requests: 3, aborts: 2 });
      // A hang-up counter that went down is a reset too.
      expect(measureWindow(snapshotOf(greenWith(10, 7), counting), snapshotOf(greenWith(12, 1), counting), 'green', 'live')).toMatchObject({
        requests: 12,
        aborts: 1,
      });
    });
  });

  it('is JSON-safe: no Infinity or NaN to lose in workflow history', () => {
    const end = snapshotOf({ green: { live: seriesOf({ latenciesMs: [20, 60_000] }) } });
    const w = measureWindow(undefined, end, 'green', 'live');
    expect(JSON.parse(JSON.stringify(w))).toEqual(w);
  });
});
