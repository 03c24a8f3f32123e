// A child process running the real saferoll worker (createRolloutWorker) for
// a bench, configured from BENCH_WORKER_CONFIG. It samples its own memory and
// answers `{type: 'stats'}` over IPC; SIGTERM shuts it down (the SDK's
// runtime handles the signal).
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { WorkerConfig } from '../../worker/config.js';
import { createRolloutWorker } from '../../worker/worker.js';

export type WorkerChildConfig = WorkerConfig;

export interface WorkerStats {
  rssNowBytes: number;
  rssPeakBytes: number;
  heapUsedPeakBytes: number;
  samples: number;
}

export type WorkerChildMessage = { type: 'stats'; stats: WorkerStats };

async function main(): Promise<void> {
  const config = JSON.parse(process.env.BENCH_WORKER_CONFIG ?? '{}') as WorkerConfig;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const stats: WorkerStats = { rssNowBytes: 0, rssPeakBytes: 0, heapUsedPeakBytes: 0, samples: 0 };
  const sample = (): void => {
    const usage = process.memoryUsage();
    stats.rssNowBytes = usage.rss;
    stats.rssPeakBytes = Math.max(stats.rssPeakBytes, usage.rss);
    stats.heapUsedPeakBytes = Math.max(stats.heapUsedPeakBytes, usage.heapUsed);
    stats.samples++;
  };
  sample();
  setInterval(sample, 100).unref();
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'resetPeak') {
      stats.rssPeakBytes = 0;
      stats.heapUsedPeakBytes = 0;
      sample();
    } else if (message.type === 'stats') {
      sample();
      process.send?.({ type: 'stats', stats } satisfies WorkerChildMessage);
    }
  });
  const worker = await createRolloutWorker(config);
  console.log(`bench worker: polling ${config.taskQueue}`);
  await worker.run();
  process.disconnect?.();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
