// The pure decisions of a bake, as tables: what a gate tick means for the
// step, which window decides, and when a long bake continues as new.
import { describe, expect, it } from 'vitest';
import type { WindowStats } from '../../analysis/window.js';
import { HISTORY_EVENTS_BEFORE_CONTINUE, gateRules, judgeTick, shouldContinueAsNew, tickVerdict } from '../../workflows/gate-decision.js';
import type { GateReport } from '../../workflows/types.js';
import { testPolicy } from '../support/rollout-fixture.js';

function window(requests: number, errors: number, ms: number): WindowStats {
  const le = [5, 10, 25, 50, 100, 250, 500, 1000];
  const buckets = le.map((leMs, i) => ({ leMs, count: ms <= leMs && (i === 0 || ms > (le[i - 1] as number)) ? requests : 0 }));
  return {
    requests,
    errors,
    errorRate: requests ? errors / requests : null,
    p95Ms: requests ? ms : null,
    p99Ms: requests ? ms : null,
    buckets,
    overflow: 0,
    seconds: 1,
  };
}

const rules = gateRules(testPolicy()); // p95 250 ms, errors 1%, min 20 requests, ratio 1.5

describe('judgeTick', () => {
  it.each<{ name: string; step: WindowStats; interval: WindowStats; phase: string; window: 'step' | 'interval' }>([
    { name: 'a healthy bake passes on the whole step', step: window(100, 0, 20), interval: window(10, 0, 20), phase: 'Successful', window: 'step' },
    { name: 'too few answers yet is inconclusive', step: window(10, 0, 20), interval: window(5, 0, 20), phase: 'Inconclusive', window: 'step' },
    {
      name: 'a late breach fails on the interval even though the step looks fine',
      step: window(1000, 10, 20),
      interval: window(10, 10, 20),
      phase: 'Failed',
      window: 'interval',
    },
    { name: 'a breach over the whole step fails on the step', step: window(100, 50, 20), interval: window(10, 5, 20), phase: 'Failed', window: 'step' },
  ])('$name', ({ step, interval, phase, window: deciding }) => {
    const { report } = judgeTick(rules, { greenStep: step, greenInterval: interval, blueStep: window(1000, 0, 20), blueInterval: window(100, 0, 20) }, 0);
    expect(report.phase).toBe(phase);
    expect(report.window).toBe(deciding);
  });
});

describe('judgeTick: a green so slow that its clients hang up', () => {
  // No answers at all, only hang-ups: an empty window by answers, which alone would be Inconclusive until the bake ends.
  const hungUp = (aborts: number): WindowStats => ({ ...window(0, 0, 20), aborts });
  const blue = (requests: number): WindowStats => ({ ...window(requests, 0, 20), aborts: 0 });

  it('fails the tick at once, against blue, with the counts in the report', () => {
    const { report } = judgeTick(rules, { greenStep: hungUp(8), greenInterval: hungUp(3), blueStep: blue(400), blueInterval: blue(40) }, 0);
    expect(report.phase).toBe('Failed');
    expect(tickVerdict(report, false)).toBe('fail');
    expect(report.window).toBe('step');
    expect(report.checks.find((c) => c.metric === 'abortRate')).toMatchObject({
      phase: 'Failed',
      value: 1,
      note: expect.stringMatching(/^8\/8 vs blue 0\/400, /),
    });
    expect(report.summary).toMatch(/client aborts 100\.0% > 5% FAILED \(8\/8 vs blue 0\/400/);
  });

  it("windows from before hang-ups were counted (a running rollout's history) judge as they did", () => {
    const { aborts: _a, ...old } = hungUp(8);
    const { report } = judgeTick(rules, { greenStep: old, greenInterval: old, blueStep: window(400, 0, 20), blueInterval: window(40, 0, 20) }, 0);
    expect(report.phase).toBe('Inconclusive');
    expect(report.checks.map((c) => c.metric)).not.toContain('abortRate');
  });
});

describe('tickVerdict', () => {
  const report = (phase: GateReport['phase']): GateReport => ({ phase, summary: '', checks: [], greenRequests: 0, blueRequests: 0, window: 'step', atMs: 0 });
  it.each<[GateReport['phase'], boolean, string]>([
    ['Failed', false, 'fail'],
    ['Failed', true, 'fail'],
    ['Successful', false, 'continue'],
    ['Successful', true, 'pass'],
    ['Inconclusive', false, 'continue'],
    ['Inconclusive', true, 'fail'],
    ['Error', false, 'continue'],
    ['Error', true, 'fail'],
  ])('%s with bake over=%s → %s', (phase, over, verdict) => {
    expect(tickVerdict(report(phase), over)).toBe(verdict);
  });
});

describe('shouldContinueAsNew', () => {
  it('continues as new when the server suggests it or the history grows long', () => {
    expect(shouldContinueAsNew(100, false)).toBe(false);
    expect(shouldContinueAsNew(100, true)).toBe(true);
    expect(shouldContinueAsNew(HISTORY_EVENTS_BEFORE_CONTINUE, false)).toBe(true);
  });
});
