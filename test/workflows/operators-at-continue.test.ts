// An operator's request must survive the moment a long run continues as new.
// A run continues as new right after a gate reading; a request taken just
// before (an approval accepted while the reading was in flight) or in the
// same workflow task (an abort signalled while the controller was down) lived
// in that run only and was lost: the new run waited for approval again, or
// never rolled back. Stand-in activities on the time-skipping test server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abortSignal, approveUpdate, promoteUpdate } from '../../workflows/messages.js';
import { measuredWindows } from '../support/fake-router.js';
import { recordHistory } from '../support/histories.js';
import { WorkflowHarness, outcome, realisticPolicy, type RolloutHandle } from '../support/workflow-harness.js';

let harness: WorkflowHarness;

beforeAll(async () => {
  harness = await WorkflowHarness.timeSkipping('operators-at-continue');
});
afterAll(() => harness?.close());

const HOUR_MS = 3_600_000;

// Every gate reading of the approval wait would continue as new (a history of 40 events is long).
const approvalPolicy = () =>
  realisticPolicy([
    { kind: 'create' },
    { kind: 'traffic', percent: 10, forMs: 30_000 },
    { kind: 'approval', timeoutMs: HOUR_MS },
    { kind: 'traffic', percent: 100, forMs: 30_000 },
  ]);

function waitingForApproval(handle: RolloutHandle) {
  return harness.skipToStatus(handle, (s) => s.waitingForApproval, 'waiting for approval');
}

describe('operator requests at a continue-as-new', () => {
  it('an approval accepted while a gate reading is in flight is taken, not lost to the next run', async () => {
    const router = harness.endpoint('approve-at-can');
    const handle = await harness.start(router, approvalPolicy(), { maxHistoryEvents: 40 });
    await waitingForApproval(handle);
    const readings = router.named('measureWindows').length;
    const release = router.block('measureWindows');
    await harness.skipUntil(() => router.named('measureWindows').length > readings, 'a gate reading under way', 1_000);

    await harness.update(handle, approveUpdate, 'ship it');
    release();

    const result = await outcome(handle);
    await recordHistory('approval-at-continue', handle);
    expect(result.outcome, result.reason).toBe('promoted');
    expect(result.decisions.some((d) => d.message === 'approved: ship it')).toBe(true);
    expect(router.routes()).toEqual([
      [{ blue: 90, green: 10 }, {}],
      [{ green: 100 }, {}],
    ]);
  });

  it('an approval given while a failing reading was taken is set aside by the hold, which continues as new, and is asked for again', async () => {
    const router = harness.endpoint('approve-into-hold');
    const policy = realisticPolicy(approvalPolicy().steps, { onFailure: { action: 'pause', keepGreen: false, timeoutMs: 24 * HOUR_MS } });
    const handle = await harness.start(router, policy, { maxHistoryEvents: 40 });
    await waitingForApproval(handle);
    const readings = router.named('measureWindows').length;
    const release = router.block('measureWindows');
    await harness.skipUntil(() => router.named('measureWindows').length > readings, 'a gate reading under way', 1_000);
    await harness.update(handle, approveUpdate, 'too late');
    router.green = 'failing';
    release();

    const held = await harness.skipToStatus(handle, (s) => s.phase === 'HeldOnFailure', 'held on the failed reading');
    expect(held.decisions.map((d) => d.message)).toContain('approval set aside: a gate failed while it was given; approve again once the hold is decided');
    // Nothing pending keeps the held run from continuing as new.
    const runs = new Set(router.calls.map((c) => c.runId)).size;
    await harness.skipUntil(() => new Set(router.calls.map((c) => c.runId)).size > runs, 'a continue-as-new while held');

    router.green = 'healthy';
    await harness.update(handle, promoteUpdate, { force: true });
    const back = await harness.skipToStatus(handle, (s) => s.phase === 'Approval' && s.heldOnFailure === undefined, 'back to waiting for approval');
    expect(back.waitingForApproval).toBe(true);
    await harness.update(handle, approveUpdate, 'now');
    const result = await outcome(handle);
    expect(result.outcome, result.reason).toBe('promoted');
  });

  it('an abort signalled in the workflow task of a gate reading rolls back, not lost to the next run', async () => {
    const router = harness.endpoint('abort-at-can');
    const handle = await harness.start(router, approvalPolicy(), { maxHistoryEvents: 40 });
    await waitingForApproval(handle);
    let left: Uint8Array | undefined;
    void router.completeLater('measureWindows').then((token) => (left = token));
    const token = await harness.skipUntil(() => left, 'a gate reading left open', 1_000);

    // The controller is down: the abort and the reading's answer reach the run in one workflow task.
    await harness.withoutWorker(async () => {
      await handle.signal(abortSignal, 'bad canary');
      await harness.env.client.activity.complete(token, measuredWindows(router));
    });

    const result = await outcome(handle);
    await recordHistory('abort-at-continue', handle);
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toBe('bad canary');
    expect(router.routes().at(-1)).toEqual([{ blue: 100 }, {}]);
  });
});
