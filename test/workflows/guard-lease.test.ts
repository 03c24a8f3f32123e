// The rollout's side of the guard lease, on the real Temporal dev server with
// stand-in activities (the routing core's side has its own tests): the lease
// goes with the first route change, is renewed while nothing else happens
// (an approval wait), is released before blue is deleted and never renewed
// after; a lapse learned by a renewal or by a route change ends the rollout
// rolled back with the controller-lost reason.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutActivities } from '../../activities/types.js';
import type { WindowStats } from '../../analysis/window.js';
import type { Policy } from '../../policies/types.js';
import { approveUpdate, statusQuery } from '../../workflows/messages.js';
import { rolloutWorkflow } from '../../workflows/rollout.js';
import { recordHistory } from '../support/histories.js';
import { connectTestEnv, workflowBundle } from '../support/temporal.js';
import { waitFor } from '../support/wait-for.js';
import { rolloutResult } from '../../cli/follow-rollout.js';

const LOST = 'controller lost: the routing core\'s guard lease lapsed at 2026-01-01T00:00:00.000Z and put "blue" back to 100% (mirror off)';

interface Call {
  name: string;
  args: unknown[];
  runId: string;
}

/** Activities that answer as a healthy router would, record every call, and fail where a test says. */
class FakeRouter {
  readonly calls: Call[] = [];
  failRenewal: (n: number) => boolean = () => false;
  failRoutes: (traffic: Record<string, number>) => boolean = () => false;
  failRelease = false;

  named(name: string): Call[] {
    return this.calls.filter((c) => c.name === name);
  }

  indexOf(name: string, from = 0): number {
    return this.calls.findIndex((c, i) => i >= from && c.name === name);
  }

  activities(): RolloutActivities {
    const record = (name: string, args: unknown[]): void => void this.calls.push({ name, args, runId: Context.current().info.workflowExecution?.runId ?? '' });
    const fired = (): never => {
      throw ApplicationFailure.nonRetryable(LOST, 'SAFEROLL_E_GUARD_FIRED');
    };
    const healthy: WindowStats = { requests: 100, errors: 0, errorRate: 0, p95Ms: 5, p99Ms: 5, buckets: [], overflow: 0, seconds: 1 };
    const snapshot = { endpoint: 'guarded', takenAtMs: 0, processStartSeconds: 1, le: [], deployments: {} };
    return {
      describeEndpoint: async (...args) => {
        record('describeEndpoint', args);
        return { traffic: { blue: 100 }, mirrorTraffic: {}, deployments: [{ name: 'blue', provisioningState: 'Succeeded' }] };
      },
      ensureDeployment: async (...args) => {
        record('ensureDeployment', args);
        return { instances: 1 };
      },
      setRoutes: async (...args) => {
        record('setRoutes', args);
        if (this.failRoutes(args[1])) fired();
      },
      deleteDeployment: async (...args) => record('deleteDeployment', args),
      smokeTest: async (...args) => {
        record('smokeTest', args);
        return { passed: args[0].requests };
      },
      snapshotMetrics: async (...args) => {
        record('snapshotMetrics', args);
        return snapshot;
      },
      readShadowPairs: async () => ({ snapshot: { takenAtMs: 0, processStartSeconds: 1, series: { match: 0, mismatch: 0, shed: 0, error: 0 } } }),
      measureWindows: async (...args) => {
        record('measureWindows', args);
        return { snapshot, windows: { greenStep: healthy, greenInterval: healthy } };
      },
      renewGuard: async (...args) => {
        record('renewGuard', args);
        if (this.failRenewal(this.named('renewGuard').length)) fired();
      },
      readCustomMetrics: async () => [],
      releaseGuard: async (...args) => {
        record('releaseGuard', args);
        if (this.failRelease) fired();
      },
      notifyWebhook: async (...args) => record('notifyWebhook', args),
      notifySlack: async (...args) => record('notifySlack', args),
    };
  }
}

function policy(steps: Policy['steps'], controllerLossTimeoutMs: number | 'off' = 900): Policy {
  return {
    name: 'guard-test',
    slo: { latency: {}, errorRate: 0.01, minRequests: 10 },
    baseline: {},
    analysis: { intervalMs: 100, controllerLossTimeoutMs },
    steps,
    onFailure: { keepGreen: false },
  };
}

