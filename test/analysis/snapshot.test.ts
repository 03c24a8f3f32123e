import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compactSnapshot } from '../../analysis/snapshot.js';
import { RouterMetrics } from '../../router/metrics.js';
import { ROUTER_LE } from './helpers.js';

const fixture = readFileSync(new URL('./fixtures/router-metrics.txt', import.meta.url), 'utf8');

describe('compactSnapshot', () => {
  it("keeps only the endpoint's series, per deployment and kind of traffic", () => {
    const snap = compactSnapshot(fixture, 'ep', 1_000);
    expect(snap.endpoint).toBe('ep');
    expect(snap.takenAtMs).toBe(1_000);
    expect(snap.processStartSeconds).toBe(1_712_000_000);
    expect(snap.le).toEqual(ROUTER_LE);
    expect(Object.keys(snap.deployments).sort()).toEqual(['blue', 'green']);
    expect(snap.deployments.blue).toEqual({
      live: { count: 100, errors: 2, buckets: [0, 0, 0, 50, 90, 90, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100] },
    });
    // 504 (proxy timeout) is an error; 12 s lands in +Inf only.
    expect(snap.deployments.green?.mirror).toEqual({
      count: 10,
      errors: 1,
      buckets: [0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9, 9, 10],
    });
    expect(snap.deployments.green?.direct?.count).toBe(3);
    expect(snap.deployments.green?.live).toBeUndefined();
  });

  it('matches endpoint names that needed escaping', () => {
    const snap = compactSnapshot(fixture, 'we"ird\\ep', 0);
    expect(snap.deployments.blue?.live).toMatchObject({ count: 4, errors: 4 });
  });

  it('gives an empty snapshot, not an error, for an endpoint without traffic', () => {
    const snap = compactSnapshot(fixture, 'nobody', 0);
    expect(snap.deployments).toEqual({});
    expect(snap.le).toEqual(ROUTER_LE); // same layout as once it has traffic
  });

  it('survives a JSON round trip unchanged (it travels through workflow history)', () => {
    const snap = compactSnapshot(fixture, 'ep', 5);
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  it('is small: well under a kilobyte per endpoint', () => {
    expect(JSON.stringify(compactSnapshot(fixture, 'ep', 5)).length).toBeLessThan(1024);
  });

  it("reads what the router's own metrics registry exports", async () => {
    const metrics = new RouterMetrics();
    const green = metrics.forTraffic('ep', 'green', 'live');
    green.record(200, 0.03);
    green.record(503, 0.2);
    green.record(404, 2);
    const snap = compactSnapshot(await metrics.render(), 'ep', 0);
    expect(snap.le).toEqual(ROUTER_LE);
    expect(snap.processStartSeconds).toEqual(expect.any(Number));
    expect(snap.deployments.green?.live).toEqual({
      count: 3,
      errors: 1,
      buckets: [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3],
    });
  });

  it('aligns a series missing a bound to the bound below it', () => {
    const text = [
      'saferoll_request_duration_seconds_bucket{le="0.1",endpoint="ep",deployment="a",traffic="live"} 4',
      'saferoll_request_duration_seconds_bucket{le="0.2",endpoint="ep",deployment="a",traffic="live"} 6',
      'saferoll_request_duration_seconds_bucket{le="+Inf",endpoint="ep",deployment="a",traffic="live"} 7',
      'saferoll_request_duration_seconds_bucket{le="0.1",endpoint="ep",deployment="b",traffic="live"} 1',
      'saferoll_request_duration_seconds_bucket{le="+Inf",endpoint="ep",deployment="b",traffic="live"} 2',
    ].join('\n');
    const snap = compactSnapshot(text, 'ep', 0);
    expect(snap.le).toEqual([0.1, 0.2]);
    expect(snap.deployments.a?.live?.buckets).toEqual([4, 6, 7]);
    expect(snap.deployments.b?.live?.buckets).toEqual([1, 1, 2]);
  });

  it('reads client hang-ups apart from answers, and says that it did (snapshots from before did not)', async () => {
    const metrics = new RouterMetrics();
    const green = metrics.forTraffic('ep', 'green', 'live');
    green.record(200, 0.03);
    green.recordClientAbort();
    green.recordClientAbort();
    metrics.forTraffic('ep', 'hung', 'live').recordClientAbort(); // hang-ups, never an answer
    metrics.forTraffic('ep', 'blue', 'live').record(200, 0.01);
    const snap = compactSnapshot(await metrics.render(), 'ep', 0);
    expect(snap.countsAborts).toBe(true);
    expect(snap.deployments.green?.live).toMatchObject({ count: 1, errors: 0, aborts: 2 });
    expect(snap.deployments.hung?.live).toMatchObject({ count: 0, errors: 0, aborts: 1 });
    // None is left out: 0 hang-ups stay implicit, to keep history small.
    expect(snap.deployments.blue?.live).toEqual({ count: 1, errors: 0, buckets: [0, 1, ...Array<number>(17).fill(1)] });
  });

  it('counts a status that is not a number as an error', () => {
    const text = 'saferoll_requests_total{endpoint="ep",deployment="a",traffic="live",code="aborted"} 2';
    // No histogram exported: just an empty +Inf bucket.
    expect(compactSnapshot(text, 'ep', 0).deployments.a?.live).toEqual({ count: 2, errors: 2, buckets: [0] });
  });
});
