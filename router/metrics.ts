// Prometheus metrics of the data plane (prom-client). Label children are
// created once per (endpoint, deployment, traffic kind) and cached on the
// route target, so a request only does an increment and an observe.
import { Counter, Histogram, Registry, collectDefaultMetrics, type LabelValues } from 'prom-client';

export type TrafficKind = 'live' | 'mirror' | 'direct';

// Fine enough to tell 50 ms from 100 ms and 250 ms from 500 ms, the limits
// rollout gates are usually written in.
export const DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2.5, 5, 10];

// As prom-client's default metric computes it.
const PROCESS_START_SECONDS = Math.round(Date.now() / 1000 - process.uptime());

type RequestLabels = 'endpoint' | 'deployment' | 'traffic' | 'code';
type DurationLabels = 'endpoint' | 'deployment' | 'traffic';
type AbortLabels = DurationLabels;

/** The metric children of one deployment for one kind of traffic. */
export class TrafficMetrics {
  private readonly byCode = new Map<number, Counter.Internal>();
  // Plain copies of the same numbers, so one endpoint's series can be
  // rendered without walking (and prom-client rendering) every endpoint's:
  // a gate reads only its own endpoint, every interval.
  private readonly codeCounts = new Map<number, number>();
  private readonly bucketCounts = new Float64Array(DURATION_BUCKETS_SECONDS.length + 1);
  private sumSeconds = 0;
  // Created on the first hang-up, like the per-code children: most series never see one.
  private abortCounter: Counter.Internal | undefined;
  private abortCount = 0;

  private readonly duration: Histogram.Internal<DurationLabels>;

  constructor(
    private readonly requests: Counter<RequestLabels>,
    private readonly labels: LabelValues<DurationLabels>,
    private readonly histogram: Histogram<DurationLabels>,
    private readonly aborts: Counter<AbortLabels>,
  ) {
    this.duration = histogram.labels(labels);
  }

  /** Drops this deployment's series (it was deleted), so /metrics does not grow with every rollout. */
  remove(): void {
    for (const code of this.byCode.keys()) this.requests.remove({ ...this.labels, code: String(code) });
    this.byCode.clear();
    this.histogram.remove(this.labels);
    if (this.abortCounter) this.aborts.remove(this.labels);
    this.abortCounter = undefined;
  }

  /**
   * A client that hung up before the deployment's answer began: not an
   * answer, so it stays out of the request count and the latency histogram
   * (and so out of a gate's sample size, error rate and percentiles).
   */
  recordClientAbort(): void {
    if (!this.abortCounter) this.abortCounter = this.aborts.labels(this.labels);
    this.abortCounter.inc();
    this.abortCount++;
  }

  record(code: number, seconds: number): void {
    let counter = this.byCode.get(code);
    if (!counter) {
      counter = this.requests.labels({ ...this.labels, code: String(code) });
      this.byCode.set(code, counter);
    }
    counter.inc();
    this.duration.observe(seconds);
    this.codeCounts.set(code, (this.codeCounts.get(code) ?? 0) + 1);
    let bucket = 0;
    while (bucket < DURATION_BUCKETS_SECONDS.length && seconds > (DURATION_BUCKETS_SECONDS[bucket] as number)) bucket++;
    this.bucketCounts[bucket]!++;
    this.sumSeconds += seconds;
  }

  /** This series in the Prometheus text format (names are [a-z0-9-], so labels need no escaping). */
  renderInto(requests: string[], durations: string[], aborts: string[]): void {
    const { endpoint, deployment, traffic } = this.labels;
    const labels = `endpoint="${endpoint}",deployment="${deployment}",traffic="${traffic}"`;
    if (this.abortCount > 0) aborts.push(`saferoll_client_aborts_total{${labels}} ${this.abortCount}`);
    let count = 0;
    for (const [code, n] of this.codeCounts) {
      requests.push(`saferoll_requests_total{${labels},code="${code}"} ${n}`);
      count += n;
    }
    if (count === 0) return;
    let cumulative = 0;
    DURATION_BUCKETS_SECONDS.forEach((le, i) => {
      cumulative += this.bucketCounts[i] ?? 0;
      durations.push(`saferoll_request_duration_seconds_bucket{${labels},le="${le}"} ${cumulative}`);
    });
    durations.push(`saferoll_request_duration_seconds_bucket{${labels},le="+Inf"} ${count}`);
    durations.push(`saferoll_request_duration_seconds_sum{${labels}} ${this.sumSeconds}`);
    durations.push(`saferoll_request_duration_seconds_count{${labels}} ${count}`);
  }
}

export class RouterMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<RequestLabels>;
  private readonly duration: Histogram<DurationLabels>;
  private readonly mirrorShed: Counter<'endpoint' | 'deployment'>;
  private readonly clientAborts: Counter<AbortLabels>;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'saferoll_requests_total',
      help: 'Requests answered through the data plane, by endpoint, deployment, kind of traffic and HTTP status code.',
      labelNames: ['endpoint', 'deployment', 'traffic', 'code'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'saferoll_request_duration_seconds',
      help:
        "The deployment's own time: from the request fully sent to the upstream to the upstream's answer headers (time to first byte), by endpoint, deployment and kind of traffic.",
      labelNames: ['endpoint', 'deployment', 'traffic'],
      buckets: DURATION_BUCKETS_SECONDS,
      registers: [this.registry],
    });
    this.mirrorShed = new Counter({
      name: 'saferoll_mirror_shed_total',
      help: 'Mirror copies not sent because too many mirror requests were already in flight.',
      labelNames: ['endpoint', 'deployment'],
      registers: [this.registry],
    });
    this.clientAborts = new Counter({
      name: 'saferoll_client_aborts_total',
      help: 'Clients that hung up before the upstream answer began; never counted as requests answered, by endpoint, deployment and kind of traffic.',
      labelNames: ['endpoint', 'deployment', 'traffic'],
      registers: [this.registry],
    });
  }

  forTraffic(endpoint: string, deployment: string, traffic: TrafficKind): TrafficMetrics {
    const labels = { endpoint, deployment, traffic };
    return new TrafficMetrics(this.requests, labels, this.duration, this.clientAborts);
  }

  removeShedCounter(endpoint: string, deployment: string): void {
    this.mirrorShed.remove({ endpoint, deployment });
  }

  shedCounter(endpoint: string, deployment: string): Counter.Internal {
    return this.mirrorShed.labels({ endpoint, deployment });
  }

  /** Only these series (one endpoint's), plus the process start time that tells a restart. */
  renderSeries(series: Iterable<TrafficMetrics>): string {
    const requests = ['# TYPE saferoll_requests_total counter'];
    const durations = ['# TYPE saferoll_request_duration_seconds histogram'];
    const aborts = ['# TYPE saferoll_client_aborts_total counter'];
    for (const metrics of series) metrics.renderInto(requests, durations, aborts);
    return [...requests, ...durations, ...aborts, '# TYPE process_start_time_seconds gauge', `process_start_time_seconds ${PROCESS_START_SECONDS}`, ''].join('\n');
  }

  contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
