// A routing core with an endpoint whose blue deployment is the sample model
// server, a Temporal client on the test run's dev server, and helpers to
// start rollouts of a green with chosen latency and error rate.
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { startRollout } from '../../cli/start-rollout.js';
import type { WorkerConfig } from '../../worker/config.js';
import { createRolloutWorker } from '../../worker/worker.js';
import type { Policy } from '../../policies/types.js';
import { waitSucceeded } from '../../router/deployment-wait.js';
import type { GreenSpec, RolloutInput } from '../../workflows/types.js';
import { PROJECT_ROOT, spawnCli, type CliProcess } from './cli.js';
import type { RouterOptions } from '../../router/server.js';
import { TEST_ADMIN_TOKEN, startTestRouter, type TestRouter } from './router.js';
import { connectTestEnv, workflowBundle } from './temporal.js';

export const MODEL_SERVER = path.join(PROJECT_ROOT, 'examples/model-server.mjs');

export function modelServer(name: string, env: Record<string, string> = {}, instanceCount = 1): GreenSpec {
  return {
    name,
    instanceCount,
    source: { process: { command: process.execPath, args: [MODEL_SERVER], env: { MODEL_VERSION: name, ...env }, readinessPath: '/healthz' } },
  };
}

/** Seconds-long policy for tests: mirror, then 10%, then 100%, then delete blue. */
export function testPolicy(overrides: Partial<Policy> = {}): Policy {
  return {
    name: 'test',
    slo: { latency: { p95Ms: 250 }, errorRate: 0.01, minRequests: 20 },
    baseline: { latencyRatio: 1.5 },
    analysis: { intervalMs: 500 },
    steps: [
      { kind: 'create' },
      { kind: 'smoke', requests: 3, path: '/score', method: 'POST', body: { x: 1 }, headers: {}, expectStatus: 200, timeoutMs: 5_000 },
      { kind: 'mirror', percent: 50, forMs: 3_000 },
      { kind: 'traffic', percent: 10, forMs: 3_000 },
      { kind: 'traffic', percent: 100, forMs: 2_000 },
      { kind: 'deleteBlue', afterMs: 0 },
    ],
    onFailure: { keepGreen: false },
    ...overrides,
  };
}

/**
 * A rollout that sits in its mirror bake (10 minutes) until an operator acts.
 * Loose latency limits: these runs are about operator actions, and a busy
 * 2-core machine (Chromium, other test files) can push p95 past 250 ms, and
 * then the gate, not the operator, would end the rollout.
 */
export function longBakes(): Policy {
  return testPolicy({
    slo: { latency: { p95Ms: 60_000 }, errorRate: 0.01, minRequests: 20 },
    baseline: {},
    steps: [
      { kind: 'create' },
      { kind: 'mirror', percent: 50, forMs: 600_000 },
      { kind: 'traffic', percent: 10, forMs: 600_000 },
      { kind: 'traffic', percent: 100, forMs: 1_000 },
      { kind: 'deleteBlue', afterMs: 0 },
    ],
  });
}

/** Creates `endpoint` with a Succeeded blue model server at 100%. */
export async function createEndpointWithBlue(router: TestRouter, endpoint: string, blueEnv: Record<string, string> = {}): Promise<string> {
  await router.admin.putEndpoint(endpoint, { authMode: 'key' });
  const blue = modelServer('blue', { LATENCY_MS: '5', ...blueEnv });
  if (!('process' in blue.source)) throw new Error('unreachable');
  await router.admin.putDeployment(endpoint, 'blue', { instanceCount: 1, process: blue.source.process });
  await waitSucceeded(router.admin, endpoint, 'blue', { timeoutMs: 20_000 });
  await router.admin.setTraffic(endpoint, { blue: 100 });
  return (await router.admin.getKeys(endpoint)).primaryKey;
}

/**
 * A routing core, a Temporal connection and a worker on a task queue of this
 * test file's own (files run in parallel against one server, each with its
 * own router).
 */
export class RolloutTestBed {
  readonly taskQueue = `saferoll-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private workerRun: Promise<void> | undefined;
  private worker: Worker | undefined;
  private readonly workerProcesses: CliProcess[] = [];

  private constructor(
    readonly env: TestWorkflowEnvironment,
    readonly router: TestRouter,
  ) {}

  /** `routerOptions`: e.g. the Envoy data plane (test/support/envoy.ts). */
  static async create(routerOptions: Partial<RouterOptions> = {}): Promise<RolloutTestBed> {
    const env = await connectTestEnv();
    const router = await startTestRouter({ readinessTimeoutMs: 15_000, ...routerOptions });
    return new RolloutTestBed(env, router);
  }

  get workerConfig(): WorkerConfig {
    return {
      temporalAddress: inject('temporalAddress'),
      namespace: 'default',
      taskQueue: this.taskQueue,
      routerAdminUrl: this.router.router.adminUrl,
      routerDataUrl: this.router.router.dataUrl,
      adminToken: TEST_ADMIN_TOKEN,
    };
  }

  async startWorker(): Promise<void> {
    const { worker, run } = await createRolloutWorker(this.workerConfig, { workflowBundle: await workflowBundle(), connection: this.env.nativeConnection });
    this.worker = worker;
    this.workerRun = run();
  }

  async stopWorker(): Promise<void> {
    if (this.worker?.getState() === 'RUNNING') this.worker.shutdown();
    await this.workerRun;
    this.worker = undefined;
  }

  /** A `saferoll worker` process on this bed's task queue, for tests that kill it (closed with the bed). */
  spawnWorkerProcess(): CliProcess {
    const worker = spawnCli(['worker', '--task-queue', this.taskQueue], {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      SAFEROLL_ROUTER_URL: this.router.router.adminUrl,
      SAFEROLL_DATA_URL: this.router.router.dataUrl,
      SAFEROLL_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    });
    this.workerProcesses.push(worker);
    return worker;
  }

  start(endpoint: string, green: GreenSpec, policy: Policy = testPolicy(), extra: Partial<RolloutInput> = {}) {
    return startRollout(this.env.client, { endpoint, policy, green, ...extra }, { taskQueue: this.taskQueue });
  }

  async close(): Promise<void> {
    for (const worker of this.workerProcesses) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    await this.stopWorker();
    await this.router.close();
    await this.env.teardown();
  }
}
