// Every operator action at the phases where it matters, with stand-in
// activities so each test reaches the phase it means deterministically (a
// create held until the test lets it go, a green whose readings the test
// sets): abort, pause, resume, promote, promote --force, approve, rollback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abortSignal, approveUpdate, pauseSignal, promoteUpdate, resumeSignal, rollbackUpdate } from '../../workflows/messages.js';
import type { FakeRouter } from '../support/fake-router.js';
import { recordHistory } from '../support/histories.js';
import { SMOKE, WorkflowHarness, fastPolicy, outcome, refusal, status, statusWhen } from '../support/workflow-harness.js';
import { waitFor } from '../support/wait-for.js';

let harness: WorkflowHarness;

beforeAll(async () => {
  harness = await WorkflowHarness.create('operator-actions');
});
afterAll(() => harness?.close());

async function readings(router: FakeRouter, n: number, what: string): Promise<void> {
  const before = router.named('measureWindows').length;
  await waitFor(() => router.named('measureWindows').length >= before + n, 20_000, what);
}

const longMirror = fastPolicy([{ kind: 'create' }, { kind: 'mirror', percent: 20, forMs: 600_000 }, { kind: 'traffic', percent: 100, forMs: 200 }]);
const withWatch = fastPolicy([{ kind: 'create' }, { kind: 'traffic', percent: 100, forMs: 200 }, { kind: 'deleteBlue', afterMs: 600_000 }]);

describe('abort', () => {
  it('while green is being created: green deleted, traffic never touched', async () => {
    const router = harness.endpoint('abort-create');
    const release = router.block('ensureDeployment');
    const handle = await harness.start(router, longMirror);
    await statusWhen(handle, (s) => s.phase === 'Creating', 'creating');
    await handle.signal(abortSignal, 'wrong image');
    // Released only once the rollout has ended: released earlier, the create
    // could finish before the abort is handled, and the plan would go on to
    // route traffic (which the rollback then undoes).
    const result = await outcome(handle);
    release();
    expect(result.reason).toBe('wrong image');
    expect(router.named('setRoutes')).toEqual([]);
    expect(router.named('deleteDeployment').map((c) => c.args[1])).toEqual(['green']);
  });

  it('during a bake: blue 100%, mirror off, green deleted', async () => {
    const router = harness.endpoint('abort-bake');
    const handle = await harness.start(router, longMirror);
    await statusWhen(handle, (s) => s.phase === 'Mirror' && s.lastGate !== undefined, 'baking');
    await handle.signal(abortSignal);
    const result = await outcome(handle);
    expect(result.reason).toBe('aborted by an operator');
    expect(router.routes()).toEqual([
      [{ blue: 100 }, { green: 20 }],
      [{ blue: 100 }, {}],
    ]);
  });
});

describe('pause and resume', () => {
  it('pause in a bake stops its clock while the gates keep reading; resume lets it finish', async () => {
    const router = harness.endpoint('pause-bake');
    const handle = await harness.start(router, fastPolicy([{ kind: 'create' }, { kind: 'traffic', percent: 10, forMs: 300 }, { kind: 'traffic', percent: 100, forMs: 200 }]));
    await statusWhen(handle, (s) => s.phase === 'Traffic', 'in the 10% bake');
    await handle.signal(pauseSignal);
    await statusWhen(handle, (s) => s.paused, 'paused');
    // Six readings 100 ms apart: twice the bake's 300 ms, and still in the first traffic step.
    await readings(router, 6, 'readings while paused');
    const paused = await status(handle);
    expect(paused.stepIndex).toBe(1);
    expect(router.routes()).toEqual([[{ blue: 90, green: 10 }, {}]]);
    await handle.signal(resumeSignal);
    const result = await outcome(handle);
    expect(result.outcome, result.reason).toBe('promoted');
    expect(result.decisions.map((d) => d.message)).toEqual(expect.arrayContaining([expect.stringMatching(/^paused/), 'resumed']));
  });
});

describe('promote', () => {
  it('is refused outside a bake and while the gates have not passed; once they pass it ends the bake early', async () => {
    const router = harness.endpoint('promote');
    router.green = 'quiet';
    const handle = await harness.start(router, fastPolicy([{ kind: 'create' }, { kind: 'approval' }, { kind: 'mirror', percent: 20, forMs: 600_000 }, { kind: 'traffic', percent: 100, forMs: 200 }]));
    await statusWhen(handle, (s) => s.waitingForApproval, 'waiting for approval');
    expect(await refusal(handle.executeUpdate(promoteUpdate, { args: [{}] }))).toBe('nothing to promote: step 2 (approval) is not baking');
    await handle.executeUpdate(approveUpdate, { args: [''] });
    await statusWhen(handle, (s) => s.phase === 'Mirror' && s.lastGate?.phase === 'Inconclusive', 'an inconclusive reading');
    expect(await refusal(handle.executeUpdate(promoteUpdate, { args: [{}] }))).toMatch(/^promote refused: the gates have not passed yet/);
    router.green = 'healthy';
    await statusWhen(handle, (s) => s.lastGate?.phase === 'Successful', 'a passing reading');
    expect(await handle.executeUpdate(promoteUpdate, { args: [{}] })).toMatch(/^promoting/);
    const result = await outcome(handle);
    expect(result.outcome, result.reason).toBe('promoted');
    expect(result.decisions.map((d) => d.message)).toContain('promoted early by an operator; gates passed');
  });

  it('--force is refused unless a failed gate holds the rollout', async () => {
    const router = harness.endpoint('force-refused');
    const handle = await harness.start(router, longMirror);
    await statusWhen(handle, (s) => s.phase === 'Mirror', 'baking');
    expect(await refusal(handle.executeUpdate(promoteUpdate, { args: [{ force: true }] }))).toMatch(/^nothing to force: promote --force applies to a rollout held on a failed gate/);
    await handle.executeUpdate(rollbackUpdate, { args: [''] });
    await outcome(handle);
  });
});

