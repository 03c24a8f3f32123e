// The numbers of one deployment's traffic over a window between two snapshots:
// the same math as PromQL `increase(...[w])` followed by histogram_quantile,
// so a gate and a Prometheus dashboard agree on what happened.
import { histogramQuantile } from './histogram-quantile.js';
import type { DeploymentCounters, MetricsSnapshot, ReplicaCounters, TrafficKind, TrafficSeries } from './snapshot.js';

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

/** The increase over the window, summed over replicas, on the end snapshot's bucket layout. */
interface Increase {
  requests: number;
  errors: number;
  aborts: number;
  /** Cumulative, one per finite bound plus +Inf. */
  cumulative: number[];
}

/**
 * What `deployment` served as `traffic` between `start` and `end`. Without a
 * start snapshot the window runs from zero. A counter that went down means
 * the router restarted in between; as in Prometheus, the end value is then
 * taken as the increase. The reset is decided per series, not per bucket, so
 * the buckets of one histogram always come from the same side of a restart.
 *
 * Snapshots read through Prometheus hold each replica apart: the increase is
 * taken per replica (so one replica's restart is found) and then summed. A
 * replica missing from the start counts from zero if its process started
 * after the start was taken; otherwise its counters at the start are unknown
 * (Prometheus had not scraped it, or its scrape had failed) and it is left
 * out of this window rather than credited with requests from before it.
 */
export function measureWindow(start: MetricsSnapshot | undefined, end: MetricsSnapshot, deployment: string, traffic: TrafficKind): WindowStats {
  const slots = end.le.length + 1;
  const total: Increase = { requests: 0, errors: 0, aborts: 0, cumulative: new Array<number>(slots).fill(0) };
  const startReplicas = start === undefined ? undefined : replicasOf(start);
  const newLayout = start !== undefined && layoutChanged(start, end);
  let everyReplicaFromZero = true;
  for (const [key, replica] of replicasOf(end)) {
    const from = startingPoint(startReplicas?.get(key), start, replica, newLayout);
    if (from === 'unknown') continue;
    if (from !== 'zero') everyReplicaFromZero = false;
    const endSeries = replica.deployments[deployment]?.[traffic] ?? EMPTY;
    const startSeries = from === 'zero' ? EMPTY : (from[deployment]?.[traffic] ?? EMPTY);
    const base = wasReset(startSeries, endSeries) ? EMPTY : startSeries;
    total.requests += endSeries.count - base.count;
    total.errors += endSeries.errors - base.errors;
    total.aborts += (endSeries.aborts ?? 0) - (base.aborts ?? 0);
    for (let i = 0; i < slots; i++) total.cumulative[i]! += delta(endSeries.buckets[i], base.buckets[i]);
  }

  // From a start that did not count hang-ups, the end's count would include
  // every hang-up before the window: unknown, which is not 0. Mirrored copies
  // have no client to hang up: a figure of 0 there would be a check that
  // cannot fail, so mirror windows carry none.
  const abortsKnown = traffic !== 'mirror' && end.countsAborts === true && (start === undefined || start.countsAborts === true || everyReplicaFromZero);
  const { requests, errors, cumulative } = total;
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
    ...(abortsKnown ? { aborts: total.aborts } : {}),
    errorRate: requests > 0 ? errors / requests : null,
    p95Ms: histogramQuantile(0.95, leMs, cumulative),
    p99Ms: histogramQuantile(0.99, leMs, cumulative),
    buckets,
    overflow,
    seconds: start === undefined ? null : (end.takenAtMs - start.takenAtMs) / 1000,
  };
}

/** A snapshot's replicas by key; a snapshot of one router's /metrics is one replica. */
function replicasOf(snapshot: MetricsSnapshot): Map<string, ReplicaCounters> {
  if (snapshot.replicas !== undefined) return new Map(Object.entries(snapshot.replicas));
  return new Map([['', { processStartSeconds: snapshot.processStartSeconds, scrapedAtMs: snapshot.takenAtMs, deployments: snapshot.deployments }]]);
}

/** Where a replica's window starts: its counters at the start, zero, or unknown (left out). */
function startingPoint(
  startReplica: ReplicaCounters | undefined,
  start: MetricsSnapshot | undefined,
  end: ReplicaCounters,
  newLayout: boolean,
): DeploymentCounters | 'zero' | 'unknown' {
  if (start === undefined || newLayout) return 'zero';
  if (startReplica === undefined) return end.processStartSeconds !== null && end.processStartSeconds * 1000 >= start.takenAtMs ? 'zero' : 'unknown';
  const restarted =
    startReplica.processStartSeconds !== null && end.processStartSeconds !== null && startReplica.processStartSeconds !== end.processStartSeconds;
  return restarted ? 'zero' : startReplica.deployments;
}

/**
 * A new bucket layout, which only a restart brings. A start with no
 * histogram yet (nothing answered) has no layout to differ from.
 */
function layoutChanged(start: MetricsSnapshot, end: MetricsSnapshot): boolean {
  if (start.le.length === 0 || end.le.length === 0) return false;
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
