// No unguarded moment: from green's first mirrored or live request until blue
// is deleted, the gates run every interval outside bakes too (approval waits,
// pauses between steps, the watch window of deleteBlue.after), a breach there
// rolls back at once, and long waits continue as new carrying where they were.
// Stand-in activities on the time-skipping test server: bakes of minutes,
// approvals and watch windows of an hour pass in no time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveUpdate, pauseSignal, resumeSignal } from '../../workflows/messages.js';
import { recordHistory } from '../support/histories.js';
import { INTERVAL_MS, WorkflowHarness, outcome, realisticPolicy, status, statusWhen, type RolloutHandle } from '../support/workflow-harness.js';
import type { FakeRouter } from '../support/fake-router.js';

let harness: WorkflowHarness;

beforeAll(async () => {
  harness = await WorkflowHarness.timeSkipping('guarded-waits');
});
afterAll(() => harness?.close());

/** Lets time pass until `n` more gate readings from now. */
async function readings(router: FakeRouter, n: number, what: string): Promise<void> {
  const before = router.named('measureWindows').length;
  await harness.skipUntil(() => router.named('measureWindows').length >= before + n, what);
}

/** Lets time pass until the approval step waits. */
function waitingForApproval(handle: RolloutHandle) {
  return harness.skipUntil(async () => {
    const s = await status(handle);
    return s.waitingForApproval ? s : undefined;
  }, 'waiting for approval');
}

function runsOf(router: FakeRouter): number {
  return new Set(router.calls.map((c) => c.runId)).size;
}

const canaryThenApproval = (timeoutMs?: number, bakeMs = 300_000) =>
  realisticPolicy([
    { kind: 'create' },
    { kind: 'traffic', percent: 10, forMs: bakeMs },
    { kind: 'approval', ...(timeoutMs === undefined ? {} : { timeoutMs }) },
    { kind: 'traffic', percent: 100, forMs: bakeMs },
  ]);

describe('gates while waiting for approval', () => {
  it('a breach rolls back at once, with nobody approving', async () => {
    const router = harness.endpoint('approval-breach');
    const handle = await harness.start(router, canaryThenApproval());
    await waitingForApproval(handle);
    router.green = 'failing';
    const result = await outcome(handle);
    await recordHistory('breach-during-approval', handle);
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/^gate failed while waiting for approval: failed: errors 50\.0% > 1%/);
    expect(result.failedStep).toEqual({ index: 2, description: 'approval' });
    expect(router.routes()).toEqual([
      [{ blue: 90, green: 10 }, {}],
      [{ blue: 100 }, {}],
    ]);
    expect(router.named('deleteDeployment').map((c) => c.args[1])).toEqual(['green']);
  });

  it('too few answers are no breach: the approval still waits, and approving promotes', async () => {
    const router = harness.endpoint('approval-quiet');
    const handle = await harness.start(router, canaryThenApproval());
    await waitingForApproval(handle);
    router.green = 'quiet';
    await readings(router, 3, 'readings of a quiet green');
    const waiting = await status(handle);
    expect(waiting.waitingForApproval).toBe(true);
    expect(waiting.lastGate?.phase).toBe('Inconclusive');
    router.green = 'healthy';
    await harness.update(handle, approveUpdate, '');
    expect((await outcome(handle)).outcome).toBe('promoted');
  });
});

describe('gates during a pause between steps', () => {
  it('a breach while paused before the next step rolls back', async () => {
    const router = harness.endpoint('pause-breach');
    const handle = await harness.start(router, canaryThenApproval());
    await waitingForApproval(handle);
    await harness.signal(handle, pauseSignal);
    await harness.update(handle, approveUpdate, '');
    await statusWhen(handle, (s) => s.paused && !s.waitingForApproval, 'paused after the approval');
    await readings(router, 2, 'readings while paused');
    router.green = 'failing';
    const result = await outcome(handle);
    expect(result.reason).toMatch(/^gate failed while paused: /);
    // The 100% step never started.
    expect(router.routes()).toEqual([
      [{ blue: 90, green: 10 }, {}],
      [{ blue: 100 }, {}],
    ]);
  });
});

