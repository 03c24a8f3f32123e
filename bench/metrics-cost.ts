// Metrics cost, in-process:
//  1. TrafficMetrics.record (router/metrics.ts), the per-request metrics work
//     of the data plane: ns per call with one label set vs 450 (50 endpoints
//     x 3 deployments x 3 kinds of traffic), side by side with the booking
//     it replaced (prom-client label children, for /metrics, plus the same
//     plain counters, for the per-endpoint view: every request booked twice)
//     and a plain pre-resolved counter + histogram doing the same arithmetic
//     (what a per-request cost floor looks like); interleaved rounds, medians,
//     and the ratio before/now.
//  2. /metrics scrape time of a router holding 50 x 3 x 3 label sets vs one
//     holding 1, and the longest event-loop stall during a scrape
//     (perf_hooks.monitorEventLoopDelay), next to an idle loop's.
// In-process on purpose: the router's event loop is not observable from
// outside, and a scrape stalls exactly that loop.
//
//   node dist/bench/metrics-cost.js [--calls 500000] [--rounds 5] [--scrapes 20]
import { setTimeout as sleep } from 'node:timers/promises';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Counter, Histogram, Registry } from 'prom-client';
import { Agent, request } from 'undici';
import { AdminClient } from '../router/client.js';
import { DURATION_BUCKETS_SECONDS, RouterMetrics, type TrafficKind, type TrafficMetrics } from '../router/metrics.js';
import { startRouter, type RunningRouter } from '../router/server.js';
import { log } from './lib/log.js';
import { onCleanup, runBench } from './lib/processes.js';
import { machineLine, markdownTable, writeReport } from './lib/report.js';
import { fmt, max, median, ms, ratio, spread } from './lib/stats.js';
import { startBenchUpstream } from './lib/upstream.js';

const KINDS: TrafficKind[] = ['live', 'mirror', 'direct'];
const ENDPOINTS = 50;
const DEPLOYMENTS = ['dep-a', 'dep-b', 'dep-c'];
const TOKEN = 'bench-metrics-token';

interface Recorder {
  record(code: number, seconds: number): void;
}

/** The same arithmetic as a label child with the label lookup done once: a floor for per-request metrics. */
class PlainRecorder implements Recorder {
  private readonly byCode = new Map<number, { value: number }>();
  private readonly buckets = new Float64Array(DURATION_BUCKETS_SECONDS.length + 1);
  private sum = 0;
  private count = 0;
  record(code: number, seconds: number): void {
    let counter = this.byCode.get(code);
    if (!counter) {
      counter = { value: 0 };
      this.byCode.set(code, counter);
    }
    counter.value++;
    let b = 0;
    while (b < DURATION_BUCKETS_SECONDS.length && seconds > (DURATION_BUCKETS_SECONDS[b] ?? Infinity)) b++;
    this.buckets[b] = (this.buckets[b] ?? 0) + 1;
    this.sum += seconds;
    this.count++;
  }
}

/**
 * The booking /metrics had before: prom-client children (a counter child per
 * status code, a histogram child), then the plain counters of the per-endpoint
 * view. Kept here only to measure what booking once saves.
 */
class TwiceBookedRecorder implements Recorder {
  private readonly byCode = new Map<number, Counter.Internal>();
  private readonly duration: Histogram.Internal<'endpoint' | 'deployment' | 'traffic'>;
  constructor(
    private readonly requests: Counter<'endpoint' | 'deployment' | 'traffic' | 'code'>,
    histogram: Histogram<'endpoint' | 'deployment' | 'traffic'>,
    private readonly labels: { endpoint: string; deployment: string; traffic: TrafficKind },
    private readonly plain: TrafficMetrics,
  ) {
    this.duration = histogram.labels(labels);
  }
  record(code: number, seconds: number): void {
    let counter = this.byCode.get(code);
    if (!counter) {
      counter = this.requests.labels({ ...this.labels, code: String(code) });
      this.byCode.set(code, counter);
    }
    counter.inc();
    this.duration.observe(seconds);
    this.plain.record(code, seconds);
  }
}

function twiceBooked(sets: readonly [string, string, TrafficKind][]): Recorder[] {
  const registry = new Registry();
  const requests = new Counter({
    name: 'saferoll_requests_total',
    help: 'h',
    labelNames: ['endpoint', 'deployment', 'traffic', 'code'],
    registers: [registry],
  });
  const histogram = new Histogram({
    name: 'saferoll_request_duration_seconds',
    help: 'h',
    labelNames: ['endpoint', 'deployment', 'traffic'],
    buckets: DURATION_BUCKETS_SECONDS,
    registers: [registry],
  });
  const plain = new RouterMetrics();
  return sets.map(
    ([endpoint, deployment, traffic]) =>
      new TwiceBookedRecorder(requests, histogram, { endpoint, deployment, traffic }, plain.forTraffic(endpoint, deployment, traffic)),
  );
}

