// onFailure.action: pause. A failed gate holds the rollout with traffic where
// it is; gates and the guard lease go on; an operator decides: promote
// --force goes on with the plan, rollback or abort roll back, and with no
// decision the hold rolls back when its timeout passes. Stand-in activities on
// the time-skipping test server: holds of an hour pass in no time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Policy } from '../../policies/types.js';
import { abortSignal, approveUpdate, promoteUpdate, rollbackUpdate } from '../../workflows/messages.js';
import type { FakeRouter } from '../support/fake-router.js';
import { recordHistory } from '../support/histories.js';
import { INTERVAL_MS, WorkflowHarness, outcome, realisticPolicy, refusal, status, type RolloutHandle } from '../support/workflow-harness.js';

let harness: WorkflowHarness;

beforeAll(async () => {
  harness = await WorkflowHarness.timeSkipping('failure-hold');
});
afterAll(() => harness?.close());

function holding(steps: Policy['steps'], timeoutMs = 3_600_000, overrides: Partial<Policy> = {}): Policy {
  return realisticPolicy(steps, { onFailure: { action: 'pause', keepGreen: false, timeoutMs }, ...overrides });
}

const canary: Policy['steps'] = [{ kind: 'create' }, { kind: 'traffic', percent: 10, forMs: 600_000 }, { kind: 'traffic', percent: 100, forMs: 300_000 }];

/** Starts a rollout whose green fails at once, and waits until the failed gate holds it. */
async function heldInCanary(router: FakeRouter, policy = holding(canary), extra = {}): Promise<RolloutHandle> {
  router.green = 'failing';
  const handle = await harness.start(router, policy, extra);
  await harness.skipToStatus(handle, (s) => s.phase === 'HeldOnFailure', 'held on the failed gate');
  return handle;
}

async function readings(router: FakeRouter, handle: RolloutHandle, n: number, what: string): Promise<void> {
  const before = router.named('measureWindows').length;
  await harness.skipUntil(() => router.named('measureWindows').length >= before + n, what);
}

