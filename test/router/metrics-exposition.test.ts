// The router books each request once, in plain counters, and renders /metrics
// and one endpoint's view from them. These tests keep that text what
// prom-client wrote when it held the same series: the same traffic is booked
// through prom-client's own Counter and Histogram, declared as router/metrics.ts
// declared them before, and the saferoll_* families must come out the same.
import { Counter, Histogram, Registry } from 'prom-client';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { parsePrometheusText, type Sample } from '../../analysis/prometheus-text.js';
import { DURATION_BUCKETS_SECONDS, RouterMetrics, type MirrorShedCounter, type TrafficKind, type TrafficMetrics } from '../../router/metrics.js';
import { TEST_ADMIN_TOKEN, startTestRouter } from '../support/router.js';
import { startUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

const KINDS: TrafficKind[] = ['live', 'mirror', 'direct'];

/** The saferoll_* metrics as prom-client held them, booked as the router booked them. */
class PromClientReference {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'saferoll_requests_total',
    help: 'Requests answered through the data plane, by endpoint, deployment, kind of traffic and HTTP status code.',
    labelNames: ['endpoint', 'deployment', 'traffic', 'code'],
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'saferoll_request_duration_seconds',
    help: "The deployment's own time: from the request fully sent to the upstream to the upstream's answer headers (time to first byte), by endpoint, deployment and kind of traffic.",
    labelNames: ['endpoint', 'deployment', 'traffic'],
    buckets: DURATION_BUCKETS_SECONDS,
    registers: [this.registry],
  });
  private readonly mirrorShed = new Counter({
    name: 'saferoll_mirror_shed_total',
    help: 'Mirror copies not sent because too many mirror requests were already in flight.',
    labelNames: ['endpoint', 'deployment'],
    registers: [this.registry],
  });
  private readonly aborts = new Counter({
    name: 'saferoll_client_aborts_total',
    help: 'Clients that hung up before the upstream answer began; never counted as requests answered, by endpoint, deployment and kind of traffic.',
    labelNames: ['endpoint', 'deployment', 'traffic'],
    registers: [this.registry],
  });
  private readonly codes = new Map<string, Set<number>>();

  record(endpoint: string, deployment: string, traffic: TrafficKind, code: number, seconds: number): void {
    const labels = { endpoint, deployment, traffic };
    this.requests.labels({ ...labels, code: String(code) }).inc();
    this.duration.labels(labels).observe(seconds);
    const key = `${endpoint}/${deployment}/${traffic}`;
    this.codes.set(key, (this.codes.get(key) ?? new Set()).add(code));
  }

  abort(endpoint: string, deployment: string, traffic: TrafficKind): void {
    this.aborts.labels({ endpoint, deployment, traffic }).inc();
  }

  shed(endpoint: string, deployment: string): void {
    this.mirrorShed.labels({ endpoint, deployment }).inc();
  }

  /** What deleting a deployment did: every one of its children removed. */
  remove(endpoint: string, deployment: string): void {
    for (const traffic of KINDS) {
      const labels = { endpoint, deployment, traffic };
      for (const code of this.codes.get(`${endpoint}/${deployment}/${traffic}`) ?? []) this.requests.remove({ ...labels, code: String(code) });
      this.duration.remove(labels);
      this.aborts.remove(labels);
    }
    this.mirrorShed.remove({ endpoint, deployment });
  }
}

/** A router's metrics and the reference, booked alike; deployments attached as the lifecycle attaches them. */
class Twin {
  readonly metrics = new RouterMetrics();
  readonly reference = new PromClientReference();
  readonly series = new Map<string, { traffic: Record<TrafficKind, TrafficMetrics>; shed: MirrorShedCounter }>();

  attach(endpoint: string, deployment: string): void {
    this.series.set(`${endpoint}/${deployment}`, {
      traffic: {
        live: this.metrics.forTraffic(endpoint, deployment, 'live'),
        mirror: this.metrics.forTraffic(endpoint, deployment, 'mirror'),
        direct: this.metrics.forTraffic(endpoint, deployment, 'direct'),
      },
      shed: this.metrics.shedCounter(endpoint, deployment),
    });
  }

