// Fast workflow tests: the real rollout workflow with stand-in activities
// (fake-router.ts), either on the SDK's time-skipping test server (workflow
// logic: realistic durations that pass in no time) or on the test run's
// Temporal dev server with short intervals (tests that need the real server,
// such as the CLI's). Every rollout runs as `rollout-<endpoint>`, as
// `saferoll start` names it, so the CLI can operate it too.
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { rolloutResult } from '../../cli/follow-rollout.js';
import { startRollout } from '../../cli/start-rollout.js';
import type { Policy } from '../../policies/types.js';
import { statusQuery } from '../../workflows/messages.js';
import type { rolloutWorkflow } from '../../workflows/rollout.js';
import type { RolloutInput, RolloutResult, RolloutStatus } from '../../workflows/types.js';
import { FakeFleet, type FakeRouter } from './fake-router.js';
import { connectTestEnv, workflowBundle } from './temporal.js';
import { quiet } from './quiet-workflow.js';
import { createTimeSkippingEnv } from './time-skipping.js';
import { waitFor } from './wait-for.js';

export type RolloutHandle = WorkflowHandle<typeof rolloutWorkflow>;

type HarnessWorkerOptions = Pick<WorkerOptions, 'maxCachedWorkflows'>;

export const GREEN = { name: 'green', instanceCount: 1, source: { upstreams: ['http://127.0.0.1:1'] } };

/** A policy with 100 ms gate intervals, for the dev server and no guard lease (tests of the lease turn it on). */
export function fastPolicy(steps: Policy['steps'], overrides: Partial<Policy> = {}): Policy {
  return {
    name: 'fast',
    slo: { latency: { p95Ms: 250 }, errorRate: 0.01, minRequests: 10 },
    baseline: { latencyRatio: 1.5 },
    analysis: { intervalMs: 100, controllerLossTimeoutMs: 'off' },
    steps,
    onFailure: { keepGreen: false },
    ...overrides,
  };
}

/**
 * A policy for the time-skipping server, and no guard lease: 30 s gate
 * intervals, long enough that no reading falls due in wall-clock time while a
 * test acts between two of them.
 */
export function realisticPolicy(steps: Policy['steps'], overrides: Partial<Policy> = {}): Policy {
  return fastPolicy(steps, { name: 'realistic', analysis: { intervalMs: INTERVAL_MS, controllerLossTimeoutMs: 'off' }, ...overrides });
}

export const INTERVAL_MS = 30_000;

export const SMOKE: Policy['steps'][number] = { kind: 'smoke', requests: 2, path: '/score', method: 'POST', headers: {}, expectStatus: 200, timeoutMs: 1_000 };

export class WorkflowHarness {
  readonly fleet = new FakeFleet();
  private worker: Worker | undefined;
  private running: Promise<void> | undefined;
  private endpoints = 0;

  private constructor(
    readonly env: TestWorkflowEnvironment,
    readonly taskQueue: string,
    private readonly workerOptions: HarnessWorkerOptions,
  ) {}

  /** On the test run's dev server: real time. */
  static async create(name: string): Promise<WorkflowHarness> {
    return WorkflowHarness.on(await connectTestEnv(), name);
  }

  /**
   * On a time-skipping test server of its own: time skips while a test awaits
   * a rollout's outcome or skipUntil, and runs at wall-clock pace otherwise
   * (so a test acts between two gate readings of realistic intervals).
   */
  static async timeSkipping(name: string): Promise<WorkflowHarness> {
    // No workflow cache, hence no sticky queue: every workflow task replays the
    // whole history (so each test checks replay too). With a sticky queue, a
    // run that continued as new now and then left the test server with a task
    // it refused ("workflow execution already completed") and time locked for
    // good: 2 hangs in 5 runs of guarded-waits, none in 6 without.
    return WorkflowHarness.on(await createTimeSkippingEnv(), name, { maxCachedWorkflows: 0 });
  }

  private static async on(env: TestWorkflowEnvironment, name: string, workerOptions: HarnessWorkerOptions = {}): Promise<WorkflowHarness> {
    const harness = new WorkflowHarness(env, `${name}-${process.pid}`, workerOptions);
    await harness.startWorker();
    return harness;
  }

