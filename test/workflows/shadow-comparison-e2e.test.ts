// Shadow comparison end to end: a real routing core mirroring steady client
// load to a real model-server green, a real worker on the test run's Temporal
// dev server. A green as fast and error-free as blue whose predictions differ
// (PREDICTION_SHIFT) is rolled back from the mirror step with 0 client
// failures, its mismatching pairs still on the diffs endpoint (keepGreen); an
// identical green is promoted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rolloutResult } from '../../cli/follow-rollout.js';
import type { MirrorCompare, Policy } from '../../policies/types.js';
import { startLoad } from '../support/load.js';
import { RolloutTestBed, createEndpointWithBlue, modelServer, testPolicy } from '../support/rollout-fixture.js';

let bed: RolloutTestBed;

beforeAll(async () => {
  bed = await RolloutTestBed.create();
  await bed.startWorker();
});

afterAll(async () => {
  await bed?.close();
});

// The sample model server answers {score, version, pid}: version and pid differ by design.
const COMPARE: MirrorCompare = {
  spec: { json: { ignore: ['$.version', '$.pid'], labels: [], numeric: { tolerance: 0.01 } }, distribution: { path: '$.score' } },
  maxMismatch: 0.01,
  minPairs: 20,
};

function comparing(mirrorForMs: number, overrides: Partial<Policy> = {}): Policy {
  const base = testPolicy(overrides);
  return { ...base, steps: base.steps.map((s) => (s.kind === 'mirror' ? { ...s, forMs: mirrorForMs, compare: COMPARE } : s)) };
}

describe('shadow comparison through a real rollout', () => {
  it('rolls back from the mirror step a green whose predictions differ, with 0 client failures and the pairs on the diffs endpoint', async () => {
    const key = await createEndpointWithBlue(bed.router, 'sc-differs');
    const load = startLoad(bed.router.router.dataUrl, 'sc-differs', key);
    const policy = comparing(30_000, { onFailure: { keepGreen: true } });
    const result = await rolloutResult(await bed.start('sc-differs', modelServer('green', { LATENCY_MS: '5', PREDICTION_SHIFT: '0.3' }), policy));
    const report = await load.stop();

    expect(result.outcome, result.reason).toBe('rolled-back');
    expect(result.failedStep?.description).toMatch(/^mirror/);
    // Read from pairs, not a bake that ran out: every compared pair differs, so the exact test fails it early.
    expect(result.reason).toMatch(/^gate failed: failed: shadow mismatch 100\.0% > 1% FAILED \(\d+\/\d+ pairs;/);
    // One example pair, as the router kept it: the request (the load's {"x":1}) scores 0.065 on blue, 0.365 on green.
    expect(result.reason).toMatch(
      /; e\.g\. POST \/score: \$\.score: 0\.065 vs 0\.365 \(tolerance 0\.01\); blue 200 \{"score":0\.065,.*\/ green 200 \{"score":0\.365,/,
    );
    // Latency and errors had nothing against green: the comparison alone decided.
    const checks = result.lastGate?.checks ?? [];
    expect(checks.filter((c) => c.phase === 'Failed').map((c) => c.metric)).toEqual(['shadowMismatch']);

    expect(report.sent).toBeGreaterThan(0);
    expect(report.failures).toEqual([]);
    expect(report.failed).toBe(0);
    expect(report.byDeployment.green ?? 0).toBe(0);
    const endpoint = await bed.router.admin.getEndpoint('sc-differs');
    expect(endpoint).toMatchObject({ traffic: { blue: 100 }, mirrorTraffic: {} });
    expect(endpoint.mirrorCompare).toBeUndefined();

    // keepGreen: green stays (without traffic), and so does its evidence.
    const diffs = await bed.router.admin.shadowDiffs('sc-differs', 'green');
    expect(diffs.pairs.mismatch).toBeGreaterThanOrEqual(3);
    expect(diffs.pairs.match).toBe(0);
    expect(diffs.diffs.length).toBeGreaterThanOrEqual(3);
    expect(diffs.diffs[0]).toMatchObject({ method: 'POST', path: '/score', reason: '$.score: 0.065 vs 0.365 (tolerance 0.01)' });
  }, 120_000);

  it('promotes a green that answers like blue', async () => {
    const key = await createEndpointWithBlue(bed.router, 'sc-same');
    const load = startLoad(bed.router.router.dataUrl, 'sc-same', key);
    const result = await rolloutResult(await bed.start('sc-same', modelServer('green', { LATENCY_MS: '5' }), comparing(3_000)));
    const report = await load.stop();

    expect(result.outcome, result.reason).toBe('promoted');
    expect(report.failures).toEqual([]);
    const mirrorBake = result.decisions.find((d) => d.kind === 'gate' && d.message.startsWith('bake of 3s passed'));
    expect(mirrorBake?.message).toMatch(/; shadow comparison checks hold$/);
    expect(result.decisions.map((d) => d.message)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^gate Successful: .*shadow mismatch 0\.0% <= 1% ok \(0\/\d+ pairs;/)]),
    );
    expect((await bed.router.admin.getEndpoint('sc-same')).traffic).toEqual({ green: 100 });
  }, 120_000);
});
