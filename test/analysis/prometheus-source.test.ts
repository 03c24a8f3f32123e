// analysis.source: prometheus against the router's own /metrics, on the same
// traffic: a real router, real upstreams, and a real Prometheus scraping the
// router every second through its HTTP SD (as `saferoll dev --prometheus`).
// Windows between two snapshots taken after Prometheus has scraped all the
// traffic must agree: the same request and error counts (so the same error
// rate, exactly) and p95 within one bucket.
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrometheusMetricSource, snapshotQuery } from '../../analysis/prometheus-metric-source.js';
import { RouterMetricSource } from '../../analysis/router-metric-source.js';
import type { MetricsSnapshot } from '../../analysis/snapshot.js';
import { measureWindow, type WindowStats } from '../../analysis/window.js';
import { startPrometheus, type TestPrometheus } from '../support/prometheus.js';
import { TEST_ADMIN_TOKEN, callDataPlane, startTestRouter, type TestRouter } from '../support/router.js';
import { startUpstream, type TestUpstream } from '../support/upstream.js';
import { waitFor } from '../support/wait-for.js';

let t: TestRouter;
let prometheus: TestPrometheus;
let blue: TestUpstream;
let green: TestUpstream;
let agent: Agent;
let key: string;

beforeAll(async () => {
  t = await startTestRouter();
  prometheus = await startPrometheus(t.router.adminUrl, TEST_ADMIN_TOKEN);
  blue = await startUpstream('blue', { delayMs: 20 });
  green = await startUpstream('green', { delayMs: 60 });
  agent = new Agent({ connections: 16 });
  await t.admin.putEndpoint('agree', { authMode: 'key' });
  await t.admin.putDeployment('agree', 'blue', { instanceCount: 1, upstreams: [blue.url] });
  await t.admin.putDeployment('agree', 'green', { instanceCount: 1, upstreams: [green.url] });
  await t.admin.setTraffic('agree', { blue: 50, green: 50 });
  key = (await t.admin.getKeys('agree')).primaryKey;
});

afterAll(async () => {
  await agent?.close();
  await prometheus?.close();
  await t?.close();
  await blue?.close();
  await green?.close();
});

/** `n` requests, 4 at a time, each answered (5xx included) as the test set the upstreams. */
async function send(n: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const answer = await callDataPlane(t.router.dataUrl, agent, 'agree', { key });
      if (answer.status !== 200 && answer.status !== 500) throw new Error(`unexpected ${answer.status}: ${answer.body}`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

/** A Prometheus snapshot whose every replica was scraped after `sinceMs`, so it holds all traffic sent before. */
async function scrapedAfter(source: PrometheusMetricSource, sinceMs: number): Promise<MetricsSnapshot> {
  return waitFor(
    async () => {
      const snapshot = await source.snapshot('agree').catch(() => undefined);
      const replicas = Object.values(snapshot?.replicas ?? {});
      return replicas.length > 0 && replicas.every((r) => r.scrapedAtMs > sinceMs) ? snapshot : undefined;
    },
    30_000,
    `a Prometheus scrape after ${new Date(sinceMs).toISOString()} (${prometheus.output().slice(-300)})`,
  );
}

/**
 * The router's snapshot once it has booked all `sent` requests (a request
 * is booked as its answer ends, just after the client has it), and the time
 * from which a scrape holds them all.
 */
async function booked(source: RouterMetricSource, sent: number): Promise<{ snapshot: MetricsSnapshot; atMs: number }> {
  const snapshot = await waitFor(
    async () => {
      const now = await source.snapshot('agree');
      const total = ['blue', 'green'].reduce((sum, d) => sum + measureWindow(undefined, now, d, 'live').requests, 0);
      return total === sent ? now : undefined;
    },
    10_000,
    `the router booked ${sent} requests`,
  );
  return { snapshot, atMs: Date.now() };
}

function bucketIndex(window: WindowStats, ms: number | null): number {
  if (ms === null) return -1;
  const index = window.buckets.findIndex((b) => ms <= b.leMs);
  return index === -1 ? window.buckets.length : index;
}

describe('analysis.source: prometheus', () => {
  it('measures the same window as the router source: counts and error rate exact, p95 within one bucket', async () => {
    const viaRouter = new RouterMetricSource(t.router.adminUrl, TEST_ADMIN_TOKEN);
    const viaPrometheus = new PrometheusMetricSource(prometheus.url);

    // Traffic before the window, which neither source may count in it.
    await send(40);
    const start = await booked(viaRouter, 40);
    const startR = start.snapshot;
    const startP = await scrapedAfter(viaPrometheus, start.atMs);

    // The window: green failing for a while, then blue slower.
    green.behaviour.status = 500;
    await send(30);
    green.behaviour.status = 200;
    blue.behaviour.delayMs = 120;
    await send(70);
    const end = await booked(viaRouter, 140);
    const endR = end.snapshot;
    const endP = await scrapedAfter(viaPrometheus, end.atMs);

    // The snapshot is as old as the scrape it read, not as the query.
    const [replica] = Object.values(endP.replicas ?? {});
    expect(endP.takenAtMs).toBe(replica?.scrapedAtMs);
    expect(endP.takenAtMs).toBeLessThanOrEqual(Date.now());

    let total = 0;
    for (const deployment of ['blue', 'green']) {
      const router = measureWindow(startR, endR, deployment, 'live');
      const prom = measureWindow(startP, endP, deployment, 'live');
      expect(prom.requests, deployment).toBe(router.requests);
      expect(prom.errors, deployment).toBe(router.errors);
      expect(prom.errorRate, deployment).toBe(router.errorRate);
      expect(prom.buckets.map((b) => b.leMs)).toEqual(router.buckets.map((b) => b.leMs));
      expect(
        Math.abs(bucketIndex(prom, prom.p95Ms) - bucketIndex(router, router.p95Ms)),
        `${deployment} p95 ${prom.p95Ms} vs ${router.p95Ms}`,
      ).toBeLessThanOrEqual(1);
      total += prom.requests;
    }
    // Only the window's 100 requests: the 40 before it are not in it.
    expect(total).toBe(100);
    expect(measureWindow(startP, endP, 'green', 'live').errors).toBeGreaterThan(0);
  }, 90_000);

  it('reads one query that names the endpoint, and an endpoint with no series yet measures as no requests', async () => {
    expect(snapshotQuery('agree')).toContain('endpoint="agree"');
    const viaPrometheus = new PrometheusMetricSource(prometheus.url);
    const snapshot = await viaPrometheus.snapshot('nothing-here');
    // The router replica is known (it serves saferoll series), with nothing for this endpoint.
    const replicas = Object.values(snapshot.replicas ?? {});
    expect(replicas).toHaveLength(1);
    expect(replicas[0]?.deployments).toEqual({});
    expect(replicas[0]?.processStartSeconds).toBeGreaterThan(0);
    expect(measureWindow(snapshot, snapshot, 'green', 'live').requests).toBe(0);
  });

  it('says what is wrong when Prometheus cannot answer', async () => {
    const closed = new PrometheusMetricSource('http://127.0.0.1:9', { timeoutMs: 2_000 });
    await expect(closed.snapshot('agree')).rejects.toMatchObject({ code: 'SAFEROLL_E_METRICS', message: expect.stringMatching(/^Prometheus: cannot reach/) });
  });
});
