// Windows over snapshots read through Prometheus (one entry per router
// replica), and the parsing of Prometheus's answer into such snapshots.
import { describe, expect, it } from 'vitest';
import { snapshotFromResult } from '../../analysis/prometheus-metric-source.js';
import type { MetricsSnapshot, ReplicaCounters, TrafficSeries } from '../../analysis/snapshot.js';
import { measureWindow } from '../../analysis/window.js';
import { ROUTER_LE, constant, seriesOf } from './helpers.js';

const START_MS = 100_000;

function replica(blue: TrafficSeries, opts: { processStartSeconds?: number; scrapedAtMs?: number } = {}): ReplicaCounters {
  return { processStartSeconds: opts.processStartSeconds ?? 50, scrapedAtMs: opts.scrapedAtMs ?? START_MS, deployments: { blue: { live: blue } } };
}

function fleet(takenAtMs: number, replicas: Record<string, ReplicaCounters>): MetricsSnapshot {
  return { endpoint: 'ep', takenAtMs, processStartSeconds: null, le: ROUTER_LE, countsAborts: true, deployments: {}, replicas };
}

describe('measureWindow over replicas', () => {
  it('takes the increase per replica, then sums: a restart of one replica is not hidden by the other', () => {
    const start = fleet(START_MS, {
      a: replica(seriesOf({ latenciesMs: constant(100, 40), errors: 0 })),
      b: replica(seriesOf({ latenciesMs: constant(100, 40), errors: 0 })),
    });
    // a served 20 more (5 failed); b restarted and has served 30 since (all fine).
    const end = fleet(START_MS + 10_000, {
      a: replica(seriesOf({ latenciesMs: [...constant(100, 40), ...constant(20, 300)], errors: 5 })),
      b: replica(seriesOf({ latenciesMs: constant(30, 40) }), { processStartSeconds: 105 }),
    });
    const w = measureWindow(start, end, 'blue', 'live');
    expect(w).toMatchObject({ requests: 50, errors: 5, errorRate: 0.1, seconds: 10 });
    expect(w.buckets.find((b) => b.leMs === 300)?.count).toBe(20);
    // Summed before the increase, the fleet went from 200 to 150: a reset
    // rule would read 150 requests, three times what was answered.
  });

  it('counts a replica that started during the window from zero', () => {
    const start = fleet(START_MS, { a: replica(seriesOf({ latenciesMs: constant(10, 40) })) });
    const end = fleet(START_MS + 5_000, {
      a: replica(seriesOf({ latenciesMs: constant(12, 40) })),
      c: replica(seriesOf({ latenciesMs: constant(7, 40) }), { processStartSeconds: START_MS / 1000 + 1 }),
    });
    expect(measureWindow(start, end, 'blue', 'live').requests).toBe(2 + 7);
  });

  it('leaves out a replica missing from the start that was already running: its start is unknown, not zero', () => {
    const start = fleet(START_MS, { a: replica(seriesOf({ latenciesMs: constant(10, 40) })) });
    const end = fleet(START_MS + 5_000, {
      a: replica(seriesOf({ latenciesMs: constant(12, 40) })),
      // Its 1000 requests are mostly from before the window (Prometheus had not scraped it yet).
      late: replica(seriesOf({ latenciesMs: constant(1000, 40), errors: 900 }), { processStartSeconds: 1 }),
    });
    expect(measureWindow(start, end, 'blue', 'live')).toMatchObject({ requests: 2, errors: 0 });
  });

  it('without a start snapshot runs every replica from zero', () => {
    const end = fleet(START_MS, { a: replica(seriesOf({ latenciesMs: constant(3, 40) })), b: replica(seriesOf({ latenciesMs: constant(4, 40) })) });
    expect(measureWindow(undefined, end, 'blue', 'live')).toMatchObject({ requests: 7, seconds: null });
  });
});

