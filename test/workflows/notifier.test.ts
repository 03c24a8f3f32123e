// What a rollout tells its notification targets, and that telling them never
// holds the rollout up or fails it: the workflow on the SDK's time-skipping
// environment, its activities mocked through createActivities' own type.
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutActivities } from '../../activities/types.js';
import type { WindowStats } from '../../analysis/window.js';
import type { NotificationTarget } from '../../policies/notification-types.js';
import type { Policy } from '../../policies/types.js';
import { approveUpdate, pauseSignal, resumeSignal, statusQuery } from '../../workflows/messages.js';
import type { RolloutEvent } from '../../activities/types.js';
import { rolloutWorkflow } from '../../workflows/rollout.js';
import type { RolloutInput } from '../../workflows/types.js';
import { modelServer, testPolicy } from '../support/rollout-fixture.js';
import { workflowBundle } from '../support/temporal.js';
import { createTimeSkippingEnv } from '../support/time-skipping.js';
import { waitFor } from '../support/wait-for.js';
import { rolloutResult } from '../../cli/follow-rollout.js';

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(() => env?.teardown());

const WEBHOOK: NotificationTarget = { kind: 'webhook', url: 'https://hooks.example.com/saferoll', secretEnv: 'HOOK_SECRET', headers: {}, headersEnv: {} };

function stats(requests: number, errors: number): WindowStats {
  return { requests, errors, errorRate: errors / requests, p95Ms: 10, p99Ms: 12, buckets: [{ leMs: 25, count: requests }], overflow: 0, seconds: 1 };
}

/** The routing core as a healthy endpoint whose green answers well, unless `failingGreen`. */
function mockActivities(overrides: Partial<RolloutActivities> = {}, failingGreen = false): RolloutActivities {
  const snapshot = { endpoint: 'ep', takenAtMs: 0, processStartSeconds: null, le: [], deployments: {} };
  const green = failingGreen ? stats(100, 50) : stats(100, 0);
  return {
    describeEndpoint: async () => ({ traffic: { blue: 100 }, mirrorTraffic: {}, deployments: [{ name: 'blue', provisioningState: 'Succeeded' }] }),
    ensureDeployment: async () => ({ instances: 1 }),
    setRoutes: async () => undefined,
    deleteDeployment: async () => undefined,
    smokeTest: async (s) => ({ passed: s.requests }),
    readCustomMetrics: async () => [],
    readShadowPairs: async () => ({ snapshot: { takenAtMs: 0, processStartSeconds: 1, series: { match: 0, mismatch: 0, shed: 0, error: 0 } } }),
    snapshotMetrics: async () => snapshot,
    measureWindows: async () => ({ snapshot, windows: { greenStep: green, greenInterval: green, blueStep: stats(100, 0), blueInterval: stats(100, 0) } }),
    notifyWebhook: async () => undefined,
    notifySlack: async () => undefined,
    renewGuard: async () => undefined,
    releaseGuard: async () => undefined,
    ...overrides,
  };
}

/** Short bakes: create, smoke, mirror 50%, traffic 10%, traffic 100%, delete blue. */
function policyWith(notifications: NotificationTarget[] | undefined, overrides: Partial<Policy> = {}): Policy {
  const base = testPolicy({
    steps: [
      { kind: 'create' },
      { kind: 'smoke', requests: 3, path: '/score', method: 'POST', headers: {}, expectStatus: 200, timeoutMs: 5_000 },
      { kind: 'mirror', percent: 50, forMs: 2_000 },
      { kind: 'traffic', percent: 10, forMs: 2_000 },
      { kind: 'traffic', percent: 100, forMs: 1_000 },
      { kind: 'deleteBlue', afterMs: 0 },
    ],
    ...overrides,
  });
  return notifications === undefined ? base : { ...base, notifications };
}

let counter = 0;

