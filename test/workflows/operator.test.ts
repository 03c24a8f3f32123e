// What operators do to a running rollout: abort, cancel from the UI, pause
// and resume, promote early, approve, and an approval that times out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abortSignal, approveUpdate, pauseSignal, promoteUpdate, resumeSignal, statusQuery } from '../../workflows/messages.js';
import { recordHistory } from '../support/histories.js';
import { startLoad } from '../support/load.js';
import { RolloutTestBed, createEndpointWithBlue, longBakes, modelServer, testPolicy } from '../support/rollout-fixture.js';
import { waitFor } from '../support/wait-for.js';
import { rolloutResult } from '../../cli/follow-rollout.js';

let bed: RolloutTestBed;

beforeAll(async () => {
  bed = await RolloutTestBed.create();
  await bed.startWorker();
});
afterAll(() => bed?.close());

async function expectRolledBackToBlue(endpoint: string): Promise<void> {
  const view = await bed.router.admin.getEndpoint(endpoint);
  expect(view.traffic).toEqual({ blue: 100 });
  expect(view.mirrorTraffic).toEqual({});
  expect((await bed.router.admin.listDeployments(endpoint)).map((d) => d.name)).toEqual(['blue']);
}

describe('operating a rollout', () => {
  it('abort (signal) rolls back with the given reason', async () => {
    const key = await createEndpointWithBlue(bed.router, 'op-abort');
    const load = startLoad(bed.router.router.dataUrl, 'op-abort', key);
    const handle = await bed.start('op-abort', modelServer('green'), longBakes());
    await waitFor(async () => (await handle.query(statusQuery)).phase === 'Mirror', 30_000, 'mirror phase');
    await handle.signal(abortSignal, 'wrong build');
    const result = await rolloutResult(handle);
    expect((await load.stop()).failures).toEqual([]);
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toBe('wrong build');
    await expectRolledBackToBlue('op-abort');
    await recordHistory('abort-in-mirror', handle);
  });

  it('cancellation (as "Request Cancellation" in the Temporal UI) rolls back', async () => {
    const key = await createEndpointWithBlue(bed.router, 'op-cancel');
    const load = startLoad(bed.router.router.dataUrl, 'op-cancel', key);
    const handle = await bed.start('op-cancel', modelServer('green'), longBakes());
    await waitFor(async () => (await handle.query(statusQuery)).lastGate?.phase === 'Successful', 30_000, 'mirror gate passing');
    await handle.signal(abortSignal); // no reason: the default one is used
    const result = await rolloutResult(handle);
    expect(result.reason).toBe('aborted by an operator');
    await load.stop();
    await expectRolledBackToBlue('op-cancel');

    await bed.router.admin.setTraffic('op-cancel', { blue: 100 });
    const second = await bed.start('op-cancel', modelServer('green'), longBakes());
    await waitFor(async () => (await second.query(statusQuery)).phase === 'Mirror', 30_000, 'mirror phase');
    await second.cancel();
    const cancelled = await rolloutResult(second);
    expect(cancelled.outcome).toBe('rolled-back');
    expect(cancelled.reason).toMatch(/cancelled/);
    await expectRolledBackToBlue('op-cancel');
  });

  // Refusals (nothing baking, gates not passed yet) are in operator-actions.test.ts, where the readings are the test's to set.
  it('promote ends a passing bake early, step after step', async () => {
    const key = await createEndpointWithBlue(bed.router, 'op-promote');
    const load = startLoad(bed.router.router.dataUrl, 'op-promote', key);
    const handle = await bed.start('op-promote', modelServer('green'), longBakes());
    await waitFor(async () => (await handle.query(statusQuery)).phase === 'Mirror', 30_000, 'mirror phase');
    await waitFor(async () => (await handle.query(statusQuery)).lastGate?.phase === 'Successful', 30_000, 'mirror gate passing');
    expect(await handle.executeUpdate(promoteUpdate, { args: [{}] })).toMatch(/promoting/);
    await waitFor(async () => (await handle.query(statusQuery)).phase === 'Traffic', 30_000, 'traffic phase');
    await waitFor(async () => (await handle.query(statusQuery)).lastGate?.phase === 'Successful', 30_000, 'traffic gate passing');
    await handle.executeUpdate(promoteUpdate, { args: [{}] });
    const result = await rolloutResult(handle);
    expect((await load.stop()).failures).toEqual([]);
    expect(result.outcome).toBe('promoted');
    expect(result.decisions.filter((d) => d.message.includes('promoted early'))).toHaveLength(2);
    await recordHistory('promote-early', handle);
  });

  it('pause stops the bake clock while gates keep running; resume continues', async () => {
    const key = await createEndpointWithBlue(bed.router, 'op-pause');
    const load = startLoad(bed.router.router.dataUrl, 'op-pause', key);
    const policy = testPolicy({
      steps: [
        { kind: 'create' },
        { kind: 'mirror', percent: 50, forMs: 1_500 },
        { kind: 'traffic', percent: 100, forMs: 1_000 },
        { kind: 'deleteBlue', afterMs: 0 },
      ],
    });
    const handle = await bed.start('op-pause', modelServer('green'), policy);
    await waitFor(async () => (await handle.query(statusQuery)).phase === 'Mirror', 30_000, 'mirror phase');
    await handle.signal(pauseSignal);
    const paused = await waitFor(async () => {
      const s = await handle.query(statusQuery);
      return s.paused && s.lastGate ? s : undefined;
    }, 10_000);
    // Several bake lengths of gate readings later, still in the mirror step.
    const later = await waitFor(
      async () => {
        const s = await handle.query(statusQuery);
        return s.lastGate && paused.lastGate && s.lastGate.atMs >= paused.lastGate.atMs + 3_000 ? s : undefined;
      },
      30_000,
      'gates keep running while paused',
    );
    expect(later.phase).toBe('Mirror');
    expect(later.paused).toBe(true);
    await handle.signal(resumeSignal);
    const result = await rolloutResult(handle);
    await load.stop();
    expect(result.outcome).toBe('promoted');
    expect(result.decisions.map((d) => d.message)).toEqual(expect.arrayContaining([expect.stringMatching(/^paused/), 'resumed']));
    await recordHistory('pause-resume', handle);
  });

  // An approval without a timeout waits for ever: the approve always finds it waiting. (The refusal
  // when nothing waits is in operator-actions.test.ts, where the create step is the test's to hold.)
  it('an approval step waits for approve, then the rollout goes on', async () => {
    const key = await createEndpointWithBlue(bed.router, 'op-approve');
    const load = startLoad(bed.router.router.dataUrl, 'op-approve', key);
    const policy = testPolicy({ steps: [{ kind: 'create' }, { kind: 'approval' }, { kind: 'traffic', percent: 100, forMs: 1_000 }] });
    const handle = await bed.start('op-approve', modelServer('green'), policy);
    await waitFor(async () => (await handle.query(statusQuery)).waitingForApproval, 30_000, 'waiting for approval');
    expect(await handle.executeUpdate(approveUpdate, { args: ['looks good'] })).toBe('approved step 2');
    const result = await rolloutResult(handle);
    await load.stop();
    expect(result.outcome, result.reason).toBe('promoted');
    expect((await bed.router.admin.getEndpoint('op-approve')).traffic).toEqual({ green: 100 });
  });

  it('an approval that times out rolls back', async () => {
    const key = await createEndpointWithBlue(bed.router, 'op-timeout');
    const load = startLoad(bed.router.router.dataUrl, 'op-timeout', key);
    const policy = testPolicy({
      steps: [
        { kind: 'create' },
        { kind: 'traffic', percent: 10, forMs: 1_000 },
        { kind: 'approval', timeoutMs: 1_000 },
        { kind: 'traffic', percent: 100, forMs: 1_000 },
      ],
    });
    const result = await rolloutResult(await bed.start('op-timeout', modelServer('green'), policy));
    await load.stop();
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/approval timed out after 1s/);
    await expectRolledBackToBlue('op-timeout');
  });
});
