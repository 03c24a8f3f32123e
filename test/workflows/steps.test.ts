// Every step kind of a policy, with stand-in activities: what each step asks
// of the router, in order, and how a failed activity in the middle of a step
// ends in a rollback to blue. On the time-skipping test server: bakes of
// minutes and an approval of an hour pass in no time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveUpdate } from '../../workflows/messages.js';
import { GREEN, INTERVAL_MS, SMOKE, WorkflowHarness, outcome, realisticPolicy, status, statusWhen } from '../support/workflow-harness.js';
import { recordHistory } from '../support/histories.js';
import { waitFor } from '../support/wait-for.js';

let harness: WorkflowHarness;

beforeAll(async () => {
  harness = await WorkflowHarness.timeSkipping('steps');
});
afterAll(() => harness?.close());

describe('each step kind', () => {
  it('create, smoke, mirror, traffic, approval, traffic 100% and deleteBlue run in order and promote', async () => {
    const router = harness.endpoint('all-steps');
    const handle = await harness.start(
      router,
      realisticPolicy([
        { kind: 'create' },
        SMOKE,
        { kind: 'mirror', percent: 20, forMs: 120_000 },
        { kind: 'traffic', percent: 10, forMs: 300_000 },
        { kind: 'approval', timeoutMs: 3_600_000 },
        { kind: 'traffic', percent: 100, forMs: 300_000 },
        { kind: 'deleteBlue', afterMs: 600_000 },
      ]),
    );
    await harness.skipUntil(async () => (await status(handle)).waitingForApproval, 'waiting for approval');
    // Green keeps its 10% while the approval waits: the gates go on measuring it.
    const before = router.named('measureWindows').length;
    await harness.skipUntil(() => router.named('measureWindows').length >= before + 3, 'gate readings during the approval wait');
    await harness.update(handle, approveUpdate, 'ship it');
    const result = await outcome(handle);

    expect(result.outcome, result.reason).toBe('promoted');
    expect(result.blueDeleted).toBe(true);
    expect(router.named('ensureDeployment').map((c) => c.args[1])).toEqual([GREEN]);
    expect(router.named('smokeTest').map((c) => c.args[0])).toEqual([
      {
        endpoint: router.endpoint,
        deployment: 'green',
        requests: 2,
        path: '/score',
        method: 'POST',
        body: undefined,
        headers: {},
        expectStatus: 200,
        timeoutMs: 1_000,
      },
    ]);
    expect(router.routes()).toEqual([
      [{ blue: 100 }, { green: 20 }],
      [{ blue: 90, green: 10 }, {}],
      [{ green: 100 }, {}],
    ]);
    // Smoke runs before green takes any traffic, blue goes last and green is never deleted.
    expect(router.calls.findIndex((c) => c.name === 'smokeTest')).toBeLessThan(router.calls.findIndex((c) => c.name === 'setRoutes'));
    expect(router.calls.at(-1)?.name).toBe('deleteDeployment');
    expect(router.named('deleteDeployment').map((c) => c.args[1])).toEqual(['blue']);
    expect(result.decisions.map((d) => d.message)).toEqual(expect.arrayContaining(['approved: ship it', expect.stringMatching(/^watch window: green alone/)]));
  });

  it('measures mirrored copies during a mirror bake and live answers during a traffic bake', async () => {
    const router = harness.endpoint('kinds');
    const result = await outcome(
      await harness.start(
        router,
        realisticPolicy([{ kind: 'create' }, { kind: 'mirror', percent: 10, forMs: 120_000 }, { kind: 'traffic', percent: 50, forMs: 300_000 }]),
      ),
    );
    expect(result.outcome, result.reason).toBe('promoted');
    const kinds = router.named('measureWindows').map((c) => (c.args[0] as { greenTraffic: string }).greenTraffic);
    expect(kinds[0]).toBe('mirror');
    expect(kinds.at(-1)).toBe('live');
    expect(new Set(kinds)).toEqual(new Set(['mirror', 'live']));
    // Without deleteBlue, blue stays and the result says so.
    expect(result.blueDeleted).toBeUndefined();
  });

  it('an approval before any traffic waits without measuring (nothing reaches green yet)', async () => {
    const router = harness.endpoint('early-approval');
    const handle = await harness.start(router, realisticPolicy([{ kind: 'create' }, { kind: 'approval' }, { kind: 'traffic', percent: 100, forMs: 300_000 }]));
    await statusWhen(handle, (s) => s.waitingForApproval, 'waiting for approval');
    await harness.update(handle, approveUpdate, '');
    const result = await outcome(handle);
    expect(result.outcome, result.reason).toBe('promoted');
    const firstRoute = router.calls.findIndex((c) => c.name === 'setRoutes');
    expect(router.calls.slice(0, firstRoute).filter((c) => c.name === 'measureWindows' || c.name === 'snapshotMetrics')).toEqual([]);
  });
});

