// Every operator action at the phases where it matters, with stand-in
// activities so each test reaches the phase it means deterministically (a
// create held until the test lets it go, a green whose readings the test
// sets): abort, pause, resume, promote, promote --force, approve, rollback.
// On the time-skipping test server: bakes and watch windows of minutes pass in
// no time, and each action is sent between two gate readings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abortSignal, approveUpdate, pauseSignal, promoteUpdate, resumeSignal, rollbackUpdate } from '../../workflows/messages.js';
import type { FakeRouter } from '../support/fake-router.js';
import { recordHistory } from '../support/histories.js';
import { INTERVAL_MS, SMOKE, WorkflowHarness, outcome, realisticPolicy, refusal, status, statusWhen } from '../support/workflow-harness.js';

let harness: WorkflowHarness;

beforeAll(async () => {
  harness = await WorkflowHarness.timeSkipping('operator-actions');
});
afterAll(() => harness?.close());

async function readings(router: FakeRouter, n: number, what: string): Promise<void> {
  const before = router.named('measureWindows').length;
  await harness.skipUntil(() => router.named('measureWindows').length >= before + n, what);
}

const longMirror = realisticPolicy([
  { kind: 'create' },
  { kind: 'mirror', percent: 20, forMs: 600_000 },
  { kind: 'traffic', percent: 100, forMs: INTERVAL_MS },
]);
const withWatch = realisticPolicy([{ kind: 'create' }, { kind: 'traffic', percent: 100, forMs: INTERVAL_MS }, { kind: 'deleteBlue', afterMs: 600_000 }]);

describe('abort', () => {
  it('while green is being created: green deleted, traffic never touched', async () => {
    const router = harness.endpoint('abort-create');
    const release = router.block('ensureDeployment');
    const handle = await harness.start(router, longMirror);
    await statusWhen(handle, (s) => s.phase === 'Creating', 'creating');
    await harness.signal(handle, abortSignal, 'wrong image');
    // Released once the abort is being handled: released earlier, the create
    // could finish first and the plan route traffic (which the rollback then
    // undoes); never released before the run ends, the test server would keep
    // time from skipping for the tests after this one.
    await statusWhen(handle, (s) => s.phase === 'RollingBack', 'rolling back');
    release();
    const result = await outcome(handle);
    expect(result.reason).toBe('wrong image');
    expect(router.named('setRoutes')).toEqual([]);
    expect(router.named('deleteDeployment').map((c) => c.args[1])).toEqual(['green']);
  });

  it('during a bake: blue 100%, mirror off, green deleted', async () => {
    const router = harness.endpoint('abort-bake');
    const handle = await harness.start(router, longMirror);
    await harness.skipToStatus(handle, (s) => s.phase === 'Mirror' && s.lastGate !== undefined, 'baking');
    await harness.signal(handle, abortSignal);
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
    const handle = await harness.start(
      router,
      realisticPolicy([{ kind: 'create' }, { kind: 'traffic', percent: 10, forMs: 300_000 }, { kind: 'traffic', percent: 100, forMs: INTERVAL_MS }]),
    );
    await statusWhen(handle, (s) => s.phase === 'Traffic', 'in the 10% bake');
    await harness.signal(handle, pauseSignal);
    await statusWhen(handle, (s) => s.paused, 'paused');
    // Twenty readings 30 s apart: twice the bake's 5 minutes, and still in the first traffic step.
    await readings(router, 20, 'readings while paused');
    const paused = await status(handle);
    expect(paused.stepIndex).toBe(1);
    expect(router.routes()).toEqual([[{ blue: 90, green: 10 }, {}]]);
    await harness.signal(handle, resumeSignal);
    const result = await outcome(handle);
    expect(result.outcome, result.reason).toBe('promoted');
    expect(result.decisions.map((d) => d.message)).toEqual(expect.arrayContaining([expect.stringMatching(/^paused/), 'resumed']));
  });
});

