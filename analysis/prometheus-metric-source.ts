// The metric source behind `analysis.source: { prometheus: ... }`: the gate's
// built-in SLOs read from the saferoll series Prometheus scraped from every
// router replica (or Envoy), instead of from one router's /metrics.
//
// It reads raw counters, not `increase(...)`: increase() extrapolates to the
// window's edges (9.7 requests where 9 were answered) and, summed over
// replicas before it is taken, hides one replica's restart. So one instant
// query reads each replica's counters and the scrape time they carry, and
// window.ts takes the increase per replica (restarts found per replica, no
// extrapolation) before it sums: the same counts the router source would
// give, over a window that runs between two scrapes.
import { SaferollError } from '../shared/errors.js';
import type { MetricSource } from './metric-source.js';
import type { Sample } from './prometheus-text.js';
import { callJson } from './providers/http-get.js';
import { prometheusAuthHeaders, queryAnswer } from './providers/prometheus.js';
import { SNAPSHOT_FAMILIES, countersOf, type MetricsSnapshot, type ReplicaCounters } from './snapshot.js';

export interface PrometheusMetricSourceOptions {
  /** Where credentials are read (SAFEROLL_PROMETHEUS_TOKEN, or _USER and _PASSWORD). */
  env?: Readonly<Record<string, string | undefined>>;
  timeoutMs?: number;
  /** Clock for a snapshot with no replica yet; tests pin it. */
  now?: () => number;
}

const DEFAULT_TIMEOUT_MS = 5_000;
/** A few hundred series per replica; enough for fleets of dozens. */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;
/** Marks the scrape-time series of a replica in the answer (a label, as `or` ignores metric names when it matches). */
const SCRAPE_TIME_LABEL = 'saferoll_scrape';

/**
 * The one query a snapshot takes, for `endpoint`:
 *   - the endpoint's request, latency-bucket and hang-up counters, per replica;
 *   - every replica's process start time (its counters' zero), for each
 *     replica of a scrape job that serves saferoll series, so a replica that
 *     has not served this endpoint yet is still known to be there;
 *   - whether each replica counts client hang-ups (a family with no sample
 *     is absent from Prometheus either way: the router says which);
 *   - the time of each replica's last scrape. timestamp() gives a sample's
 *     own time only when applied to a selector (of anything else it gives
 *     the query's time), so it is taken before the `and` that picks the
 *     replicas, which keeps the left side's values.
 * One query, so all of it comes from the same state of Prometheus's database.
 */
export function snapshotQuery(endpoint: string): string {
  const { requests, durationBucket, aborts, abortsCounted, processStart } = SNAPSHOT_FAMILIES;
  const ofSaferollJobs = `and on(job) ${requests}`;
  return [
    `{__name__=~"${requests}|${durationBucket}|${aborts}",endpoint="${promqlString(endpoint)}"}`,
    `(${processStart} ${ofSaferollJobs})`,
    `(${abortsCounted} ${ofSaferollJobs})`,
    `label_replace(timestamp(${processStart}) ${ofSaferollJobs}, "${SCRAPE_TIME_LABEL}", "timestamp", "", "")`,
  ].join(' or ');
}

export class PrometheusMetricSource implements MetricSource {
  private readonly queryUrl: URL;
  private readonly env: Readonly<Record<string, string | undefined>>;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(address: string, options: PrometheusMetricSourceOptions = {}) {
    try {
      this.queryUrl = new URL('api/v1/query', address.endsWith('/') ? address : `${address}/`);
    } catch (cause) {
      throw new SaferollError('SAFEROLL_E_VALIDATION', `analysis.source.prometheus.address: not a URL: ${address}`, { field: 'analysis.source', cause });
    }
    this.env = options.env ?? process.env;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.now = options.now ?? Date.now;
  }

