// Loading policies: the shipped ones load, defaults fill in, and every
// mistake is reported at its file:line:col with the dotted path of the field.
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { SaferollError } from '../../shared/errors.js';
import { describePlan } from '../../policies/describe.js';
import { loadPolicyFile, parsePolicy } from '../../policies/loader.js';
import { PolicyError } from '../../policies/policy-error.js';
import { problemsOf } from '../support/policy-problems.js';
import type { Policy } from '../../policies/types.js';

const policiesDir = fileURLToPath(new URL('../../policies/', import.meta.url));
const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

// A valid policy that the cases below break one line at a time.
const head = ['name: t', 'slo:', '  latency: { p95: 250ms }', '  errorRate: 1%'];

describe('shipped policies', () => {
  test('safe-rollout.yaml loads as the full plan', async () => {
    const policy = await loadPolicyFile(`${policiesDir}safe-rollout.yaml`);
    expect(policy).toStrictEqual({
      name: 'safe-rollout',
      description: 'Smoke, mirror, 10% canary, manual approval, full traffic, delete blue.',
      slo: { latency: { p95Ms: 250, p99Ms: 1_000 }, errorRate: 0.01, minRequests: 50 },
      baseline: { latencyRatio: 1.25, errorRateDelta: 0.005 },
      analysis: { intervalMs: 5_000, controllerLossTimeoutMs: 60_000 },
      steps: [
        { kind: 'create' },
        { kind: 'smoke', requests: 5, path: '/score', method: 'POST', body: { x: 1 }, headers: {}, expectStatus: 200, timeoutMs: 5_000 },
        { kind: 'mirror', percent: 10, forMs: 120_000 },
        { kind: 'traffic', percent: 10, forMs: 300_000 },
        { kind: 'approval', timeoutMs: 3_600_000 },
        { kind: 'traffic', percent: 100, forMs: 300_000 },
        { kind: 'deleteBlue', afterMs: 30_000 },
      ],
      onFailure: { keepGreen: false },
    } satisfies Policy);
    expect(describePlan(policy)).toBe(
      'safe-rollout: create → smoke ×5 → mirror 10% 2m → traffic 10% 5m → approval ≤1h → traffic 100% 5m → deleteBlue after 30s; ' +
        'gates p95≤250ms p99≤1s errors≤1% aborts≤5% (min 50 req), vs blue p95≤1.25× errors≤+0.5% aborts≤+5%, every 5s',
    );
  });

  test('quick.yaml loads as a seconds-long plan', async () => {
    const policy = await loadPolicyFile(`${policiesDir}quick.yaml`);
    expect(policy).toStrictEqual({
      name: 'quick',
      description: 'Seconds-long rollout for demos and tests.',
      slo: { latency: { p95Ms: 250 }, errorRate: 0.01, minRequests: 20 },
      baseline: { latencyRatio: 1.5 },
      analysis: { intervalMs: 1_000, controllerLossTimeoutMs: 60_000 },
      steps: [
        { kind: 'create' },
        { kind: 'smoke', requests: 3, path: '/score', method: 'POST', headers: {}, expectStatus: 200, timeoutMs: 5_000 },
        { kind: 'mirror', percent: 10, forMs: 5_000 },
        { kind: 'traffic', percent: 10, forMs: 5_000 },
        { kind: 'traffic', percent: 100, forMs: 5_000 },
        { kind: 'deleteBlue', afterMs: 0 },
      ],
      onFailure: { keepGreen: false },
    } satisfies Policy);
    expect(describePlan(policy)).toBe(
      'quick: create → smoke ×3 → mirror 10% 5s → traffic 10% 5s → traffic 100% 5s → deleteBlue; ' +
        'gates p95≤250ms errors≤1% aborts≤5% (min 20 req), vs blue p95≤1.5× aborts≤+5%, every 1s',
    );
  });

  test('model-quality.yaml loads as the quick plan gated on model accuracy from Prometheus', async () => {
    const policy = await loadPolicyFile(`${policiesDir}model-quality.yaml`);
    expect(policy.name).toBe('model-quality');
    expect(policy.analysis.metrics).toStrictEqual([
      {
        name: 'accuracy',
        prometheus: { query: 'avg(avg_over_time(model_accuracy{endpoint="{{endpoint}}",deployment="{{deployment}}"}[{{window}}]))' },
        min: 0.92,
        baseline: { maxDrop: 0.01 },
      },
    ]);
    expect(describePlan(policy)).toBe(
      'model-quality: create → smoke ×3 → mirror 10% 10s → traffic 10% 5s → traffic 100% 5s → deleteBlue; ' +
        'gates p95≤250ms errors≤1% aborts≤5% (min 20 req), vs blue p95≤1.5× aborts≤+5%, custom accuracy[prometheus]≥0.92,drop≤0.01, every 1s',
    );
    expect(JSON.parse(JSON.stringify(policy))).toStrictEqual(policy);
  });

  test('shadow-compare.yaml loads as the quick plan whose mirror step compares answers', async () => {
    const policy = await loadPolicyFile(`${policiesDir}shadow-compare.yaml`);
    expect(policy.steps[2]).toStrictEqual({
      kind: 'mirror',
      percent: 20,
      forMs: 10_000,
      compare: {
        spec: { json: { ignore: ['$.version', '$.pid'], labels: [], numeric: { tolerance: 0.01 } }, distribution: { path: '$.score' } },
        maxMismatch: 0.01,
        maxPsi: 0.2,
        minPairs: 30,
      },
    });
    expect(describePlan(policy)).toBe(
      'shadow-compare: create → smoke ×3 → mirror 20% 10s (compare mismatch≤1% PSI≤0.2, min 30 pairs) → traffic 10% 5s → traffic 100% 5s → deleteBlue; ' +
        'gates p95≤250ms errors≤1% aborts≤5% (min 20 req), vs blue p95≤1.5× aborts≤+5%, every 1s',
    );
    expect(JSON.parse(JSON.stringify(policy))).toStrictEqual(policy);
  });

  test('a loaded policy survives a JSON round trip unchanged (it travels in workflow input)', async () => {
    const policy = await loadPolicyFile(`${policiesDir}safe-rollout.yaml`);
    expect(JSON.parse(JSON.stringify(policy))).toStrictEqual(policy);
  });
});

