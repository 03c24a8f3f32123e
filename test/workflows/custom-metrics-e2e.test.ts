// Custom checks end to end: policies/model-quality.yaml gating on the
// model_accuracy gauge of real model-server processes, read from a real
// Prometheus that discovers them through the router's /v1/prometheus/targets
// (the configuration `saferoll dev --prometheus` writes: 1s scrapes,
// discovery every 2s), with steady client load through a real router and the
// worker reading that Prometheus through SAFEROLL_PROMETHEUS_URL.
//
// Scrape lag: green's series exists only once discovery has listed it (<= 2s)
// and Prometheus has scraped it (<= 1s more), so the first ticks of the mirror
// bake may read "no data" (Inconclusive, which never passes and never acts
// before the bake ends). Each bake's window ({{window}}) is the bake so far,
// so when a bake is judged at its end its avg_over_time covers every scrape
// of it: the shipped mirror bake (10s) ends on several scrapes, and the bad
// green's run gets a 30s mirror so that its verdict is about the data even on
// a slow machine (a Failed reading ends the bake at once, so the longer bake
// costs nothing). Blue's series is in Prometheus before each rollout starts.
//
// SAFEROLL_PRINT_TRAIL=1 prints the bad green's decision trail.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rolloutResult } from '../../cli/follow-rollout.js';
import { decisionLine } from '../../cli/rollout-view.js';
import { loadPolicyFile } from '../../policies/loader.js';
import type { CustomMetric, Policy } from '../../policies/types.js';
import type { RolloutResult } from '../../workflows/types.js';
import { PROJECT_ROOT } from '../support/cli.js';
import { startLoad } from '../support/load.js';
import { startPrometheus, type TestPrometheus } from '../support/prometheus.js';
import { RolloutTestBed } from '../support/rollout-fixture.js';
import { TEST_ADMIN_TOKEN } from '../support/router.js';
import { createEndpointWithScrapedBlue, scrapedModelServer } from '../support/scraped-rollout.js';

let bed: RolloutTestBed;
let prometheus: TestPrometheus;
let shipped: Policy;

beforeAll(async () => {
  bed = await RolloutTestBed.create();
  prometheus = await startPrometheus(bed.router.router.adminUrl, TEST_ADMIN_TOKEN);
  // The worker's providers read it, as `saferoll dev --prometheus` sets it for its worker
  // (this file runs in a process of its own: vitest's forks pool).
  process.env.SAFEROLL_PROMETHEUS_URL = prometheus.url;
  await bed.startWorker();
  shipped = await loadPolicyFile(path.join(PROJECT_ROOT, 'policies/model-quality.yaml'));
});

afterAll(async () => {
  await bed?.close();
  await prometheus?.close();
});

function withMirrorFor(policy: Policy, forMs: number): Policy {
  return { ...policy, steps: policy.steps.map((s) => (s.kind === 'mirror' ? { ...s, forMs } : s)) };
}

function withMetrics(policy: Policy, metrics: CustomMetric[]): Policy {
  return { ...policy, analysis: { ...policy.analysis, metrics } };
}

/** The built-in SLOs read through Prometheus (the worker's SAFEROLL_PROMETHEUS_URL), not the router. */
function fromPrometheus(policy: Policy): Policy {
  return { ...policy, analysis: { ...policy.analysis, source: { prometheus: {} } } };
}

function trail(result: RolloutResult): string {
  return result.decisions.map(decisionLine).join('\n');
}

