// Prometheus metrics of the data plane. A request is booked once, in plain
// per-series counters held by its route target (no label lookup, nothing
// allocated); /metrics and one endpoint's view are both rendered from them,
// line for line as prom-client wrote these series before. prom-client keeps
// what is not booked per request: the process and Node.js metrics, and the
// guard firings (router/guard-timers.ts), in `registry`.
import { Registry, collectDefaultMetrics } from 'prom-client';
import { header, labelText } from './metric-text.js';
import { ShadowMetrics, shadowFamilies } from './shadow/shadow-metrics.js';

export type TrafficKind = 'live' | 'mirror' | 'direct';

// Fine enough to tell 50 ms from 100 ms and 250 ms from 500 ms, the limits
// rollout gates are usually written in.
export const DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2.5, 5, 10];

// As prom-client's default metric computes it.
const PROCESS_START_SECONDS = Math.round(Date.now() / 1000 - process.uptime());

const REQUESTS_HEADER = header(
  'saferoll_requests_total',
  'counter',
  'Requests answered through the data plane, by endpoint, deployment, kind of traffic and HTTP status code.',
);
const DURATION_HEADER = header(
  'saferoll_request_duration_seconds',
  'histogram',
  "The deployment's own time: from the request fully sent to the upstream to the upstream's answer headers (time to first byte), by endpoint, deployment and kind of traffic.",
);
const MIRROR_SHED_HEADER = header('saferoll_mirror_shed_total', 'counter', 'Mirror copies not sent because too many mirror requests were already in flight.');
const ABORTS_HEADER = header(
  'saferoll_client_aborts_total',
  'counter',
  'Clients that hung up before the upstream answer began; never counted as requests answered, by endpoint, deployment and kind of traffic.',
);
/**
 * Whether the hang-up family above counts every hang-up of this router's data
 * plane (1), or is left out (0). A scrape of /metrics tells that by the
 * family's presence; Prometheus keeps samples only, and a family with no
 * sample looks the same as one left out: this says which (the Prometheus
 * metric source reads it).
 */
const ABORTS_COUNTED_HEADER = header(
  'saferoll_client_aborts_counted',
  'gauge',
  '1 while saferoll_client_aborts_total counts every client hang-up of this data plane, 0 while it is left out (an Envoy that does not count them serves).',
);
const PROCESS_START_BLOCK = `${header('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.')}\nprocess_start_time_seconds ${PROCESS_START_SECONDS}`;

// prom-client writes the bucket bound first, then the series' own labels.
const BUCKET_PREFIXES = DURATION_BUCKETS_SECONDS.map((le) => `saferoll_request_duration_seconds_bucket{le="${le}",`);

/**
 * The series of one deployment for one kind of traffic. Lives as long as the
 * deployment's route target; the label text is built once, here, so booking
 * is a few additions and rendering happens only when someone scrapes.
 */
export class TrafficMetrics {
  private readonly labels: string;
  // By code in the order codes were first seen, as prom-client kept its children.
  private readonly codeCounts = new Map<number, number>();
  // One per bound, plus one past the last bound (counted only in +Inf).
  private readonly bucketCounts = new Float64Array(DURATION_BUCKETS_SECONDS.length + 1);
  private sumSeconds = 0;
  private answered = 0;
  private abortCount = 0;

  constructor(
    endpoint: string,
    deployment: string,
    traffic: TrafficKind,
    private readonly rendered: Set<TrafficMetrics>,
  ) {
    this.labels = labelText({ endpoint, deployment, traffic });
    rendered.add(this);
  }

  /** Drops this deployment's series (it was deleted), so /metrics does not grow with every rollout. */
  remove(): void {
    this.rendered.delete(this);
  }

  /**
   * A client that hung up before the deployment's answer began: not an
   * answer, so it stays out of the request count and the latency histogram
   * (and so out of a gate's sample size, error rate and percentiles).
   */
  recordClientAbort(): void {
    this.abortCount++;
  }

  record(code: number, seconds: number): void {
    this.codeCounts.set(code, (this.codeCounts.get(code) ?? 0) + 1);
    // The first bound the value is at or under, as prom-client's findBound.
    let bucket = 0;
    while (bucket < DURATION_BUCKETS_SECONDS.length && seconds > (DURATION_BUCKETS_SECONDS[bucket] as number)) bucket++;
    this.bucketCounts[bucket]!++;
    // Summed in booking order, as prom-client did, so the same float comes out.
    this.sumSeconds += seconds;
    this.answered++;
  }

  /**
   * Replaces every count with totals measured elsewhere: the Envoy data
   * plane's, summed over its fleet (router/envoy/fleet-stats.ts). `buckets`
   * is per bound, not cumulative, plus one past the last bound.
   */
  setTotals(codes: ReadonlyMap<number, number>, buckets: readonly number[], sumSeconds: number, timed: number): void {
    this.codeCounts.clear();
    for (const [code, n] of codes) this.codeCounts.set(code, n);
    for (let i = 0; i < this.bucketCounts.length; i++) this.bucketCounts[i] = buckets[i] ?? 0;
    this.sumSeconds = sumSeconds;
    this.answered = timed;
  }

  /** Replaces the hang-up count with one measured elsewhere (the Envoy fleet's, router/envoy/fleet-stats.ts). */
  setAbortTotal(count: number): void {
    this.abortCount = count;
  }

