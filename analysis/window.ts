// The numbers of one deployment's traffic over a window between two snapshots:
// the same math as PromQL `increase(...[w])` followed by histogram_quantile,
// so a gate and a Prometheus dashboard agree on what happened.
import { histogramQuantile } from './histogram-quantile.js';
import type { MetricsSnapshot, TrafficKind, TrafficSeries } from './snapshot.js';

export interface LatencyBucket {
  /** Upper bound of the bucket in milliseconds. */
  leMs: number;
  /** Requests in this bucket during the window (not cumulative). */
  count: number;
}

export interface WindowStats {
  requests: number;
  errors: number;
  /**
   * Requests whose client hung up before the deployment answered: not in
   * `requests` (no answer was given), but evidence of a deployment too slow
   * for its clients. Absent when not known: the window starts at a snapshot
   * taken before saferoll counted hang-ups (or was itself measured then, as
   * in the histories of running rollouts); no check judges them then.
   */
  aborts?: number;
  /** errors / requests, or null with no requests. */
  errorRate: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  /** Finite buckets, ascending; the lower edge of a bucket is the previous `leMs` (0 for the first). */
  buckets: LatencyBucket[];
  /**
   * Requests slower than the highest finite bound (the +Inf bucket), kept
   * apart because JSON, and so Temporal history, cannot carry Infinity.
   */
  overflow: number;
  /** Length of the window, or null when it runs from the counters' start (no start snapshot). */
  seconds: number | null;
}

const EMPTY: TrafficSeries = { count: 0, errors: 0, buckets: [] };

/**
 * What `deployment` served as `traffic` between `start` and `end`. Without a
 * start snapshot the window runs from zero. A counter that went down means
 * the router restarted in between; as in Prometheus, the end value is then
 * taken as the increase. The reset is decided per series, not per bucket, so
 * the buckets of one histogram always come from the same side of a restart.
 */
export function measureWindow(start: MetricsSnapshot | undefined, end: MetricsSnapshot, deployment: string, traffic: TrafficKind): WindowStats {
  const endSeries = end.deployments[deployment]?.[traffic] ?? EMPTY;
  const fromZero = start === undefined || restartedBetween(start, end);
  const startSeries = fromZero ? EMPTY : (start.deployments[deployment]?.[traffic] ?? EMPTY);
  const from = wasReset(startSeries, endSeries) ? EMPTY : startSeries;

  const requests = endSeries.count - from.count;
  const errors = endSeries.errors - from.errors;
  // From a start that did not count hang-ups, the end's count would include
  // every hang-up before the window: unknown, which is not 0. Mirrored copies
  // have no client to hang up: a figure of 0 there would be a check that
  // cannot fail, so mirror windows carry none.
  const abortsKnown = traffic !== 'mirror' && end.countsAborts === true && (fromZero || start.countsAborts === true);
  const cumulative = end.le.map((_, i) => delta(endSeries.buckets[i], from.buckets[i]));
  cumulative.push(delta(endSeries.buckets[end.le.length], from.buckets[end.le.length]));
  const leMs = end.le.map(secondsToMs);

  const buckets: LatencyBucket[] = [];
  let below = 0;
  for (let i = 0; i < leMs.length; i++) {
    const c = Math.max(cumulative[i] ?? 0, below); // monotonic, as histogramQuantile does
    buckets.push({ leMs: leMs[i] ?? 0, count: c - below });
    below = c;
  }
  const overflow = Math.max((cumulative[leMs.length] ?? 0) - below, 0);

  return {
    requests,
    errors,
    ...(abortsKnown ? { aborts: (endSeries.aborts ?? 0) - (from.aborts ?? 0) } : {}),
    errorRate: requests > 0 ? errors / requests : null,
    p95Ms: histogramQuantile(0.95, leMs, cumulative),
    p99Ms: histogramQuantile(0.99, leMs, cumulative),
    buckets,
    overflow,
    seconds: start === undefined ? null : (end.takenAtMs - start.takenAtMs) / 1000,
  };
}

/** A new router process, or a new bucket layout (which only a restart brings). */
export function restartedBetween(start: MetricsSnapshot, end: MetricsSnapshot): boolean {
  if (start.processStartSeconds !== null && end.processStartSeconds !== null && start.processStartSeconds !== end.processStartSeconds) {
    return true;
  }
  return start.le.length !== end.le.length || start.le.some((bound, i) => bound !== end.le[i]);
}

/** Any counter of the series lower at the end than at the start. */
function wasReset(start: TrafficSeries, end: TrafficSeries): boolean {
  if (end.count < start.count || end.errors < start.errors || (end.aborts ?? 0) < (start.aborts ?? 0)) return true;
  return start.buckets.some((c, i) => c > (end.buckets[i] ?? 0));
}

function delta(end: number | undefined, start: number | undefined): number {
  return (end ?? 0) - (start ?? 0);
}

/** Rounded to the microsecond so 0.075 s reads 75 ms, not 75.00000000000001. */
function secondsToMs(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e3;
}