const green = { name: 'green', instanceCount: 1, source: { upstreams: ['http://127.0.0.1:1'] } };

let env: TestWorkflowEnvironment;
let fake: FakeRouter;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `guard-lease-${process.pid}`;

beforeAll(async () => {
  env = await connectTestEnv();
});
afterAll(async () => {
  await env?.teardown();
});

async function withWorker<T>(router: FakeRouter, body: () => Promise<T>): Promise<T> {
  fake = router;
  worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: fake.activities() });
  running = worker.run();
  try {
    return await body();
  } finally {
    worker.shutdown();
    await running;
  }
}

/** Each scheduled activity's type and summary (the label the Temporal UI shows), from the history. */
async function activitySummaries(handle: WorkflowHandle): Promise<{ type: string; summary: string | undefined }[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (!scheduled) return [];
    const data = e.userMetadata?.summary?.data;
    return [{ type: scheduled.activityType?.name ?? '', summary: data ? (JSON.parse(Buffer.from(data).toString('utf8')) as string) : undefined }];
  });
}

let runs = 0;
function start(p: Policy, maxHistoryEvents?: number) {
  return env.client.workflow.start(rolloutWorkflow, {
    taskQueue,
    workflowId: `guard-lease-${process.pid}-${++runs}`,
    args: [{ endpoint: 'guarded', policy: p, green, maxHistoryEvents }],
  });
}

