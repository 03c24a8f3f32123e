// kill -9 of the Temporal server (a dev server of this file's own, on a
// database file) with five rollouts in flight, one in each dangerous phase
// (green provisioning, mirror bake, 10% bake, blue being deleted, a rollback
// deleting green), then a restart on the same port and file: the worker rides
// the outage out, every rollout ends in its true outcome and a clean final
// state, and clients, served by the router throughout, never see a failure.
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointWithBlue } from '../support/chaos-rollouts.js';
import { expectTrueOutcomes, rolloutsInEveryPhase, steerAfterFault } from '../support/chaos-phases.js';
import { fingerprint } from '../support/final-state.js';
import { RouterProcess } from '../support/router-process.js';
import { TemporalProcess } from '../support/temporal-process.js';
import { WorkerProcesses } from '../support/worker-process.js';

let temporal: TemporalProcess;
let client: Client;
let router: RouterProcess;
let workers: WorkerProcesses;

beforeAll(async () => {
  [temporal, router] = await Promise.all([TemporalProcess.start(), RouterProcess.start()]);
  client = await temporal.client();
  workers = new WorkerProcesses(temporal.address, router);
});
afterAll(async () => {
  await workers?.kill9().catch(() => undefined);
  await router?.stop();
  await temporal?.stop();
});

describe('kill -9 of the Temporal server', () => {
  it(
    'mid-create, mid-mirror, mid-10%, mid-blue-deletion and mid-rollback: restarted on its database, every rollout completes with its true outcome',
    { timeout: 180_000 },
    async () => {
      const bystanderKeys = await endpointWithBlue(router.admin, 'tk-bystander');
      const bystanderBefore = await fingerprint(router.admin, 'tk-bystander');
      const worker = await workers.start();
      const rollouts = await rolloutsInEveryPhase(router, client, workers.taskQueue, { prefix: 'tk', trafficPercent: 10, readyDelayMs: 15_000 });

      await temporal.kill9();
      await temporal.restart();
      await steerAfterFault(rollouts, router, Date.now());
      await expectTrueOutcomes(rollouts);

      expect(await fingerprint(router.admin, 'tk-bystander')).toEqual(bystanderBefore);
      expect((await router.call('tk-bystander', { key: bystanderKeys.secondaryKey })).status).toBe(200);
      // The same worker process served before and after the outage.
      expect(workers.runs).toEqual([worker]);
      expect(worker.child.exitCode).toBeNull();
    },
  );
});