  async snapshot(endpoint: string): Promise<MetricsSnapshot> {
    const url = new URL(this.queryUrl);
    url.searchParams.set('query', snapshotQuery(endpoint));
    const answer = await callJson({
      url: url.href,
      method: 'GET',
      headers: prometheusAuthHeaders(this.env),
      timeoutMs: this.timeoutMs,
      maxBytes: MAX_ANSWER_BYTES,
    });
    // Retryable (not a refusal): Prometheus restarting or slow is retried by the activity.
    if (!answer.ok) throw new SaferollError('SAFEROLL_E_METRICS', `Prometheus: ${answer.message}`);
    return snapshotFromResult(answer.json, endpoint, this.now());
  }
}

/** Prometheus's answer to snapshotQuery -> a snapshot with one entry per replica. */
export function snapshotFromResult(json: unknown, endpoint: string, nowMs: number): MetricsSnapshot {
  const series = vectorOf(json);
  const byReplica = new Map<string, { samples: Sample[]; scrapedAtMs: number | undefined; countsAborts: boolean }>();
  for (const { metric, value } of series) {
    const key = `${metric['job'] ?? ''}/${metric['instance'] ?? ''}`;
    let replica = byReplica.get(key);
    if (!replica) {
      // Unknown until the replica says it counts them: an Envoy-plane router from before the marker did not.
      replica = { samples: [], scrapedAtMs: undefined, countsAborts: false };
      byReplica.set(key, replica);
    }
    if (metric[SCRAPE_TIME_LABEL] === 'timestamp') replica.scrapedAtMs = value * 1000;
    else if (metric['__name__'] === SNAPSHOT_FAMILIES.abortsCounted) replica.countsAborts = value === 1;
    else replica.samples.push({ name: metric['__name__'] ?? '', labels: metric, value });
  }

  if (byReplica.size === 0) {
    // Nothing saferoll ever served is in Prometheus: a window starting here
    // could not tell new requests from old ones. Retried; says where to look.
    throw new SaferollError(
      'SAFEROLL_E_METRICS',
      'Prometheus has no saferoll series from any router yet: is it scraping the routing core (GET /v1/prometheus/targets) and has any request been served?',
    );
  }

  const replicas: Record<string, ReplicaCounters> = {};
  const le = new Set<number>();
  let oldestScrapeMs = Number.POSITIVE_INFINITY;
  // One replica that does not say it counts them makes the sum unsure: then hang-ups are unknown, never a count of 0.
  let countsAborts = true;
  for (const [key, { samples, scrapedAtMs, countsAborts: counts }] of byReplica) {
    const counters = countersOf(samples, endpoint);
    for (const bound of counters.le) le.add(bound);
    // A replica's series without its scrape time (a job whose process start
    // is not exported) is not counted: its window could not be placed in time.
    if (scrapedAtMs === undefined) continue;
    oldestScrapeMs = Math.min(oldestScrapeMs, scrapedAtMs);
    countsAborts &&= counts;
    replicas[key] = { processStartSeconds: counters.processStartSeconds, scrapedAtMs, deployments: counters.deployments };
  }
  return {
    endpoint,
    // The data is as old as the oldest replica's last scrape, not as new as the query.
    takenAtMs: Number.isFinite(oldestScrapeMs) ? oldestScrapeMs : nowMs,
    processStartSeconds: null,
    le: [...le].sort((a, b) => a - b),
    ...(countsAborts ? { countsAborts } : {}),
    deployments: {},
    replicas,
  };
}

interface VectorSample {
  metric: Record<string, string>;
  value: number;
}

function vectorOf(json: unknown): VectorSample[] {
  const data = queryAnswer(json);
  if (!data.ok) throw new SaferollError('SAFEROLL_E_METRICS', data.message);
  if (data.resultType !== 'vector' || !Array.isArray(data.result)) {
    throw new SaferollError('SAFEROLL_E_METRICS', `Prometheus answered a ${String(data.resultType)} where an instant vector was asked`);
  }
  const out: VectorSample[] = [];
  for (const item of data.result as { metric?: Record<string, string>; value?: [number, string] }[]) {
    const value = Number(item.value?.[1]);
    if (item.metric === undefined || Number.isNaN(value)) throw new SaferollError('SAFEROLL_E_METRICS', 'Prometheus sent a series without labels or value');
    out.push({ metric: item.metric, value });
  }
  return out;
}

/** A PromQL double-quoted string's content. */
function promqlString(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