describe('guard lease in the rollout workflow', () => {
  it('is taken with the first route change, renewed through an approval wait, released before blue is deleted and never renewed after', async () => {
    const router = new FakeRouter();
    let summaries: { type: string; summary: string | undefined }[] = [];
    const result = await withWorker(router, async () => {
      const handle = await start(
        policy([
          { kind: 'create' },
          { kind: 'traffic', percent: 10, forMs: 300 },
          { kind: 'approval' },
          { kind: 'traffic', percent: 100, forMs: 300 },
          { kind: 'deleteBlue', afterMs: 0 },
        ]),
      );
      await waitFor(async () => (await handle.query(statusQuery)).waitingForApproval, 20_000, 'waiting for approval');
      // Nothing but the renewal loop runs during the wait: three more renewals prove it renews there.
      const before = router.named('renewGuard').length;
      await waitFor(() => router.named('renewGuard').length >= before + 3, 20_000, 'renewals while waiting for approval');
      await handle.executeUpdate(approveUpdate, { args: ['ok'] });
      const done = await rolloutResult(handle);
      await recordHistory('guard-renewed-through-approval', handle);
      summaries = await activitySummaries(handle);
      return done;
    });
    expect(result.outcome, result.reason).toBe('promoted');
    // One call: the release itself refuses a lapsed lease; the last renewal before it is gone (a lapse between the two was erased).
    expect(summaries.filter((a) => a.type === 'releaseGuard')).toEqual([{ type: 'releaseGuard', summary: 'guard lease: release (refused if it lapsed)' }]);
    expect(summaries.map((a) => a.summary)).not.toContain('guard lease: last renewal, then release');

    const routes = router.named('setRoutes');
    expect(routes.map((c) => c.args.slice(1))).toEqual([
      [{ blue: 90, green: 10 }, {}, { guard: { ttl: '900ms', fallback: 'blue' } }],
      [{ green: 100 }, {}, { guard: { ttl: '900ms', fallback: 'blue' } }],
    ]);
    expect(router.named('renewGuard').every((c) => JSON.stringify(c.args) === JSON.stringify(['guarded', { ttl: '900ms', fallback: 'blue' }]))).toBe(true);
    const release = router.indexOf('releaseGuard');
    const deleteBlue = router.calls.findIndex((c) => c.name === 'deleteDeployment' && c.args[1] === 'blue');
    expect(release).toBeGreaterThan(-1);
    expect(deleteBlue).toBeGreaterThan(release);
    expect(router.indexOf('renewGuard', release)).toBe(-1);
    expect(router.named('releaseGuard')).toHaveLength(1);
  });

  it('a renewal that finds the lease lapsed ends the rollout: rolled back with the controller-lost reason, blue 100% and the lease released together', async () => {
    const router = new FakeRouter();
    router.failRenewal = (n) => n >= 2;
    const result = await withWorker(router, async () => {
      const handle = await start(policy([{ kind: 'create' }, { kind: 'traffic', percent: 10, forMs: 600_000 }, { kind: 'traffic', percent: 100, forMs: 300 }]));
      const done = await rolloutResult(handle);
      await recordHistory('guard-lapsed', handle);
      return done;
    });
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toBe(LOST);
    expect(result.failedStep?.description).toBe('traffic 10% 10m');
    const fired = router.calls.findIndex((c, i) => c.name === 'renewGuard' && router.calls.slice(0, i + 1).filter((x) => x.name === 'renewGuard').length === 2);
    expect(router.indexOf('renewGuard', fired + 1)).toBe(-1);
    expect(router.named('setRoutes').at(-1)?.args.slice(1)).toEqual([{ blue: 100 }, {}, { retryRefusals: true, guard: null }]);
    expect(router.named('deleteDeployment').map((c) => c.args[1])).toEqual(['green']);
  });

  it('a release that finds the lease lapsed ends the rollout as a lapse does: rolled back with the controller-lost reason, blue kept', async () => {
    const router = new FakeRouter();
    router.failRelease = true;
    const result = await withWorker(router, async () => {
      const handle = await start(
        policy([
          { kind: 'create' },
          { kind: 'traffic', percent: 10, forMs: 300 },
          { kind: 'traffic', percent: 100, forMs: 300 },
          { kind: 'deleteBlue', afterMs: 0 },
        ]),
      );
      const done = await rolloutResult(handle);
      await recordHistory('guard-release-refused', handle);
      return done;
    });
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toBe(LOST);
    expect(result.failedStep?.description).toMatch(/^deleteBlue/);
    expect(router.named('releaseGuard')).toHaveLength(1); // non-retryable: learned once
    expect(router.named('setRoutes').at(-1)?.args.slice(1)).toEqual([{ blue: 100 }, {}, { retryRefusals: true, guard: null }]);
    expect(router.named('deleteDeployment').map((c) => c.args[1])).toEqual(['green']);
  });

  it('a route change refused because the lease lapsed (a controller back too late) rolls back with the same reason', async () => {
    const router = new FakeRouter();
    router.failRoutes = (traffic) => traffic.green === 100;
    const result = await withWorker(router, async () =>
      rolloutResult(
        await start(
          policy([
            { kind: 'create' },
            { kind: 'traffic', percent: 10, forMs: 300 },
            { kind: 'traffic', percent: 100, forMs: 300 },
            { kind: 'deleteBlue', afterMs: 0 },
          ]),
        ),
      ),
    );
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toBe(LOST);
    expect(result.failedStep?.description).toBe('traffic 100% 300ms');
    expect(router.named('setRoutes').at(-1)?.args.slice(1)).toEqual([{ blue: 100 }, {}, { retryRefusals: true, guard: null }]);
    expect(router.named('deleteDeployment').map((c) => c.args[1])).toEqual(['green']);
  });

  it('keeps renewing in the runs a long bake continues as new into', async () => {
    const router = new FakeRouter();
    const result = await withWorker(router, async () =>
      rolloutResult(
        await start(
          policy([
            { kind: 'create' },
            { kind: 'traffic', percent: 10, forMs: 3_000 },
            { kind: 'traffic', percent: 100, forMs: 300 },
            { kind: 'deleteBlue', afterMs: 0 },
          ]),
          40,
        ),
      ),
    );
    expect(result.outcome, result.reason).toBe('promoted');
    const runsThatRenewed = new Set(router.named('renewGuard').map((c) => c.runId));
    expect(runsThatRenewed.size).toBeGreaterThan(1);
    expect(router.named('releaseGuard')).toHaveLength(1);
  });

  it('with controllerLossTimeout off, takes no lease and leaves any lease alone', async () => {
    const router = new FakeRouter();
    const result = await withWorker(router, async () =>
      rolloutResult(await start(policy([{ kind: 'create' }, { kind: 'traffic', percent: 10, forMs: 300 }, { kind: 'approval', timeoutMs: 500 }], 'off'))),
    );
    expect(result.reason).toMatch(/approval timed out/);
    expect(router.named('setRoutes').map((c) => c.args.slice(1))).toEqual([
      [{ blue: 90, green: 10 }, {}, {}],
      [{ blue: 100 }, {}, { retryRefusals: true }],
    ]);
    expect(router.named('renewGuard')).toEqual([]);
    expect(router.named('releaseGuard')).toEqual([]);
  });
});
