// A compact, JSON-serialisable reading of one endpoint's saferoll counters at
// one instant. Snapshots travel through Temporal workflow history (the window
// start is kept between gate ticks), so they hold only what a gate needs:
// per deployment and kind of traffic, the request count, the error count, the
// latency histogram's cumulative buckets and the client hang-ups.
import { parsePrometheusText, type Sample } from './prometheus-text.js';

export type TrafficKind = 'live' | 'mirror' | 'direct';

export interface TrafficSeries {
  /** Requests answered, all status codes. */
  count: number;
  /** Requests answered with a status code >= 500 (502/504 are proxy failures). */
  errors: number;
  /**
   * Cumulative latency histogram counts: `buckets[i]` counts requests that took
   * at most `le[i]` seconds; the one extra last entry is the +Inf bucket.
   */
  buckets: number[];
  /**
   * Requests whose client hung up before the answer's headers (not answers:
   * in no other field). Only on live and direct traffic: a mirrored copy has
   * no client. Absent when 0 (in a snapshot that `countsAborts`).
   */
  aborts?: number;
}

export interface MetricsSnapshot {
  endpoint: string;
  takenAtMs: number;
  /**
   * The router process's start time (prom-client's process_start_time_seconds),
   * or null when not exported. When it changes between two snapshots the
   * router restarted, so its counters started again from zero.
   */
  processStartSeconds: number | null;
  /** Finite histogram upper bounds in seconds, ascending (+Inf is implied, as JSON has no Infinity). */
  le: number[];
  /**
   * True when the snapshot read the hang-up counter. Snapshots taken before
   * saferoll did (kept in the workflow histories of running rollouts) lack
   * it: their hang-ups are unknown, not 0, so a window starting at one
   * cannot count them (window.ts).
   */
  countsAborts?: true;
  deployments: DeploymentCounters;
  /**
   * Read through Prometheus (analysis/prometheus-metric-source.ts): each
   * replica's counters apart, keyed by its job and instance, because a
   * restart of one replica must be found before the replicas are summed.
   * `deployments` is then empty and `processStartSeconds` null.
   */
  replicas?: Record<string, ReplicaCounters>;
}

export type DeploymentCounters = Record<string, Partial<Record<TrafficKind, TrafficSeries>>>;

/** One router replica (or Envoy) as Prometheus last scraped it. */
export interface ReplicaCounters {
  processStartSeconds: number | null;
  /** When Prometheus scraped these values (its sample timestamp), not when they were read. */
  scrapedAtMs: number;
  deployments: DeploymentCounters;
}

const REQUESTS = 'saferoll_requests_total';
const DURATION_BUCKET = 'saferoll_request_duration_seconds_bucket';
const ABORTS = 'saferoll_client_aborts_total';
const PROCESS_START = 'process_start_time_seconds';
/** 0 from a router whose hang-up family is left out (router/metrics.ts); only the Prometheus source needs it. */
const ABORTS_COUNTED = 'saferoll_client_aborts_counted';
/** The families a snapshot reads, for sources that select them by name (PromQL). */
export const SNAPSHOT_FAMILIES = {
  requests: REQUESTS,
  durationBucket: DURATION_BUCKET,
  aborts: ABORTS,
  abortsCounted: ABORTS_COUNTED,
  processStart: PROCESS_START,
} as const;
const WANTED = ['saferoll_request', ABORTS, PROCESS_START];
const ABORTS_FAMILY = `# TYPE ${ABORTS} counter`;

/** Histogram buckets of one series while reading, keyed by upper bound (+Inf included). */
type BucketsByLe = Map<number, number>;

interface Pending {
  count: number;
  errors: number;
  aborts: number;
  buckets: BucketsByLe;
}

