// Builds the saferoll worker: one process running the rollout workflow and
// its activities on the `saferoll` task queue.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import { RouterMetricSource } from '../analysis/router-metric-source.js';
import { AdminClient } from '../router/client.js';
import { connectionOptions, type WorkerConfig } from './config.js';

/** The workflow entry file: compiled JS when running from dist/, TypeScript from sources. */
export function workflowsPath(): string {
  const js = fileURLToPath(new URL('../workflows/index.js', import.meta.url));
  return existsSync(js) ? js : fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
}

export interface RolloutWorker {
  worker: Worker;
  /** Runs until shutdown (SIGINT/SIGTERM are handled by the SDK's runtime). */
  run(): Promise<void>;
  close(): Promise<void>;
}

export async function createRolloutWorker(
  config: WorkerConfig,
  extra: Partial<Pick<WorkerOptions, 'workflowBundle' | 'connection'>> = {},
): Promise<RolloutWorker> {
  const admin = new AdminClient({ adminUrl: config.routerAdminUrl, token: config.adminToken });
  const metrics = new RouterMetricSource(config.routerAdminUrl, config.adminToken);
  const connection = extra.connection ?? (await NativeConnection.connect(connectionOptions(config)));
  const worker = await Worker.create({
    connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    ...(extra.workflowBundle ? { workflowBundle: extra.workflowBundle } : { workflowsPath: workflowsPath() }),
    activities: createActivities({ admin, metrics, dataUrl: config.routerDataUrl }),
  });
  const ownsConnection = extra.connection === undefined;
  return {
    worker,
    async run() {
      try {
        await worker.run();
      } finally {
        await admin.close();
        if (ownsConnection) await connection.close();
      }
    },
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
    },
  };
}
