// kill -9 of the worker with five rollouts in flight, one in each dangerous
// phase (green provisioning, mirror bake, 100% bake, blue being deleted, a
// rollback deleting green), and a new worker started: every rollout ends in
// its true outcome and a clean final state, clients never see a failure, and
// a bystander endpoint is untouched.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { endpointWithBlue } from '../support/chaos-rollouts.js';
import { expectTrueOutcomes, rolloutsInEveryPhase, steerAfterFault } from '../support/chaos-phases.js';
import { fingerprint } from '../support/final-state.js';
import { RouterProcess } from '../support/router-process.js';
import { connectTestEnv } from '../support/temporal.js';
import { WorkerProcesses } from '../support/worker-process.js';

let env: TestWorkflowEnvironment;
let router: RouterProcess;
let workers: WorkerProcesses;

beforeAll(async () => {
  env = await connectTestEnv();
  router = await RouterProcess.start();
  workers = new WorkerProcesses(inject('temporalAddress'), router);
});
afterAll(async () => {
  await workers?.kill9().catch(() => undefined);
  await router?.stop();
  await env?.teardown();
});

describe('kill -9 of the worker', () => {
  it('mid-create, mid-mirror, mid-100%, mid-blue-deletion and mid-rollback: a new worker finishes each rollout with its true outcome', { timeout: 180_000 }, async () => {
    const bystanderKeys = await endpointWithBlue(router.admin, 'wk-bystander');
    const bystanderBefore = await fingerprint(router.admin, 'wk-bystander');
    await workers.start();
    // The create step's activity dies with the worker and is retried only after
    // its 30 s heartbeat timeout: the green's readiness outlasts the staging.
    const rollouts = await rolloutsInEveryPhase(router, env.client, workers.taskQueue, { prefix: 'wk', trafficPercent: 100, readyDelayMs: 20_000 });

    await workers.kill9();
    await workers.start();
    await steerAfterFault(rollouts, router, Date.now());
    await expectTrueOutcomes(rollouts);

    expect(await fingerprint(router.admin, 'wk-bystander')).toEqual(bystanderBefore);
    expect((await router.call('wk-bystander', { key: bystanderKeys.secondaryKey })).status).toBe(200);
    expect((await workers.stop()).every((exit) => exit.code === 0)).toBe(true);
  });
});