describe('continue-as-new in a bake', () => {
  it('an hour-long bake continues as new, keeps its progress and ends as one run would', async () => {
    const router = harness.endpoint('bake-can');
    const handle = await harness.start(
      router,
      realisticPolicy([{ kind: 'create' }, { kind: 'traffic', percent: 10, forMs: 3_600_000 }, { kind: 'traffic', percent: 100, forMs: INTERVAL_MS }]),
      { maxHistoryEvents: 60 },
    );
    const result = await outcome(handle);
    expect(result.outcome, result.reason).toBe('promoted');
    const runs = new Set(router.calls.map((c) => c.runId)).size;
    expect(runs).toBeGreaterThan(2);
    expect(result.decisions.filter((d) => d.message === 'continued as new at step 2')).toHaveLength(runs - 1);
    // Green is created once; each run re-applies the bake's absolute split (harmless), then 100%.
    expect(router.named('ensureDeployment')).toHaveLength(1);
    expect(
      new Set(
        router
          .routes()
          .slice(0, -1)
          .map((r) => JSON.stringify(r)),
      ),
    ).toEqual(new Set([JSON.stringify([{ blue: 90, green: 10 }, {}])]));
    expect(router.routes().at(-1)).toEqual([{ green: 100 }, {}]);
    // The bake's hour is counted across runs, not restarted: 120 readings of 30 s, give or take the window starts.
    const tenPercentReadings = router.named('measureWindows').filter((c) => (c.args[0] as { greenTraffic: string }).greenTraffic === 'live').length;
    expect(tenPercentReadings).toBeGreaterThanOrEqual(120);
    expect(tenPercentReadings).toBeLessThan(120 + 2 * runs + 2);
  });
});

describe('an activity that fails in the middle of a step', () => {
  it('a failed smoke request rolls back before green ever takes traffic', async () => {
    const router = harness.endpoint('smoke-fails');
    router.fail('smokeTest', () => 'smoke request 1/2 POST /score to "green" answered 500, expected 200');
    const result = await outcome(await harness.start(router, realisticPolicy([{ kind: 'create' }, SMOKE, { kind: 'traffic', percent: 100, forMs: 300_000 }])));
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toBe('step 2 failed: smoke request 1/2 POST /score to "green" answered 500, expected 200');
    expect(router.named('setRoutes')).toEqual([]);
    expect(router.named('deleteDeployment').map((c) => c.args[1])).toEqual(['green']);
  });

  it('a green that fails to provision is deleted (cleaned up half-way)', async () => {
    const router = harness.endpoint('create-fails');
    router.fail('ensureDeployment', () => 'deployment "green" failed to provision: exited with code 1');
    const result = await outcome(await harness.start(router, realisticPolicy([{ kind: 'create' }, { kind: 'traffic', percent: 100, forMs: 300_000 }])));
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/failed to provision/);
    expect(router.named('deleteDeployment').map((c) => c.args[1])).toEqual(['green']);
  });

  it('a route change the router refuses at 100% puts blue back to 100% and deletes green', async () => {
    const router = harness.endpoint('routes-fail');
    router.fail('setRoutes', (args) => ((args[1] as Record<string, number>).green === 100 ? 'deployment "green" is Updating' : undefined));
    const result = await outcome(
      await harness.start(
        router,
        realisticPolicy([{ kind: 'create' }, { kind: 'traffic', percent: 10, forMs: 300_000 }, { kind: 'traffic', percent: 100, forMs: 300_000 }]),
      ),
    );
    expect(result.outcome).toBe('rolled-back');
    expect(result.failedStep).toEqual({ index: 2, description: 'traffic 100% 5m' });
    expect(router.routes()).toEqual([
      [{ blue: 90, green: 10 }, {}],
      [{ green: 100 }, {}],
      [{ blue: 100 }, {}],
    ]);
    expect(router.named('deleteDeployment').map((c) => c.args[1])).toEqual(['green']);
  });

  it("a refused deletion of blue ends the rollout promoted with blue kept and the router's reason, not rolled back", async () => {
    const router = harness.endpoint('blue-kept');
    router.fail('deleteDeployment', (args) => (args[1] === 'blue' ? 'deployment "blue" has live traffic again' : undefined));
    const handle = await harness.start(
      router,
      realisticPolicy([{ kind: 'create' }, { kind: 'traffic', percent: 100, forMs: 60_000 }, { kind: 'deleteBlue', afterMs: 0 }]),
    );
    const result = await outcome(handle);
    await recordHistory('blue-kept-on-refusal', handle);
    expect(result.outcome, result.reason).toBe('promoted');
    expect(result.reason).toBe('green "green" promoted; blue "blue" was kept: its deletion was refused: deployment "blue" has live traffic again');
    // The last decision (what notifications send) says so too.
    expect(result.decisions.at(-1)?.message).toMatch(/^promoted "green" on .*; blue "blue" was kept: its deletion was refused: /);
    expect(result.blueDeleted).toBeUndefined();
    expect(router.routes()).toEqual([[{ green: 100 }, {}]]);
    // Nothing rolled back: green is neither deleted nor moved off 100%.
    expect(router.named('deleteDeployment').map((c) => c.args[1])).toEqual(['blue']);
    expect((await status(handle)).phase).toBe('Promoted');
  });

  it('a gate reading that cannot be taken mid-bake rolls back', async () => {
    const router = harness.endpoint('measure-fails');
    router.fail('measureWindows', () => 'metrics endpoint answered 401');
    const handle = await harness.start(router, realisticPolicy([{ kind: 'create' }, { kind: 'mirror', percent: 10, forMs: 600_000 }]));
    const result = await outcome(handle);
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toBe('step 2 failed: metrics endpoint answered 401');
    expect(router.routes().at(-1)).toEqual([{ blue: 100 }, {}]);
    await waitFor(async () => (await status(handle)).phase === 'RolledBack', 5_000, 'status says rolled back');
  });
});