describe('defaults and accepted forms', () => {
  test('a minimal policy gets the documented defaults', () => {
    const text = yaml(
      'name: min',
      'slo: { errorRate: 0.02 }',
      'steps:',
      '  - create:',
      '  - smoke:',
      '  - traffic: { percent: "50%", for: 1m }',
      '  - approval:',
      '  - traffic: { percent: 100, for: 1m30s }',
      '  - deleteBlue: {}',
    );
    expect(parsePolicy(text, 'min.yaml')).toStrictEqual({
      name: 'min',
      slo: { latency: {}, errorRate: 0.02, minRequests: 50 },
      baseline: {},
      analysis: { intervalMs: 5_000, controllerLossTimeoutMs: 60_000 },
      steps: [
        { kind: 'create' },
        { kind: 'smoke', requests: 5, path: '/', method: 'POST', headers: {}, expectStatus: 200, timeoutMs: 5_000 },
        { kind: 'traffic', percent: 50, forMs: 60_000 },
        { kind: 'approval' },
        { kind: 'traffic', percent: 100, forMs: 90_000 },
        { kind: 'deleteBlue', afterMs: 0 },
      ],
      onFailure: { keepGreen: false },
    } satisfies Policy);
  });

  test('controllerLossTimeout: a duration, off, or by default 60s (3 intervals when that is longer)', () => {
    const analysis = (line: string) => parsePolicy(yaml(...head, line, 'steps:', '  - create: {}'), 'p.yaml').analysis;
    expect(analysis('analysis: { interval: 1s, controllerLossTimeout: 3s }')).toStrictEqual({ intervalMs: 1_000, controllerLossTimeoutMs: 3_000 });
    expect(analysis('analysis: { controllerLossTimeout: off }')).toStrictEqual({ intervalMs: 5_000, controllerLossTimeoutMs: 'off' });
    expect(analysis('analysis: { interval: 30s }')).toStrictEqual({ intervalMs: 30_000, controllerLossTimeoutMs: 90_000 });
  });

  test('client hang-up limits: absent by default (the gate applies 5%), or a rate in slo and baseline', () => {
    const gates = (...lines: string[]) => {
      const policy = parsePolicy(yaml(...head, ...lines, 'steps:', '  - create: {}'), 'p.yaml');
      return { slo: policy.slo, baseline: policy.baseline };
    };
    expect(gates()).toStrictEqual({ slo: { latency: { p95Ms: 250 }, errorRate: 0.01, minRequests: 50 }, baseline: {} });
    expect(gates('  abortRate: 2%', 'baseline: { abortRateDelta: 0.01 }')).toStrictEqual({
      slo: { latency: { p95Ms: 250 }, errorRate: 0.01, abortRate: 0.02, minRequests: 50 },
      baseline: { abortRateDelta: 0.01 },
    });
  });

  test('bad client hang-up limits, at the value', () => {
    expect(problemsOf(yaml(...head, '  abortRate: 120%', 'baseline: { abortRateDelta: lots }', 'steps:', '  - create: {}'))).toEqual([
      'p.yaml:5:14: slo.abortRate: 120% is more than 100%',
      'p.yaml:6:29: baseline.abortRateDelta: "lots" is not a rate: write a percent (1%, 0.5%) or a fraction from 0 to 1 (0.01)',
    ]);
  });

  test('smoke takes a method in any case, headers, a body and a timeout', () => {
    const text = yaml(
      ...head,
      'steps:',
      '  - create: {}',
      '  - smoke: { method: get, path: /health, headers: { x-probe: "1" }, body: [1, 2], expectStatus: 204, timeout: 1.5s }',
    );
    expect(parsePolicy(text, 'p.yaml').steps[1]).toStrictEqual({
      kind: 'smoke',
      requests: 5,
      path: '/health',
      method: 'GET',
      body: [1, 2],
      headers: { 'x-probe': '1' },
      expectStatus: 204,
      timeoutMs: 1_500,
    });
  });
});