runBench('bench:metrics', async () => {
  const { values } = parseArgs({ options: { calls: { type: 'string' }, rounds: { type: 'string' }, scrapes: { type: 'string' } } });
  const calls = Number(values.calls ?? 500_000);
  const rounds = Number(values.rounds ?? 5);
  const scrapes = Number(values.scrapes ?? 20);
  const started = Date.now();

  // ---- 1. record() ----
  const metrics = new RouterMetrics();
  const one: TrafficMetrics[] = [metrics.forTraffic('ep-0', 'dep-a', 'live')];
  const many: TrafficMetrics[] = [];
  for (let e = 0; e < ENDPOINTS; e++) for (const d of DEPLOYMENTS) for (const k of KINDS) many.push(metrics.forTraffic(`ep-${e}`, d, k));
  const plain: Recorder[] = many.map(() => new PlainRecorder());
  const sets: [string, string, TrafficKind][] = [];
  for (let e = 0; e < ENDPOINTS; e++) for (const d of DEPLOYMENTS) for (const k of KINDS) sets.push([`ep-${e}`, d, k]);
  const twiceOne = twiceBooked([['ep-0', 'dep-a', 'live']]);
  const twiceMany = twiceBooked(sets);
  // Latencies spread over the buckets; 1 in 100 answers a 500.
  const latencies = Float64Array.from({ length: 1024 }, (_, i) => 0.0005 + ((i * 7919) % 1024) / 1024 / 2);
  const codes = Int32Array.from({ length: 1024 }, (_, i) => (i % 100 === 0 ? 500 : 200));
  const runRecord = (set: readonly Recorder[], n: number): number => {
    const size = set.length;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) (set[i % size] as Recorder).record(codes[i & 1023] ?? 200, latencies[i & 1023] ?? 0.01);
    return Number(process.hrtime.bigint() - t0) / n;
  };
  const variants = [
    { label: 'TrafficMetrics.record, 1 label set', set: one as Recorder[], ns: [] as number[] },
    { label: `TrafficMetrics.record, ${many.length} label sets (round-robin)`, set: many as Recorder[], ns: [] as number[] },
    { label: 'before: prom-client children + plain copies, 1 label set', set: twiceOne, ns: [] as number[] },
    { label: `before: prom-client children + plain copies, ${twiceMany.length} label sets (round-robin)`, set: twiceMany, ns: [] as number[] },
    { label: `reference: pre-resolved plain counter + histogram, ${plain.length} sets`, set: plain, ns: [] as number[] },
  ];
  for (const v of variants) runRecord(v.set, Math.min(calls, 100_000)); // warm-up (JIT)
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(i + round) % variants.length];
      if (!v) continue;
      v.ns.push(runRecord(v.set, calls));
    }
    log(`record() round ${round + 1}/${rounds}: ${variants.map((v) => `${fmt(v.ns.at(-1) ?? Number.NaN, 0)} ns`).join(', ')}`);
  }

  // ---- 2. scrape ----
  const upstream = await startBenchUpstream({ kind: 'fast' });
  const big = await inProcessRouter('big');
  const small = await inProcessRouter('small');
  const agent = new Agent({ connections: 8 });
  onCleanup('scrape agent', () => agent.close());
  const t0 = Date.now();
  await populate(big, upstream.url, agent, ENDPOINTS);
  await populate(small, upstream.url, agent, 1, ['dep-a'], ['live']);
  log(`populated the routers in ${Date.now() - t0} ms`);

  const scrape = async (router: RunningRouter): Promise<{ text: string; ms: number }> => {
    const s = performance.now();
    const answer = await request(`${router.adminUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` }, dispatcher: agent });
    const text = await answer.body.text();
    if (answer.statusCode !== 200) throw new Error(`/metrics answered ${answer.statusCode}`);
    return { text, ms: performance.now() - s };
  };
  const bigText = (await scrape(big)).text;
  const smallText = (await scrape(small)).text;
  const series = (text: string, prefix: string): number => text.split('\n').filter((l) => l.startsWith(prefix)).length;

  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const result = {
    big: { ms: [] as number[], stall: [] as number[] },
    small: { ms: [] as number[], stall: [] as number[] },
    idle: { stall: [] as number[] },
  };
  for (let i = 0; i < scrapes; i++) {
    for (const which of i % 2 === 0 ? (['big', 'small'] as const) : (['small', 'big'] as const)) {
      await sleep(20);
      delay.reset();
      const r = await scrape(which === 'big' ? big : small);
      await sleep(2); // let the monitor's timer observe the stall
      result[which].ms.push(r.ms);
      result[which].stall.push(delay.max / 1e6);
    }
    await sleep(20);
    delay.reset();
    await sleep(Math.max(5, median(result.big.ms)));
    result.idle.stall.push(delay.max / 1e6);
  }
  delay.disable();
  log(`scrapes: big p50 ${ms(median(result.big.ms))}, small p50 ${ms(median(result.small.ms))}, longest stall ${ms(max(result.big.stall))}`);

  const recordRows = variants.map((v) => [v.label, fmt(median(v.ns), 0), spread(v.ns, (x) => fmt(x, 0)), ratio(median(v.ns) / median(variants[0]?.ns ?? []))]);
  const nsOf = (i: number): number => median(variants[i]?.ns ?? []);
  const savings = [
    ['1 label set', fmt(nsOf(2), 0), fmt(nsOf(0), 0), ratio(nsOf(2) / nsOf(0))],
    [`${many.length} label sets (round-robin)`, fmt(nsOf(3), 0), fmt(nsOf(1), 0), ratio(nsOf(3) / nsOf(1))],
  ];
  log(`booking per request: ${savings.map(([what, before, now, r]) => `${what}: ${before} ns before, ${now} ns now (${r})`).join('; ')}`);
  const scrapeRow = (label: string, text: string, measured: { ms: number[]; stall: number[] }): string[] => [
    label,
    fmt(series(text, 'saferoll_request_duration_seconds_count')),
    fmt(series(text, 'saferoll_')),
    `${fmt(text.length / 1024, 0)} KiB`,
    ms(median(measured.ms)),
    ms(max(measured.ms)),
    ms(median(measured.stall)),
    ms(max(measured.stall)),
  ];
  const scrapeRows = [
    scrapeRow(`${ENDPOINTS} endpoints × ${DEPLOYMENTS.length} deployments × ${KINDS.length} kinds`, bigText, result.big),
    scrapeRow('1 endpoint × 1 deployment × 1 kind', smallText, result.small),
    ['idle (no scrape), same length of time', '-', '-', '-', '-', '-', ms(median(result.idle.stall)), ms(max(result.idle.stall))],
  ];
  const md = [
    `## Metrics cost (${new Date().toISOString()})`,
    '',
    machineLine(),
    `In-process. record(): ${fmt(calls)} calls per run, ${rounds} interleaved rounds, medians (1% of calls with code 500, latencies spread over the buckets). Scrape: two routers started with startRouter in this process, one holding ${ENDPOINTS}×${DEPLOYMENTS.length}×${KINDS.length} label sets (each combination served at least once), one holding 1; ${scrapes} interleaved GET /metrics each over HTTP; the stall is monitorEventLoopDelay's max (1 ms resolution) during one scrape. Took ${Math.round((Date.now() - started) / 1000)} s.`,
    '',
    markdownTable(['per-request metrics work', 'ns per call (median)', 'per round', 'vs 1 label set'], recordRows),
    '',
    markdownTable(['booking one request', 'before: booked twice (ns)', 'now: booked once (ns)', 'before / now'], savings),
    '',
    markdownTable(
      ['router holding', 'histogram series', 'saferoll_* lines', 'exposition size', 'scrape p50', 'scrape max', 'loop stall p50', 'longest loop stall'],
      scrapeRows,
    ),
  ].join('\n');
  await writeReport('metrics-cost', md);
});