/** Runs one rollout on its own task queue with these activities; `during` acts on it while it runs. */
async function runRollout(activities: RolloutActivities, policy: Policy, extra: Partial<RolloutInput> = {}, during?: (id: string) => Promise<void>) {
  const taskQueue = `notifier-${++counter}`;
  const workflowId = `rollout-notify-${counter}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
  return worker.runUntil(async () => {
    const handle = await env.client.workflow.start(rolloutWorkflow, {
      taskQueue,
      workflowId,
      args: [{ endpoint: 'ep', policy, green: modelServer('green'), ...extra }],
    });
    if (during) await during(workflowId);
    return { result: await rolloutResult(handle), handle };
  });
}

/** Each event once (a retried delivery counts once), in sequence order. */
function bySeq(events: RolloutEvent[]): RolloutEvent[] {
  return [...new Map(events.map((e) => [e.id, e])).values()].sort((a, b) => a.seq - b.seq);
}

describe('rollout notifications', () => {
  it('announces started, each step and promoted, numbered in order, to each target its filter lets through', async () => {
    const webhook: RolloutEvent[] = [];
    const slack: RolloutEvent[] = [];
    const activities = mockActivities({
      notifyWebhook: async (_target, event) => void webhook.push(event),
      notifySlack: async (_target, event) => void slack.push(event),
    });
    const policy = policyWith([WEBHOOK, { kind: 'slack', urlEnv: 'SLACK_URL', events: ['promoted'] }]);
    const { result, handle } = await runRollout(activities, policy);
    expect(result.outcome, result.reason).toBe('promoted');

    const events = bySeq(webhook);
    expect(events.map((e) => e.event)).toEqual([
      'started',
      'stepStarted',
      'stepStarted',
      'stepStarted',
      'stepStarted',
      'stepStarted',
      'stepStarted',
      'promoted',
    ]);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(webhook).toHaveLength(8);
    expect(events.map((e) => e.step.description)).toEqual([
      'create',
      'create',
      'smoke ×3',
      'mirror 50% 2s',
      'traffic 10% 2s',
      'traffic 100% 1s',
      'deleteBlue',
      'deleteBlue',
    ]);

    const runId = handle.firstExecutionRunId;
    expect(events.every((e) => e.id === `${runId}-${e.seq}` && e.runId === runId && e.workflowId === handle.workflowId)).toBe(true);
    expect(events[4]).toMatchObject({
      endpoint: 'ep',
      green: 'green',
      blue: 'blue',
      policy: 'test',
      phase: 'Traffic',
      step: { index: 4, total: 6 },
      greenTrafficPercent: 0,
      mirrorPercent: 50,
    });
    expect(events[4]?.gate).toBeUndefined(); // a reading belongs to its step: none yet
    const promoted = events[7];
    expect(promoted).toMatchObject({
      phase: 'Promoted',
      greenTrafficPercent: 100,
      mirrorPercent: 0,
      step: { index: 6, total: 6 },
      reason: 'promoted: "green" serves 100% of ep',
    });
    expect(Date.parse(promoted?.at ?? '')).toBeGreaterThanOrEqual(Date.parse(events[0]?.at ?? 'x'));

    expect(slack.map((e) => [e.event, e.seq])).toEqual([['promoted', 8]]);
  });

  it('announces a failed gate with its reading, then the rollback with its reason', async () => {
    const webhook: RolloutEvent[] = [];
    const onlyRollbacks: RolloutEvent[] = [];
    const activities = mockActivities({ notifyWebhook: async (target, event) => void ('events' in target ? onlyRollbacks : webhook).push(event) }, true);
    const { result } = await runRollout(activities, policyWith([WEBHOOK, { ...WEBHOOK, events: ['rolledBack'] }]));
    expect(result.outcome).toBe('rolled-back');

    const events = bySeq(webhook);
    expect(events.map((e) => e.event)).toEqual(['started', 'stepStarted', 'stepStarted', 'stepStarted', 'gateFailed', 'rolledBack']);
    const [gateFailed, rolledBack] = events.slice(-2);
    expect(gateFailed).toMatchObject({ phase: 'Mirror', mirrorPercent: 50, step: { index: 3, description: 'mirror 50% 2s' }, gate: { phase: 'Failed' } });
    expect(gateFailed?.gate?.checks.find((c) => c.metric === 'errorRate')?.phase).toBe('Failed');
    expect(gateFailed?.reason).toMatch(/^failed: errors 50\.0% > 1%/);
    expect(rolledBack).toMatchObject({ phase: 'RolledBack', greenTrafficPercent: 0, mirrorPercent: 0 });
    expect(rolledBack?.reason).toMatch(/^rolled back: gate failed: /);
    expect(onlyRollbacks.map((e) => [e.event, e.seq])).toEqual([['rolledBack', 6]]);
  });

  it('announces an approval wait, a pause and a resume', async () => {
    const webhook: RolloutEvent[] = [];
    const activities = mockActivities({ notifyWebhook: async (_target, event) => void webhook.push(event) });
    const policy = policyWith([WEBHOOK], {
      steps: [{ kind: 'create' }, { kind: 'approval' }, { kind: 'traffic', percent: 100, forMs: 1_000 }, { kind: 'deleteBlue', afterMs: 0 }],
    });
    const seen = (event: string) => () => webhook.some((e) => e.event === event);
    const { result } = await runRollout(activities, policy, {}, async (workflowId) => {
      const handle = env.client.workflow.getHandle(workflowId);
      await waitFor(seen('waitingForApproval'), 20_000, 'waitingForApproval event');
      await handle.signal(pauseSignal);
      await waitFor(seen('paused'), 20_000, 'paused event');
      await handle.signal(resumeSignal);
      await waitFor(seen('resumed'), 20_000, 'resumed event');
      await handle.executeUpdate(approveUpdate, { args: ['ship it'] });
    });
    expect(result.outcome, result.reason).toBe('promoted');
    const events = bySeq(webhook);
    expect(events.map((e) => e.event)).toEqual([
      'started',
      'stepStarted',
      'stepStarted',
      'waitingForApproval',
      'paused',
      'resumed',
      'stepStarted',
      'stepStarted',
      'promoted',
    ]);
    expect(events[3]).toMatchObject({ phase: 'Approval', step: { index: 2, description: 'approval' }, reason: 'waiting for approval' });
    expect(events[4]?.reason).toMatch(/^paused: /);
    expect(events[5]?.reason).toBe('resumed');
  });

  it('a rollout cancelled from the UI still announces its rollback', async () => {
    const webhook: RolloutEvent[] = [];
    const activities = mockActivities({ notifyWebhook: async (_target, event) => void webhook.push(event) });
    // One long tick: once the bake clock runs, the workflow waits on its timer alone (the test
    // server refuses to cancel an activity caught between scheduled and started).
    const policy = policyWith([WEBHOOK], {
      analysis: { intervalMs: 600_000 },
      steps: [{ kind: 'create' }, { kind: 'mirror', percent: 50, forMs: 600_000 }, { kind: 'traffic', percent: 100, forMs: 600_000 }],
    });
    const { result } = await runRollout(activities, policy, {}, async (workflowId) => {
      const handle = env.client.workflow.getHandle(workflowId);
      await waitFor(async () => (await handle.query(statusQuery)).bakeEndsAtMs !== undefined, 20_000, 'mirror bake running');
      await handle.cancel();
    });
    expect(result.outcome).toBe('rolled-back');
    const events = bySeq(webhook);
    expect(events.map((e) => e.event)).toEqual(['started', 'stepStarted', 'stepStarted', 'rolledBack']);
    expect(events[3]?.reason).toBe('rolled back: cancelled from the Temporal UI or API');
  });

  it('a delivery that always fails neither fails the rollout nor stops it, and is retried a bounded number of times', async () => {
    const attempts = new Map<string, number>();
    const activities = mockActivities({
      notifyWebhook: async (_target, event) => {
        attempts.set(event.id, (attempts.get(event.id) ?? 0) + 1);
        throw ApplicationFailure.create({ type: 'SAFEROLL_E_NOTIFICATION', message: 'webhook hooks.example.com answered 503' });
      },
    });
    // Two events only: the worker logs every failed attempt.
    const { result } = await runRollout(activities, policyWith([{ ...WEBHOOK, events: ['started', 'promoted'] }]));
    expect(result.outcome, result.reason).toBe('promoted');
    expect(attempts.size).toBe(2);
    // DELIVERY_OPTIONS: at most 5 attempts (1s, 2s, 4s, 8s apart: inside its 1m budget).
    expect([...attempts.values()]).toEqual([5, 5]);
    expect(result.decisions.filter((d) => d.kind === 'notify').map((d) => d.message)).toEqual([
      'notification "started" #1 to webhook hooks.example.com not delivered: webhook hooks.example.com answered 503',
      'notification "promoted" #8 to webhook hooks.example.com not delivered: webhook hooks.example.com answered 503',
    ]);
  });

  it('a delivery that does not answer does not hold the rollout: every step is taken before any delivery ends', async () => {
    let delivered = 0;
    const sent: RolloutEvent[] = [];
    const routesWhileUndelivered: boolean[] = [];
    let release!: () => void;
    const promotedSent = new Promise<void>((resolve) => (release = resolve));
    const activities = mockActivities({
      setRoutes: async () => void routesWhileUndelivered.push(delivered === 0),
      notifyWebhook: async (_target, event) => {
        sent.push(event);
        if (event.event === 'promoted') release();
        await promotedSent; // no answer before the rollout has ended
        delivered++;
      },
    });
    try {
      const { result } = await runRollout(activities, policyWith([WEBHOOK]));
      expect(result.outcome, result.reason).toBe('promoted');
    } finally {
      release();
    }
    expect(routesWhileUndelivered).toEqual([true, true, true]); // mirror 50%, green 10%, green 100%
    expect(delivered).toBeGreaterThanOrEqual(8);
    // In workflow time the bakes take 5s: a delivery waited for would have added its 1-minute budget per event.
    const events = bySeq(sent);
    expect(events.map((e) => e.event).at(-1)).toBe('promoted');
    expect(Date.parse(events.at(-1)?.at ?? '') - Date.parse(events[0]?.at ?? '')).toBeLessThan(60_000);
  });

  it('keeps numbering across continue-as-new, and continues only once no delivery is under way', async () => {
    const webhook: RolloutEvent[] = [];
    const failedOnce = new Set<string>();
    const activities = mockActivities({
      notifyWebhook: async (_target, event) => {
        // Each first attempt fails: its retry comes 1s later, after several 200ms ticks that want to continue as new.
        if (!failedOnce.has(event.id)) {
          failedOnce.add(event.id);
          throw ApplicationFailure.create({ type: 'SAFEROLL_E_NOTIFICATION', message: 'receiver busy' });
        }
        webhook.push(event);
      },
    });
    const policy = policyWith([WEBHOOK], {
      analysis: { intervalMs: 200 },
      steps: [
        { kind: 'create' },
        { kind: 'mirror', percent: 50, forMs: 3_000 },
        { kind: 'traffic', percent: 100, forMs: 1_000 },
        { kind: 'deleteBlue', afterMs: 0 },
      ],
    });
    const { result, handle } = await runRollout(activities, policy, { maxHistoryEvents: 40 });
    expect(result.outcome, result.reason).toBe('promoted');
    expect(result.decisions.some((d) => d.message.startsWith('continued as new'))).toBe(true);
    const events = bySeq(webhook);
    expect(webhook).toHaveLength(events.length); // none sent twice by a new run
    expect(events.map((e) => e.event)).toEqual(['started', 'stepStarted', 'stepStarted', 'stepStarted', 'stepStarted', 'promoted']);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events.every((e) => e.id.startsWith(`${handle.firstExecutionRunId}-`))).toBe(true);
    expect(new Set(events.map((e) => e.runId)).size).toBeGreaterThan(1);
  });

  it('a policy without notifications schedules no delivery', async () => {
    let calls = 0;
    const activities = mockActivities({ notifyWebhook: async () => void calls++, notifySlack: async () => void calls++ });
    const { result } = await runRollout(activities, policyWith(undefined));
    expect(result.outcome, result.reason).toBe('promoted');
    expect(calls).toBe(0);
  });
});