  private of(endpoint: string, deployment: string): { traffic: Record<TrafficKind, TrafficMetrics>; shed: MirrorShedCounter } {
    const found = this.series.get(`${endpoint}/${deployment}`);
    if (!found) throw new Error(`${endpoint}/${deployment} is not attached`);
    return found;
  }

  record(endpoint: string, deployment: string, traffic: TrafficKind, code: number, seconds: number): void {
    this.of(endpoint, deployment).traffic[traffic].record(code, seconds);
    this.reference.record(endpoint, deployment, traffic, code, seconds);
  }

  abort(endpoint: string, deployment: string, traffic: TrafficKind): void {
    this.of(endpoint, deployment).traffic[traffic].recordClientAbort();
    this.reference.abort(endpoint, deployment, traffic);
  }

  shed(endpoint: string, deployment: string): void {
    this.of(endpoint, deployment).shed.inc();
    this.reference.shed(endpoint, deployment);
  }

  remove(endpoint: string, deployment: string): void {
    const { traffic, shed } = this.of(endpoint, deployment);
    for (const metrics of Object.values(traffic)) metrics.remove();
    shed.remove();
    this.series.delete(`${endpoint}/${deployment}`);
    this.reference.remove(endpoint, deployment);
  }

  endpointView(endpoint: string): string {
    const series = [...this.series.entries()].filter(([key]) => key.startsWith(`${endpoint}/`)).flatMap(([, s]) => Object.values(s.traffic));
    return this.metrics.renderSeries(series);
  }
}

/** The saferoll_* families of an exposition, each as written (prom-client separates families with a blank line). */
function saferollFamilies(text: string): string[] {
  return text
    .split('\n\n')
    .map((block) => block.replace(/\n$/, ''))
    .filter(
      (block) =>
        block.startsWith('# HELP saferoll_') &&
        !block.startsWith('# HELP saferoll_guard_fired_total') &&
        // Ours alone (prom-client had no such gauge): see 'says whether hang-ups are counted'.
        !block.startsWith('# HELP saferoll_client_aborts_counted'),
    );
}

/** A family with its series in label order; lines within a series (buckets, _sum, _count) keep their order. */
function seriesSorted(family: string): string {
  const lines = family.split('\n');
  const series = new Map<string, string[]>();
  for (const line of lines.filter((l) => !l.startsWith('#'))) {
    const key = line.slice(line.indexOf('{'), line.lastIndexOf('}')).replace(/le="[^"]*",/, '');
    series.set(key, [...(series.get(key) ?? []), line]);
  }
  const sorted = [...series.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).flatMap(([, group]) => group);
  return [...lines.filter((l) => l.startsWith('#')), ...sorted].join('\n');
}

// By name, then labels by name: label order within a line is not what is compared here.
const sampleKey = (s: Sample): string => JSON.stringify([s.name, Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1))]);
const sampleOrder = (a: Sample, b: Sample): number => (sampleKey(a) < sampleKey(b) ? -1 : sampleKey(a) > sampleKey(b) ? 1 : 0);
const parsed = (text: string): Sample[] =>
  parsePrometheusText(text, 'saferoll_')
    .filter((s) => s.name !== 'saferoll_client_aborts_counted') // ours alone
    .sort(sampleOrder);

// Bounds themselves, past the last bound, zero, and sums that are not exact in binary.
const LATENCIES = [0.005, 0.0049, 0.0123, 0.1, 0.1 + 1e-9, 1 / 3, 0, 10, 12.5, 0.7071, 2.5, 0.05];
const CODES = [200, 200, 200, 503, 200, 404, 200, 500, 200, 200, 302, 200];

