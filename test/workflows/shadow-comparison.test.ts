// Shadow comparison (a mirror step's compare) in the rollout workflow, with
// stand-in router readings on the time-skipping test server: a green that
// predicts differently is rolled back from the mirror step with an example
// pair in the reason, an identical one is promoted, too few pairs never
// pass, and a policy without compare asks the router for nothing new.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShadowPairsReading } from '../../activities/types.js';
import type { ShadowSeries } from '../../analysis/shadow-checks.js';
import type { MirrorCompare, Policy } from '../../policies/types.js';
import { recordHistory } from '../support/histories.js';
import { WorkflowHarness, outcome, realisticPolicy } from '../support/workflow-harness.js';

let harness: WorkflowHarness;
beforeAll(async () => {
  harness = await WorkflowHarness.timeSkipping('shadow-comparison');
});
afterAll(() => harness?.close());

const COMPARE: MirrorCompare = {
  spec: { json: { ignore: ['$.model_version'], labels: ['$.label'], numeric: { tolerance: 0.01 } }, distribution: { path: '$.score' } },
  maxMismatch: 0.01,
  maxPsi: 0.2,
  minPairs: 100,
};
const EXAMPLE = 'POST /score: $.score: 0.91 vs 0.42 (tolerance 0.01); blue 200 {"label":"cat","score":0.91} / green 200 {"label":"cat","score":0.42}';

function policy(compare: MirrorCompare | undefined): Policy {
  return realisticPolicy([
    { kind: 'create' },
    { kind: 'mirror', percent: 10, forMs: 120_000, ...(compare === undefined ? {} : { compare }) },
    { kind: 'traffic', percent: 100, forMs: 60_000 },
  ]);
}

/** Cumulative counters that grow by `perCall` at every reading (the first is the bake's window start). */
function counters(perCall: Omit<ShadowSeries, 'scores'>, scoresPerCall?: { blue: number[]; green: number[] }, example?: string): () => ShadowPairsReading {
  let calls = 0;
  return () => {
    calls += 1;
    const series: ShadowSeries = {
      match: perCall.match * calls,
      mismatch: perCall.mismatch * calls,
      shed: perCall.shed * calls,
      error: perCall.error * calls,
    };
    if (scoresPerCall) {
      // Cumulative bins, as the router exports them.
      const cumulative = (bins: number[]) => bins.reduce<number[]>((out, n, i) => [...out, (out[i - 1] ?? 0) + n * calls], []);
      series.scores = { blue: cumulative(scoresPerCall.blue), green: cumulative(scoresPerCall.green) };
    }
    return { snapshot: { takenAtMs: calls, processStartSeconds: 1, series }, ...(example !== undefined && series.mismatch > 0 ? { example } : {}) };
  };
}

const EVEN = [5, 5, 5, 5, 5, 5, 5, 5, 5, 5];

describe('shadow comparison at the mirror gate', () => {
  it('rolls a green that predicts differently back from the mirror step, quoting one example pair', async () => {
    const router = harness.endpoint('shadow-differs');
    router.shadowPairs = counters({ match: 10, mismatch: 10, shed: 1, error: 2 }, undefined, EXAMPLE);
    const handle = await harness.start(router, policy(COMPARE));
    const result = await outcome(handle);
    await recordHistory('shadow-rolled-back-in-mirror', handle);

    expect(result.outcome).toBe('rolled-back');
    // Green never took live traffic: mirror (with the comparison), then blue 100% with the comparison off.
    expect(router.named('setRoutes').map((c) => [c.args[1], c.args[2], (c.args[3] as { compare?: unknown }).compare])).toEqual([
      [{ blue: 100 }, { green: 10 }, COMPARE.spec],
      [{ blue: 100 }, {}, null],
    ]);
    // Failed at the first tick by the exact test (10 of 20 pairs mismatched against 1% allowed), before minPairs.
    expect(router.named('readShadowPairs')).toHaveLength(2);
    expect(result.reason).toMatch(
      /^gate failed: failed: shadow mismatch 50\.0% > 1% FAILED \(10\/20 pairs; 1 shed, 2 error, >= [\d.]+% at 99\.99% confidence vs 1% allowed\)/,
    );
    expect(result.reason).toContain(`; e.g. ${EXAMPLE}`);
    expect(result.lastGate?.checks.find((c) => c.metric === 'shadowMismatch')).toMatchObject({ value: 0.5, limit: 0.01, phase: 'Failed' });
    expect(result.decisions.map((d) => d.message)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^gate Failed: .*shadow mismatch 50\.0% > 1% FAILED/)]),
    );
  });

  it('promotes a green whose answers agree and whose scores are distributed like blue', async () => {
    const router = harness.endpoint('shadow-agrees');
    router.shadowPairs = counters({ match: 50, mismatch: 0, shed: 0, error: 0 }, { blue: EVEN, green: EVEN });
    const result = await outcome(await harness.start(router, policy(COMPARE)));

    expect(result.outcome, result.reason).toBe('promoted');
    const mirrorGate = result.decisions.find((d) => d.message.startsWith('bake of 2m passed'));
    expect(mirrorGate?.message).toMatch(/; shadow comparison checks hold$/);
    expect(result.decisions.map((d) => d.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^gate Successful: .*shadow mismatch 0\.0% <= 1% ok \(0\/100 pairs; 0 shed, 0 error\); score PSI 0\.000 <= 0\.2 ok \(100 pairs\)/,
        ),
      ]),
    );
    // Read at the bake's start and at each of its 4 ticks; never in the traffic step.
    expect(router.named('readShadowPairs')).toHaveLength(5);
    expect(router.named('setRoutes').map((c) => (c.args[3] as { compare?: unknown }).compare)).toEqual([COMPARE.spec, null]);
  });

  it('fails a green whose scores shift although each answer is within tolerance (PSI)', async () => {
    const router = harness.endpoint('shadow-psi');
    const shifted = [0, 0, 0, 0, 0, 10, 10, 10, 10, 10];
    router.shadowPairs = counters({ match: 50, mismatch: 0, shed: 0, error: 0 }, { blue: EVEN, green: shifted });
    const result = await outcome(await harness.start(router, policy(COMPARE)));
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/^gate failed: failed: score PSI [\d.]+ > 0\.2 FAILED \(100 pairs\)/);
  });

  it('never passes on too few pairs: the bake ends Inconclusive and rolls back', async () => {
    const router = harness.endpoint('shadow-few');
    router.shadowPairs = counters({ match: 10, mismatch: 0, shed: 30, error: 5 });
    const result = await outcome(await harness.start(router, policy({ ...COMPARE, maxPsi: undefined, spec: { json: COMPARE.spec.json } })));
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(
      /^bake ended without a passing gate: inconclusive: shadow mismatch 0\.0% <= 1% inconclusive \(40 < 100 pairs; 120 shed, 20 error\)/,
    );
  });

  it('a policy without compare asks the router for nothing new', async () => {
    const router = harness.endpoint('shadow-none');
    const result = await outcome(await harness.start(router, policy(undefined)));
    expect(result.outcome, result.reason).toBe('promoted');
    expect(router.named('readShadowPairs')).toEqual([]);
    expect(router.named('setRoutes').every((c) => !('compare' in (c.args[3] as object)))).toBe(true);
  });
});
