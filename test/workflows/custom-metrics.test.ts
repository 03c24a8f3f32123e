// Custom checks (policy analysis.metrics) in the rollout workflow, with
// stand-in provider readings on the time-skipping test server: a bad custom
// metric rolls back in the mirror step although latency and errors are fine,
// no data never passes, and provider errors fail after consecutiveErrorLimit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustomMetricsRequest, CustomReading } from '../../activities/types.js';
import type { ProviderReading } from '../../analysis/metric-provider.js';
import type { CustomMetric, Policy } from '../../policies/types.js';
import { renderPlaceholders } from '../../shared/metric-placeholders.js';
import { WorkflowHarness, outcome, realisticPolicy } from '../support/workflow-harness.js';

let harness: WorkflowHarness;
beforeAll(async () => {
  harness = await WorkflowHarness.timeSkipping('custom-metrics');
});
afterAll(() => harness?.close());

const ACCURACY: CustomMetric = {
  name: 'accuracy',
  prometheus: { query: 'avg_over_time(model_accuracy{endpoint="{{endpoint}}",deployment="{{deployment}}"}[{{window}}])' },
  min: 0.92,
  baseline: { maxDrop: 0.01 },
};

function policy(metrics: CustomMetric[], extra: Partial<Policy['analysis']> = {}): Policy {
  const base = realisticPolicy([{ kind: 'create' }, { kind: 'mirror', percent: 10, forMs: 120_000 }, { kind: 'traffic', percent: 100, forMs: 120_000 }]);
  return { ...base, analysis: { ...base.analysis, metrics, consecutiveErrorLimit: 4, ...extra } };
}

/** Answers as a provider would: the query rendered for the side, and the reading `answer` gives. */
function provider(answer: (side: 'green' | 'blue', tick: number) => ProviderReading) {
  let tick = 0;
  return (req: CustomMetricsRequest): CustomReading[] => {
    tick += 1;
    return req.metrics.flatMap((m) =>
      (m.baseline ? (['green', 'blue'] as const) : (['green'] as const)).map((side) => ({
        name: m.name,
        side,
        resolved: renderPlaceholders('prometheus' in m ? m.prometheus.query : m.web.url, {
          endpoint: req.endpoint,
          green: req.green,
          blue: req.blue,
          deployment: side === 'green' ? req.green : req.blue,
          window: `${Math.ceil(req.windowMs / 1000)}s`,
          interval: `${req.intervalMs / 1000}s`,
        }),
        reading: answer(side, tick),
      })),
    );
  };
}

describe('custom checks at the gate', () => {
  it('a green whose accuracy is bad is rolled back in the mirror step, with the resolved query and value in the trail', async () => {
    const router = harness.endpoint('bad-accuracy');
    router.customReadings = provider((side) => ({ kind: 'value', value: side === 'green' ? 0.85 : 0.95 }));
    const result = await outcome(await harness.start(router, policy([ACCURACY])));

    expect(result.outcome).toBe('rolled-back');
    // Only the mirror was ever set: green never took live traffic.
    expect(router.routes()).toEqual([
      [{ blue: 100 }, { green: 10 }],
      [{ blue: 100 }, {}],
    ]);
    expect(result.reason).toMatch(/gate failed: failed: accuracy 0\.85 < min 0\.92 FAILED/);
    expect(result.reason).toMatch(/accuracy drop vs blue 0\.1 > 0\.01 FAILED \(green 0\.85 vs blue 0\.95\)/);
    expect(result.reason).toContain(`[avg_over_time(model_accuracy{endpoint="${router.endpoint}",deployment="green"}[30s])]`);
    const custom = result.lastGate?.checks.filter((c) => c.metric === 'custom');
    expect(custom?.map((c) => [c.rule, c.value, c.phase])).toEqual([
      ['min', 0.85, 'Failed'],
      ['maxDrop', expect.closeTo(0.1, 9), 'Failed'],
    ]);
    expect(result.decisions.map((d) => d.message)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^gate Failed: .*accuracy 0\.85 < min 0\.92 FAILED/)]),
    );
    // Both sides were read over the same window, named as the workflow measured it.
    const asked = router.named('readCustomMetrics')[0]?.args[0] as CustomMetricsRequest;
    expect(asked).toMatchObject({ endpoint: router.endpoint, green: 'green', blue: 'blue', intervalMs: 30_000, metrics: [ACCURACY] });
  });

  it('a green whose accuracy holds is promoted', async () => {
    const router = harness.endpoint('good-accuracy');
    router.customReadings = provider(() => ({ kind: 'value', value: 0.95 }));
    const result = await outcome(await harness.start(router, policy([ACCURACY])));
    expect(result.outcome, result.reason).toBe('promoted');
    expect(router.named('readCustomMetrics').length).toBeGreaterThanOrEqual(8);
    expect(result.lastGate?.summary).toMatch(/custom checks hold$/);
  });

  it('no data never passes: the bake ends Inconclusive and rolls back, saying "no data"', async () => {
    const router = harness.endpoint('no-data');
    router.customReadings = provider(() => ({ kind: 'noData', reason: 'no data: the query returned no series' }));
    const result = await outcome(
      await harness.start(router, policy([{ name: 'token-p95', web: { url: 'http://127.0.0.1:9400/stats', path: '$.p95' }, max: 0.5 }])),
    );
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(
      /^bake ended without a passing gate: inconclusive: token-p95 n\/a, limit max 0\.5 inconclusive \(no data: the query returned no series\)/,
    );
    expect(router.routes()[0]).toEqual([{ blue: 100 }, { green: 10 }]);
    expect(router.routes()).toHaveLength(2);
  });

  it('provider errors fail the check after consecutiveErrorLimit ticks in a row, with the provider message', async () => {
    const router = harness.endpoint('errors');
    const message = 'Prometheus: HTTP 400 from http://127.0.0.1:9090: {"status":"error","errorType":"bad_data","error":"parse error at char 5"}';
    router.customReadings = provider(() => ({ kind: 'error', message }));
    const result = await outcome(
      await harness.start(router, policy([{ name: 'accuracy', prometheus: ACCURACY.prometheus, min: 0.92 }], { consecutiveErrorLimit: 3 })),
    );
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toContain(`gate failed: failed: accuracy n/a, limit min 0.92 FAILED (3 provider errors in a row: green: ${message})`);
    // Failed at the third error, not before and not at the end of the bake.
    expect(router.named('readCustomMetrics')).toHaveLength(3);
    expect(result.decisions.map((d) => d.message)).toEqual(expect.arrayContaining([expect.stringMatching(/^gate Error: .*provider error 1\/3/)]));
  });

  it('an error that is not yet at the limit never passes a bake: it ends without a passing gate', async () => {
    const router = harness.endpoint('late-error');
    // Good readings, then errors from the fourth tick on (the end of the 2-minute mirror bake) under a limit of 10.
    router.customReadings = provider((_side, tick) =>
      tick >= 4 ? { kind: 'error', message: 'no answer from http://127.0.0.1:9090 within 5000ms' } : { kind: 'value', value: 0.95 },
    );
    const result = await outcome(await harness.start(router, policy([ACCURACY], { consecutiveErrorLimit: 10 })));
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(
      /^bake ended without a passing gate: error: accuracy n\/a, limit min 0\.92 error \(provider error 1\/10: green: no answer .* within 5000ms\)/,
    );
    expect(router.routes()).toHaveLength(2);
  });
});