describe('the metrics exposition', () => {
  it('renders the saferoll_* families byte for byte as prom-client did, when series are booked in the order they were made', async () => {
    const twin = new Twin();
    for (const endpoint of ['ep-a', 'ep-b']) for (const deployment of ['blue', 'green', 'idle']) twin.attach(endpoint, deployment);
    let n = 0;
    for (const endpoint of ['ep-a', 'ep-b']) {
      for (const deployment of ['blue', 'green']) {
        for (const traffic of KINDS) {
          if (endpoint === 'ep-b' && traffic === 'direct') continue; // a series never booked
          for (let i = 0; i < 40; i++, n++)
            twin.record(endpoint, deployment, traffic, CODES[n % CODES.length] ?? 200, LATENCIES[(n * 5) % LATENCIES.length] ?? 0);
        }
      }
    }
    for (const endpoint of ['ep-a', 'ep-b']) {
      for (const deployment of ['blue', 'green', 'idle']) {
        for (const traffic of KINDS) if (traffic !== 'mirror') twin.abort(endpoint, deployment, traffic);
        if (deployment !== 'blue') twin.shed(endpoint, deployment);
      }
    }

    const ours = saferollFamilies(await twin.metrics.render());
    const theirs = saferollFamilies(await twin.reference.registry.metrics());
    expect(theirs.map((f) => f.split('\n', 1)[0]?.split(' ')[2])).toEqual([
      'saferoll_requests_total',
      'saferoll_request_duration_seconds',
      'saferoll_mirror_shed_total',
      'saferoll_client_aborts_total',
    ]);
    expect(ours.join('\n\n')).toBe(theirs.join('\n\n'));
  });

  it('renders the same series as prom-client for interleaved traffic and deleted deployments (series order aside), and the per-endpoint view agrees', async () => {
    const twin = new Twin();
    const endpoints = ['ep-a', 'ep-b', 'ep-c'];
    const deployments = ['blue', 'green'];
    for (const endpoint of endpoints) for (const deployment of deployments) twin.attach(endpoint, deployment);
    let seed = 12345;
    const next = (bound: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * bound); // the high bits: the low ones of this generator cycle short
    };
    const book = (count: number): void => {
      for (let i = 0; i < count; i++) {
        const endpoint = endpoints[next(endpoints.length)] as string;
        const deployment = deployments[next(deployments.length)] as string;
        if (!twin.series.has(`${endpoint}/${deployment}`)) continue;
        const traffic = KINDS[next(KINDS.length)] as TrafficKind;
        const roll = next(100);
        if (roll < 3) twin.abort(endpoint, deployment, traffic);
        else if (roll < 5) twin.shed(endpoint, deployment);
        else twin.record(endpoint, deployment, traffic, CODES[next(CODES.length)] ?? 200, next(12_000) / 1000);
      }
    };
    book(3_000);
    twin.remove('ep-b', 'green');
    book(1_000);
    twin.attach('ep-b', 'green'); // the same name again starts from nothing, as after a delete and re-create
    book(1_000);

    const text = await twin.metrics.render();
    const reference = await twin.reference.registry.metrics();
    const ours = saferollFamilies(text);
    const theirs = saferollFamilies(reference);
    // prom-client listed series in the order each was first booked, these in
    // the order each was made: only that order may differ.
    expect(ours.map(seriesSorted)).toEqual(theirs.map(seriesSorted));
    expect(ours.join('\n')).toContain('endpoint="ep-b",deployment="green"');
    // What a gate parses (analysis/prometheus-text.ts) is the same, sample for sample.
    expect(parsed(text)).toEqual(parsed(reference));

    // One endpoint's view: its own series only, the same samples, and the start time that tells a restart.
    const view = twin.endpointView('ep-a');
    const fromReference = parsePrometheusText(reference, ['saferoll_request', 'saferoll_client_aborts_total'])
      .filter((s) => s.labels.endpoint === 'ep-a')
      .sort(sampleOrder);
    expect(fromReference.length).toBeGreaterThan(100);
    expect(parsed(view)).toEqual(fromReference);
    expect(parsePrometheusText(view, 'process_start_time_seconds')).toEqual([{ name: 'process_start_time_seconds', labels: {}, value: expect.any(Number) }]);
  });

  it('drops a deleted deployment from /metrics while its neighbours stay', async () => {
    const twin = new Twin();
    twin.attach('ep', 'blue');
    twin.attach('ep', 'green');
    for (const deployment of ['blue', 'green']) {
      twin.record('ep', deployment, 'live', 200, 0.01);
      twin.abort('ep', deployment, 'live');
      twin.shed('ep', deployment);
    }
    twin.remove('ep', 'green');
    const text = await twin.metrics.render();
    expect(text).not.toContain('deployment="green"');
    expect(text).toContain('saferoll_requests_total{endpoint="ep",deployment="blue",traffic="live",code="200"} 1');
    expect(text).toContain('saferoll_mirror_shed_total{endpoint="ep",deployment="blue"} 1');
    expect(saferollFamilies(text)).toEqual(saferollFamilies(await twin.reference.registry.metrics()));
  });

  it('says whether hang-ups are counted, in /metrics and per endpoint, with the hang-up family present exactly when they are', async () => {
    for (const counting of [true, false]) {
      const metrics = new RouterMetrics({ countsAborts: () => counting });
      const series = metrics.forTraffic('ep', 'blue', 'live');
      for (const text of [await metrics.render(), metrics.renderSeries([series])]) {
        expect(text).toContain(`\nsaferoll_client_aborts_counted ${counting ? 1 : 0}\n`);
        expect(text.includes('# TYPE saferoll_client_aborts_total counter')).toBe(counting);
      }
    }
  });

  it("follows the saferoll_* families with prom-client's process metrics, in its content type", async () => {
    const metrics = new RouterMetrics();
    const text = await metrics.render();
    expect(metrics.contentType()).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(text).toMatch(/\n\n# HELP process_cpu_user_seconds_total /);
    expect(text).toMatch(/\nprocess_start_time_seconds \d+\n/);
    expect(text.endsWith('\n')).toBe(true);
    // Every family exactly once, so a scraper takes the whole text.
    const families = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
    expect(new Set(families).size).toBe(families.length);
  });

  it("drops a deleted deployment's series, shed copies included, from a running router's /metrics and its endpoint view", async () => {
    const t = await startTestRouter();
    const blue = await startUpstream('blue');
    const green = await startUpstream('green');
    try {
      await t.admin.putEndpoint('shop', { authMode: 'key' });
      await t.admin.putDeployment('shop', 'blue', { instanceCount: 1, upstreams: [blue.url] });
      await t.admin.putDeployment('shop', 'green', { instanceCount: 1, upstreams: [green.url] });
      await waitFor(async () => (await t.admin.getDeployment('shop', 'green')).provisioningState === 'Succeeded');
      const { primaryKey: key } = await t.admin.getKeys('shop');
      // Mirror shares are dealt 0, 37, 74, … of 100: at 50% the first two requests are both copied.
      await t.admin.setTraffic('shop', { blue: 100 }, { green: 50 });
      expect((await t.call('shop', { key })).status).toBe(200);
      // Too large to copy: green's mirror copy is shed and counted.
      expect((await t.call('shop', { key, body: JSON.stringify({ pad: 'x'.repeat(70 * 1024) }) })).status).toBe(200);
      const endpointView = async (): Promise<string> =>
        (await request(`${t.router.adminUrl}/metrics?endpoint=shop`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })).body.text();
      const green200 = 'saferoll_requests_total{endpoint="shop",deployment="green",traffic="mirror",code="200"} 1';
      await waitFor(async () => (await t.admin.metricsText()).includes(green200), 10_000, "green's mirror answer booked");
      expect(await t.admin.metricsText()).toContain('saferoll_mirror_shed_total{endpoint="shop",deployment="green"} 1');
      expect(await endpointView()).toContain(green200);

      await t.admin.setTraffic('shop', { blue: 100 }, {});
      await t.admin.deleteDeployment('shop', 'green');
      const after = await t.admin.metricsText();
      expect(after).not.toContain('deployment="green"');
      expect(after).toContain('saferoll_requests_total{endpoint="shop",deployment="blue",traffic="live",code="200"} 2');
      const view = await endpointView();
      expect(view).not.toContain('deployment="green"');
      expect(view).toContain('saferoll_request_duration_seconds_count{endpoint="shop",deployment="blue",traffic="live"} 2');
    } finally {
      await t.close();
      await blue.close();
      await green.close();
    }
  });
});