describe('problems are reported at file:line:col with a dotted path', () => {
  test('unknown keys, at the key, in every section', () => {
    const text = yaml(...head, '  errorBudget: 2%', 'steps:', '  - create: {}', '  - smoke: { requests: 3, pth: /score }', 'colour: blue');
    expect(problemsOf(text)).toEqual([
      'p.yaml:5:3: slo.errorBudget: unknown key "errorBudget"',
      'p.yaml:8:27: steps.1.smoke.pth: unknown key "pth"',
      'p.yaml:9:1: colour: unknown key "colour"',
    ]);
  });

  test('wrong types, at the value', () => {
    const text = yaml(
      ...head,
      '  minRequests: lots',
      'steps:',
      '  - create: {}',
      '  - smoke: { requests: 2.5, headers: { x-n: 1 } }',
      'onFailure: { keepGreen: yes }',
    );
    expect(problemsOf(text)).toEqual([
      'p.yaml:5:16: slo.minRequests: expected a whole number, got "lots"',
      'p.yaml:8:24: steps.1.smoke.requests: expected a whole number, got 2.5',
      'p.yaml:8:45: steps.1.smoke.headers.x-n: expected text, got 1',
      'p.yaml:9:25: onFailure.keepGreen: expected true or false, got "yes"',
    ]);
  });

  test('names every object already has are refused as header names, at the key (zod dropped __proto__ silently)', () => {
    const text = yaml(...head, 'steps:', '  - create: {}', '  - smoke:', '      headers: { __proto__: a, constructor: b, x-ok: c }', '__proto__: {}');
    expect(problemsOf(text)).toEqual([
      'p.yaml:8:18: steps.1.smoke.headers.__proto__: "__proto__" is a reserved name (every JavaScript object already has it); choose another',
      'p.yaml:8:32: steps.1.smoke.headers.constructor: "constructor" is a reserved name (every JavaScript object already has it); choose another',
      'p.yaml:9:1: __proto__: unknown key "__proto__"',
    ]);
  });

  test('a smoke body must be JSON data: .nan, .inf, binary, sets, timestamps and map keys are refused (JSON changed them)', () => {
    const text = yaml(
      ...head,
      'steps:',
      '  - create: {}',
      '  - smoke: { body: { score: .nan, xs: [1, .inf], raw: !!binary aGk=, when: !!timestamp 2001-12-14, tags: !!set { a } } }',
      '  - smoke: { body: { ? [a] : 1 } }',
    );
    expect(problemsOf(text)).toEqual(['p.yaml:8:24: YAML: a key must be text, not a list or a map']);
    const line = '  - smoke: { body: { score: .nan, xs: [1, .inf], raw: !!binary aGk=, when: !!timestamp 2001-12-14, tags: !!set { a } } }';
    const must = 'must be JSON data (text, numbers, true/false, null, lists and maps), got';
    expect(problemsOf(yaml(...head, 'steps:', '  - create: {}', line))).toEqual([
      `p.yaml:7:29: steps.1.smoke.body.score: ${must} NaN`,
      `p.yaml:7:43: steps.1.smoke.body.xs.1: ${must} Infinity`,
      `p.yaml:7:64: steps.1.smoke.body.raw: ${must} binary data (!!binary)`,
      `p.yaml:7:88: steps.1.smoke.body.when: ${must} a timestamp (!!timestamp)`,
      `p.yaml:7:112: steps.1.smoke.body.tags: ${must} a set (!!set)`,
    ]);
  });

  test('bad durations, including a number without a unit', () => {
    const text = yaml(
      ...head,
      'analysis: { interval: 5 }',
      'steps:',
      '  - create: {}',
      '  - traffic: { percent: 100, for: 5x }',
      '  - deleteBlue: { after: 30s1m }',
    );
    expect(problemsOf(text)).toEqual([
      'p.yaml:5:23: analysis.interval: 5 has no unit: add one (ms, s, m or h), e.g. 5ms or 5s',
      'p.yaml:8:35: steps.1.traffic.for: "5x" is not a duration: use a number and a unit (ms, s, m, h), e.g. 500ms, 5s, 1m30s',
      'p.yaml:9:26: steps.2.deleteBlue.after: "30s1m": write units from largest to smallest, each once (e.g. 1h30m, 1m30s)',
    ]);
  });

  test('percents out of range: mirror 1..50, traffic 1..100', () => {
    const text = yaml(
      ...head,
      'steps:',
      '  - create: {}',
      '  - mirror: { percent: 60, for: 1m }',
      '  - traffic: { percent: "0%", for: 1m }',
      '  - traffic: { percent: 101, for: 1m }',
      '  - traffic: { percent: 12.5, for: 1m }',
    );
    expect(problemsOf(text)).toEqual([
      'p.yaml:7:24: steps.1.mirror.percent: must be from 1 to 50% (the router mirrors at most 50%)',
      'p.yaml:8:25: steps.2.traffic.percent: must be from 1 to 100%',
      'p.yaml:9:25: steps.3.traffic.percent: must be from 1 to 100%',
      'p.yaml:10:25: steps.4.traffic.percent: 12.5 is not a whole percent',
    ]);
  });

  test('numbers out of range', () => {
    const text = yaml(...head, '  minRequests: 0', 'steps:', '  - create: {}', '  - smoke: { requests: 0, expectStatus: 700, path: score, method: FETCH }');
    expect(problemsOf(text)).toEqual([
      'p.yaml:5:16: slo.minRequests: must be at least 1',
      'p.yaml:8:24: steps.1.smoke.requests: must be at least 1',
      'p.yaml:8:41: steps.1.smoke.expectStatus: must be at most 599',
      'p.yaml:8:52: steps.1.smoke.path: must start with /',
      'p.yaml:8:67: steps.1.smoke.method: must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, got "FETCH"',
    ]);
  });

  test('steps out of order', () => {
    const text = yaml(
      ...head,
      'steps:',
      '  - traffic: { percent: 50, for: 1m }',
      '  - create: {}',
      '  - smoke: {}',
      '  - mirror: { percent: 5, for: 1m }',
      '  - traffic: { percent: 20, for: 1m }',
      '  - deleteBlue: {}',
      '  - approval: {}',
    );
    expect(problemsOf(text)).toEqual([
      'p.yaml:7:5: steps.1: create must be the first step, and appear once',
      'p.yaml:8:5: steps.2: smoke must come before any mirror or traffic step: it proves green before green sees real traffic',
      'p.yaml:9:5: steps.3: mirror must come before the first traffic step',
      'p.yaml:10:25: steps.4.traffic.percent: traffic must not decrease: 20% comes after 50%',
      'p.yaml:11:5: steps.5: deleteBlue must be the last step, and appear once',
    ]);
  });

  test('no create, and deleteBlue while blue still serves traffic', () => {
    const text = yaml(...head, 'steps:', '  - smoke: {}', '  - traffic: { percent: 50, for: 1m }', '  - deleteBlue:');
    expect(problemsOf(text)).toEqual([
      'p.yaml:6:5: steps.0: the first step must be create (green has to exist before anything else)',
      'p.yaml:8:5: steps.2: deleteBlue needs a traffic step of 100% before it (the last one sends 50%)',
    ]);
  });

  test('an empty step list', () => {
    expect(problemsOf(yaml(...head, 'steps: []'))).toEqual(['p.yaml:5:8: steps: the first step must be create (green has to exist before anything else)']);
  });

  test('step items that are not one known key', () => {
    const text = yaml(
      ...head,
      'steps:',
      '  - create: {}',
      '  - { traffic: { percent: 10, for: 1m }, mirror: { percent: 5, for: 1m } }',
      '  - canary: { percent: 10 }',
      '  - just text',
    );
    expect(problemsOf(text)).toEqual([
      'p.yaml:7:5: steps.1: a step has exactly one key, found 2 (traffic, mirror): give each its own "- " item',
      'p.yaml:8:5: steps.2.canary: unknown step "canary" (steps are create, smoke, mirror, traffic, approval, deleteBlue)',
      'p.yaml:9:5: steps.3: expected a step (a map with one key: create, smoke, mirror, traffic, approval, deleteBlue), got "just text"',
    ]);
  });

  test('an slo without any limit, at the slo key', () => {
    const text = yaml('name: t', 'slo:', '  latency: {}', '  minRequests: 10', 'steps:', '  - create: {}');
    expect(problemsOf(text)).toEqual(['p.yaml:2:1: slo: needs at least one limit: latency.p95, latency.p99 or errorRate']);
  });

  test('missing keys, at the map that lacks them', () => {
    const text = yaml('description: no name, no slo', 'steps:', '  - create: {}', '  - mirror: { percent: 10 }', '  - traffic:', '      percent: 100');
    expect(problemsOf(text)).toEqual([
      'p.yaml:1:1: name: required',
      'p.yaml:1:1: slo: required',
      'p.yaml:4:13: steps.1.mirror.for: required',
      'p.yaml:6:7: steps.2.traffic.for: required',
    ]);
  });

  test('a bake shorter than the analysis interval', () => {
    const text = yaml(...head, 'analysis: { interval: 10s }', 'steps:', '  - create: {}', '  - mirror: { percent: 10, for: 5s }');
    expect(problemsOf(text)).toEqual(['p.yaml:8:33: steps.1.mirror.for: must be at least analysis.interval (10s), or the gate is never measured']);
  });

  test('a controllerLossTimeout that is not a duration or off, out of bounds, or under 3 intervals', () => {
    const problems = (...lines: string[]) => problemsOf(yaml(...head, ...lines, 'steps:', '  - create: {}'));
    expect(problems('analysis: { controllerLossTimeout: soon }')).toEqual([
      'p.yaml:5:36: analysis.controllerLossTimeout: "soon" is not a duration: use a number and a unit (ms, s, m, h), e.g. 500ms, 5s, 1m30s (or off)',
    ]);
    expect(problems('analysis: { controllerLossTimeout: false }')).toEqual([
      'p.yaml:5:36: analysis.controllerLossTimeout: expected a duration such as 60s, or off, got false',
    ]);
    expect(problems('analysis: { controllerLossTimeout: 90 }')).toEqual([
      'p.yaml:5:36: analysis.controllerLossTimeout: 90 has no unit: add one (ms, s, m or h), e.g. 90ms or 90s (or off)',
    ]);
    expect(problems('analysis: { controllerLossTimeout: 2d }')[0]).toMatch(/^p\.yaml:5:36: analysis\.controllerLossTimeout: "2d" is not a duration/);
    expect(problems('analysis: { interval: 100ms, controllerLossTimeout: 500ms }')).toEqual([
      'p.yaml:5:53: analysis.controllerLossTimeout: must be from 1s to 24h, or off',
    ]);
    expect(problems('analysis: { controllerLossTimeout: 25h }')).toEqual(['p.yaml:5:36: analysis.controllerLossTimeout: must be from 1s to 24h, or off']);
    expect(problems('analysis:', '  interval: 10s', '  controllerLossTimeout: 20s')).toEqual([
      'p.yaml:7:26: analysis.controllerLossTimeout: must be at least 3 × analysis.interval (30s): the controller looks at green once per interval, so a shorter timeout guards no better and puts blue back on an ordinary pause',
    ]);
  });

  test('a problem reached through an alias points at the anchored node', () => {
    const text = yaml(...head, 'steps:', '  - create: {}', '  - traffic: &t { percent: 10, for: 1m, extra: 1 }', '  - traffic: *t');
    expect(problemsOf(text)).toEqual(['p.yaml:7:41: steps.1.traffic.extra: unknown key "extra"', 'p.yaml:7:41: steps.2.traffic.extra: unknown key "extra"']);
  });

  test.each([
    [yaml('name: t', 'slo:', '  errorRate: 1%', ' minRequests: 5'), 'p.yaml:4:1: YAML syntax: All mapping items must start at the same column'],
    [
      yaml('name: t', 'steps: [ { create: {} }', 'slo: {}'),
      'p.yaml:3:1: YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ],
    [yaml('name: t', 'name: u'), 'p.yaml:2:1: YAML syntax: map keys must be unique, "name" appears twice'],
  ])('YAML syntax errors, the same way (%#)', (text, line) => {
    expect(problemsOf(text)).toEqual([line]);
  });

  test('an empty file, or an alias to nothing', () => {
    expect(problemsOf('')).toEqual(['p.yaml:1:1: expected a map, got nothing']);
    expect(problemsOf(yaml('name: *nope'))).toEqual(['p.yaml:1:1: YAML: Unresolved alias (the anchor must be set before the alias): nope']);
  });

  test('several problems in different sections are all listed, top to bottom', () => {
    const text = yaml(
      'name: t',
      'slo: { latency: { p95: fast } }',
      'baseline: { latencyRatio: 0.8 }',
      'steps:',
      '  - create: {}',
      '  - traffic: { percent: 200, for: 1m }',
      '  - smoke: {}',
      'owner: me',
    );
    expect(problemsOf(text)).toEqual([
      'p.yaml:2:24: slo.latency.p95: "fast" is not a duration: use a number and a unit (ms, s, m, h), e.g. 500ms, 5s, 1m30s',
      'p.yaml:3:27: baseline.latencyRatio: must be at least 1',
      'p.yaml:6:25: steps.1.traffic.percent: must be from 1 to 100%',
      'p.yaml:8:1: owner: unknown key "owner"',
    ]);
  });
});

describe('PolicyError', () => {
  test('carries the policy code, every problem as data, and the field when there is one problem', () => {
    const err = (() => {
      try {
        parsePolicy(yaml(...head, 'steps:', '  - create: {}', '  - mirror: { percent: 60, for: 1m }'), 'dir/p.yaml');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(PolicyError);
    expect(err).toBeInstanceOf(SaferollError);
    const policyError = err as PolicyError;
    expect(policyError.code).toBe('SAFEROLL_E_POLICY');
    expect(policyError.field).toBe('steps.1.mirror.percent');
    expect(policyError.problems).toEqual([
      {
        file: 'dir/p.yaml',
        line: 7,
        col: 24,
        path: 'steps.1.mirror.percent',
        message: 'must be from 1 to 50% (the router mirrors at most 50%)',
      },
    ]);
  });

  test('an unreadable file is a PolicyError naming the file', async () => {
    const missing = `${policiesDir}does-not-exist.yaml`;
    const err: unknown = await loadPolicyFile(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).message).toMatch(new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1:1: cannot read the policy: ENOENT`));
  });
});
