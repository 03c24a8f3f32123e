// A hold (onFailure: pause) survives continue-as-new even when the wait it
// started in has ended meanwhile: blue is never deleted, and no step is taken,
// while a failed gate waits for an operator. Stand-in activities on the
// time-skipping test server: an hour's watch window passes in no time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Policy } from '../../policies/types.js';
import { rollbackUpdate } from '../../workflows/messages.js';
import { INTERVAL_MS, WorkflowHarness, outcome, realisticPolicy, status } from '../support/workflow-harness.js';

let harness: WorkflowHarness;

beforeAll(async () => {
  harness = await WorkflowHarness.timeSkipping('hold-across-runs');
});
afterAll(() => harness?.close());

const WATCH_MS = 3_600_000;
const steps: Policy['steps'] = [{ kind: 'create' }, { kind: 'traffic', percent: 100, forMs: INTERVAL_MS }, { kind: 'deleteBlue', afterMs: WATCH_MS }];

describe('a hold carried into a new run', () => {
  it('holds on after the watch window it started in has ended, and blue is not deleted', async () => {
    const router = harness.endpoint('hold-watch-can');
    const policy = realisticPolicy(steps, { onFailure: { action: 'pause', keepGreen: false, timeoutMs: 4 * WATCH_MS } });
    const handle = await harness.start(router, policy, { maxHistoryEvents: 40 });
    await harness.skipToStatus(handle, (s) => s.phase === 'DeletingBlue' && s.watchEndsAtMs !== undefined, 'in the watch window');
    router.green = 'failing';
    const held = await harness.skipToStatus(handle, (s) => s.phase === 'HeldOnFailure', 'held in the watch window');
    const watchEndsAtMs = held.watchEndsAtMs ?? 0;
    // Runs continue as new while held, and at least one of them starts after the watch window ended.
    await harness.skipUntil(
      async () => (await harness.env.currentTimeMs()) > watchEndsAtMs + INTERVAL_MS,
      'held past the end of the watch window',
      10 * INTERVAL_MS,
    );
    const runsBefore = new Set(router.calls.map((c) => c.runId)).size;
    await harness.skipUntil(() => new Set(router.calls.map((c) => c.runId)).size > runsBefore, 'a new run after the window ended');
    const later = await status(handle);
    expect(later.phase).toBe('HeldOnFailure');
    expect(router.named('deleteDeployment').map((c) => c.args[1])).not.toContain('blue');

    await harness.update(handle, rollbackUpdate, 'still failing');
    const result = await outcome(handle);
    expect(result.outcome).toBe('rolled-back');
    expect(router.routes().at(-1)).toEqual([{ blue: 100 }, {}]);
    expect(router.named('deleteDeployment').map((c) => c.args[1])).toEqual(['green']);
  });
});