describe('custom checks on Prometheus, end to end', () => {
  it('rolls back during the mirror step a green whose latency and errors are fine but whose accuracy is bad, with 0 client failures', async () => {
    const key = await createEndpointWithScrapedBlue(bed.router, prometheus, 'mq-bad');
    const load = startLoad(bed.router.router.dataUrl, 'mq-bad', key);
    const handle = await bed.start('mq-bad', scrapedModelServer('green', { MODEL_ACCURACY: '0.7' }), withMirrorFor(shipped, 30_000), {
      policySource: 'model-quality.yaml',
    });
    const result = await rolloutResult(handle);
    const report = await load.stop();
    if (process.env.SAFEROLL_PRINT_TRAIL) console.log(`decision trail (${result.outcome}):\n${trail(result)}\nreason: ${result.reason}`);

    const query = 'avg(avg_over_time(model_accuracy{endpoint="mq-bad",deployment="green"}[';
    expect(result.outcome, result.reason).toBe('rolled-back');
    expect(result.failedStep?.description).toMatch(/^mirror/);
    // A breach read from data, not a bake that ran out without any.
    expect(result.reason).toMatch(/^gate failed: /);
    expect(result.reason).toContain('accuracy');
    expect(result.reason).toContain(query);
    const checks = result.lastGate?.checks ?? [];
    const min = checks.find((c) => c.name === 'accuracy' && c.rule === 'min');
    expect(min).toMatchObject({ phase: 'Failed', value: 0.7, limit: 0.92 });
    expect(min?.query).toContain(query);
    // The router's own gates had nothing against green: the custom check alone decided.
    expect(checks.filter((c) => c.name === undefined && c.phase === 'Failed')).toEqual([]);
    expect(result.decisions.some((d) => d.kind === 'gate' && d.message.includes('accuracy'))).toBe(true);

    expect(report.sent).toBeGreaterThan(0);
    expect(report.failures).toEqual([]);
    expect(report.failed).toBe(0);
    // Mirrored only: no client was answered by green.
    expect(report.byDeployment.green ?? 0).toBe(0);
    const endpoint = await bed.router.admin.getEndpoint('mq-bad');
    expect(endpoint.traffic).toEqual({ blue: 100 });
    expect(endpoint.mirrorTraffic).toEqual({});
    expect((await bed.router.admin.listDeployments('mq-bad')).map((d) => d.name)).toEqual(['blue']);
  }, 120_000);

  it('promotes a green as accurate as blue, its SLOs read through Prometheus too', async () => {
    const key = await createEndpointWithScrapedBlue(bed.router, prometheus, 'mq-good');
    const load = startLoad(bed.router.router.dataUrl, 'mq-good', key);
    const result = await rolloutResult(await bed.start('mq-good', scrapedModelServer('green', { MODEL_ACCURACY: '0.95' }), fromPrometheus(shipped)));
    const report = await load.stop();

    expect(result.outcome, result.reason).toBe('promoted');
    expect(report.failures).toEqual([]);
    expect(report.byDeployment.green).toBeGreaterThan(0);
    // Every bake passed with the accuracy check holding on data.
    const passed = result.decisions.filter((d) => d.kind === 'gate' && d.message.startsWith('bake of'));
    expect(passed).toHaveLength(3);
    for (const d of passed) expect(d.message).toContain('custom checks hold');
    expect((await bed.router.admin.getEndpoint('mq-good')).traffic).toEqual({ green: 100 });
    expect((await bed.router.admin.listDeployments('mq-good')).map((d) => d.name)).toEqual(['green']);
  }, 120_000);

  it('with analysis.source prometheus, rolls back from the mirror step a green too slow for the p95 SLO, 0 client failures', async () => {
    const key = await createEndpointWithScrapedBlue(bed.router, prometheus, 'src-bad');
    const load = startLoad(bed.router.router.dataUrl, 'src-bad', key);
    // No custom check: only the built-in SLOs, from the router's series in Prometheus, can fail it.
    const { metrics: _none, ...analysis } = fromPrometheus(shipped).analysis;
    const policy = withMirrorFor({ ...shipped, analysis }, 30_000);
    const result = await rolloutResult(await bed.start('src-bad', scrapedModelServer('green', { LATENCY_MS: '400' }), policy));
    const report = await load.stop();
    if (process.env.SAFEROLL_PRINT_TRAIL) console.log(`decision trail (${result.outcome}):\n${trail(result)}\nreason: ${result.reason}`);

    expect(result.outcome, result.reason).toBe('rolled-back');
    expect(result.failedStep?.description).toMatch(/^mirror/);
    expect(result.reason).toMatch(/^gate failed: .*p95 [\d.]+ms > 250ms/);
    expect(report.failures).toEqual([]);
    expect(report.byDeployment.green ?? 0).toBe(0);
    expect((await bed.router.admin.getEndpoint('src-bad')).traffic).toEqual({ blue: 100 });
  }, 120_000);

  it("fails a broken query after consecutiveErrorLimit errors in a row, with Prometheus's own error text", async () => {
    const key = await createEndpointWithScrapedBlue(bed.router, prometheus, 'mq-broken');
    const load = startLoad(bed.router.router.dataUrl, 'mq-broken', key);
    // Valid as a template (saferoll does not parse PromQL); Prometheus refuses it.
    const broken: CustomMetric = { name: 'accuracy', prometheus: { query: 'avg(model_accuracy{endpoint="{{endpoint}}"}' }, min: 0.92 };
    const withBroken = withMetrics(shipped, [broken]);
    const policy = withMirrorFor({ ...withBroken, analysis: { ...withBroken.analysis, consecutiveErrorLimit: 3 } }, 30_000);
    const result = await rolloutResult(await bed.start('mq-broken', scrapedModelServer('green'), policy));
    const report = await load.stop();

    expect(result.outcome, result.reason).toBe('rolled-back');
    expect(result.failedStep?.description).toMatch(/^mirror/);
    expect(result.reason).toMatch(
      /^gate failed: failed: accuracy n\/a, limit min 0\.92 FAILED \(3 provider errors in a row: green: Prometheus: HTTP 400: bad_data: .*parse error/,
    );
    expect(report.failures).toEqual([]);
    expect((await bed.router.admin.getEndpoint('mq-broken')).traffic).toEqual({ blue: 100 });
  }, 120_000);

  it('never passes a query without data: the mirror bake ends Inconclusive and rolls back, saying "no data"', async () => {
    const key = await createEndpointWithScrapedBlue(bed.router, prometheus, 'mq-nodata');
    const load = startLoad(bed.router.router.dataUrl, 'mq-nodata', key);
    const missing: CustomMetric = {
      name: 'accuracy',
      prometheus: { query: 'avg_over_time(model_accuracy_nowhere{endpoint="{{endpoint}}",deployment="{{deployment}}"}[{{window}}])' },
      min: 0.92,
    };
    const result = await rolloutResult(await bed.start('mq-nodata', scrapedModelServer('green'), withMetrics(shipped, [missing])));
    const report = await load.stop();

    expect(result.outcome, result.reason).toBe('rolled-back');
    expect(result.failedStep?.description).toMatch(/^mirror/);
    expect(result.reason).toMatch(/^bake ended without a passing gate: inconclusive/);
    expect(result.reason).toContain('no data');
    expect(result.reason).toContain('model_accuracy_nowhere{endpoint="mq-nodata",deployment="green"}');
    expect(result.lastGate?.checks.find((c) => c.name === 'accuracy')?.phase).toBe('Inconclusive');
    // The green itself was scraped all along: only the query had nothing.
    expect((await prometheus.query('max_over_time(model_accuracy{endpoint="mq-nodata",deployment="green"}[5m])')).length).toBe(1);
    expect(report.failures).toEqual([]);
    expect((await bed.router.admin.getEndpoint('mq-nodata')).traffic).toEqual({ blue: 100 });
  }, 120_000);
});
