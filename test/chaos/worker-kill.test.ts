// kill -9 of the worker with five rollouts in flight, one in each dangerous
// phase (green provisioning, mirror bake, 100% bake, blue being deleted, a
// rollback deleting green), and a new worker started: every rollout ends in
// its true outcome and a clean final state, clients never see a failure, and
// a bystander endpoint is untouched.
import { describe, expect, it } from 'vitest';
import { useChaosStack } from '../support/chaos-stack.js';
import { endpointWithBlue } from '../support/chaos-rollouts.js';
import { expectTrueOutcomes, rolloutsInEveryPhase, steerAfterFault } from '../support/chaos-phases.js';
import { fingerprint } from '../support/final-state.js';

const stack = useChaosStack();

describe('kill -9 of the worker', () => {
  it(
    'mid-create, mid-mirror, mid-100%, mid-blue-deletion and mid-rollback: a new worker finishes each rollout with its true outcome',
    { timeout: 180_000 },
    async () => {
      const bystanderKeys = await endpointWithBlue(stack.router.admin, 'wk-bystander');
      const bystanderBefore = await fingerprint(stack.router.admin, 'wk-bystander');
      await stack.workers.start();
      // The create step's activity dies with the worker and is retried only after
      // its 30 s heartbeat timeout: the green's readiness outlasts the staging.
      const rollouts = await rolloutsInEveryPhase(stack.router, stack.env.client, stack.workers.taskQueue, {
        prefix: 'wk',
        trafficPercent: 100,
        readyDelayMs: 20_000,
      });

      await stack.workers.kill9();
      await stack.workers.start();
      await steerAfterFault(rollouts, stack.router, Date.now());
      await expectTrueOutcomes(rollouts);

      expect(await fingerprint(stack.router.admin, 'wk-bystander')).toEqual(bystanderBefore);
      expect((await stack.router.call('wk-bystander', { key: bystanderKeys.secondaryKey })).status).toBe(200);
      expect((await stack.workers.stop()).every((exit) => exit.code === 0)).toBe(true);
    },
  );
});
