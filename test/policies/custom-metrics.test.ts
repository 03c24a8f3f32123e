// analysis.metrics in a policy: custom checks parse into plain data, the plan
// line names them, and every mistake is refused at its file:line:col.
import { describe, expect, test } from 'vitest';
import { describePlan } from '../../policies/describe.js';
import { parsePolicy } from '../../policies/loader.js';
import { problemsOf } from '../support/policy-problems.js';

const policy = (analysis: string[]): string =>
  [
    'name: t',
    'slo: { errorRate: 1% }',
    'analysis:',
    '  interval: 5s',
    ...analysis.map((l) => `  ${l}`),
    'steps:',
    '  - create: {}',
    '  - traffic: { percent: 100, for: 1m }',
    '',
  ].join('\n');

const ISSUE_EXAMPLE = [
  'metrics:',
  '  - name: accuracy',
  `    prometheus: { query: 'avg_over_time(model_accuracy{endpoint="{{endpoint}}",deployment="{{deployment}}"}[{{window}}])' }`,
  '    min: 0.92',
  '    baseline: { maxDrop: 0.01 }',
  '  - name: token-p95',
  `    web: { url: 'http://127.0.0.1:9400/stats?deployment={{deployment}}', path: '$.p95' }`,
  '    max: 0.5',
];

describe('custom checks', () => {
  test("the issue's example parses, with the default error limit", () => {
    const parsed = parsePolicy(policy(ISSUE_EXAMPLE), 'p.yaml');
    expect(parsed.analysis).toStrictEqual({
      intervalMs: 5_000,
      controllerLossTimeoutMs: 60_000,
      consecutiveErrorLimit: 4,
      metrics: [
        {
          name: 'accuracy',
          min: 0.92,
          baseline: { maxDrop: 0.01 },
          prometheus: { query: 'avg_over_time(model_accuracy{endpoint="{{endpoint}}",deployment="{{deployment}}"}[{{window}}])' },
        },
        { name: 'token-p95', max: 0.5, web: { url: 'http://127.0.0.1:9400/stats?deployment={{deployment}}', path: '$.p95' } },
      ],
    });
    expect(describePlan(parsed)).toMatch(/, custom accuracy\[prometheus\]≥0\.92,drop≤0\.01 token-p95\[web\]≤0\.5, every 5s$/);
  });

  test('a policy without checks is the same data as before they existed', () => {
    expect(parsePolicy(policy([]), 'p.yaml').analysis).toStrictEqual({ intervalMs: 5_000, controllerLossTimeoutMs: 60_000 });
  });

  test('a web check with POST, headers and a body; an address and an error limit', () => {
    const parsed = parsePolicy(
      policy([
        'consecutiveErrorLimit: 2',
        'metrics:',
        '  - { name: a, prometheus: { query: up, address: "https://prom.example:9090" }, max: 1 }',
        '  - name: b',
        '    web: { url: "http://h/x", path: "$.v[0]", method: post, headers: { Authorization: "Bearer ${TOKEN}" }, body: { side: "{{deployment}}" } }',
        '    baseline: { maxRatio: 1.1 }',
      ]),
      'p.yaml',
    );
    expect(parsed.analysis.consecutiveErrorLimit).toBe(2);
    expect(parsed.analysis.metrics?.[1]).toStrictEqual({
      name: 'b',
      baseline: { maxRatio: 1.1 },
      web: { url: 'http://h/x', path: '$.v[0]', method: 'POST', headers: { Authorization: 'Bearer ${TOKEN}' }, body: { side: '{{deployment}}' } },
    });
  });

  test('unknown provider, missing query, unknown placeholder, min > max, non-URL address: refused at file:line:col', () => {
    expect(problemsOf(policy(['metrics:', '  - { name: a, datadog: { query: x }, max: 1 }']))).toEqual([
      'p.yaml:6:7: analysis.metrics.0: needs one provider: prometheus or web',
      'p.yaml:6:18: analysis.metrics.0.datadog: unknown provider or key "datadog" (providers are prometheus, web)',
    ]);
    expect(problemsOf(policy(['metrics:', '  - { name: a, prometheus: {}, max: 1 }']))).toEqual(['p.yaml:6:30: analysis.metrics.0.prometheus.query: required']);
    expect(problemsOf(policy(['metrics:', '  - { name: a, prometheus: { query: "x{d=\\"{{side}}\\"}" }, max: 1 }']))).toEqual([
      'p.yaml:6:39: analysis.metrics.0.prometheus.query: unknown placeholder {{side}} (placeholders are {{endpoint}}, {{green}}, {{blue}}, {{deployment}}, {{window}}, {{interval}})',
    ]);
    expect(problemsOf(policy(['metrics:', '  - { name: a, prometheus: { query: up }, min: 2, max: 1 }']))).toEqual([
      'p.yaml:6:58: analysis.metrics.0.max: must be at least min (2): no value could pass',
    ]);
    expect(problemsOf(policy(['metrics:', '  - { name: a, prometheus: { query: up, address: "127.0.0.1:9090" }, max: 1 }']))).toEqual([
      'p.yaml:6:52: analysis.metrics.0.prometheus.address: expected a URL such as http://127.0.0.1:9090 (http:// or https://), got "127.0.0.1:9090"',
    ]);
  });

  test('other mistakes: no limit, two providers, a bad JSON path or URL, duplicate names, a stray error limit', () => {
    expect(problemsOf(policy(['metrics:', '  - { name: a, prometheus: { query: up } }']))).toEqual([
      'p.yaml:6:7: analysis.metrics.0: needs a limit: min, max or baseline (maxRatio, maxDelta, maxDrop)',
    ]);
    expect(problemsOf(policy(['metrics:', '  - { name: a, prometheus: { query: up }, web: { url: "http://h", path: "$.v" }, max: 1 }']))).toEqual([
      'p.yaml:6:45: analysis.metrics.0.web: a check reads one provider: prometheus or web, not both',
    ]);
    expect(problemsOf(policy(['metrics:', '  - { name: a, web: { url: "ftp://h/{{green}}", path: "v" }, max: 1 }']))).toEqual([
      'p.yaml:6:30: analysis.metrics.0.web.url: expected a URL (http:// or https://), got "ftp://h/{{green}}"',
      'p.yaml:6:57: analysis.metrics.0.web.path: "v" is not a JSON path: start with $, e.g. $.p95 or $.data[0].value',
    ]);
    expect(
      problemsOf(policy(['metrics:', '  - { name: a, prometheus: { query: up }, max: 1 }', '  - { name: a, prometheus: { query: up }, max: 1 }'])),
    ).toEqual(['p.yaml:7:15: analysis.metrics.1.name: "a" names two checks']);
    expect(problemsOf(policy(['consecutiveErrorLimit: 3']))).toEqual([
      'p.yaml:5:26: analysis.consecutiveErrorLimit: applies only with metrics (custom checks)',
    ]);
  });
});