describe('a failed gate with onFailure: pause', () => {
  it('holds traffic where it is, keeps measuring, and promote --force goes on with the plan', async () => {
    const router = harness.endpoint('hold-force');
    const handle = await heldInCanary(router);
    const held = await status(handle);
    expect(held.heldOnFailure?.reason).toMatch(/^gate failed: failed: errors 50\.0% > 1%/);
    expect(held.traffic).toEqual({ blue: 90, green: 10 });
    await readings(router, handle, 3, 'gate readings while held');
    expect(router.routes()).toEqual([[{ blue: 90, green: 10 }, {}]]);

    expect(await refusal(harness.update(handle, promoteUpdate, {}))).toMatch(
      /^held on a failed gate .*: promote --force goes on past it, rollback rolls back$/,
    );
    expect(await refusal(harness.update(handle, approveUpdate, ''))).toMatch(/^nothing to approve/);
    router.green = 'healthy';
    expect(await harness.update(handle, promoteUpdate, { force: true, reason: 'known noisy metric' })).toMatch(/^forced on past the failed gate/);
    const result = await outcome(handle);
    await recordHistory('held-then-forced', handle);
    expect(result.outcome, result.reason).toBe('promoted');
    expect(router.routes()).toEqual([
      [{ blue: 90, green: 10 }, {}],
      [{ green: 100 }, {}],
    ]);
    expect(result.decisions.map((d) => d.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^held \(onFailure: pause\): gate failed/),
        expect.stringMatching(/^promote --force: past the failed gate of step 2 .*: known noisy metric$/),
      ]),
    );
  });

  it('rollback while held rolls back with its reason', async () => {
    const router = harness.endpoint('hold-rollback');
    const handle = await heldInCanary(router);
    expect(await harness.update(handle, rollbackUpdate, 'not worth chasing')).toMatch(/^rolling back: blue "blue" back to 100%/);
    const result = await outcome(handle);
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toBe('not worth chasing');
    expect(router.routes().at(-1)).toEqual([{ blue: 100 }, {}]);
    expect(router.named('deleteDeployment').map((c) => c.args[1])).toEqual(['green']);
    expect((await status(handle)).heldOnFailure).toBeUndefined();
  });

  it('abort while held rolls back', async () => {
    const router = harness.endpoint('hold-abort');
    const handle = await heldInCanary(router);
    await harness.signal(handle, abortSignal, 'wrong build');
    const result = await outcome(handle);
    expect(result.reason).toBe('wrong build');
    expect(router.routes().at(-1)).toEqual([{ blue: 100 }, {}]);
  });

  it('with no decision, rolls back when onFailure.timeout passes', async () => {
    const router = harness.endpoint('hold-timeout');
    const handle = await heldInCanary(router, holding(canary, 900_000));
    const result = await outcome(handle);
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/^gate failed: failed: errors 50\.0% > 1%.* \(held 15m with no operator decision\)$/);
    expect(result.failedStep).toEqual({ index: 1, description: 'traffic 10% 10m' });
    expect(router.routes().at(-1)).toEqual([{ blue: 100 }, {}]);
  });

  it('records a breach that gets worse while held, and keeps renewing the guard lease', async () => {
    const router = harness.endpoint('hold-worse');
    const handle = await heldInCanary(router, holding(canary, 3_600_000, { analysis: { intervalMs: INTERVAL_MS, controllerLossTimeoutMs: 60_000 } }));
    const renewals = router.named('renewGuard').length;
    await harness.skipUntil(() => router.named('renewGuard').length >= renewals + 2, 'renewals while held');
    router.green = 'failing-and-slow';
    const worse = await harness.skipToStatus(handle, (s) => s.decisions.some((d) => d.message.startsWith('worse while held')), 'the worse breach recorded');
    expect(worse.decisions.find((d) => d.message.startsWith('worse while held'))?.message).toMatch(/^worse while held: p95, latencyRatio failing too/);
    expect(worse.phase).toBe('HeldOnFailure');
    await harness.update(handle, rollbackUpdate, '');
    expect((await outcome(handle)).reason).toBe('rolled back by an operator');
  });

  it('a breach while waiting for approval holds; forced on, the approval still waits for approve', async () => {
    const router = harness.endpoint('hold-approval');
    const handle = await harness.start(
      router,
      holding([{ kind: 'create' }, { kind: 'traffic', percent: 10, forMs: 300_000 }, { kind: 'approval' }, { kind: 'traffic', percent: 100, forMs: 300_000 }]),
    );
    await harness.skipToStatus(handle, (s) => s.waitingForApproval, 'waiting for approval');
    router.green = 'failing';
    await harness.skipToStatus(handle, (s) => s.phase === 'HeldOnFailure', 'held during the approval wait');
    expect(await refusal(harness.update(handle, approveUpdate, ''))).toMatch(/^held on a failed gate/);
    router.green = 'healthy';
    await harness.update(handle, promoteUpdate, { force: true });
    const back = await harness.skipToStatus(handle, (s) => s.phase === 'Approval', 'back to waiting for approval');
    expect(back.waitingForApproval).toBe(true);
    expect(back.heldOnFailure).toBeUndefined();
    await harness.update(handle, approveUpdate, '');
    expect((await outcome(handle)).outcome).toBe('promoted');
  });

  it('a hold continues as new and holds on in the next run, with the same deadline', async () => {
    const router = harness.endpoint('hold-can');
    // The last bake is one reading: it passes before its run is long enough to continue as new
    // (a bake that does re-applies its split in the next run), so 100% shows once.
    const [create, tenPercent] = canary;
    // A day's hold: the runs continue as new within minutes, and skipping time towards them must never reach the deadline.
    const policy = holding([create!, tenPercent!, { kind: 'traffic', percent: 100, forMs: INTERVAL_MS }], 24 * 3_600_000);
    const handle = await heldInCanary(router, policy, { maxHistoryEvents: 40 });
    const first = await status(handle);
    const runs = new Set(router.calls.map((c) => c.runId)).size;
    await harness.skipUntil(() => new Set(router.calls.map((c) => c.runId)).size > runs + 1, 'continues-as-new while held');
    const later = await status(handle);
    expect(later.phase).toBe('HeldOnFailure');
    expect(later.heldOnFailure?.endsAtMs).toBe(first.heldOnFailure?.endsAtMs);
    router.green = 'healthy';
    await harness.update(handle, promoteUpdate, { force: true });
    const result = await outcome(handle);
    expect(result.outcome, result.reason).toBe('promoted');
    // Each run re-applies its step's routes (the same absolute split); none moves traffic before the force.
    const routes = router.routes();
    expect(new Set(routes.slice(0, -1).map((r) => JSON.stringify(r)))).toEqual(new Set([JSON.stringify([{ blue: 90, green: 10 }, {}])]));
    expect(routes.at(-1)).toEqual([{ green: 100 }, {}]);
  });
});