  renderRequests(lines: string[]): void {
    for (const [code, n] of this.codeCounts) lines.push(`saferoll_requests_total{${this.labels},code="${code}"} ${n}`);
  }

  /** Nothing until the first answer: prom-client made a histogram series on its first observation. */
  renderDuration(lines: string[]): void {
    if (this.answered === 0) return;
    let cumulative = 0;
    for (let i = 0; i < BUCKET_PREFIXES.length; i++) {
      cumulative += this.bucketCounts[i] as number;
      lines.push(`${BUCKET_PREFIXES[i]}${this.labels}} ${cumulative}`);
    }
    lines.push(`saferoll_request_duration_seconds_bucket{le="+Inf",${this.labels}} ${this.answered}`);
    lines.push(`saferoll_request_duration_seconds_sum{${this.labels}} ${this.sumSeconds}`);
    lines.push(`saferoll_request_duration_seconds_count{${this.labels}} ${this.answered}`);
  }

  renderAborts(lines: string[]): void {
    if (this.abortCount > 0) lines.push(`saferoll_client_aborts_total{${this.labels}} ${this.abortCount}`);
  }
}

/** Mirror copies of one deployment not sent (the mirror was saturated, or the body too large to copy). */
export class MirrorShedCounter {
  private readonly labels: string;
  private count = 0;

  constructor(
    endpoint: string,
    deployment: string,
    private readonly rendered: Set<MirrorShedCounter>,
  ) {
    this.labels = labelText({ endpoint, deployment });
    rendered.add(this);
  }

  inc(): void {
    this.count++;
  }

  /** Replaces the count with one measured elsewhere (the Envoy fleet's, router/envoy/fleet-stats.ts). */
  setTotal(count: number): void {
    this.count = count;
  }

  /** Drops the series with its deployment. */
  remove(): void {
    this.rendered.delete(this);
  }

  render(lines: string[]): void {
    if (this.count > 0) lines.push(`saferoll_mirror_shed_total{${this.labels}} ${this.count}`);
  }
}

/** One family: its header, then its series (none is still a family, as prom-client wrote it). */
function family<T>(head: string, series: Iterable<T>, render: (item: T, lines: string[]) => void): string {
  const lines = [head];
  for (const item of series) render(item, lines);
  return lines.join('\n');
}

function trafficFamilies(series: Iterable<TrafficMetrics>): { requests: string; duration: string; aborts: string } {
  return {
    requests: family(REQUESTS_HEADER, series, (s, lines) => s.renderRequests(lines)),
    duration: family(DURATION_HEADER, series, (s, lines) => s.renderDuration(lines)),
    aborts: family(ABORTS_HEADER, series, (s, lines) => s.renderAborts(lines)),
  };
}

export class RouterMetrics {
  /** prom-client's part of /metrics: process and Node.js metrics, guard firings. */
  readonly registry = new Registry();
  // Every series /metrics renders, in the order they were made.
  private readonly traffic = new Set<TrafficMetrics>();
  private readonly shed = new Set<MirrorShedCounter>();
  private readonly shadow = new Set<ShadowMetrics>();
  /**
   * False while the data plane cannot count every client hang-up (an Envoy
   * of the fleet runs a bootstrap that does not count them): the hang-up
   * family is then left out of /metrics altogether, so a gate reads hang-ups
   * as unknown rather than as a count short of the truth (analysis/snapshot.ts).
   * Asked at each render.
   */
  private readonly countsAborts: () => boolean;

  constructor(options: { countsAborts?: () => boolean } = {}) {
    this.countsAborts = options.countsAborts ?? (() => true);
    collectDefaultMetrics({ register: this.registry });
  }

  forTraffic(endpoint: string, deployment: string, traffic: TrafficKind): TrafficMetrics {
    return new TrafficMetrics(endpoint, deployment, traffic, this.traffic);
  }

  shedCounter(endpoint: string, deployment: string): MirrorShedCounter {
    return new MirrorShedCounter(endpoint, deployment, this.shed);
  }

  /** The shadow comparison series of a mirrored deployment (shadow/shadow-metrics.ts). */
  forShadow(endpoint: string, deployment: string): ShadowMetrics {
    return new ShadowMetrics(endpoint, deployment, this.shadow);
  }

  /** Only these series (one endpoint's), plus the process start time that tells a restart. */
  renderSeries(series: readonly TrafficMetrics[], shadow: readonly ShadowMetrics[] = []): string {
    const { requests, duration, aborts } = trafficFamilies(series);
    return `${requests}\n\n${duration}\n\n${this.abortsBlock(aborts)}${shadowFamilies(shadow)}${PROCESS_START_BLOCK}\n`;
  }

  contentType(): string {
    return this.registry.contentType;
  }

  /** Every series, in the families' order prom-client had them, then prom-client's own registry. */
  async render(): Promise<string> {
    const { requests, duration, aborts } = trafficFamilies(this.traffic);
    const shed = family(MIRROR_SHED_HEADER, this.shed, (s, lines) => s.render(lines));
    return `${requests}\n\n${duration}\n\n${shed}\n\n${this.abortsBlock(aborts)}${shadowFamilies(this.shadow)}${await this.registry.metrics()}`;
  }

  private abortsBlock(aborts: string): string {
    const counted = this.countsAborts();
    return `${counted ? `${aborts}\n\n` : ''}${ABORTS_COUNTED_HEADER}\nsaferoll_client_aborts_counted ${counted ? 1 : 0}\n\n`;
  }
}