describe('approve', () => {
  it('is refused while nothing waits for approval, and taken when the approval step waits', async () => {
    const router = harness.endpoint('approve');
    const release = router.block('ensureDeployment');
    const handle = await harness.start(router, fastPolicy([{ kind: 'create' }, { kind: 'approval' }, { kind: 'traffic', percent: 100, forMs: 200 }]));
    await statusWhen(handle, (s) => s.phase === 'Creating', 'creating');
    expect(await refusal(handle.executeUpdate(approveUpdate, { args: ['too early'] }))).toBe('nothing to approve: step 1 (create) is not an approval');
    release();
    await statusWhen(handle, (s) => s.waitingForApproval, 'waiting for approval');
    expect(await handle.executeUpdate(approveUpdate, { args: ['looks good'] })).toBe('approved step 2');
    expect((await outcome(handle)).outcome).toBe('promoted');
  });
});

describe('rollback', () => {
  it('before green takes traffic: green deleted', async () => {
    const router = harness.endpoint('rollback-smoke');
    const release = router.block('smokeTest');
    const handle = await harness.start(router, fastPolicy([{ kind: 'create' }, SMOKE, { kind: 'traffic', percent: 100, forMs: 200 }]));
    await statusWhen(handle, (s) => s.phase === 'Smoke', 'smoke testing');
    await handle.executeUpdate(rollbackUpdate, { args: ['changed my mind'] });
    release();
    const result = await outcome(handle);
    expect(result.reason).toBe('changed my mind');
    expect(router.named('deleteDeployment').map((c) => c.args[1])).toEqual(['green']);
  });

  it('during a bake, with the reason recorded', async () => {
    const router = harness.endpoint('rollback-bake');
    const handle = await harness.start(router, longMirror);
    await statusWhen(handle, (s) => s.phase === 'Mirror', 'baking');
    await handle.executeUpdate(rollbackUpdate, { args: ['customer complaint'] });
    const result = await outcome(handle);
    expect(result.reason).toBe('customer complaint');
    expect(result.decisions.map((d) => d.message)).toContain('rollback: customer complaint');
    expect(router.routes().at(-1)).toEqual([{ blue: 100 }, {}]);
  });

  it('during the watch window after promotion: blue back to 100% at once, never deleted', async () => {
    const router = harness.endpoint('rollback-watch');
    const handle = await harness.start(router, withWatch);
    await statusWhen(handle, (s) => s.phase === 'DeletingBlue' && s.watchEndsAtMs !== undefined, 'in the watch window');
    expect(await handle.executeUpdate(rollbackUpdate, { args: ['p99 regressed in the dashboards'] })).toBe('rolling back: blue "blue" back to 100%, mirror off');
    const result = await outcome(handle);
    await recordHistory('rollback-in-watch-window', handle);
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toBe('p99 regressed in the dashboards');
    expect(result.blueDeleted).toBeUndefined();
    expect(router.routes()).toEqual([
      [{ green: 100 }, {}],
      [{ blue: 100 }, {}],
    ]);
    expect(router.named('deleteDeployment').map((c) => c.args[1])).toEqual(['green']);
  });

  it('is refused once blue is being deleted, and the rollout promotes', async () => {
    const router = harness.endpoint('rollback-late');
    const release = router.block('deleteDeployment', (args) => args[1] === 'blue');
    const handle = await harness.start(router, fastPolicy([{ kind: 'create' }, { kind: 'traffic', percent: 100, forMs: 200 }, { kind: 'deleteBlue', afterMs: 200 }]));
    await waitFor(() => router.named('deleteDeployment').length > 0, 20_000, 'blue being deleted');
    expect(await refusal(handle.executeUpdate(rollbackUpdate, { args: ['too late'] }))).toBe('nothing to roll back to: blue "blue" is being deleted (the watch window is over)');
    release();
    const result = await outcome(handle);
    expect(result.outcome).toBe('promoted');
    expect(result.blueDeleted).toBe(true);
  });

  it('is refused while a rollback already runs', async () => {
    const router = harness.endpoint('rollback-twice');
    const release = router.block('setRoutes', (args) => (args[1] as Record<string, number>).blue === 100);
    const handle = await harness.start(router, longMirror);
    await statusWhen(handle, (s) => s.phase === 'Mirror', 'baking');
    await handle.signal(abortSignal, 'first');
    await statusWhen(handle, (s) => s.phase === 'RollingBack', 'rolling back');
    expect(await refusal(handle.executeUpdate(rollbackUpdate, { args: ['second'] }))).toBe('the rollout is already rolling back: first');
    release();
    expect((await outcome(handle)).reason).toBe('first');
  });
});
