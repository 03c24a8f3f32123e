// The stack every chaos test runs on: the test run's Temporal dev server, one
// real routing core process, and worker processes the test starts and kills.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, inject } from 'vitest';
import { RouterProcess } from './router-process.js';
import { connectTestEnv } from './temporal.js';
import { WorkerProcesses } from './worker-process.js';

export interface ChaosStack {
  env: TestWorkflowEnvironment;
  router: RouterProcess;
  workers: WorkerProcesses;
}

/** Starts the stack before the file's tests and tears it down after them; its fields are set once beforeAll has run. */
export function useChaosStack(): ChaosStack {
  const stack = {} as ChaosStack;
  beforeAll(async () => {
    stack.env = await connectTestEnv();
    stack.router = await RouterProcess.start();
    stack.workers = new WorkerProcesses(inject('temporalAddress'), stack.router);
  });
  afterAll(async () => {
    await stack.workers?.kill9().catch(() => undefined);
    await stack.router?.stop();
    await stack.env?.teardown();
  });
  return stack;
}
