// kill -9 of the router process with five rollouts in flight, one in each
// dangerous phase (green provisioning, mirror bake, 10% bake, blue being
// deleted, a rollback deleting green), then a restart on the same ports and
// state dir: nothing is lost, every rollout ends in its true outcome and a
// clean final state, and once the router is back every client request succeeds.
import { describe, expect, it } from 'vitest';
import { useChaosStack } from '../support/chaos-stack.js';
import type { AdminClient } from '../../router/client.js';
import { endpointWithBlue } from '../support/chaos-rollouts.js';
import { expectTrueOutcomes, rolloutsInEveryPhase, steerAfterFault } from '../support/chaos-phases.js';
import { fingerprint } from '../support/final-state.js';

const stack = useChaosStack();

/** What a restart must keep as it was: every endpoint's routes, tags and keys (deployment states move on). */
async function routesAndKeys(admin: AdminClient): Promise<unknown> {
  const endpoints = await admin.listEndpoints();
  return Promise.all(
    endpoints.map(async (e) => ({ name: e.name, traffic: e.traffic, mirror: e.mirrorTraffic, tags: e.tags, keys: await admin.getKeys(e.name) })),
  );
}

describe('kill -9 of the router', () => {
  it(
    'mid-create, mid-mirror, mid-10%, mid-blue-deletion and mid-rollback: restarted on the same ports and state dir, it loses nothing and each rollout ends in its true outcome',
    { timeout: 180_000 },
    async () => {
      const bystanderKeys = await endpointWithBlue(stack.router.admin, 'rk-bystander');
      const bystanderBefore = await fingerprint(stack.router.admin, 'rk-bystander');
      await stack.workers.start();
      const rollouts = await rolloutsInEveryPhase(stack.router, stack.env.client, stack.workers.taskQueue, {
        prefix: 'rk',
        trafficPercent: 10,
        readyDelayMs: 12_000,
      });

      const before = await routesAndKeys(stack.router.admin);
      await stack.router.kill9();
      await stack.router.restart();
      const restartedAtMs = Date.now();
      expect(await routesAndKeys(stack.router.admin)).toEqual(before);
      // Clients may have failed while the router was down; from now on none may.
      const all = Object.values(rollouts);
      await Promise.all(all.map((r) => r.stopLoad()));
      for (const r of all) r.startLoad();
      // The live gate must pass again on the new router's counters alone before the operator's promote applies.
      await steerAfterFault(rollouts, stack.router, restartedAtMs);
      await expectTrueOutcomes(rollouts);

      expect(await fingerprint(stack.router.admin, 'rk-bystander')).toEqual(bystanderBefore);
      expect((await stack.router.call('rk-bystander', { key: bystanderKeys.secondaryKey })).status).toBe(200);
    },
  );
});