export function compactSnapshot(text: string, endpoint: string, takenAtMs: number): MetricsSnapshot {
  const { processStartSeconds, le, deployments } = countersOf(parsePrometheusText(text, WANTED), endpoint);
  // A router exports the hang-up family (even with no series yet) only when its data plane counts them.
  const countsAborts = text.includes(ABORTS_FAMILY);
  return { endpoint, takenAtMs, processStartSeconds, le, ...(countsAborts ? { countsAborts } : {}), deployments };
}

/** One exposition's (or one replica's) samples -> the endpoint's counters and the histograms' bucket layout. */
export function countersOf(samples: Iterable<Sample>, endpoint: string): { processStartSeconds: number | null; le: number[]; deployments: DeploymentCounters } {
  const pending = new Map<string, Map<TrafficKind, Pending>>();
  const finiteLe = new Set<number>();
  let processStartSeconds: number | null = null;

  for (const sample of samples) {
    if (sample.name === PROCESS_START) {
      processStartSeconds = Number.isFinite(sample.value) ? sample.value : null;
      continue;
    }
    const { labels } = sample;
    let le = Number.NaN;
    if (sample.name === DURATION_BUCKET && labels.le !== undefined) {
      le = labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(labels.le);
      // The layout of every endpoint's histograms, so even an endpoint without
      // traffic yet has the same `le` as its later snapshots.
      if (Number.isFinite(le)) finiteLe.add(le);
    }
    if (labels.endpoint !== endpoint || labels.deployment === undefined) continue;
    const traffic = labels.traffic;
    if (traffic !== 'live' && traffic !== 'mirror' && traffic !== 'direct') continue;
    if (sample.name === REQUESTS) {
      const series = pendingSeries(pending, labels.deployment, traffic);
      series.count += sample.value;
      if (isErrorCode(labels.code)) series.errors += sample.value;
    } else if (sample.name === ABORTS) {
      pendingSeries(pending, labels.deployment, traffic).aborts += sample.value;
    } else if (!Number.isNaN(le)) {
      pendingSeries(pending, labels.deployment, traffic).buckets.set(le, sample.value);
    }
  }

  const le = [...finiteLe].sort((a, b) => a - b);
  const deployments: DeploymentCounters = {};
  for (const [deployment, byTraffic] of pending) {
    const entry: Partial<Record<TrafficKind, TrafficSeries>> = {};
    for (const [traffic, series] of byTraffic) {
      const compact: TrafficSeries = { count: series.count, errors: series.errors, buckets: alignBuckets(series.buckets, le) };
      if (series.aborts > 0) compact.aborts = series.aborts;
      entry[traffic] = compact;
    }
    deployments[deployment] = entry;
  }
  return { processStartSeconds, le, deployments };
}

function pendingSeries(pending: Map<string, Map<TrafficKind, Pending>>, deployment: string, traffic: TrafficKind): Pending {
  let byTraffic = pending.get(deployment);
  if (!byTraffic) {
    byTraffic = new Map();
    pending.set(deployment, byTraffic);
  }
  let series = byTraffic.get(traffic);
  if (!series) {
    series = { count: 0, errors: 0, aborts: 0, buckets: new Map() };
    byTraffic.set(traffic, series);
  }
  return series;
}

/**
 * A status that is not a number never came from an upstream answer, so it
 * counts as an error too (the router uses 502/504 for proxy failures today).
 */
function isErrorCode(code: string | undefined): boolean {
  const status = Number(code);
  return !Number.isFinite(status) || status >= 500;
}

/**
 * Cumulative counts on the shared `le` list plus +Inf. All series of one
 * router share one bucket layout, so a gap only appears if the layout
 * differs; a missing bound then takes the count of the bound below it, a
 * lower bound of the true cumulative count: latency may then read high,
 * never low, which is the safe side for a gate.
 */
function alignBuckets(byLe: BucketsByLe, le: readonly number[]): number[] {
  const out: number[] = [];
  let carried = 0;
  for (const bound of le) {
    carried = byLe.get(bound) ?? carried;
    out.push(carried);
  }
  out.push(byLe.get(Number.POSITIVE_INFINITY) ?? carried);
  return out;
}