  private async startWorker(): Promise<void> {
    this.worker = await Worker.create({
      connection: this.env.nativeConnection,
      taskQueue: this.taskQueue,
      workflowBundle: await workflowBundle(),
      activities: this.fleet.activities(),
      ...this.workerOptions,
    });
    this.running = this.worker.run();
  }

  /**
   * Runs `meanwhile` with no worker polling (the controller is down), so
   * everything it causes reaches the workflow in one workflow task (the next
   * worker takes it from the task queue: time-skipping harnesses use no
   * sticky queue).
   */
  async withoutWorker(meanwhile: () => Promise<void>): Promise<void> {
    this.worker?.shutdown();
    await this.running;
    await meanwhile();
    await this.startWorker();
  }

  /** A fresh endpoint name (a-z0-9-, as the router requires) and its fake router. */
  endpoint(prefix: string): FakeRouter {
    return this.fleet.router(`${prefix}-${process.pid}-${++this.endpoints}`);
  }

  async start(router: FakeRouter, policy: Policy, extra: Partial<RolloutInput> = {}): Promise<RolloutHandle> {
    return startRollout(this.env.client, { endpoint: router.endpoint, policy, green: GREEN, ...extra }, { taskQueue: this.taskQueue });
  }

  /**
   * Lets workflow time pass, `stepMs` at a time, until `check` holds (and
   * returns what it returned): how a time-skipping test reaches a moment
   * that lies behind timers, without overshooting it by more than a step.
   */
  skipUntil<T>(check: () => T | Promise<T>, what: string, stepMs = INTERVAL_MS): Promise<NonNullable<T>> {
    return waitFor(
      async () => {
        const value = await check();
        if (value) return value;
        await this.env.sleep(stepMs);
        return undefined;
      },
      30_000,
      what,
    );
  }

  /** Lets workflow time pass until the rollout's status satisfies `check`, and returns that status. */
  skipToStatus(handle: RolloutHandle, check: (s: RolloutStatus) => boolean, what: string): Promise<RolloutStatus> {
    return this.skipUntil(async () => {
      const s = await status(handle);
      return check(s) ? s : undefined;
    }, what);
  }

  /**
   * Sends a signal once the rollout is quiet (quiet-workflow.ts): on the
   * time-skipping server, a signal sent at the wrong instant strands the run.
   */
  async signal<Args extends unknown[]>(handle: RolloutHandle, def: SignalDefinition<Args>, ...args: Args): Promise<void> {
    await this.quiet(handle);
    await handle.signal(def, ...args);
  }

  /** Executes an update once the rollout is quiet (see signal). */
  async update<Ret, Args extends [unknown, ...unknown[]]>(handle: RolloutHandle, def: UpdateDefinition<Ret, Args>, ...args: Args): Promise<Ret> {
    await this.quiet(handle);
    return handle.executeUpdate(def, { args });
  }

  /** On the dev server any moment is safe; on the time-skipping server, waits for one (quiet-workflow.ts). */
  async quiet(handle: RolloutHandle): Promise<void> {
    if (this.env.supportsTimeSkipping) await quiet(this.env, handle);
  }

  async close(): Promise<void> {
    this.worker?.shutdown();
    await this.running;
    await this.env.teardown();
  }
}

export function status(handle: RolloutHandle): Promise<RolloutStatus> {
  return handle.query(statusQuery);
}

/** Waits until the rollout's status satisfies `check`, and returns that status. */
export function statusWhen(handle: RolloutHandle, check: (s: RolloutStatus) => boolean, what: string, timeoutMs = 20_000): Promise<RolloutStatus> {
  return waitFor(
    async () => {
      const s = await status(handle);
      return check(s) ? s : undefined;
    },
    timeoutMs,
    what,
  );
}

/** The rollout's result, promoted or rolled back (a rollback fails the workflow with the result in its details). */
export function outcome(handle: RolloutHandle): Promise<RolloutResult> {
  return rolloutResult(handle);
}

/** The reason a validator refused an update with, or undefined if the update was accepted. */
export async function refusal(update: Promise<unknown>): Promise<string | undefined> {
  try {
    await update;
    return undefined;
  } catch (err) {
    if (!(err instanceof WorkflowUpdateFailedError)) throw err;
    return err.cause?.message ?? err.message;
  }
}
