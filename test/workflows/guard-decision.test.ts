// The pure decisions of the gates outside bakes, as tables: what there is to
// measure, which rules apply, when to look next, what a reading means there,
// and what a failed gate does.
import { describe, expect, it } from 'vitest';
import type { GateCheck } from '../../analysis/evaluate.js';
import type { WindowStats } from '../../analysis/window.js';
import { gateRules, judgeTick } from '../../workflows/gate-decision.js';
import { guardRules, guardTarget, guardWindows, holdTimeoutMs, isBreach, newlyFailing, nextTickMs, onFailureAction } from '../../workflows/guard-decision.js';
import type { GateReport } from '../../workflows/types.js';
import { testPolicy } from '../support/rollout-fixture.js';

describe('guardTarget', () => {
  it.each([
    { name: 'nothing before any mirror or traffic step', traffic: { blue: 100, green: 0 }, mirrorPercent: 0, target: undefined },
    { name: 'mirrored copies during a mirror step', traffic: { blue: 100, green: 0 }, mirrorPercent: 10, target: 'mirror' },
    { name: 'live answers once green has a share', traffic: { blue: 90, green: 10 }, mirrorPercent: 0, target: 'live' },
    { name: 'live answers alone at 100%', traffic: { blue: 0, green: 100 }, mirrorPercent: 0, target: 'live' },
  ])('$name', ({ traffic, mirrorPercent, target }) => {
    expect(guardTarget({ traffic, mirrorPercent })).toBe(target);
  });
});

describe('guardRules and guardWindows', () => {
  const rules = gateRules(testPolicy()); // p95 250 ms, errors 1%, min 20, ratio 1.5
  const w: WindowStats = { requests: 50, errors: 0, errorRate: 0, p95Ms: 5, p99Ms: 5, buckets: [], overflow: 0, seconds: 1 };
  const windows = { greenStep: w, greenInterval: w, blueStep: w, blueInterval: w };

  it.each([
    { name: 'green sharing traffic is compared with blue', green: 10, ratio: 1.5, blue: true },
    { name: 'green alone at 100% meets the absolute SLOs only', green: 100, ratio: undefined, blue: false },
  ])('$name', ({ green, ratio, blue }) => {
    const status = { traffic: { blue: 100 - green, green } };
    expect(guardRules(rules, status).latencyRatio).toBe(ratio);
    expect(guardRules(rules, status).p95Ms).toBe(250);
    expect(guardWindows(windows, status).blueStep !== undefined).toBe(blue);
  });
});

describe('a guard outside a bake on a green whose clients all hang up', () => {
  const rules = gateRules(testPolicy());
  const none: WindowStats = { requests: 0, errors: 0, aborts: 0, errorRate: null, p95Ms: null, p99Ms: null, buckets: [], overflow: 0, seconds: 1 };
  const blue: WindowStats = { ...none, requests: 200, errorRate: 0, p95Ms: 5, p99Ms: 5 };
  const hungUp: WindowStats = { ...none, aborts: 6 };

  it.each([
    { name: 'at 10% during an approval wait: a breach against blue', green: 10, figures: /^6\/6 vs blue 0\/200, / },
    { name: 'alone at 100% in the watch window: a breach against the absolute limit', green: 100, figures: /^6\/6, / },
  ])('$name', ({ green, figures }) => {
    const status = { traffic: { blue: 100 - green, green } };
    const windows = guardWindows({ greenStep: hungUp, greenInterval: hungUp, blueStep: blue, blueInterval: blue }, status);
    const { report } = judgeTick(guardRules(rules, status), windows, 0);
    expect(isBreach(report)).toBe(true);
    expect(report.checks.find((c) => c.metric === 'abortRate')?.note).toMatch(figures);
  });
});

describe('nextTickMs', () => {
  it.each([
    { name: 'an interval when the wait has no end', interval: 5_000, endsAt: undefined, now: 0, next: 5_000 },
    { name: 'an interval when the end is further', interval: 5_000, endsAt: 60_000, now: 0, next: 5_000 },
    { name: 'what is left when the end is nearer', interval: 5_000, endsAt: 2_000, now: 0, next: 2_000 },
    { name: 'at least 1 ms (never 0, which condition() reads otherwise)', interval: 5_000, endsAt: 10_000, now: 9_999.5, next: 1 },
    { name: 'nothing once the end has come', interval: 5_000, endsAt: 10_000, now: 10_000, next: undefined },
  ])('$name', ({ interval, endsAt, now, next }) => {
    expect(nextTickMs(interval, endsAt, now)).toBe(next);
  });
});

describe('isBreach', () => {
  it.each<[GateReport['phase'], boolean]>([
    ['Failed', true],
    ['Inconclusive', false],
    ['Error', false],
    ['Successful', false],
  ])('%s acts outside a bake: %s', (phase, breach) => {
    expect(isBreach({ phase })).toBe(breach);
  });
});

describe('newlyFailing', () => {
  const check = (metric: GateCheck['metric'], phase: GateCheck['phase']): GateCheck => ({ metric, value: 1, limit: 1, phase });
  it.each<{ name: string; before: GateCheck[] | undefined; now: GateCheck[]; worse: string[] }>([
    { name: 'the same breach again is nothing new', before: [check('errorRate', 'Failed')], now: [check('errorRate', 'Failed')], worse: [] },
    {
      name: 'a further check failing is worse',
      before: [check('errorRate', 'Failed'), check('p95', 'Successful')],
      now: [check('errorRate', 'Failed'), check('p95', 'Failed')],
      worse: ['p95'],
    },
    {
      name: 'a breach without a previous reading is all new',
      before: undefined,
      now: [check('p95', 'Failed'), check('requests', 'Successful')],
      worse: ['p95'],
    },
    { name: 'a check that recovered is not worse', before: [check('p95', 'Failed')], now: [check('p95', 'Successful')], worse: [] },
  ])('$name', ({ before, now, worse }) => {
    expect(newlyFailing(before ? { checks: before } : undefined, { checks: now })).toEqual(worse);
  });
});

describe('onFailure', () => {
  it.each([
    { name: 'absent (a rollout started before onFailure.action existed) rolls back', onFailure: { keepGreen: false }, action: 'rollback', timeout: 3_600_000 },
    { name: 'rollback', onFailure: { action: 'rollback' as const, keepGreen: false }, action: 'rollback', timeout: 3_600_000 },
    { name: 'pause, with its timeout', onFailure: { action: 'pause' as const, keepGreen: true, timeoutMs: 900_000 }, action: 'pause', timeout: 900_000 },
  ])('$name', ({ onFailure, action, timeout }) => {
    expect(onFailureAction({ onFailure })).toBe(action);
    expect(holdTimeoutMs({ onFailure })).toBe(timeout);
  });
});