describe('analysis.source', () => {
  test('router is the default and is left out; prometheus with or without an address', () => {
    expect(parsePolicy(policy(['source: router']), 'p.yaml').analysis).toStrictEqual({ intervalMs: 5_000, controllerLossTimeoutMs: 60_000 });
    const withAddress = parsePolicy(policy(['source: { prometheus: { address: "http://127.0.0.1:9090" } }']), 'p.yaml');
    expect(withAddress.analysis.source).toStrictEqual({ prometheus: { address: 'http://127.0.0.1:9090' } });
    expect(describePlan(withAddress)).toContain('gates errors≤1% aborts≤5% (min 50 req) from Prometheus http://127.0.0.1:9090');
    const fromWorker = parsePolicy(policy(['source:', '  prometheus:']), 'p.yaml');
    expect(fromWorker.analysis.source).toStrictEqual({ prometheus: {} });
    expect(describePlan(fromWorker)).toContain("from Prometheus (the worker's SAFEROLL_PROMETHEUS_URL)");
  });

  test('a mistake is refused at its place', () => {
    expect(problemsOf(policy(['source: prom']))).toEqual([
      'p.yaml:5:11: analysis.source: expected router or { prometheus: { address: http://... } }, got "prom"',
    ]);
    expect(problemsOf(policy(['source: { prometheus: { address: "127.0.0.1:9090" } }']))).toEqual([
      'p.yaml:5:36: analysis.source.prometheus.address: expected a URL such as http://127.0.0.1:9090 (http:// or https://), got "127.0.0.1:9090"',
    ]);
    expect(problemsOf(policy(['source: { web: { url: "http://h" } }']))).toEqual([
      'p.yaml:5:11: analysis.source.prometheus: required',
      'p.yaml:5:13: analysis.source.web: unknown key "web"',
    ]);
  });
});
