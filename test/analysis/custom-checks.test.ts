// The custom-check gate (analysis/custom-checks.ts) and how its checks join
// a tick's report (workflows/gate-decision.ts withCustomChecks): no number is
// never a pass, errors count in a row, blue without data holds only a check
// that has nothing else.
import { describe, expect, it } from 'vitest';
import { judgeCustomChecks, type CustomCheckLimits, type CustomReading } from '../../analysis/custom-checks.js';
import type { ProviderReading } from '../../analysis/metric-provider.js';
import { withCustomChecks } from '../../workflows/gate-decision.js';
import type { GateReport } from '../../workflows/types.js';

const value = (v: number): ProviderReading => ({ kind: 'value', value: v });
const noData: ProviderReading = { kind: 'noData', reason: 'no data: the query returned no series' };
const error: ProviderReading = { kind: 'error', message: 'HTTP 503 from http://p: down' };
const read = (name: string, green: ProviderReading, blue?: ProviderReading): CustomReading[] => [
  { name, side: 'green', resolved: `q{d="green"}`, reading: green },
  ...(blue === undefined ? [] : [{ name, side: 'blue' as const, resolved: `q{d="blue"}`, reading: blue }]),
];
const judge = (limits: CustomCheckLimits, readings: CustomReading[], streaks = {}, limit = 3) => judgeCustomChecks([limits], readings, streaks, limit);

describe('judgeCustomChecks', () => {
  it('min fails below, max above; the baseline rules compare with blue', () => {
    const acc = { name: 'a', min: 0.9, max: 1, baseline: { maxRatio: 1.05, maxDelta: 0.02, maxDrop: 0.01 } };
    expect(judge(acc, read('a', value(0.95), value(0.95))).checks.map((c) => [c.rule, c.phase])).toEqual([
      ['min', 'Successful'],
      ['max', 'Successful'],
      ['maxRatio', 'Successful'],
      ['maxDelta', 'Successful'],
      ['maxDrop', 'Successful'],
    ]);
    const bad = judge(acc, read('a', value(0.89), value(0.95)));
    expect(bad.phase).toBe('Failed');
    expect(bad.checks.map((c) => [c.rule, c.phase])).toEqual([
      ['min', 'Failed'],
      ['max', 'Successful'],
      ['maxRatio', 'Successful'],
      ['maxDelta', 'Successful'],
      ['maxDrop', 'Failed'],
    ]);
    expect(judge({ name: 'a', max: 2 }, read('a', value(2.5))).checks[0]).toMatchObject({ value: 2.5, phase: 'Failed', query: 'q{d="green"}' });
  });

  it('no data is Inconclusive with the reason, never a pass', () => {
    const result = judge({ name: 'a', min: 0 }, read('a', noData));
    expect(result.phase).toBe('Inconclusive');
    expect(result.checks[0]).toMatchObject({ value: null, phase: 'Inconclusive', note: 'no data: the query returned no series' });
    expect(judge({ name: 'a', min: 0 }, []).phase).toBe('Inconclusive');
  });

  it('blue without data does not hold a check that has min or max, and holds one that has only a baseline', () => {
    const withMin = judge({ name: 'a', min: 0.9, baseline: { maxDrop: 0.01 } }, read('a', value(0.95), noData));
    expect(withMin.phase).toBe('Successful');
    expect(withMin.checks[1]).toMatchObject({ rule: 'maxDrop', phase: 'Inconclusive', note: 'no blue data: the query returned no series' });
    expect(judge({ name: 'a', baseline: { maxDrop: 0.01 } }, read('a', value(0.95), noData)).phase).toBe('Inconclusive');
    expect(judge({ name: 'a', baseline: { maxRatio: 2 } }, read('a', value(1), value(0))).phase).toBe('Inconclusive');
  });

  it('errors are Error until consecutiveErrorLimit in a row, then Failed with the message; a good reading resets the count', () => {
    const limits = { name: 'a', min: 0 };
    let streaks = {};
    const phases: string[] = [];
    for (const reading of [error, error, value(1), error, error, error]) {
      const result = judge(limits, read('a', reading), streaks, 3);
      streaks = result.streaks;
      phases.push(result.phase);
    }
    expect(phases).toEqual(['Error', 'Error', 'Successful', 'Error', 'Error', 'Failed']);
    const failed = judge(limits, read('a', error), { a: 2 }, 3);
    expect(failed.checks[0]?.note).toBe('3 provider errors in a row: green: HTTP 503 from http://p: down');
    // A blue error is an error of the baseline rule only.
    const blueDown = judge({ name: 'a', min: 0, baseline: { maxDrop: 1 } }, read('a', value(1), error));
    expect(blueDown.checks.map((c) => c.phase)).toEqual(['Successful', 'Error']);
  });
});

describe('withCustomChecks', () => {
  const report = (phase: GateReport['phase'], summary: string): GateReport => ({
    phase,
    summary,
    checks: [],
    greenRequests: 100,
    blueRequests: 100,
    window: 'step',
    atMs: 0,
  });
  const custom = (reading: ProviderReading) => judge({ name: 'acc', min: 0.9 }, read('acc', reading));

  it('the worse phase wins, and the summary names the custom checks that decided it', () => {
    expect(withCustomChecks(report('Successful', 'all checks hold over 100 requests'), custom(value(0.95)))).toMatchObject({
      phase: 'Successful',
      summary: 'all checks hold over 100 requests; custom checks hold',
    });
    expect(withCustomChecks(report('Successful', 'ok'), custom(value(0.5))).summary).toBe('failed: acc 0.5 < min 0.9 FAILED [q{d="green"}]');
    expect(withCustomChecks(report('Successful', 'ok'), custom(noData))).toMatchObject({
      phase: 'Inconclusive',
      summary: 'inconclusive: acc n/a, limit min 0.9 inconclusive (no data: the query returned no series) [q{d="green"}]',
    });
    expect(withCustomChecks(report('Inconclusive', 'inconclusive: n=3 < 10'), custom(error)).phase).toBe('Error');
    expect(withCustomChecks(report('Failed', 'failed: errors 50% > 1% FAILED'), custom(noData))).toMatchObject({
      phase: 'Failed',
      summary: 'failed: errors 50% > 1% FAILED',
    });
    expect(withCustomChecks(report('Inconclusive', 'inconclusive: n=3 < 10'), custom(noData)).summary).toMatch(/^inconclusive: n=3 < 10; acc n\/a/);
    expect(withCustomChecks(report('Successful', 'ok'), { checks: [], phase: 'Successful' })).toEqual(report('Successful', 'ok'));
  });
});