/** A series of Prometheus's vector answer. */
function sample(metric: Record<string, string>, value: number) {
  return { metric: { job: 'saferoll-router', instance: '10.0.0.1:8081', ...metric }, value: [1_700_000_000, String(value)] };
}

function answer(result: unknown[]) {
  return { status: 'success', data: { resultType: 'vector', result } };
}

describe('snapshotFromResult', () => {
  const labels = { endpoint: 'ep', deployment: 'blue', traffic: 'live' };

  it('groups series by replica, with its process start and scrape time', () => {
    const snapshot = snapshotFromResult(
      answer([
        sample({ __name__: 'saferoll_requests_total', ...labels, code: '200' }, 9),
        sample({ __name__: 'saferoll_requests_total', ...labels, code: '503' }, 1),
        sample({ __name__: 'saferoll_request_duration_seconds_bucket', ...labels, le: '0.05' }, 10),
        sample({ __name__: 'saferoll_request_duration_seconds_bucket', ...labels, le: '+Inf' }, 10),
        sample({ __name__: 'saferoll_client_aborts_total', ...labels }, 2),
        sample({ __name__: 'process_start_time_seconds' }, 1_699_999_000),
        sample({ saferoll_scrape: 'timestamp' }, 1_700_000_123.5),
        // A second replica that has served nothing of this endpoint yet.
        sample({ __name__: 'process_start_time_seconds', instance: '10.0.0.2:8081' }, 1_699_999_500),
        sample({ saferoll_scrape: 'timestamp', instance: '10.0.0.2:8081' }, 1_700_000_123),
      ]),
      'ep',
      0,
    );
    expect(snapshot.takenAtMs).toBe(1_700_000_123_000);
    expect(snapshot.le).toEqual([0.05]);
    expect(snapshot.replicas).toEqual({
      'saferoll-router/10.0.0.1:8081': {
        processStartSeconds: 1_699_999_000,
        scrapedAtMs: 1_700_000_123_500,
        deployments: { blue: { live: { count: 10, errors: 1, buckets: [10, 10], aborts: 2 } } },
      },
      'saferoll-router/10.0.0.2:8081': { processStartSeconds: 1_699_999_500, scrapedAtMs: 1_700_000_123_000, deployments: {} },
    });
  });

  it('reads hang-ups as unknown unless every replica says it counts them (a family with no sample is absent either way)', () => {
    const replica = (instance: string, counted: number | undefined) => [
      sample({ __name__: 'saferoll_requests_total', ...labels, code: '200', instance }, 5),
      sample({ __name__: 'process_start_time_seconds', instance }, 1_699_999_000),
      sample({ saferoll_scrape: 'timestamp', instance }, 1_700_000_123),
      ...(counted === undefined ? [] : [sample({ __name__: 'saferoll_client_aborts_counted', instance }, counted)]),
    ];
    const read = (...replicas: unknown[][]) => snapshotFromResult(answer(replicas.flat()), 'ep', 0).countsAborts;
    expect(read(replica('a:1', 1), replica('b:1', 1))).toBe(true);
    // A router from before the marker (an Envoy-plane one did not count them) says nothing: unknown.
    expect(read(replica('a:1', 1), replica('b:1', undefined))).toBeUndefined();
    expect(read(replica('a:1', 1), replica('b:1', 0))).toBeUndefined();
  });

  it.each([
    { name: 'no series at all', json: answer([]), message: /no saferoll series from any router yet/ },
    { name: "Prometheus's own error", json: { status: 'error', errorType: 'bad_data', error: 'parse error' }, message: /^Prometheus: bad_data: parse error$/ },
    { name: 'a matrix', json: { status: 'success', data: { resultType: 'matrix', result: [] } }, message: /matrix where an instant vector/ },
    { name: 'not a result', json: 'hello', message: /not a query result/ },
  ])('refuses $name with a message that says so', ({ json, message }) => {
    expect(() => snapshotFromResult(json, 'ep', 0)).toThrow(message);
  });
});
