// The router down for longer than a step's retry budget (killed, and started
// again only once the workflows have acted on the outage): a gate whose bake
// ends during the outage does not pass on missing data (the rollout rolls back
// once the router is back), and the deletion of blue, past the point of no
// return, waits the outage out and still ends promoted.
import { describe, expect, it } from 'vitest';
import { useChaosStack } from '../support/chaos-stack.js';
import { chaosPolicy, modelServer, steps, stubbornServer } from '../support/chaos-rollouts.js';
import { ChaosRollout } from '../support/chaos-rollout.js';
import { waitFor } from '../support/wait-for.js';

const stack = useChaosStack();

/** Attempts a step activity gets (workflows/rollout.ts STEP_OPTIONS); one more proves the outage outlasted them. */
const STEP_ATTEMPTS = 6;

describe('router down for longer than a retry budget', () => {
  it('a gate whose bake ends in the outage does not pass, and blue deletion rides the outage out', { timeout: 150_000 }, async () => {
    const gating = await ChaosRollout.prepare(stack.router, 'rd-gate');
    // A blue that ignores SIGTERM: its deletion lasts the router's 5 s stop grace.
    const deletingBlue = await ChaosRollout.prepare(stack.router, 'rd-delete-blue', { blue: stubbornServer('blue') });
    await stack.workers.start();

    await deletingBlue.start(stack.env.client, stack.workers.taskQueue, modelServer('green'), chaosPolicy(steps({ mirror: 1_500, hundred: 120_000 })));
    await gating.start(stack.env.client, stack.workers.taskQueue, modelServer('green'), chaosPolicy(steps({ mirror: 1_500, hundred: 8_000 })));
    await deletingBlue.reach('100% bake', (s) => s.phase === 'Traffic' && s.traffic.green === 100 && s.lastGate?.phase === 'Successful');
    await gating.reach('100% bake', (s) => s.phase === 'Traffic' && s.traffic.green === 100 && s.lastGate?.phase === 'Successful');
    await deletingBlue.promote();
    await deletingBlue.reach(
      'blue being deleted',
      async (s) => s.phase === 'DeletingBlue' && (await stack.router.admin.findDeployment(deletingBlue.endpoint, 'blue'))?.provisioningState === 'Deleting',
    );
    const gateBefore = await gating.status();
    expect([gateBefore.phase, gateBefore.traffic.green]).toEqual(['Traffic', 100]);

    await stack.router.kill9();
    // Down until the gate's rollout gave up measuring and the deletion of blue has outlived a step's retry budget.
    await waitFor(async () => (await gating.status()).phase === 'RollingBack', 60_000, 'rd-gate rolling back');
    await waitFor(
      async () => (await deletingBlue.status()).phase !== 'DeletingBlue' || (await deletingBlue.pendingAttempt('deleteDeployment')) > STEP_ATTEMPTS,
      60_000,
      'blue deletion retried beyond a step budget',
    );
    // The scenario holds: the bake would have ended while the router was down.
    expect(gateBefore.bakeEndsAtMs).toBeLessThan(Date.now());
    await stack.router.restart();
    await Promise.all([gating, deletingBlue].map((r) => r.stopLoad()));
    for (const r of [gating, deletingBlue]) r.startLoad();

    const [gated, deleted] = await Promise.all([gating.result(), deletingBlue.result()]);
    expect(gated.outcome, gated.reason).toBe('rolled-back');
    expect(gated.reason).toMatch(/router unreachable|cannot reach/);
    expect(gated.failedStep?.index).toBe(3);
    const passes = gated.decisions.filter((d) => d.kind === 'gate' && d.step === 3 && /passed/.test(d.message));
    expect(passes).toEqual([]);
    await gating.expectFinal('rolled-back');

    expect(deleted.outcome, deleted.reason).toBe('promoted');
    await deletingBlue.expectFinal('promoted');
    for (const rollout of [gating, deletingBlue]) {
      const report = await rollout.stopLoad();
      expect(report.failures, rollout.endpoint).toEqual([]);
      expect(report.sent).toBeGreaterThan(0);
    }
  });
});