describe('the watch window (deleteBlue.after)', () => {
  const promoteThenWatch = realisticPolicy([{ kind: 'create' }, { kind: 'traffic', percent: 100, forMs: 300_000 }, { kind: 'deleteBlue', afterMs: 3_600_000 }]);

  it('judges green alone against the absolute SLOs, and a breach puts blue back (never deleted)', async () => {
    const router = harness.endpoint('watch-breach');
    const handle = await harness.start(router, promoteThenWatch);
    await harness.skipUntil(async () => {
      const s = await status(handle);
      return s.phase === 'DeletingBlue' && s.watchEndsAtMs !== undefined;
    }, 'in the watch window');
    await readings(router, 2, 'readings in the watch window');
    const watching = await statusWhen(handle, (s) => s.lastGate !== undefined, 'a watch reading');
    // Blue has no live answers to compare with: only the absolute limits are checked.
    expect(watching.lastGate?.checks.map((c) => c.metric)).toEqual(['p95', 'errorRate', 'requests']);
    expect(watching.lastGate?.phase).toBe('Successful');

    router.green = 'failing';
    const result = await outcome(handle);
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/^gate failed while watching green after promotion: /);
    expect(router.routes().at(-1)).toEqual([{ blue: 100 }, {}]);
    expect(router.named('deleteDeployment').map((c) => c.args[1])).toEqual(['green']);
  });
});

describe('continue-as-new outside bakes', () => {
  // Bakes of one reading: each passes before its run is long enough to continue as new
  // (a bake that does re-applies its split in the next run), so each route change shows once.
  const BAKE_MS = INTERVAL_MS;

  it('a long approval wait continues as new and keeps its deadline, then times out on it', async () => {
    const router = harness.endpoint('approval-can');
    const handle = await harness.start(router, canaryThenApproval(3_600_000), { maxHistoryEvents: 40 });
    const first = await waitingForApproval(handle);
    const runs = runsOf(router);
    await harness.skipUntil(() => runsOf(router) > runs, 'a continue-as-new while waiting');
    const later = await status(handle);
    expect(later.waitingForApproval).toBe(true);
    expect(later.approvalEndsAtMs).toBeDefined();
    expect(later.approvalEndsAtMs).toBe(first.approvalEndsAtMs);
    const result = await outcome(handle);
    expect(result.reason).toBe('approval timed out after 1h');
    expect(result.decisions.some((d) => d.message === 'continued as new at step 3')).toBe(true);
  });

  it('an approval given after the wait continued as new is taken', async () => {
    const router = harness.endpoint('approval-can-ok');
    const handle = await harness.start(router, canaryThenApproval(undefined, BAKE_MS), { maxHistoryEvents: 40 });
    await waitingForApproval(handle);
    const runs = runsOf(router);
    await harness.skipUntil(() => runsOf(router) > runs + 1, 'two continues-as-new while waiting');
    expect((await status(handle)).waitingForApproval).toBe(true);
    await harness.update(handle, approveUpdate, 'later');
    const result = await outcome(handle);
    expect(result.outcome, result.reason).toBe('promoted');
    expect(router.routes()).toEqual([
      [{ blue: 90, green: 10 }, {}],
      [{ green: 100 }, {}],
    ]);
  });

  it('a pause between steps continues as new and resumes at the next step, not redoing the last one', async () => {
    const router = harness.endpoint('pause-can');
    const handle = await harness.start(router, canaryThenApproval(undefined, BAKE_MS), { maxHistoryEvents: 40 });
    await waitingForApproval(handle);
    await harness.signal(handle, pauseSignal);
    await harness.update(handle, approveUpdate, '');
    await statusWhen(handle, (s) => s.paused && !s.waitingForApproval, 'paused after the approval');
    const runs = runsOf(router);
    await harness.skipUntil(() => runsOf(router) > runs + 1, 'continues-as-new while paused');
    const paused = await status(handle);
    expect(paused.paused).toBe(true);
    expect(paused.step).toBe('approval');
    await harness.signal(handle, resumeSignal);
    const result = await outcome(handle);
    expect(result.outcome, result.reason).toBe('promoted');
    expect(router.routes()).toEqual([
      [{ blue: 90, green: 10 }, {}],
      [{ green: 100 }, {}],
    ]);
  });
});