async function inProcessRouter(name: string): Promise<RunningRouter> {
  const stateDir = await mkdtemp(path.join(tmpdir(), `saferoll-bench-${name}-`));
  const router = await startRouter({ port: 0, adminPort: 0, stateDir, adminToken: TOKEN, stopGraceMs: 1_000, drainTimeoutMs: 2_000 });
  onCleanup(`router ${name}`, async () => {
    await router.close();
    await rm(stateDir, { recursive: true, force: true });
  });
  return router;
}

/** Creates the endpoints and sends requests so every (endpoint, deployment, kind) has series. */
async function populate(router: RunningRouter, upstream: string, agent: Agent, endpoints: number, deployments = DEPLOYMENTS, kinds = KINDS): Promise<void> {
  const admin = new AdminClient({ adminUrl: router.adminUrl, token: TOKEN });
  try {
    const send = async (endpoint: string, key: string, deployment?: string): Promise<void> => {
      const answer = await request(`${router.dataUrl}/${endpoint}/score`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, ...(deployment ? { 'x-saferoll-deployment': deployment } : {}) },
        body: '{"x":1}',
        dispatcher: agent,
      });
      await answer.body.dump();
      if (answer.statusCode !== 200) throw new Error(`${endpoint} answered ${answer.statusCode}`);
    };
    const work = Array.from({ length: endpoints }, async (_, e) => {
      const endpoint = `ep-${e}`;
      await admin.putEndpoint(endpoint, { authMode: 'key' });
      for (const d of deployments) await admin.putDeployment(endpoint, d, { instanceCount: 1, upstreams: [upstream] });
      const { primaryKey } = await admin.getKeys(endpoint);
      for (const d of deployments) {
        const others = deployments.filter((o) => o !== d);
        const mirror = kinds.includes('mirror') ? others[0] : undefined;
        await admin.setTraffic(endpoint, { [d]: 100 }, mirror ? { [mirror]: 50 } : {});
        for (let i = 0; i < 4; i++) await send(endpoint, primaryKey);
        if (kinds.includes('direct')) await send(endpoint, primaryKey, d);
        // the third deployment gets its mirror copies when it is the live one's first "other"
        if (mirror && others[1]) {
          await admin.setTraffic(endpoint, { [d]: 100 }, { [others[1]]: 50 });
          for (let i = 0; i < 4; i++) await send(endpoint, primaryKey);
        }
      }
    });
    // A few endpoints at a time: the admin API persists state on every change.
    for (let i = 0; i < work.length; i += 1) await work[i];
  } finally {
    await admin.close();
  }
}