describe('promote', () => {
  it('is refused outside a bake and while the gates have not passed; once they pass it ends the bake early', async () => {
    const router = harness.endpoint('promote');
    router.green = 'quiet';
    const handle = await harness.start(
      router,
      realisticPolicy([
        { kind: 'create' },
        { kind: 'approval' },
        { kind: 'mirror', percent: 20, forMs: 600_000 },
        { kind: 'traffic', percent: 100, forMs: INTERVAL_MS },
      ]),
    );
    await harness.skipToStatus(handle, (s) => s.waitingForApproval, 'waiting for approval');
    expect(await refusal(harness.update(handle, promoteUpdate, {}))).toBe('nothing to promote: step 2 (approval) is not baking');
    await harness.update(handle, approveUpdate, '');
    await harness.skipToStatus(handle, (s) => s.phase === 'Mirror' && s.lastGate?.phase === 'Inconclusive', 'an inconclusive reading');
    expect(await refusal(harness.update(handle, promoteUpdate, {}))).toMatch(/^promote refused: the gates have not passed yet/);
    router.green = 'healthy';
    await harness.skipToStatus(handle, (s) => s.lastGate?.phase === 'Successful', 'a passing reading');
    expect(await harness.update(handle, promoteUpdate, {})).toMatch(/^promoting/);
    const result = await outcome(handle);
    expect(result.outcome, result.reason).toBe('promoted');
    expect(result.decisions.map((d) => d.message)).toContain('promoted early by an operator; gates passed');
  });

  it('--force is refused unless a failed gate holds the rollout', async () => {
    const router = harness.endpoint('force-refused');
    const handle = await harness.start(router, longMirror);
    await statusWhen(handle, (s) => s.phase === 'Mirror', 'baking');
    expect(await refusal(harness.update(handle, promoteUpdate, { force: true }))).toMatch(
      /^nothing to force: promote --force applies to a rollout held on a failed gate/,
    );
    await harness.update(handle, rollbackUpdate, '');
    await outcome(handle);
  });
});

describe('approve', () => {
  it('is refused while nothing waits for approval, and taken when the approval step waits', async () => {
    const router = harness.endpoint('approve');
    const release = router.block('ensureDeployment');
    const handle = await harness.start(
      router,
      realisticPolicy([{ kind: 'create' }, { kind: 'approval' }, { kind: 'traffic', percent: 100, forMs: INTERVAL_MS }]),
    );
    await statusWhen(handle, (s) => s.phase === 'Creating', 'creating');
    expect(await refusal(harness.update(handle, approveUpdate, 'too early'))).toBe('nothing to approve: step 1 (create) is not an approval');
    release();
    await harness.skipToStatus(handle, (s) => s.waitingForApproval, 'waiting for approval');
    expect(await harness.update(handle, approveUpdate, 'looks good')).toBe('approved step 2');
    expect((await outcome(handle)).outcome).toBe('promoted');
  });
});

describe('rollback', () => {
  it('before green takes traffic: green deleted', async () => {
    const router = harness.endpoint('rollback-smoke');
    const release = router.block('smokeTest');
    const handle = await harness.start(router, realisticPolicy([{ kind: 'create' }, SMOKE, { kind: 'traffic', percent: 100, forMs: INTERVAL_MS }]));
    await statusWhen(handle, (s) => s.phase === 'Smoke', 'smoke testing');
    await harness.update(handle, rollbackUpdate, 'changed my mind');
    release();
    const result = await outcome(handle);
    expect(result.reason).toBe('changed my mind');
    expect(router.named('deleteDeployment').map((c) => c.args[1])).toEqual(['green']);
  });

  it('during a bake, with the reason recorded', async () => {
    const router = harness.endpoint('rollback-bake');
    const handle = await harness.start(router, longMirror);
    await statusWhen(handle, (s) => s.phase === 'Mirror', 'baking');
    await harness.update(handle, rollbackUpdate, 'customer complaint');
    const result = await outcome(handle);
    expect(result.reason).toBe('customer complaint');
    expect(result.decisions.map((d) => d.message)).toContain('rollback: customer complaint');
    expect(router.routes().at(-1)).toEqual([{ blue: 100 }, {}]);
  });

  it('during the watch window after promotion: blue back to 100% at once, never deleted', async () => {
    const router = harness.endpoint('rollback-watch');
    const handle = await harness.start(router, withWatch);
    await harness.skipToStatus(handle, (s) => s.phase === 'DeletingBlue' && s.watchEndsAtMs !== undefined, 'in the watch window');
    expect(await harness.update(handle, rollbackUpdate, 'p99 regressed in the dashboards')).toBe('rolling back: blue "blue" back to 100%, mirror off');
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
    const handle = await harness.start(
      router,
      realisticPolicy([{ kind: 'create' }, { kind: 'traffic', percent: 100, forMs: INTERVAL_MS }, { kind: 'deleteBlue', afterMs: INTERVAL_MS }]),
    );
    // Small steps: once the delete is blocked, time stops skipping, and a step under way runs at wall-clock pace.
    await harness.skipUntil(() => router.named('deleteDeployment').length > 0, 'blue being deleted', 1_000);
    expect(await refusal(harness.update(handle, rollbackUpdate, 'too late'))).toBe(
      'nothing to roll back to: blue "blue" is being deleted (the watch window is over)',
    );
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
    await harness.signal(handle, abortSignal, 'first');
    await statusWhen(handle, (s) => s.phase === 'RollingBack', 'rolling back');
    expect(await refusal(harness.update(handle, rollbackUpdate, 'second'))).toBe('the rollout is already rolling back: first');
    release();
    expect((await outcome(handle)).reason).toBe('first');
  });
});
